// The integrator's drop folder (clearsight/folder_watch.h): claim complete files by a rename,
// post them, move them on with the service's answer beside them.
#include "clearsight/folder_watch.h"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "clearsight/file_util.h"
#include "clearsight/store.h"
#include "clearsight/text.h"

namespace clearsight {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr char kInflight[] = ".inflight";
constexpr char kReportSuffix[] = ".report.json";

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// Files being written by their producer, by convention, and our own.
bool Ignored(const std::string& name) {
  return name.empty() || name[0] == '.' || EndsWith(name, ".part") || EndsWith(name, ".tmp") ||
         EndsWith(name, ".partial") || EndsWith(name, kReportSuffix);
}

// A name in `dir` that is not taken yet: NAME, else NAME.1, NAME.2, ...
std::string FreeName(const fs::path& dir, const std::string& name) {
  std::error_code ec;
  if (!fs::exists(dir / name, ec) && !fs::exists(dir / (name + kReportSuffix), ec)) return name;
  for (int i = 1;; ++i) {
    std::string n = name + "." + std::to_string(i);
    if (!fs::exists(dir / n, ec) && !fs::exists(dir / (n + kReportSuffix), ec)) return n;
  }
}

Status Rename(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  fs::rename(from, to, ec);
  if (ec)
    return Status::IoError("cannot move " + from.string() + " to " + to.string() + ": " +
                           ec.message());
  return Status::Ok();
}

json Lines(const json& answer, const char* key) {
  return answer.contains(key) && answer[key].is_array() ? answer[key] : json::array();
}

}  // namespace

struct FolderWatcher::Impl {
  ClientOptions client_options;
  FolderWatchOptions options;
  fs::path dir, inflight, done, rejected, responses;
  std::unique_ptr<ServiceClient> client;
  struct Seen {
    uintmax_t size = 0;
    int64_t mtime_ns = 0;
  };
  std::map<std::string, Seen> seen;  // candidates of the previous pass

  // The service client, logging in when there is none (first use, or after a session ended).
  // IoError while the service is not there; Unauthenticated for a refused login.
  Result<ServiceClient*> Client() {
    if (!client) {
      CS_ASSIGN_OR_RETURN(client, ServiceClient::Connect(client_options));
    }
    return client.get();
  }

  // Posts a claimed file and moves it on; kRetry leaves it claimed.
  Result<WatchedFile> Process(const std::string& name);
  // Moves a claimed file and its written report to done/ or rejected/.
  Status Finish(const std::string& name, bool ok);
  Result<int64_t> PollResponses();
};

