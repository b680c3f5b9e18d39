// The service against hostile and careless clients: bodies that nest or grow without
// end, bodies declared larger than a request may send, paths and files that are not what they
// claim. A client's mistake is a 400 naming it, never a crash or a 500.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>

#include "clearsight/xray_scan.h"
#include "service/service_test_util.h"

namespace clearsight {
namespace {

using nlohmann::json;
using testing::Client;
using testing::PasswordOf;
using testing::Reply;
using testing::TempDir;

// What a raw connection got back: the status line's code (-1: none), the whole answer, how long
// it took and whether the server closed the connection after it.
struct RawReply {
  int status = -1;
  std::string text;
  double seconds = 0;
  bool closed = false;
};

// Sends `request` as is (no body follows unless it holds one) and reads until the server closes
// or `timeout_s` passes.
RawReply SendRaw(int port, const std::string& request, double timeout_s = 5) {
  RawReply out;
  const int fd = testing::ConnectLoopback(port);
  if (fd < 0) return out;
  const auto t0 = std::chrono::steady_clock::now();
  (void)!::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };
  char buf[4096];
  while (elapsed() < timeout_s) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) {
      out.closed = true;
      break;
    }
    out.text.append(buf, static_cast<size_t>(n));
  }
  out.seconds = elapsed();
  ::close(fd);
  if (out.text.rfind("HTTP/1.1 ", 0) == 0) out.status = std::atoi(out.text.c_str() + 9);
  return out;
}

class HostileClientTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    ServiceOptions o;
    o.port = 0;
    o.store.url = *dir_ / "cs.db";
    o.http_threads = 4;
    o.max_body_bytes = 8 << 20;  // scans; declarations keep their own default (32 MiB)
    testing::StartServiceWithRoleUsers(o, &service_);
  }
  static void TearDownTestSuite() {
    delete service_;
    delete dir_;
  }
  Client As(const std::string& role) {
    Client c(service_->port());
    EXPECT_TRUE(c.Login(role, PasswordOf(role))) << role;
    return c;
  }
  static int port() { return service_->port(); }

  static inline TempDir* dir_ = nullptr;
  static inline Service* service_ = nullptr;
};

void ExpectError(const Reply& r, int status, const std::string& code, const std::string& says) {
  EXPECT_EQ(r.status, status) << r.raw.substr(0, 300);
  ASSERT_TRUE(r.body.is_object() && r.body.contains("error")) << r.raw.substr(0, 300);
  EXPECT_EQ(r.body["error"]["code"], code) << r.raw.substr(0, 300);
  const std::string message = r.body["error"]["message"].get<std::string>();
  EXPECT_NE(message.find(says), std::string::npos) << message;
}

std::string Nested(size_t levels) { return std::string(levels, '[') + std::string(levels, ']'); }

TEST_F(HostileClientTest, DeeplyNestedJsonIsRefusedNamingTheDepthLimit) {
  Client in = As("integrator"), admin = As("admin"), officer = As("officer");
  const std::string deep = Nested(100000);
  ExpectError(in.Send("POST", "/api/declarations", deep), 400, "invalid_argument",
              "deeper than 64 levels");
  ExpectError(in.Send("POST", "/api/declarations", R"({"declarations": )" + deep + "}"), 400,
              "invalid_argument", "deeper than 64 levels");
  // One line holding one object: the declaration reader's own parse.
  ExpectError(in.Send("POST", "/api/declarations", R"({"declaration_id": )" + deep + "}"), 400,
              "invalid_argument", "deeper than 64 levels");
  ExpectError(admin.Send("PUT", "/api/settings/capacity", R"({"red_share": )" + deep + "}"), 400,
              "invalid_argument", "deeper than 64 levels");
  ExpectError(officer.Send("POST", "/api/consignments/C1/outcome", R"({"notes": )" + deep + "}"),
              400, "invalid_argument", "deeper than 64 levels");
  Client anon(port());
  ExpectError(anon.Send("POST", "/api/login", Nested(20000)), 400, "invalid_argument",
              "deeper than 64 levels");
  EXPECT_EQ(anon.Get("/api/health").status, 200) << "the service is still up";
}

