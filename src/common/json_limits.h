// Bounded JSON parsing for text that comes from outside (request bodies, uploaded sidecars,
// JSON Lines records): nesting depth and the number of values are counted while parsing, and the
// parse stops at the first value past a limit, so hostile text can neither exhaust the stack of
// code that walks the result recursively nor make a document many times its own size.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string_view>

#include "clearsight/status.h"

namespace clearsight {

struct JsonLimits {
  int max_depth = 64;  // arrays and objects inside each other
  // Values of any kind (scalars, arrays, objects; keys not counted). A value costs 16 bytes and
  // more in the document, so this bounds its memory at a small multiple of it.
  size_t max_values = size_t{1} << 20;
};

// Parses `text` as one JSON value (RFC 8259, no comments). InvalidArgument when it is not JSON,
// nests deeper than limits.max_depth or holds more than limits.max_values values; the message
// starts with `what` ("the body") and names the limit or the byte where the syntax broke.
Result<nlohmann::json> ParseJsonBounded(std::string_view text, std::string_view what,
                                        const JsonLimits& limits = {});

}  // namespace clearsight
