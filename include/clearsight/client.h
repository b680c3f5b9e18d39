// A client of the Clearsight HTTP API (docs/api.md), for integrators' tools and the demo: log in,
// send declarations and scans, read decisions. Every call is a real HTTP request.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "clearsight/status.h"

namespace clearsight {

struct ClientOptions {
  std::string base_url = "http://127.0.0.1:8080";  // http://host:port
  std::string username;
  std::string password;
  int timeout_s = 120;
};

class ServiceClient {
 public:
  // Logs in. Fails with Unauthenticated (wrong user or password), IoError (no server there) or
  // InvalidArgument (a malformed URL).
  static Result<std::unique_ptr<ServiceClient>> Connect(const ClientOptions& options);
  ~ServiceClient();

  // POST /api/declarations with a file's content; `format` "csv", "kcs", "jsonl", "ead" (postal
  // EAD XML), "h7" (H7 CSV), "h7xml", or "auto" (XML, JSON Lines or CSV by the first character;
  // the service tells the XML messages and CSV headers apart). Returns the response body (JSON:
  // counts, rejections, warnings, per-declaration results); InvalidArgument for another format.
  Result<std::string> PostDeclarations(std::string_view content, std::string_view format);
  // POST /api/scans with a scan-format-v1 TIFF and its sidecar JSON. Returns the response body.
  Result<std::string> PostScan(std::string_view tiff, std::string_view sidecar_json);
  // GET path (e.g. "/api/queue?limit=5"); returns the body.
  Result<std::string> Get(const std::string& path);
  // POST a JSON body to path (e.g. an outcome); returns the response body.
  Result<std::string> PostJson(const std::string& path, const std::string& json);

 private:
  struct Impl;
  explicit ServiceClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace clearsight