TEST_F(HostileClientTest, ABodyLargerThanTheRequestMaySendIsRefusedBeforeItIsRead) {
  // 200 MB declared, nothing sent: the answer comes at once, and the connection is closed.
  const std::string login_head =
      "POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Content-Length: 209715200\r\n\r\n";
  RawReply r = SendRaw(port(), login_head);
  EXPECT_EQ(r.status, 413) << r.text;
  EXPECT_LT(r.seconds, 2.0);
  EXPECT_TRUE(r.closed);
  EXPECT_NE(r.text.find("at most 65536 bytes"), std::string::npos) << r.text;
  // Without a session, a route that needs one answers 401 before reading anything.
  RawReply anon = SendRaw(port(),
                          "POST /api/declarations HTTP/1.1\r\nHost: x\r\n"
                          "Content-Type: application/json\r\nContent-Length: 30000000\r\n\r\n");
  EXPECT_EQ(anon.status, 401) << anon.text;
  EXPECT_LT(anon.seconds, 2.0);
  EXPECT_TRUE(anon.closed);
  // With one, the route's own limit: declarations 32 MiB. (A body declared at most twice the
  // limit is read and dropped, so that a client sending it whole still reads the answer.)
  Client in = As("integrator");
  RawReply big = SendRaw(port(),
                         "POST /api/declarations HTTP/1.1\r\nHost: x\r\n"
                         "Authorization: Bearer " +
                             in.token() +
                             "\r\nContent-Type: application/json\r\n"
                             "Content-Length: 100000000\r\n\r\n");
  EXPECT_EQ(big.status, 413) << big.text;
  EXPECT_LT(big.seconds, 2.0);
  EXPECT_NE(big.text.find("at most 33554432 bytes"), std::string::npos) << big.text;
  // A chunked body has no length to check: it is cut off once it passes the limit.
  std::string chunked =
      "POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Transfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 20; ++i) chunked += "1000\r\n" + std::string(4096, ' ') + "\r\n";
  chunked += "0\r\n\r\n";
  RawReply c = SendRaw(port(), chunked);
  EXPECT_EQ(c.status, 413) << c.text;
  // A multipart upload a little over the scan limit (8 MiB here): drained and answered.
  Reply over =
      in.PostMultipart("/api/scans", {{"tiff", std::string(9 << 20, 'x'), "s.tif", "image/tiff"}});
  ExpectError(over, 413, "resource_exhausted", "at most 8388608 bytes");
  // A body within the limits still works, on a connection that stays usable.
  Client anon_client(port());
  EXPECT_TRUE(anon_client.Login("admin", PasswordOf("admin")));
  EXPECT_EQ(anon_client.Get("/api/me").status, 200);
}

TEST_F(HostileClientTest, AnInvalidUtf8PathIsTheClientsError) {
  Client anon(port());
  ExpectError(anon.Get("/api/nope%FF"), 400, "invalid_argument", "not valid UTF-8");
  ExpectError(anon.Send("POST", "/api/nope%FF", "{}"), 400, "invalid_argument", "not valid UTF-8");
  Client officer = As("officer");
  ExpectError(officer.Get("/api/scans/%C3%28"), 400, "invalid_argument", "not valid UTF-8");
}

// Found by the route matrix's probes (route_matrix_test.cc): MHD decoded "%00" into the path as
// a C string, so everything after it was dropped and the request went to another route.
TEST_F(HostileClientTest, APercentEncodedNulDoesNotCutThePathShort) {
  Client in = As("integrator"), officer = As("officer");
  ASSERT_EQ(in.Post("/api/declarations", testing::Declaration("NUL1")).status, 201);
  ASSERT_EQ(in.Get("/api/declarations/NUL1").status, 200);
  // Was 200 with declaration NUL1.
  Reply r = in.Get("/api/declarations/NUL1%00.json");
  EXPECT_TRUE(r.status == 400 || r.status == 404) << r.status << " " << r.raw;
  // Was 405 "POST is not allowed on /api/consignments/a".
  RawReply outcome =
      SendRaw(port(),
              "POST /api/consignments/a%00b/outcome HTTP/1.1\r\nHost: x\r\n"
              "Authorization: Bearer " +
                  officer.token() + "\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}");
  EXPECT_TRUE(outcome.status == 400 || outcome.status == 404) << outcome.text;
  EXPECT_EQ(outcome.text.find("not allowed"), std::string::npos) << outcome.text;
  // The other escapes still decode, in the path and in the query.
  EXPECT_EQ(in.Get("/api/declarations/%4EUL1").status, 200);
  EXPECT_EQ(in.Get("/api/responses?limit=%31").status, 200);
}

