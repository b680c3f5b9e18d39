#include "service/multipart.h"

#include <cctype>

#include "clearsight/text.h"

namespace clearsight::service {
namespace {

// The value of parameter `key` in a header value such as `form-data; name="scan"; filename=a`.
std::string Param(std::string_view header, std::string_view key) {
  size_t pos = header.find(';');
  while (pos != std::string_view::npos) {
    std::string_view rest = header.substr(pos + 1);
    size_t eq = rest.find('=');
    if (eq == std::string_view::npos) return "";
    std::string_view name = Trim(rest.substr(0, eq));
    std::string_view value = rest.substr(eq + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    std::string out;
    size_t end = 0;
    if (!value.empty() && value.front() == '"') {  // quoted: \" and \\ are escapes
      for (end = 1; end < value.size() && value[end] != '"'; ++end) {
        if (value[end] == '\\' && end + 1 < value.size()) ++end;
        out += value[end];
      }
      end = value.find(';', end);
    } else {
      end = value.find(';');
      out = std::string(Trim(value.substr(0, end)));
    }
    if (EqualsIgnoreCase(name, key)) return out;
    if (end == std::string_view::npos) return "";
    pos = static_cast<size_t>(value.data() - header.data()) + end;
  }
  return "";
}

}  // namespace

std::string MultipartBoundary(std::string_view content_type) {
  size_t semi = content_type.find(';');
  if (!EqualsIgnoreCase(Trim(content_type.substr(0, semi)), "multipart/form-data")) return "";
  return Param(content_type, "boundary");
}

Result<std::vector<MultipartPart>> ParseMultipart(std::string_view boundary,
                                                  std::string_view body) {
  if (boundary.empty() || boundary.size() > 200)
    return Status::InvalidArgument("multipart body: the Content-Type names no usable boundary");
  const std::string delimiter = "--" + std::string(boundary);
  // The first delimiter may follow a preamble; later ones start a line.
  size_t at = body.rfind(delimiter, 0) == 0 ? 0 : body.find("\r\n" + delimiter);
  if (at == std::string_view::npos)
    return Status::InvalidArgument("multipart body: no part starts with the boundary '" +
                                   std::string(boundary) + "'");
  at += at == 0 ? delimiter.size() : delimiter.size() + 2;
  std::vector<MultipartPart> parts;
  for (;;) {
    std::string_view rest = body.substr(at);
    if (rest.substr(0, 2) == "--") return parts;  // the closing delimiter
    if (rest.substr(0, 2) != "\r\n")
      return Status::InvalidArgument("multipart body: part " + std::to_string(parts.size() + 1) +
                                     ": the boundary line does not end in CRLF");
    const size_t head_begin = at + 2;
    const size_t head_end = body.find("\r\n\r\n", head_begin - 2);
    if (head_end == std::string_view::npos)
      return Status::InvalidArgument("multipart body: part " + std::to_string(parts.size() + 1) +
                                     " has no end of headers (blank line)");
    MultipartPart part;
    std::string_view head = body.substr(head_begin, head_end - std::min(head_end, head_begin));
    while (!head.empty()) {
      size_t eol = head.find("\r\n");
      std::string_view line = head.substr(0, eol);
      head = eol == std::string_view::npos ? std::string_view() : head.substr(eol + 2);
      size_t colon = line.find(':');
      if (colon == std::string_view::npos) continue;
      std::string_view name = Trim(line.substr(0, colon));
      std::string_view value = Trim(line.substr(colon + 1));
      if (EqualsIgnoreCase(name, "Content-Disposition")) {
        part.name = Param(value, "name");
        part.filename = Param(value, "filename");
      } else if (EqualsIgnoreCase(name, "Content-Type")) {
        part.content_type = std::string(value);
      }
    }
    if (part.name.empty())
      return Status::InvalidArgument("multipart body: part " + std::to_string(parts.size() + 1) +
                                     " has no Content-Disposition name");
    const size_t content_begin = head_end + 4;
    const size_t next = body.find("\r\n" + delimiter, content_begin);
    if (next == std::string_view::npos)
      return Status::InvalidArgument("multipart body: part '" + part.name +
                                     "' is not closed by the boundary (cut short?)");
    part.content = body.substr(content_begin, next - content_begin);
    parts.push_back(std::move(part));
    at = next + 2 + delimiter.size();
  }
}

}  // namespace clearsight::service
