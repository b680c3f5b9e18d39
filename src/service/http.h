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
  // Requests admitted and handled at once (handler threads). Connections do not hold them: an
  // idle or slow connection waits on the event thread.
  int threads = 32;
  size_t max_body_bytes = size_t{256} << 20;  // no request's body is larger, whatever `admit` says
  int max_connections = 1024;                 // open at once; more are closed as they are accepted
  int max_connections_per_address = 64;       // open at once from one client address
  // A connection must deliver a whole request head within this long of opening, or of its
  // previous answer (so an idle keep-alive connection closes after it too).
  int request_head_timeout_s = 15;
  // An admitted body must arrive at min_body_bytes_per_s on average once body_grace_s passed.
  int body_grace_s = 10;
  size_t min_body_bytes_per_s = size_t{16} << 10;
  int io_timeout_s = 30;  // nothing moves either way (a client that does not read its answer)
  int max_requests_per_connection = 1000;  // the last one is answered with Connection: close
  // Requests answered on a thread of their own, so that they are answered while every handler
  // thread is busy (the health check). Decided from the head; bodiless requests only.
  std::function<bool(const HttpRequest& head)> priority;
  Admit admit;  // none: every request may send max_body_bytes
};

struct HttpServerCounters {
  size_t open_connections = 0;
  uint64_t closed_slow_head = 0;  // closed by request_head_timeout_s
  uint64_t closed_slow_body = 0;  // closed by min_body_bytes_per_s
};

// Every request goes to `dispatch`; `error_body` formats the errors the server answers itself
// (`message` may be empty).
//
// Bodies are read only after `admit` allowed them, and only up to the limit it gave: a declared
// Content-Length above it is answered 413 without reading, a body that grows past it (chunked)
// is answered 413 when it ends (or the connection closes, past twice the limit). After a refusal
// or a 413 the connection is closed. Compressed request bodies (Content-Encoding) are refused
// with 415; multipart/form-data bodies are split into `parts` before dispatch.
class HttpServer {
 public:
  using Dispatch = std::function<void(HttpRequest&, HttpResponse&)>;
  using ErrorBody = std::function<std::string(int status, const std::string& message)>;
  HttpServer(HttpServerOptions options, Dispatch dispatch, ErrorBody error_body);
  ~HttpServer();

  // Binds and starts serving on a background thread; returns once connections are accepted.
  Status Start();
  // Stops accepting, lets the requests being handled finish, then closes every connection.
  void Stop();
  int port() const;
  HttpServerCounters Counters() const;

  struct Impl;  // public only so that http_server.cc's helpers can name it

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace clearsight::service