// A valid scan's TIFF with every page's width and height tags set to `size`.
std::string WithSize(std::string tiff, uint32_t size) {
  auto u16 = [&](size_t at) {
    return static_cast<uint32_t>(static_cast<uint8_t>(tiff[at])) |
           static_cast<uint32_t>(static_cast<uint8_t>(tiff[at + 1])) << 8;
  };
  auto u32 = [&](size_t at) { return u16(at) | u16(at + 2) << 16; };
  for (uint32_t ifd = u32(4); ifd != 0 && ifd + 2 < tiff.size();) {
    const uint32_t entries = u16(ifd);
    for (uint32_t e = 0; e < entries; ++e) {
      const size_t at = ifd + 2 + 12 * e;
      const uint32_t tag = u16(at), type = u16(at + 2);
      if (tag == 256 || tag == 257) {
        if (type == 3) {  // SHORT
          tiff[at + 8] = static_cast<char>(size & 0xff);
          tiff[at + 9] = static_cast<char>(size >> 8);
        } else {
          for (int b = 0; b < 4; ++b) tiff[at + 8 + b] = static_cast<char>(size >> (8 * b));
        }
      }
    }
    ifd = u32(ifd + 2 + 12 * entries);
  }
  return tiff;
}

TEST_F(HostileClientTest, CorruptOrTruncatedTiffUploadsAre400NamingTheProblem) {
  Scan scan;
  scan.width = 32;
  scan.height = 24;
  scan.low.assign(32 * 24, 20000);
  scan.high.assign(32 * 24, 30000);
  scan.meta.scan_id = "t1";
  scan.meta.consignment_id = "CT";
  scan.meta.pixel_mm = 1;
  auto good = EncodeScanTiff(scan);
  ASSERT_TRUE(good.ok()) << good.status().ToString();
  const std::string sidecar = ScanMetaToJson(scan.meta);
  struct Case {
    std::string name, tiff, says;
  };
  const std::vector<Case> cases = {
      {"garbage after the magic", std::string("II*\0garbage", 11), "TIFF"},
      {"strips past the end", good->substr(0, good->size() / 2), "truncated"},
      {"strips past the end (short)", good->substr(0, good->size() - 100), ""},
      {"0x0 image", WithSize(*good, 0), ""},
  };
  Client in = As("integrator");
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    Reply r =
        in.PostMultipart("/api/scans", {{"tiff", c.tiff, "scan.tif", "image/tiff"},
                                        {"sidecar", sidecar, "scan.json", "application/json"}});
    ExpectError(r, 400, "invalid_argument", c.says);
  }
}

TEST_F(HostileClientTest, AGarbageDicosUploadNamesThePartNotATemporaryFile) {
  Client in = As("integrator");
  Reply r = in.PostMultipart(
      "/api/scans", {{"dicos_low", std::string(600, 'x'), "low.dcm", "application/dicom"},
                     {"dicos_high", std::string(600, 'y'), "high.dcm", "application/dicom"}});
  ExpectError(r, 400, "invalid_argument", "part 'dicos_low'");
  EXPECT_EQ(r.raw.find("/tmp"), std::string::npos) << r.raw;
  EXPECT_EQ(r.raw.find("cs_dicos"), std::string::npos) << r.raw;
}

TEST_F(HostileClientTest, DeclarationNumbersAndCountriesAreWhatTheyClaim) {
  Client in = As("integrator");
  auto decl = [](const std::string& id) {
    return json{{"declaration_id", id},  {"date", "2021-02-01"},   {"importer_id", "IMP1"},
                {"hs_code", "610910"},   {"origin_country", "CN"}, {"net_mass_kg", 2.0},
                {"declared_value", 100}, {"office_id", "OFF1"}};
  };
  json d = decl("H1");
  d["net_mass_kg"] = true;
  ExpectError(in.Post("/api/declarations", d), 400, "invalid_argument", "net_mass_kg");
  d = decl("H2");
  d["declared_value"] = true;
  ExpectError(in.Post("/api/declarations", d), 400, "invalid_argument", "declared_value");
  for (const char* bad : {"0", "1E3", "CHN"}) {
    d = decl(std::string("H3") + bad);
    d["origin_country"] = bad;
    ExpectError(in.Post("/api/declarations", d), 400, "invalid_argument", "ISO 3166 alpha-2");
  }
  EXPECT_EQ(in.Post("/api/declarations", decl("H4")).status, 201);
}

TEST_F(HostileClientTest, CapacitySharesMustSumToAtMostOne) {
  Client admin = As("admin");
  ExpectError(
      admin.Send("PUT", "/api/settings/capacity", R"({"red_share": 0.5, "yellow_share": 0.9})"),
      400, "invalid_argument", "at most 1");
  ExpectError(admin.Send("PUT", "/api/settings/capacity",
                         R"({"red_share": 0.1, "lanes": {"L1": {"yellow_share": 0.95}}})"),
              400, "invalid_argument", "at most 1");
  ExpectError(admin.Send("PUT", "/api/settings/capacity", R"({"red_share": true})"), 400,
              "invalid_argument", "red_share");
  EXPECT_EQ(
      admin.Send("PUT", "/api/settings/capacity", R"({"red_share": 0.4, "yellow_share": 0.6})")
          .status,
      200);
}

}  // namespace
}  // namespace clearsight
