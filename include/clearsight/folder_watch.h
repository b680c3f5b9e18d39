// A folder an integrator drops declaration files into (`clearsight watch DIR`): each complete file
// is posted to a running service (POST /api/declarations) and moved, with the service's answer as
// a report beside it, to DIR/done/ or DIR/rejected/; the customs responses can be written to
// DIR/responses/. docs/declarations.md, "Integration", describes the folder's contract.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "clearsight/client.h"
#include "clearsight/status.h"

namespace clearsight {

struct FolderWatchOptions {
  std::string dir;
  // The files' format for the service: "auto" (XML, JSON Lines or CSV by the first character; the
  // service tells EAD from H7 XML and the CSV flavours apart), "csv", "kcs", "jsonl", "ead", "h7",
  // "h7xml".
  std::string format = "auto";
  // Write the customs responses (GET /api/responses) to DIR/responses/ as JSON lines, one file per
  // page, with the cursor kept in DIR/responses/.cursor.
  bool responses = false;
  size_t max_file_bytes = size_t{32} << 20;  // the service's body limit for declarations
};

// What happened to one file in a pass.
struct WatchedFile {
  std::string name;
  enum class Result { kDone, kRejected, kRetry } result = Result::kRetry;
  int64_t accepted = 0, rejected = 0, flagged = 0, created = 0, unchanged = 0, conflicts = 0;
  std::string message;  // why it was rejected or will be retried ("" when done)
};

struct WatchPass {
  std::vector<WatchedFile> files;
  int64_t responses_written = 0;
};

// Not thread-safe: one watcher per folder (it keeps DIR/.inflight/ for itself).
class FolderWatcher {
 public:
  // Makes DIR/done, DIR/rejected, DIR/.inflight (and DIR/responses) when absent. Nothing is
  // posted yet; the service need not be up. InvalidArgument when DIR is not a directory.
  static Result<std::unique_ptr<FolderWatcher>> Create(const ClientOptions& client,
                                                       const FolderWatchOptions& options);
  ~FolderWatcher();

  // One pass. First the files a previous run left in DIR/.inflight/ (claimed, perhaps posted):
  // with their report they are moved on, without one they are posted again (the service answers
  // a repost `unchanged`, so nothing is stored twice). Then every plain file of DIR whose name
  // does not start with '.' or end in .part, .tmp or .partial, and whose size and modification
  // time are the same as at the previous pass (a file still being written changes between
  // passes), is claimed by a rename into DIR/.inflight/, posted, and moved with its report
  // NAME.report.json to done/ (the service took it: records stored or already there, none in
  // conflict) or rejected/ (the service refused the whole file, or stored none of it, or some
  // records conflict with stored ones; the report says which and where). A file the service could
  // not take now (no answer, 5xx, an expired session) stays claimed and is retried next pass.
  // Fails (and stops posting) only when the login is refused or the account may not post
  // declarations: every file would fail the same way.
  Result<WatchPass> Pass();

 private:
  struct Impl;
  explicit FolderWatcher(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace clearsight
