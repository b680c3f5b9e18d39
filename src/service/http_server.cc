// The cpp-httplib adapter. Nothing else in Clearsight includes httplib.h.
#include <httplib.h>

#include <chrono>
#include <climits>
#include <memory>
#include <thread>

#include "clearsight/text.h"
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
// The request line and headers.
HttpRequest Head(const httplib::Request& in) {
  HttpRequest req;
  req.method = in.method;
  req.path = in.path;
  for (const auto& [k, v] : in.params) req.query.emplace(k, v);
  req.header = [&in](const std::string& key) { return in.get_header_value(key); };
  req.remote_addr = in.remote_addr;
  return req;
}

void Answer(HttpResponse res, httplib::Response& out) {
  out.status = res.status;
  for (auto& [k, v] : res.headers) out.set_header(k, v);
  out.set_content(std::move(res.body), res.content_type);
}

// Answers and then closes the connection. cpp-httplib 0.11 keeps a connection open after any
// answer it wrote whole, and would read the unread rest of a refused body as the next request; a
// content provider that writes the whole answer and then reports failure makes it close instead.
void AnswerAndClose(HttpResponse res, httplib::Response& out) {
  out.status = res.status;
  for (auto& [k, v] : res.headers) out.set_header(k, v);
  out.set_header("Connection", "close");
  auto body = std::make_shared<std::string>(std::move(res.body));
  out.set_content_provider(body->size(), res.content_type,
                           [body](size_t offset, size_t length, httplib::DataSink& sink) {
                             sink.write(body->data() + offset, length);
                             return false;  // all written: now close
                           });
}

std::optional<uint64_t> DeclaredLength(const httplib::Request& in) {
  if (!in.has_header("Content-Length")) return std::nullopt;
  int64_t n = 0;
  if (!ParseInt64(in.get_header_value("Content-Length"), &n) || n < 0) return UINT64_MAX;
  return static_cast<uint64_t>(n);
}

HttpResponse TooLarge(HttpServer::Impl& impl, const HttpRequest& req, const std::string& size,
                      size_t limit) {
  HttpResponse r;
  r.status = 413;
  r.body = impl.error_body(413, "the body is " + size + "; " + req.method + " " + req.path +
                                    " takes at most " + std::to_string(limit) + " bytes");
  return r;
}

void HandleWithoutBody(HttpServer::Impl& impl, const httplib::Request& in, httplib::Response& out) {
  HttpRequest req = Head(in);
  HttpResponse res;
  impl.dispatch(req, res);
  Answer(std::move(res), out);
}

// A refusal (or a 413) before the body was read: the body is read and dropped when it is declared
// at most `drain` bytes (a client that sends its whole body before reading the answer would
// otherwise see a reset connection instead of the answer), otherwise the connection is closed
// after the answer. `Expect: 100-continue` clients get the refusal before they send anything.
void Refuse(HttpResponse res, size_t drain, const httplib::Request& in, httplib::Response& out,
            const httplib::ContentReader& reader) {
  const std::optional<uint64_t> declared = DeclaredLength(in);
  auto drop = [](const char*, size_t) { return true; };
  // (cpp-httplib parses a multipart body whichever way it is read: it needs both callbacks.)
  if (declared && *declared <= drain &&
      (in.is_multipart_form_data()
           ? reader([](const httplib::MultipartFormData&) { return true; }, drop)
           : reader(drop)))
    return Answer(std::move(res), out);
  AnswerAndClose(std::move(res), out);
}

// A refused body is drained up to twice what the request could have sent (64 KiB for a
// request refused outright).
constexpr size_t kDrainFactor = 2;
constexpr size_t kRefusedDrainBytes = size_t{64} << 10;

