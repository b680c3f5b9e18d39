// Helpers shared by the fuzz targets.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <utility>

namespace clearsight::fuzz {

// Inputs made of two files (a TIFF and its sidecar, a DICOS low and high object) are the two
// joined by this line; an input without it is all first part. The seed corpora are made with
// `cat a kSeparator b`.
inline constexpr std::string_view kSeparator = "\n--clearsight-fuzz-part--\n";

inline std::pair<std::string_view, std::string_view> SplitInput(const uint8_t* data, size_t size) {
  std::string_view all(reinterpret_cast<const char*>(data), size);
  const size_t at = all.find(kSeparator);
  if (at == std::string_view::npos) return {all, {}};
  return {all.substr(0, at), all.substr(at + kSeparator.size())};
}

inline std::string_view AsText(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

}  // namespace clearsight::fuzz
