// gzip (zlib) for large binary responses such as a scan's per-pixel channels.
#pragma once

#include <string>
#include <string_view>

#include "clearsight/status.h"

namespace clearsight::service {

// The bytes as one gzip member (RFC 1952) at zlib `level` (1 fastest .. 9 smallest).
Result<std::string> Gzip(std::string_view bytes, int level = 1);
// Whether an Accept-Encoding header value accepts gzip (a q=0 weight refuses it).
bool AcceptsGzip(std::string_view accept_encoding);

}  // namespace clearsight::service
