// The libmicrohttpd adapter. Nothing else in Clearsight includes microhttpd.h.
//
// One event thread (epoll) holds every connection: it reads request heads and bodies and writes
// answers, and never runs service code, which may wait on the store or on a scan's analysis. A
// request's head is admitted, and the request dispatched, on the handler threads while its
// connection is suspended. An idle or slow connection therefore costs a socket and a small
// buffer, never a thread; the deadlines below close it, and a client address may hold only so
// many at once.
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_set>

#include "clearsight/text.h"
#include "service/http.h"
#include "service/multipart.h"
#include "service/worker_pool.h"

namespace clearsight::service {
namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// What a connection is waiting for, for the deadline sweep.
enum Phase : int {
  kHead = 0,      // a request head: since the connection opened or its last answer was sent
  kBody = 1,      // the body of an admitted request
  kHandling = 2,  // the service (admission, dispatch) or the client reading the answer
};

// One TCP connection (MHD's socket context).
struct Connection {
  int fd = -1;
  std::atomic<int> phase{kHead};
  std::atomic<int64_t> since_ms{0};
  std::atomic<uint64_t> body_bytes{0};
  int requests = 0;  // the event thread's only
  bool cut = false;  // shut down by the sweep (under Impl::connections_mu)
};

// One request (MHD's per-request context).
struct Exchange {
  enum State : int { kAdmitting, kReading, kRefused, kDispatching, kAnswered };
  std::atomic<int> state{kAdmitting};
  HttpRequest req;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::vector<MultipartPart> parts;
  size_t limit = 0;           // body bytes admitted
  size_t received = 0;        // body bytes that arrived
  size_t drain = 0;           // a refused body at most this large is read (and dropped) first
  bool over = false;          // more than `limit` arrived: read on (to 2 x limit) and answer 413
  bool close = false;         // answer with Connection: close
  bool body_started = false;  // MHD has called with body bytes, or once since admission
  bool priority = false;      // dispatched on the priority thread
  HttpResponse res;
};

// A body refused for its size is read and dropped up to twice the limit (64 KiB for one refused
// outright), so that a client that sends before it reads gets the answer; a larger one is not
// read and the connection closes after the answer.
constexpr size_t kDrainFactor = 2;
constexpr size_t kRefusedDrainBytes = size_t{64} << 10;

}  // namespace

struct HttpServer::Impl {
  HttpServerOptions options;
  Dispatch dispatch;
  ErrorBody error_body;
  MHD_Daemon* daemon = nullptr;
  int listen_fd = -1;
  int port = 0;
  std::mutex pools_mu;                   // the pools are gone once Stop() began
  std::unique_ptr<WorkerPool> handlers;  // admission and dispatch
  std::unique_ptr<WorkerPool> priority;  // requests options.priority picks (health)
  std::atomic<int> in_service{0};        // requests suspended in the handlers

  std::mutex connections_mu;
  std::unordered_set<Connection*> connections;
  std::atomic<uint64_t> cut_head{0}, cut_body{0};

  std::mutex sweep_mu;
  std::condition_variable sweep_cv;
  bool stopping = false;
  std::thread sweeper;

  HttpResponse Error(int status, const std::string& message) const {
    HttpResponse r;
    r.status = status;
    r.body = error_body(status, message);
    return r;
  }
  void Sweep();
};

HttpServer::HttpServer(HttpServerOptions options, Dispatch dispatch, ErrorBody error_body)
    : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  impl_->dispatch = std::move(dispatch);
  impl_->error_body = std::move(error_body);
}

HttpServer::~HttpServer() { Stop(); }

namespace {

MHD_Result CollectPair(void* cls, MHD_ValueKind, const char* key, const char* value) {
  static_cast<std::vector<std::pair<std::string, std::string>>*>(cls)->emplace_back(
      key ? key : "", value ? value : "");
  return MHD_YES;
}

std::string ClientAddress(MHD_Connection* c) {
  const MHD_ConnectionInfo* info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  if (!info || !info->client_addr) return "";
  char text[INET6_ADDRSTRLEN] = {0};
  const sockaddr* sa = info->client_addr;
  if (sa->sa_family == AF_INET)
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, text, sizeof(text));
  else if (sa->sa_family == AF_INET6)
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr, text, sizeof(text));
  return text;
}