// The body limit for a request, or its refusal in *refusal and how much of its body to drain.
std::optional<size_t> AdmitBody(HttpServer::Impl& impl, const httplib::Request& in,
                                const HttpRequest& req, HttpResponse* refusal,
                                size_t* drain = nullptr) {
  size_t limit = impl.options.max_body_bytes;
  if (drain) *drain = kRefusedDrainBytes;
  if (impl.options.admit) {
    std::optional<size_t> allowed = impl.options.admit(req, refusal);
    if (!allowed) return std::nullopt;
    limit = std::min(*allowed, limit);
  }
  if (auto declared = DeclaredLength(in); declared && *declared > limit) {
    *refusal = TooLarge(impl, req, std::to_string(*declared) + " bytes", limit);
    if (drain) *drain = limit * kDrainFactor;
    return std::nullopt;
  }
  return limit;
}

void HandleWithBody(HttpServer::Impl& impl, const httplib::Request& in, httplib::Response& out,
                    const httplib::ContentReader& reader) {
  HttpRequest req = Head(in);
  HttpResponse refusal;
  size_t drain = 0;
  const std::optional<size_t> admitted = AdmitBody(impl, in, req, &refusal, &drain);
  if (!admitted) return Refuse(std::move(refusal), drain, in, out, reader);
  const size_t limit = *admitted;
  auto too_large = [&](const std::string& size) {
    AnswerAndClose(TooLarge(impl, req, size, limit), out);
  };
  // Read, counting what arrives (chunked bodies declare no length; gzip ones grow as inflated).
  std::string body;
  httplib::MultipartFormDataItems items;
  size_t received = 0;
  bool over = false;
  auto append = [&](std::string& to, const char* data, size_t n) {
    received += n;
    if (received > limit) {
      over = true;
      return false;
    }
    to.append(data, n);
    return true;
  };
  bool read = false;
  if (in.is_multipart_form_data()) {
    read = reader(
        [&](const httplib::MultipartFormData& part) {
          items.push_back(part);
          return true;
        },
        [&](const char* data, size_t n) { return append(items.back().content, data, n); });
  } else {
    read = reader([&](const char* data, size_t n) { return append(body, data, n); });
  }
  if (over) return too_large("larger than that");
  if (!read) {
    HttpResponse r;
    r.status = 400;
    r.body = impl.error_body(400, "the body could not be read (malformed, or cut short)");
    return AnswerAndClose(std::move(r), out);
  }
  req.body = body;
  for (const auto& part : items)  // the first part of each name, as cpp-httplib's own map gives
    req.parts.emplace(part.name, HttpPart{part.filename, part.content_type, part.content});
  HttpResponse res;
  impl.dispatch(req, res);
  Answer(std::move(res), out);
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
  // GET, HEAD and OPTIONS bodies are never read by cpp-httplib; the others come through
  // HandleWithBody, which reads a body only once it is admitted.
  auto without_body = [this](const httplib::Request& in, httplib::Response& out) {
    HandleWithoutBody(*impl_, in, out);
  };
  auto with_body = [this](const httplib::Request& in, httplib::Response& out,
                          const httplib::ContentReader& reader) {
    HandleWithBody(*impl_, in, out, reader);
  };
  for (const char* pattern : {"/.*"}) {
    s.Get(pattern, without_body);
    s.Options(pattern, without_body);
    s.Post(pattern, with_body);
    s.Put(pattern, with_body);
    s.Delete(pattern, with_body);
    s.Patch(pattern, with_body);
  }
  // A client that waits for "100 Continue" before sending its body is refused before it sends.
  s.set_expect_100_continue_handler([this](const httplib::Request& in, httplib::Response& out) {
    HttpRequest req = Head(in);
    HttpResponse refusal;
    if (AdmitBody(*impl_, in, req, &refusal)) return 100;
    Answer(std::move(refusal), out);
    return out.status;
  });
  s.set_error_handler([this](const httplib::Request&, httplib::Response& out) {
    // Errors httplib raises itself (malformed request) get the same JSON shape; responses that
    // already carry a body (ours, or one written by a content provider) are left alone.
    if (out.body.empty() && !out.content_provider_)
      out.set_content(impl_->error_body(out.status, ""), "application/json");
  });
  s.set_exception_handler(
      [this](const httplib::Request&, httplib::Response& out, std::exception_ptr) {
        out.status = 500;
        out.set_content(impl_->error_body(500, ""), "application/json");
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
