// The service against connections that hold on without finishing a request: idle ones, heads
// and bodies sent a few bytes at a time, many from one client address; and the health check
// while every handler thread is busy. None of them may take the service from other clients.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "service/service_test_util.h"

namespace clearsight {
namespace {

using testing::Client;
using testing::PasswordOf;
using testing::TempDir;

double Since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// A raw TCP connection from a chosen loopback address (all of 127/8 is this machine).
class RawConnection {
 public:
  RawConnection(int port, const char* from) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in local{};
    local.sin_family = AF_INET;
    inet_pton(AF_INET, from, &local.sin_addr);
    sockaddr_in server{};
    server.sin_family = AF_INET;
    server.sin_port = htons(static_cast<uint16_t>(port));
    server.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::bind(fd_, reinterpret_cast<sockaddr*>(&local), sizeof local) == 0 &&
                 ::connect(fd_, reinterpret_cast<sockaddr*>(&server), sizeof server) == 0;
  }
  ~RawConnection() { ::close(fd_); }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  bool connected() const { return connected_; }
  bool closed() const { return closed_; }
  const std::string& received() const { return received_; }
  // False once the server has closed the connection.
  bool Send(std::string_view bytes) {
    return ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
           static_cast<ssize_t>(bytes.size());
  }
  // Reads what arrives for up to `seconds`; stops early when the server closes, or (with
  // `until`) once the received text contains it. True when the server closed.
  bool Read(double seconds, std::string_view until = {}) {
    const auto t0 = std::chrono::steady_clock::now();
    char buf[4096];
    while (!closed_ && Since(t0) < seconds) {
      if (!until.empty() && received_.find(until) != std::string::npos) break;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) {
        closed_ = true;
        break;
      }
      received_.append(buf, static_cast<size_t>(n));
    }
    return closed_;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
  bool closed_ = false;
  std::string received_;
};

constexpr char kHealth[] = "GET /api/health HTTP/1.1\r\nHost: clearsight\r\n\r\n";

class ConnectionLimitsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    ServiceOptions o;
    o.port = 0;
    o.store.url = *dir_ / "cs.db";
    o.http_threads = 4;
    o.max_connections_per_address = 8;
    o.request_head_timeout_s = 1;
    o.body_grace_s = 1;
    o.min_body_bytes_per_s = 16 << 10;
    o.concurrent_password_checks = 1;
    testing::StartServiceWithRoleUsers(o, &service_);
  }
  static void TearDownTestSuite() {
    delete service_;
    delete dir_;
  }
  static int port() { return service_->port(); }
  // A health check on a connection of its own, from `from`: the status code, or -1.
  static int Health(const char* from = "127.0.0.1") {
    RawConnection c(port(), from);
    if (!c.connected() || !c.Send(kHealth)) return -1;
    c.Read(10, "\"status\":\"ok\"");
    const std::string& text = c.received();
    return text.rfind("HTTP/1.1 ", 0) == 0 ? std::atoi(text.c_str() + 9) : -1;
  }

  static inline TempDir* dir_ = nullptr;
  static inline Service* service_ = nullptr;
};

TEST_F(ConnectionLimitsTest, IdleConnectionsHoldNoHandlerThreadAndCloseAtTheHeadDeadline) {
  // Ten times the handler threads, each from an address of its own (so no per-address cap).
  std::vector<std::unique_ptr<RawConnection>> idle;
  for (int i = 0; i < 40; ++i) {
    const std::string from = "127.0.1." + std::to_string(10 + i);
    idle.push_back(std::make_unique<RawConnection>(port(), from.c_str()));
    ASSERT_TRUE(idle.back()->connected()) << from;
  }
  // Long before the deadline (1 s here) closes them, the service answers others.
  EXPECT_EQ(Health(), 200);
  // None of them sent a whole head: each is closed without an answer.
  for (auto& c : idle) {
    EXPECT_TRUE(c->Read(10)) << "an idle connection stayed open";
    EXPECT_EQ(c->received(), "");
  }
}