Connection* ConnectionOf(MHD_Connection* c) {
  const MHD_ConnectionInfo* info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
  return info ? static_cast<Connection*>(info->socket_context) : nullptr;
}

// MHD percent-decodes the path and the query in place into C strings, so a decoded NUL byte cut
// them short: "/api/consignments/a%00b/outcome" was handled as "/api/consignments/a". "%00" is
// kept as written instead; no id or file name may hold '%', so such a path names nothing (400 or
// 404) rather than another one.
size_t UnescapeKeepingNul(void*, MHD_Connection*, char* s) {
  auto hex = [](char c) {
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
  };
  char* out = s;
  for (const char* in = s; *in;) {
    if (in[0] == '%' && hex(in[1]) >= 0 && hex(in[2]) >= 0 && (in[1] != '0' || in[2] != '0')) {
      *out++ = static_cast<char>(hex(in[1]) * 16 + hex(in[2]));
      in += 3;
    } else {
      *out++ = *in++;
    }
  }
  *out = '\0';
  return static_cast<size_t>(out - s);
}

// The request line and headers; the headers are copied, since handler threads read them.
void ReadHead(MHD_Connection* c, const char* url, const char* method, Exchange* ex) {
  HttpRequest& req = ex->req;
  req.method = method;
  req.path = url;  // percent-decoded by MHD
  std::vector<std::pair<std::string, std::string>> query;
  MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, CollectPair, &query);
  for (auto& [k, v] : query) req.query.emplace(std::move(k), std::move(v));
  MHD_get_connection_values(c, MHD_HEADER_KIND, CollectPair, &ex->headers);
  req.header = [headers = &ex->headers](const std::string& key) {
    for (const auto& [k, v] : *headers)
      if (EqualsIgnoreCase(k, key)) return v;
    return std::string();
  };
  req.remote_addr = ClientAddress(c);
}

std::optional<uint64_t> DeclaredLength(const HttpRequest& req) {
  const std::string v = req.header("Content-Length");
  if (v.empty()) return std::nullopt;
  int64_t n = 0;
  if (!ParseInt64(v, &n) || n < 0) return UINT64_MAX;
  return static_cast<uint64_t>(n);
}

bool HasBody(const HttpRequest& req) {
  auto declared = DeclaredLength(req);
  return (declared && *declared > 0) || !req.header("Transfer-Encoding").empty();
}

MHD_Result Queue(MHD_Connection* c, Exchange* ex) {
  ex->state = Exchange::kAnswered;
  auto* body = new std::string(std::move(ex->res.body));
  MHD_Response* r = MHD_create_response_from_buffer_with_free_callback_cls(
      body->size(), body->data(), [](void* cls) { delete static_cast<std::string*>(cls); }, body);
  if (!r) {
    delete body;
    return MHD_NO;
  }
  for (const auto& [k, v] : ex->res.headers) MHD_add_response_header(r, k.c_str(), v.c_str());
  if (!ex->res.content_type.empty())
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ex->res.content_type.c_str());
  if (ex->close) MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
  MHD_Result ok = MHD_queue_response(c, static_cast<unsigned>(ex->res.status), r);
  MHD_destroy_response(r);
  return ok;
}

// Runs fn on a handler thread while the connection waits, suspended; then the event thread calls
// OnRequest again and answers from ex->state. False once the server is stopping.
template <typename F>
bool OffTheEventThread(HttpServer::Impl& impl, MHD_Connection* c, bool priority, F fn) {
  std::lock_guard lock(impl.pools_mu);
  WorkerPool* pool = priority && impl.priority ? impl.priority.get() : impl.handlers.get();
  if (!pool) return false;
  ++impl.in_service;
  MHD_suspend_connection(c);  // before the task may run: it resumes the connection
  pool->Submit([&impl, c, fn] {
    fn();
    MHD_resume_connection(c);
    --impl.in_service;
  });
  return true;
}

MHD_Result Unavailable(HttpServer::Impl& impl, MHD_Connection* c, Exchange* ex) {
  ex->res = impl.Error(503, "the service is stopping");
  ex->close = true;
  return Queue(c, ex);
}

void DispatchSafely(HttpServer::Impl& impl, Exchange* ex) {
  try {
    impl.dispatch(ex->req, ex->res);
  } catch (const std::exception&) {
    ex->res = impl.Error(500, "");
  }
}

