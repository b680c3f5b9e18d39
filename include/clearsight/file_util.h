// Whole-file reads and crash-safe writes.
#pragma once

#include <string>
#include <string_view>

#include "clearsight/status.h"

namespace clearsight {

// Reads the whole file. Fails with NotFound / IoError naming the path, or ResourceExhausted when
// the file is larger than max_bytes (so a wrong path to a huge file never exhausts memory).
Result<std::string> ReadFile(const std::string& path, size_t max_bytes = size_t{8} << 30);

// Writes to path.tmp, fsyncs, and renames over path: readers see the old or the new file, never a
// torn one, also when the process is killed.
Status WriteFileAtomic(const std::string& path, std::string_view content);

// Creates the directory and its parents; OK if it exists.
Status MakeDirs(const std::string& path);

bool FileExists(const std::string& path);

}  // namespace clearsight