TEST_F(ConnectionLimitsTest, AHeadSentAByteAtATimeIsClosedAtTheDeadline) {
  RawConnection slow(port(), "127.0.2.1");
  ASSERT_TRUE(slow.Send("GET /api/health HTTP/1.1\r\nHost: clearsight\r\n"));
  // A header line every 200 ms: each resets any per-read timeout, never the head's deadline.
  const auto t0 = std::chrono::steady_clock::now();
  bool closed = false;
  for (int i = 0; i < 50 && !closed; ++i) {
    closed = !slow.Send("X-Slow-" + std::to_string(i) + ": y\r\n") || slow.Read(0.2);
  }
  EXPECT_TRUE(closed) << "still open after " << Since(t0) << " s";
  EXPECT_EQ(slow.received(), "");
  EXPECT_EQ(Health(), 200);
  // Counted for the operator.
  Client admin(port());
  ASSERT_TRUE(admin.Login("admin", PasswordOf("admin")));
  const std::string metrics = admin.Get("/metrics").raw;
  const size_t at = metrics.find("clearsight_http_connections_cut_total{part=\"head\"} ");
  ASSERT_NE(at, std::string::npos) << metrics.substr(0, 2000);
  EXPECT_GE(std::atoi(metrics.c_str() + metrics.find("} ", at) + 2), 1);
}

TEST_F(ConnectionLimitsTest, AnIdleKeepAliveConnectionIsClosedAfterItsAnswer) {
  RawConnection c(port(), "127.0.2.2");
  ASSERT_TRUE(c.Send(kHealth));
  EXPECT_FALSE(c.Read(0.3, "\"status\":\"ok\""));  // answered, and kept open for a next request
  EXPECT_NE(c.received().find("HTTP/1.1 200"), std::string::npos) << c.received();
  EXPECT_TRUE(c.Read(10)) << "the idle keep-alive connection stayed open";
}

TEST_F(ConnectionLimitsTest, OneAddressMayHoldOnlySoManyConnections) {
  std::vector<std::unique_ptr<RawConnection>> held;
  for (int i = 0; i < 8; ++i) {
    held.push_back(std::make_unique<RawConnection>(port(), "127.0.3.1"));
    ASSERT_TRUE(held.back()->connected());
  }
  // The ninth from the same address is closed unanswered; another address is served meanwhile.
  RawConnection ninth(port(), "127.0.3.1");
  ninth.Send(kHealth);
  EXPECT_TRUE(ninth.Read(10, "HTTP/1.1"));
  EXPECT_EQ(ninth.received(), "");
  EXPECT_EQ(Health("127.0.3.2"), 200);
  // Once they are gone the address is served again.
  held.clear();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(Health("127.0.3.1"), 200);
}

TEST_F(ConnectionLimitsTest, ABodySentTooSlowlyIsCutOff) {
  Client integrator(port());
  ASSERT_TRUE(integrator.Login("integrator", PasswordOf("integrator")));
  RawConnection slow(port(), "127.0.4.1");
  ASSERT_TRUE(
      slow.Send("POST /api/declarations HTTP/1.1\r\nHost: clearsight\r\nAuthorization: Bearer " +
                integrator.token() +
                "\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n[ "));
  // 100 bytes every 100 ms: 1 kB/s, well under the 16 KiB/s required after the 1 s grace.
  const auto t0 = std::chrono::steady_clock::now();
  bool closed = false;
  for (int i = 0; i < 100 && !closed; ++i)
    closed = !slow.Send(std::string(100, ' ')) || slow.Read(0.1);
  EXPECT_TRUE(closed) << "still open after " << Since(t0) << " s";
  EXPECT_EQ(Health(), 200);
}

TEST_F(ConnectionLimitsTest, HealthIsAnsweredWhileEveryHandlerThreadIsBusy) {
  // Twelve logins on four handler threads, one password check at a time: every handler thread
  // waits on a password check for a while.
  std::atomic<int> done{0}, succeeded{0};
  std::vector<std::thread> logins;
  const std::string body =
      R"({"username":"officer","password":")" + PasswordOf("officer") + R"("})";
  const std::string login =
      "POST /api/login HTTP/1.1\r\nHost: clearsight\r\n"
      "Content-Type: application/json\r\nContent-Length: " +
      std::to_string(body.size()) + "\r\n\r\n" + body;
  for (int i = 0; i < 12; ++i)
    logins.emplace_back([&, i] {
      const std::string from = "127.0.5." + std::to_string(1 + i);
      RawConnection c(port(), from.c_str());
      c.Send(login);
      c.Read(30, "\"token\"");
      if (c.received().rfind("HTTP/1.1 200", 0) == 0) ++succeeded;
      ++done;
    });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const int before = done;
  const int status = Health("127.0.5.100");
  const int after = done;
  for (auto& t : logins) t.join();
  EXPECT_EQ(succeeded, 12);
  EXPECT_EQ(status, 200);
  // Answered ahead of the queued logins, not after them (at most one finished meanwhile).
  EXPECT_LE(after - before, 1) << "logins finished before health: " << before << " -> " << after;
  EXPECT_LT(after, 12);
}

}  // namespace
}  // namespace clearsight
