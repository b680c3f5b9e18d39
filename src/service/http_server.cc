// The cpp-httplib adapter. Nothing else in Clearsight includes httplib.h.
#include <httplib.h>

#include <chrono>
#include <thread>

#include "service/http.h"

namespace clearsight::service {

struct HttpServer::Impl {
  HttpServerOptions options;
  Dispatch dispatch;
  ErrorBody error_body;
  httplib::Server server;
  std::thread thread;
  int port = 0;
};

HttpServer::HttpServer(HttpServerOptions options, Dispatch dispatch, ErrorBody error_body)
    : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  impl_->dispatch = std::move(dispatch);
  impl_->error_body = std::move(error_body);
}

HttpServer::~HttpServer() { Stop(); }

namespace {
void Handle(HttpServer::Dispatch& dispatch, const httplib::Request& in, httplib::Response& out) {
  HttpRequest req;
  req.method = in.method;
  req.path = in.path;
  for (const auto& [k, v] : in.params) req.query.emplace(k, v);
  req.header = [&in](const std::string& key) { return in.get_header_value(key); };
  req.body = in.body;
  for (const auto& [name, f] : in.files)
    req.parts.emplace(name, HttpPart{f.filename, f.content_type, f.content});
  req.remote_addr = in.remote_addr;
  HttpResponse res;
  dispatch(req, res);
  out.status = res.status;
  for (auto& [k, v] : res.headers) out.set_header(k, v);
  out.set_content(std::move(res.body), res.content_type);
}
}  // namespace

Status HttpServer::Start() {
  auto& s = impl_->server;
  const int threads = std::max(2, impl_->options.threads);
  // cpp-httplib owns the queue it is given (its API takes a raw pointer).
  s.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  s.set_payload_max_length(impl_->options.max_body_bytes);
  s.set_keep_alive_max_count(1000000);
  s.set_keep_alive_timeout(impl_->options.keep_alive_timeout_s);
  s.set_read_timeout(30, 0);
  s.set_write_timeout(30, 0);
  s.set_tcp_nodelay(true);
  // SO_REUSEADDR (a restart may bind while old connections linger) but not SO_REUSEPORT, which
  // httplib sets by default: with it a second service could bind the same port and the kernel
  // would share the requests between the two.
  s.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  auto handler = [this](const httplib::Request& in, httplib::Response& out) {
    Handle(impl_->dispatch, in, out);
  };
  for (const char* pattern : {"/.*"}) {
    s.Get(pattern, handler);
    s.Post(pattern, handler);
    s.Put(pattern, handler);
    s.Delete(pattern, handler);
    s.Patch(pattern, handler);
    s.Options(pattern, handler);
  }
  s.set_error_handler([this](const httplib::Request&, httplib::Response& out) {
    // Errors httplib raises itself (body too large, malformed request) get the same JSON shape;
    // responses that already carry a body (ours) are left alone.
    if (out.body.empty()) out.set_content(impl_->error_body(out.status), "application/json");
  });
  s.set_exception_handler(
      [this](const httplib::Request&, httplib::Response& out, std::exception_ptr) {
        out.status = 500;
        out.set_content(impl_->error_body(500), "application/json");
      });
  if (impl_->options.port == 0) {
    impl_->port = s.bind_to_any_port(impl_->options.host);
    if (impl_->port <= 0)
      return Status::IoError("cannot bind " + impl_->options.host + " to a free port");
  } else {
    if (!s.bind_to_port(impl_->options.host, impl_->options.port))
      return Status::IoError("cannot listen on " + impl_->options.host + ":" +
                             std::to_string(impl_->options.port) +
                             " (in use, or not an address of this machine)");
    impl_->port = impl_->options.port;
  }
  impl_->thread = std::thread([this] { impl_->server.listen_after_bind(); });
  // 0.11 has no wait_until_ready(): the socket is bound, so it is ready once the loop runs.
  for (int i = 0; i < 500 && !s.is_running(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  if (!s.is_running()) return Status::IoError("the HTTP server did not start");
  return Status::Ok();
}

void HttpServer::Stop() {
  if (impl_->thread.joinable()) {
    impl_->server.stop();
    impl_->thread.join();
  }
}

int HttpServer::port() const { return impl_->port; }

}  // namespace clearsight::service