// A multipart/form-data body is split into its parts first (on a handler thread).
void ReadPartsAndDispatch(HttpServer::Impl& impl, Exchange* ex) {
  if (const std::string boundary = MultipartBoundary(ex->req.header("Content-Type"));
      !boundary.empty()) {
    auto parts = ParseMultipart(boundary, ex->body);
    if (!parts.ok()) {
      ex->res = impl.Error(400, parts.status().message());
      return;
    }
    ex->parts = std::move(*parts);
    for (const auto& p : ex->parts)  // the first part of each name
      ex->req.parts.emplace(p.name, HttpPart{p.filename, p.content_type, p.content});
  }
  DispatchSafely(impl, ex);
}

// Decides on a request that carries a body, from its head (on a handler thread).
void Admit(HttpServer::Impl& impl, Exchange* ex) {
  const HttpRequest& req = ex->req;
  ex->drain = kRefusedDrainBytes;
  const std::string encoding = req.header("Content-Encoding");
  if (!encoding.empty() && !EqualsIgnoreCase(encoding, "identity")) {
    ex->res = impl.Error(415, "Content-Encoding '" + encoding +
                                  "' is not accepted on request bodies: send them uncompressed");
    ex->state = Exchange::kRefused;
    return;
  }
  if (req.method == "GET" || req.method == "HEAD" || req.method == "OPTIONS") {
    ex->res = impl.Error(400, "a " + req.method + " request takes no body");
    ex->state = Exchange::kRefused;
    return;
  }
  size_t limit = impl.options.max_body_bytes;
  if (impl.options.admit) {
    HttpResponse refusal;
    std::optional<size_t> allowed = impl.options.admit(req, &refusal);
    if (!allowed) {
      ex->res = std::move(refusal);
      ex->state = Exchange::kRefused;
      return;
    }
    limit = std::min(*allowed, limit);
  }
  if (auto declared = DeclaredLength(req); declared && *declared > limit) {
    ex->res =
        impl.Error(413, "the body is " + std::to_string(*declared) + " bytes; " + req.method + " " +
                            req.path + " takes at most " + std::to_string(limit) + " bytes");
    ex->drain = limit * kDrainFactor;
    ex->state = Exchange::kRefused;
    return;
  }
  ex->limit = limit;
  ex->state = Exchange::kReading;
}

MHD_Result OnRequest(void* cls, MHD_Connection* c, const char* url, const char* method, const char*,
                     const char* data, size_t* size, void** context) {
  auto& impl = *static_cast<HttpServer::Impl*>(cls);
  auto* ex = static_cast<Exchange*>(*context);
  Connection* conn = ConnectionOf(c);
  if (!ex) {  // the head has arrived
    ex = new Exchange;
    *context = ex;
    ReadHead(c, url, method, ex);
    if (conn) {
      conn->phase = kHandling;
      if (++conn->requests >= impl.options.max_requests_per_connection) ex->close = true;
    }
    if (!HasBody(ex->req)) {
      // Dispatched on the next call, once MHD holds the request as received: an answer queued
      // now (while MHD could still read a body) would close the connection after it.
      ex->state = Exchange::kReading;
      ex->body_started = true;
      ex->priority = impl.options.priority && impl.options.priority(ex->req);
      return MHD_YES;
    }
    auto admit = [&impl, ex, conn] {
      Admit(impl, ex);
      if (conn && ex->state == Exchange::kReading) {  // the body deadline starts now
        conn->since_ms = NowMs();
        conn->phase = kBody;
      }
    };
    if (!OffTheEventThread(impl, c, false, admit)) return Unavailable(impl, c, ex);
    return MHD_YES;
  }
  switch (ex->state.load()) {
    case Exchange::kRefused:
      ex->close = true;
      if (*size == 0 && !ex->body_started) {
        // A small body is read and dropped first: a client that sends its whole body before it
        // reads would otherwise meet a closed connection instead of the answer. Otherwise MHD
        // answers at once (before `100 Continue`), drops what arrived and closes.
        const std::optional<uint64_t> declared = DeclaredLength(ex->req);
        const bool expects = EqualsIgnoreCase(ex->req.header("Expect"), "100-continue");
        if (expects || !declared || *declared > ex->drain) return Queue(c, ex);
        ex->body_started = true;
        return MHD_YES;
      }
      if (*size != 0) {
        ex->body_started = true;
        ex->received += *size;
        if (ex->received > ex->drain) return MHD_NO;
        *size = 0;
        return MHD_YES;
      }
      return Queue(c, ex);
    case Exchange::kReading:
      // After admission MHD calls once more before the body (and answers 100 Continue after it).
      if (*size == 0 && !ex->body_started) {
        ex->body_started = true;
        return MHD_YES;
      }
      ex->body_started = true;
      if (*size != 0) {
        if (conn) conn->body_bytes += *size;
        ex->received += *size;
        if (ex->received > ex->limit) ex->over = true;
        if (ex->received > ex->limit * kDrainFactor) return MHD_NO;  // not worth reading
        if (!ex->over) ex->body.append(data, *size);
        *size = 0;
        return MHD_YES;
      }
      if (conn) conn->phase = kHandling;
      if (ex->over) {
        ex->res =
            impl.Error(413, "the body is larger than that; " + ex->req.method + " " + ex->req.path +
                                " takes at most " + std::to_string(ex->limit) + " bytes");
        ex->close = true;
        return Queue(c, ex);
      }
      ex->req.body = ex->body;
      ex->state = Exchange::kDispatching;
      if (!OffTheEventThread(impl, c, ex->priority,
                             [&impl, ex] { ReadPartsAndDispatch(impl, ex); }))
        return Unavailable(impl, c, ex);
      return MHD_YES;
    case Exchange::kDispatching:
      if (*size != 0) return MHD_NO;
      return Queue(c, ex);
    case Exchange::kAdmitting:
    case Exchange::kAnswered:
    default:
      *size = 0;
      return MHD_YES;
  }
}