FolderWatcher::FolderWatcher(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
FolderWatcher::~FolderWatcher() = default;

Result<std::unique_ptr<FolderWatcher>> FolderWatcher::Create(const ClientOptions& client,
                                                             const FolderWatchOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->client_options = client;
  impl->options = options;
  impl->dir = options.dir;
  std::error_code ec;
  if (!fs::is_directory(impl->dir, ec))
    return Status::InvalidArgument("the watched folder " + options.dir + " is not a directory");
  impl->inflight = impl->dir / kInflight;
  impl->done = impl->dir / "done";
  impl->rejected = impl->dir / "rejected";
  impl->responses = impl->dir / "responses";
  for (const auto& d : {impl->inflight, impl->done, impl->rejected}) {
    fs::create_directories(d, ec);
    if (ec) return Status::IoError("cannot make " + d.string() + ": " + ec.message());
  }
  if (options.responses) {
    fs::create_directories(impl->responses, ec);
    if (ec) return Status::IoError("cannot make " + impl->responses.string() + ": " + ec.message());
  }
  return std::unique_ptr<FolderWatcher>(new FolderWatcher(std::move(impl)));
}

Status FolderWatcher::Impl::Finish(const std::string& name, bool ok) {
  const fs::path to = ok ? done : rejected;
  const std::string final_name = FreeName(to, name);
  // The report first: a file in done/ or rejected/ always has its report beside it.
  CS_RETURN_IF_ERROR(Rename(inflight / (name + kReportSuffix), to / (final_name + kReportSuffix)));
  return Rename(inflight / name, to / final_name);
}

Result<WatchedFile> FolderWatcher::Impl::Process(const std::string& name) {
  WatchedFile out;
  out.name = name;
  const fs::path path = inflight / name;
  json report = {{"file", name}, {"format", options.format}, {"service", client_options.base_url}};
  bool ok = false;
  auto content = ReadFile(path.string(), options.max_file_bytes);
  if (!content.ok()) {
    // Too large, or unreadable: the service would refuse it too.
    out.message = content.status().message();
    report["error"] = out.message;
  } else {
    auto connected = Client();
    if (!connected.ok()) {
      if (connected.status().code() == StatusCode::kUnauthenticated) return connected.status();
      out.message = connected.status().message();  // the service is not there: next pass
      return out;
    }
    ServiceClient* c = *connected;
    report["posted_at"] = IsoTime(NowMs());
    auto answer = c->PostDeclarations(*content, options.format);
    if (!answer.ok()) {
      const StatusCode code = answer.status().code();
      if (code == StatusCode::kPermissionDenied) return answer.status();
      if (code == StatusCode::kUnauthenticated) client.reset();  // log in again next time
      if (code == StatusCode::kIoError || code == StatusCode::kInternal ||
          code == StatusCode::kUnauthenticated || code == StatusCode::kUnavailable) {
        out.result = WatchedFile::Result::kRetry;
        out.message = answer.status().message();
        return out;
      }
      out.message = answer.status().message();  // refused as a whole: names line and field
      report["error"] = out.message;
    } else {
      json a = json::parse(*answer, nullptr, false);
      if (!a.is_object()) {
        out.message = "the service's answer is not JSON";
        return out;  // retried: it may answer properly next time
      }
      if (!a.contains("accepted")) {
        // One JSON declaration: its decision.
        a = json{{"accepted", 1},
                 {"rejected", 0},
                 {"flagged", 0},
                 {"created", a.value("result", "") == "created" ? 1 : 0},
                 {"unchanged", a.value("result", "") == "unchanged" ? 1 : 0},
                 {"conflicts", 0},
                 {"results", json::array({a})}};
      }
      out.accepted = a.value("accepted", int64_t{0});
      out.rejected = a.value("rejected", int64_t{0});
      out.flagged = a.value("flagged", int64_t{0});
      out.created = a.value("created", int64_t{0});
      out.unchanged = a.value("unchanged", int64_t{0});
      out.conflicts = a.value("conflicts", int64_t{0});
      for (const char* k : {"accepted", "rejected", "flagged", "created", "unchanged", "conflicts"})
        report[k] = a.value(k, int64_t{0});
      report["rejections"] = Lines(a, "rejections");
      report["warnings"] = Lines(a, "warnings");
      json conflicting = json::array();
      json consignments = json::array();
      std::string last;
      for (const auto& r : Lines(a, "results")) {
        if (r.value("result", "") == "conflict") conflicting.push_back(r);
        const std::string cid = r.value("consignment_id", "");
        if (!cid.empty() && cid != last) consignments.push_back(cid);
        last = cid;
      }
      report["conflicting"] = std::move(conflicting);
      report["consignments"] = std::move(consignments);
      ok = out.accepted > 0 && out.conflicts == 0;
      if (!ok)
        out.message = out.conflicts > 0
                          ? std::to_string(out.conflicts) +
                                " records conflict with stored ones (same id, other content)"
                          : "no record was accepted";
    }
  }
  out.result = ok ? WatchedFile::Result::kDone : WatchedFile::Result::kRejected;
  report["result"] = ok ? "done" : "rejected";
  if (!out.message.empty()) report["message"] = out.message;
  CS_RETURN_IF_ERROR(WriteFileAtomic((inflight / (name + kReportSuffix)).string(),
                                     report.dump(2, ' ', false, json::error_handler_t::replace)));
  CS_RETURN_IF_ERROR(Finish(name, ok));
  return out;
}

Result<int64_t> FolderWatcher::Impl::PollResponses() {
  const std::string cursor_path = (responses / ".cursor").string();
  int64_t cursor = 0;
  if (auto text = ReadFile(cursor_path, 64); text.ok()) {
    if (!ParseInt64(Trim(*text), &cursor) || cursor < 0)
      return Status::DataLoss(cursor_path + ": not a cursor: '" + *text + "'");
  }
  CS_ASSIGN_OR_RETURN(ServiceClient * c, Client());
  int64_t written = 0;
  for (;;) {
    auto page = c->Get("/api/responses?limit=500&since=" + std::to_string(cursor));
    if (!page.ok()) {
      if (page.status().code() == StatusCode::kUnauthenticated) client.reset();
      return page.status();
    }
    json j = json::parse(*page, nullptr, false);
    if (!j.is_object() || !j.contains("next") || !j["next"].is_number_integer())
      return Status::Internal("GET /api/responses: an answer without a cursor");
    const int64_t next = j["next"].get<int64_t>();
    std::string lines;
    for (const auto& r : Lines(j, "responses"))
      lines += r.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
    if (!lines.empty()) {
      // Named by the cursor range: written again after a crash, it is the same file.
      CS_RETURN_IF_ERROR(WriteFileAtomic((responses / ("responses-" + std::to_string(cursor + 1) +
                                                       "-" + std::to_string(next) + ".jsonl"))
                                             .string(),
                                         lines));
      written += static_cast<int64_t>(Lines(j, "responses").size());
    }
    if (next != cursor) CS_RETURN_IF_ERROR(WriteFileAtomic(cursor_path, std::to_string(next)));
    cursor = next;
    if (!j.value("more", false)) return written;
  }
}

Result<WatchPass> FolderWatcher::Pass() {
  Impl& m = *impl_;
  WatchPass pass;
  std::error_code ec;
  // What a previous run claimed: finish its move, or post it again.
  std::vector<std::string> claimed;
  for (const auto& e : fs::directory_iterator(m.inflight, ec)) {
    const std::string name = e.path().filename().string();
    if (e.is_regular_file(ec) && !EndsWith(name, kReportSuffix)) claimed.push_back(name);
  }
  std::sort(claimed.begin(), claimed.end());
  auto handle = [&](const std::string& name) -> Status {
    const fs::path report = m.inflight / (name + kReportSuffix);
    if (fs::exists(report, ec)) {
      auto text = ReadFile(report.string(), size_t{64} << 20);
      json j = text.ok() ? json::parse(*text, nullptr, false) : json();
      if (j.is_object() && j.contains("result")) {
        WatchedFile f;
        f.name = name;
        f.result =
            j["result"] == "done" ? WatchedFile::Result::kDone : WatchedFile::Result::kRejected;
        f.message = "moved on after a restart";
        CS_RETURN_IF_ERROR(m.Finish(name, f.result == WatchedFile::Result::kDone));
        pass.files.push_back(std::move(f));
        return Status::Ok();
      }
      fs::remove(report, ec);  // half-written: post again
    }
    CS_ASSIGN_OR_RETURN(WatchedFile f, m.Process(name));
    pass.files.push_back(std::move(f));
    return Status::Ok();
  };
  for (const auto& name : claimed) CS_RETURN_IF_ERROR(handle(name));
  // New files that stood still since the previous pass.
  std::map<std::string, Impl::Seen> now;
  std::vector<std::string> ready;
  for (const auto& e : fs::directory_iterator(m.dir, ec)) {
    const std::string name = e.path().filename().string();
    if (Ignored(name) || !e.is_regular_file(ec)) continue;
    struct stat st {};
    if (::stat(e.path().c_str(), &st) != 0) continue;
    Impl::Seen s{static_cast<uintmax_t>(st.st_size),
                 int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec};
    auto it = m.seen.find(name);
    if (it != m.seen.end() && it->second.size == s.size && it->second.mtime_ns == s.mtime_ns)
      ready.push_back(name);
    else
      now[name] = s;
  }
  if (ec) return Status::IoError("cannot list " + m.dir.string() + ": " + ec.message());
  m.seen = std::move(now);
  std::sort(ready.begin(), ready.end());
  for (const auto& name : ready) {
    // A name claimed before and still in flight keeps its place: this one waits.
    if (fs::exists(m.inflight / name, ec)) continue;
    CS_RETURN_IF_ERROR(Rename(m.dir / name, m.inflight / name));
    CS_RETURN_IF_ERROR(handle(name));
  }
  if (m.options.responses) {
    auto n = m.PollResponses();
    if (n.ok())
      pass.responses_written = *n;
    else if (n.status().code() != StatusCode::kIoError &&
             n.status().code() != StatusCode::kInternal &&
             n.status().code() != StatusCode::kUnauthenticated)
      return n.status();
  }
  return pass;
}

}  // namespace clearsight
