// Resident memory under hostile JSON bodies: bodies of 31 MB that nest without end or
// hold millions of values are refused without building a document many times their size, and
// what a refused request allocated does not stay in the process.
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "service/service_test_util.h"

namespace clearsight {
namespace {

using testing::Client;
using testing::PasswordOf;
using testing::Reply;
using testing::TempDir;

// Resident set size in MB (/proc/self/statm: pages).
double ResidentMb() {
  std::ifstream statm("/proc/self/statm");
  long size = 0, resident = 0;
  statm >> size >> resident;
  return static_cast<double>(resident) * static_cast<double>(::sysconf(_SC_PAGESIZE)) / 1e6;
}

TEST(HostileMemory, ResidentMemoryStaysBoundedUnderHostileJsonBodies) {
  TempDir dir;
  ServiceOptions o;
  o.port = 0;
  o.store.url = dir / "cs.db";
  o.http_threads = 8;  // declarations keep their default limit: 32 MiB
  Service* raw = nullptr;
  testing::StartServiceWithRoleUsers(o, &raw);
  std::unique_ptr<Service> service(raw);
  Client in(service->port());
  ASSERT_TRUE(in.Login("integrator", PasswordOf("integrator")));
  const size_t size = 31 << 20;
  std::string values = "[0";
  values.reserve(size + 2);
  while (values.size() + 2 < size) values += ",0";
  values += "]";
  const std::vector<std::pair<std::string, std::string>> bodies = {
      {"unbalanced [", std::string(size, '[')},
      {"nested", std::string(size / 2, '[') + std::string(size / 2, ']')},
      {"16 M values", values},
  };
  Reply warm = in.Send("POST", "/api/declarations", "[]");  // first request's own allocations
  const double before = ResidentMb();
  double peak = before;
  for (int round = 0; round < 2; ++round) {
    for (const auto& [name, body] : bodies) {
      Reply r = in.Send("POST", "/api/declarations", body);
      EXPECT_EQ(r.status, 400) << name << ": " << r.raw.substr(0, 200);
      peak = std::max(peak, ResidentMb());
      std::printf("%-14s round %d: resident %.0f MB\n", name.c_str(), round, ResidentMb());
    }
  }
  const double after = ResidentMb();
  std::printf("resident before %.0f MB, after %.0f MB (the bodies themselves: 3 x 31 MB)\n", before,
              after);
  // The request bodies (31 MB each, held by the client and the server while in flight) account
  // for most of the growth; a document built from them would be gigabytes.
  EXPECT_LT(after - before, 300) << "MB";
  EXPECT_EQ(in.Get("/api/health").status, 200);
}

}  // namespace
}  // namespace clearsight