void OnCompleted(void*, MHD_Connection* c, void** context, MHD_RequestTerminationCode toe) {
  delete static_cast<Exchange*>(*context);
  *context = nullptr;
  if (Connection* conn = ConnectionOf(c)) {
    conn->phase = kHead;
    conn->since_ms = NowMs();
    conn->body_bytes = 0;
  }
}

void OnConnection(void* cls, MHD_Connection* c, void** socket_context,
                  MHD_ConnectionNotificationCode code) {
  auto& impl = *static_cast<HttpServer::Impl*>(cls);
  if (code == MHD_CONNECTION_NOTIFY_STARTED) {
    auto* conn = new Connection;
    const MHD_ConnectionInfo* info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    conn->fd = info ? info->connect_fd : -1;
    conn->since_ms = NowMs();
    *socket_context = conn;
    std::lock_guard lock(impl.connections_mu);
    impl.connections.insert(conn);
  } else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
    auto* conn = static_cast<Connection*>(*socket_context);
    if (!conn) return;
    {
      // MHD closes the socket after this returns: the sweep never shuts down a reused number.
      std::lock_guard lock(impl.connections_mu);
      impl.connections.erase(conn);
    }
    delete conn;
    *socket_context = nullptr;
  }
}

// A listening socket on host:port (port 0: any free one), without SO_REUSEPORT: a second service
// on the same port fails to start instead of sharing the requests.
Result<int> Listen(const std::string& host, int port, int* bound_port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string where = host + ":" + std::to_string(port);
  if (int e = getaddrinfo(host.empty() ? nullptr : host.c_str(), std::to_string(port).c_str(),
                          &hints, &found);
      e != 0)
    return Status::IoError("cannot listen on " + where + ": " + gai_strerror(e));
  int fd = -1;
  int error = 0;
  for (addrinfo* ai = found; ai; ai = ai->ai_next) {
    fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) continue;
    int yes = 1;  // a restart may bind while the old connections linger in TIME_WAIT
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 511) == 0) break;
    error = errno;
    close(fd);
    fd = -1;
  }
  freeaddrinfo(found);
  if (fd < 0)
    return Status::IoError("cannot listen on " + where + " (" + std::strerror(error) +
                           ": in use, or not an address of this machine)");
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  *bound_port = ntohs(addr.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port
                                                 : reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
  return fd;
}

}  // namespace

