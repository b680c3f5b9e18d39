// The zlib adapter: gzip for large binary responses. Nothing else in Clearsight includes zlib.h.
#include "service/gzip.h"

#include <zlib.h>

namespace clearsight::service {

Result<std::string> Gzip(std::string_view bytes, int level) {
  z_stream z{};
  // 15 window bits + 16: a gzip header and trailer rather than a raw zlib stream.
  if (deflateInit2(&z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    return Status::Internal("zlib: deflateInit2 failed");
  std::string out;
  out.resize(deflateBound(&z, static_cast<uLong>(bytes.size())));
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  z.avail_in = static_cast<uInt>(bytes.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&z, Z_FINISH);
  const size_t written = out.size() - z.avail_out;
  deflateEnd(&z);
  if (rc != Z_STREAM_END) return Status::Internal("zlib: deflate did not finish");
  out.resize(written);
  return out;
}

bool AcceptsGzip(std::string_view accept_encoding) {
  // "gzip, deflate, br" or "gzip;q=0.8"; "gzip;q=0" refuses it.
  size_t at = 0;
  while (at < accept_encoding.size()) {
    size_t comma = accept_encoding.find(',', at);
    std::string_view item = accept_encoding.substr(
        at, comma == std::string_view::npos ? std::string_view::npos : comma - at);
    at = comma == std::string_view::npos ? accept_encoding.size() : comma + 1;
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    size_t semi = item.find(';');
    std::string_view token = item.substr(0, semi);
    while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
    if (token != "gzip" && token != "x-gzip") continue;
    if (semi == std::string_view::npos) return true;
    std::string_view params = item.substr(semi + 1);
    size_t q = params.find("q=");
    if (q == std::string_view::npos) return true;
    std::string_view v = params.substr(q + 2);
    // q=0, q=0.0, q=0.00 refuse; anything else accepts.
    bool zero = !v.empty() && v[0] == '0';
    for (size_t i = 1; zero && i < v.size() && v[i] != ' ' && v[i] != ';'; ++i)
      if (v[i] != '.' && v[i] != '0') zero = false;
    return !zero;
  }
  return false;
}

}  // namespace clearsight::service
