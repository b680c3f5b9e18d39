// multipart/form-data (RFC 7578): the scan uploads' body format.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "clearsight/status.h"

namespace clearsight::service {

struct MultipartPart {
  std::string name;          // Content-Disposition's name
  std::string filename;      // "" when the part is not a file
  std::string content_type;  // "" when the part names none
  std::string_view content;  // points into the body given to ParseMultipart
};

// The boundary parameter of a multipart/form-data Content-Type, or "" when it is not one.
std::string MultipartBoundary(std::string_view content_type);

// The parts of `body`, in order. Fails with InvalidArgument naming what is wrong: no opening or
// closing delimiter, a part without a header block or without a name.
Result<std::vector<MultipartPart>> ParseMultipart(std::string_view boundary, std::string_view body);

}  // namespace clearsight::service
