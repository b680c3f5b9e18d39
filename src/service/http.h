// The service's own view of HTTP, so that cpp-httplib stays inside http_server.cc: a request
// with its path parameters, query, headers, body and multipart parts; a response; and a server
// that hands every request to one dispatch function.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "clearsight/status.h"

namespace clearsight::service {

struct HttpPart {
  std::string_view filename;
  std::string_view content_type;
  std::string_view content;
};

struct HttpRequest {
  std::string method;
  std::string path;                      // decoded, without the query
  std::vector<std::string> path_params;  // the {…} segments of the matched route, in order
  std::multimap<std::string, std::string> query;
  std::function<std::string(const std::string&)> header;  // "" when absent; case-insensitive
  std::string_view body;
  std::map<std::string, HttpPart> parts;  // multipart/form-data
  std::string remote_addr;

  std::string Query(const std::string& key, const std::string& fallback = "") const {
    auto it = query.find(key);
    return it == query.end() ? fallback : it->second;
  }
  bool HasQuery(const std::string& key) const { return query.count(key) > 0; }
  const HttpPart* Part(const std::string& name) const {
    auto it = parts.find(name);
    return it == parts.end() ? nullptr : &it->second;
  }
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

// Decides, from the request line and headers of a request that may carry a body (POST, PUT, PATCH,
// DELETE) before any byte of the body is read, how many body bytes it may send; or answers it at
// once: std::nullopt with `refusal` filled. `head` has no body and no parts.
using Admit = std::function<std::optional<size_t>(const HttpRequest& head, HttpResponse* refusal)>;

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;  // 0 = any free port
  int threads = 32;
  size_t max_body_bytes = size_t{256} << 20;  // no request's body is larger, whatever `admit` says
  int keep_alive_timeout_s = 30;
  Admit admit;  // none: every request may send max_body_bytes
};

// Every request (and every error cpp-httplib produces itself: 413, 400, ...) goes to `dispatch`;
// `error_body` formats errors that never reached it (`message` may be empty).
//
// Bodies are read only after `admit` allowed them, and only up to the limit it gave: a declared
// Content-Length above it is answered 413 without reading, a body that grows past it (chunked, or
// longer than declared) is answered 413 when it does. After a refusal or a 413 the connection is
// closed, since what is left of the body on it must not be read as the next request.
class HttpServer {
 public:
  using Dispatch = std::function<void(HttpRequest&, HttpResponse&)>;
  using ErrorBody = std::function<std::string(int status, const std::string& message)>;
  HttpServer(HttpServerOptions options, Dispatch dispatch, ErrorBody error_body);
  ~HttpServer();

  // Binds and starts serving on a background thread; returns once connections are accepted.
  Status Start();
  void Stop();
  int port() const;

  struct Impl;  // public only so that http_server.cc's helpers can name it

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace clearsight::service