// Closes connections that stall: no complete head within request_head_timeout_s of opening or
// of the last answer (idle keep-alive included), or a body that falls behind
// min_body_bytes_per_s once body_grace_s has passed. MHD sees the shut-down socket end and
// closes it on the event thread.
void HttpServer::Impl::Sweep() {
  std::unique_lock stop_lock(sweep_mu);
  while (!sweep_cv.wait_for(stop_lock, std::chrono::milliseconds(250), [&] { return stopping; })) {
    const int64_t now = NowMs();
    const int64_t head_ms = int64_t{options.request_head_timeout_s} * 1000;
    const int64_t grace_ms = int64_t{options.body_grace_s} * 1000;
    std::lock_guard lock(connections_mu);
    for (Connection* conn : connections) {
      if (conn->cut || conn->fd < 0) continue;
      const int64_t waited = now - conn->since_ms;
      bool cut = false;
      if (conn->phase == kHead && waited > head_ms) {
        cut = true;
        ++cut_head;
      } else if (conn->phase == kBody && waited > grace_ms &&
                 conn->body_bytes <
                     static_cast<uint64_t>((waited - grace_ms) / 1000.0 *
                                           static_cast<double>(options.min_body_bytes_per_s))) {
        cut = true;
        ++cut_body;
      }
      if (cut) {
        conn->cut = true;
        shutdown(conn->fd, SHUT_RDWR);
      }
    }
  }
}

Status HttpServer::Start() {
  Impl& impl = *impl_;
  CS_ASSIGN_OR_RETURN(impl.listen_fd, Listen(impl.options.host, impl.options.port, &impl.port));
  impl.handlers = std::make_unique<WorkerPool>(std::max(2, impl.options.threads));
  if (impl.options.priority) impl.priority = std::make_unique<WorkerPool>(1);
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  getsockname(impl.listen_fd, reinterpret_cast<sockaddr*>(&addr), &len);
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME;
  if (addr.ss_family == AF_INET6) flags |= MHD_USE_IPv6;
  impl.daemon = MHD_start_daemon(
      flags, 0, nullptr, nullptr, &OnRequest, &impl,  //
      MHD_OPTION_LISTEN_SOCKET, impl.listen_fd,       //
      MHD_OPTION_CONNECTION_LIMIT, static_cast<unsigned>(impl.options.max_connections),
      MHD_OPTION_PER_IP_CONNECTION_LIMIT,
      static_cast<unsigned>(impl.options.max_connections_per_address),
      MHD_OPTION_CONNECTION_TIMEOUT, static_cast<unsigned>(impl.options.io_timeout_s),
      MHD_OPTION_CONNECTION_MEMORY_LIMIT, static_cast<size_t>(64 << 10),  //
      MHD_OPTION_NOTIFY_COMPLETED, &OnCompleted, &impl,                   //
      MHD_OPTION_NOTIFY_CONNECTION, &OnConnection, &impl,                 //
      MHD_OPTION_UNESCAPE_CALLBACK, &UnescapeKeepingNul, nullptr,         //
      MHD_OPTION_END);
  if (!impl.daemon) {
    close(impl.listen_fd);
    impl.listen_fd = -1;
    impl.handlers.reset();
    impl.priority.reset();
    return Status::IoError("the HTTP server did not start on " + impl.options.host + ":" +
                           std::to_string(impl.port));
  }
  impl.stopping = false;
  impl.sweeper = std::thread([&impl] { impl.Sweep(); });
  return Status::Ok();
}

void HttpServer::Stop() {
  Impl& impl = *impl_;
  if (!impl.daemon) return;
  {
    std::lock_guard lock(impl.sweep_mu);
    impl.stopping = true;
  }
  impl.sweep_cv.notify_all();
  impl.sweeper.join();
  MHD_quiesce_daemon(impl.daemon);  // no new connections
  // The requests in the handlers finish and resume their connections (MHD must not be stopped
  // with a connection suspended); their answers get a moment to leave.
  std::unique_ptr<WorkerPool> handlers, priority;
  {
    std::lock_guard lock(impl.pools_mu);
    handlers = std::move(impl.handlers);
    priority = std::move(impl.priority);
  }
  handlers.reset();
  priority.reset();
  for (int i = 0; i < 200 && impl.in_service > 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  MHD_stop_daemon(impl.daemon);
  impl.daemon = nullptr;
  close(impl.listen_fd);
  impl.listen_fd = -1;
}

int HttpServer::port() const { return impl_->port; }

HttpServerCounters HttpServer::Counters() const {
  HttpServerCounters c;
  {
    std::lock_guard lock(impl_->connections_mu);
    c.open_connections = impl_->connections.size();
  }
  c.closed_slow_head = impl_->cut_head;
  c.closed_slow_body = impl_->cut_body;
  return c;
}

}  // namespace clearsight::service
