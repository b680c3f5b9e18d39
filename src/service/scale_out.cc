// The scale-out (docs/deployment.md): `serve --nats` checks and stores what it accepts and
// publishes it to NATS JetStream; `worker` processes pull their role's messages, decide them on
// the shared PostgreSQL store exactly as the HTTP routes do, and acknowledge a message only after
// its result is committed. A message delivered again (a worker killed between commit and
// acknowledgement) finds its declaration or scan stored and changes nothing.
#include <chrono>
#include <cstdio>
#include <thread>

#include "clearsight/text.h"
#include "service/json_text.h"
#include "service/service_impl.h"

namespace clearsight {

using service::Caller;
using service::HttpResponse;
using service::JsonResponse;
using service::QueueMessage;

namespace {

constexpr char kActorHeader[] = "Clearsight-Actor";
constexpr char kIdHeader[] = "Clearsight-Id";
// A message that keeps failing for a reason other than the store or the queue being down is
// ended after this many deliveries (and logged), so that it cannot block its consumer.
constexpr int64_t kMaxDeliveries = 5;

bool Transient(const Status& s) {
  return s.code() == StatusCode::kIoError || s.code() == StatusCode::kUnavailable;
}

// Acknowledges after success; asks for a redelivery while the cause may pass; ends the message
// when it never can succeed (bad content, a conflict) or has failed too often.
void Settle(QueueMessage& m, const Status& result, const std::string& what) {
  Status s;
  if (result.ok()) {
    s = m.Ack();
  } else if (Transient(result)) {
    std::fprintf(stderr, "worker: %s: %s; delivered again in 1 s\n", what.c_str(),
                 result.ToString().c_str());
    s = m.Nak(1000);
  } else if (result.code() == StatusCode::kAlreadyExists ||
             result.code() == StatusCode::kInvalidArgument || m.deliveries() >= kMaxDeliveries) {
    std::fprintf(stderr, "worker: %s: %s (delivery %lld): not retried\n", what.c_str(),
                 result.ToString().c_str(), static_cast<long long>(m.deliveries()));
    s = m.Term();
  } else {
    std::fprintf(stderr, "worker: %s: %s (delivery %lld); delivered again in 2 s\n", what.c_str(),
                 result.ToString().c_str(), static_cast<long long>(m.deliveries()));
    s = m.Nak(2000);
  }
  // An answer that does not reach the server leaves the message to its acknowledgement wait: it
  // is delivered again and changes nothing the second time.
  if (!s.ok()) std::fprintf(stderr, "worker: %s: %s\n", what.c_str(), s.ToString().c_str());
}

}  // namespace

// ---- serve --nats: publish ----------------------------------------------------------------

Result<HttpResponse> Service::Impl::QueueDeclarations(const DeclarationBatch& batch,
                                                      const IngestReport& report, bool single,
                                                      const Caller& caller) {
  json items = json::array();
  int64_t queued = 0, unchanged = 0, conflicts = 0, errors = 0;
  Status single_error;
  std::optional<DecisionRow> single_decision;
  for (const Declaration& d : batch.rows) {
    const std::string text = DeclarationToJson(d, batch.extra_columns);
    const std::string sha = Sha256Hex(text);
    const std::string consignment = d.consignment_id.empty() ? d.declaration_id : d.consignment_id;
    json item = {{"declaration_id", d.declaration_id}, {"consignment_id", consignment}};
    Status s;
    auto existing = store->GetDeclaration(d.declaration_id);
    if (!existing.ok()) {
      s = existing.status();
    } else if (existing->has_value()) {
      if ((*existing)->content_sha256 != sha) {
        s = Status::AlreadyExists("declaration '" + d.declaration_id +
                                  "' is already stored with different content; a correction "
                                  "needs a new declaration id");
      } else {
        auto decision = store->GetDecision((*existing)->consignment_id);
        if (!decision.ok()) {
          s = decision.status();
        } else {
          item["result"] = "unchanged";
          if (decision->has_value()) {
            item["channel"] = (*decision)->channel;
            item["score"] = (*decision)->score;
            single_decision = **decision;
          }
          ++unchanged;
          items.push_back(std::move(item));
          metrics->declarations.Add("result=\"unchanged\"");
          continue;
        }
      }
    } else {
      // The id with the content's hash: a client's retry within the duplicate window is stored
      // once by the stream, and a different content under the same id is not mistaken for it.
      s = queue->Publish(service::kDeclarationsSubject, text,
                         d.declaration_id + "/" + sha.substr(0, 16),
                         {{kActorHeader, caller.username}, {kIdHeader, d.declaration_id}});
    }
    if (s.ok()) {
      item["result"] = "queued";
      ++queued;
    } else {
      const bool conflict = s.code() == StatusCode::kAlreadyExists;
      item["result"] = conflict ? "conflict" : "error";
      item["error"] = json::parse(service::ErrorResponse(s).body)["error"];
      conflicts += conflict;
      errors += !conflict;
      single_error = s;
    }
    metrics->declarations.Add("result=\"" + item["result"].get<std::string>() + "\"");
    items.push_back(std::move(item));
  }
  if (single) {
    if (!report.rejections.empty()) {
      const Rejection& r = report.rejections[0];
      return Status::InvalidArgument(r.field.empty() ? "declaration " + r.reason
                                                     : "field '" + r.field + "': " + r.reason);
    }
    if (items.size() != 1) return Status::InvalidArgument("expected exactly one declaration");
    if (!single_error.ok()) return single_error;
    if (unchanged == 1 && single_decision) {
      HttpResponse res;
      res.status = 200;
      res.body = service::DecisionJsonText(*single_decision, [&](service::JsonObjectWriter& w) {
        w.String("declaration_id", batch.rows[0].declaration_id).String("result", "unchanged");
      });
      return res;
    }
    return JsonResponse(unchanged == 1 ? 200 : 202, items[0]);
  }
  json rejections = json::array(), warnings = json::array();
  for (const auto& r : report.rejections)
    rejections.push_back({{"line", r.line}, {"field", r.field}, {"reason", r.reason}});
  for (const auto& r : report.warnings)
    warnings.push_back({{"line", r.line}, {"field", r.field}, {"reason", r.reason}});
  json out = {{"accepted", report.accepted},
              {"rejected", report.rejected},
              {"flagged", report.flagged},
              {"duplicates_in_request", report.duplicates_identical},
              {"created", 0},
              {"queued", queued},
              {"unchanged", unchanged},
              {"conflicts", conflicts},
              {"errors", errors},
              {"results", std::move(items)},
              {"rejections", std::move(rejections)},
              {"warnings", std::move(warnings)}};
  return JsonResponse(errors > 0 ? 503 : queued > 0 ? 202 : 200, out);
}

Result<HttpResponse> Service::Impl::QueueScan(const ScanRow& row, const Caller& caller) {
  CS_ASSIGN_OR_RETURN(auto existing, store->GetScan(row.scan_id));
  if (existing) {
    if (existing->image_sha256 != row.image_sha256 ||
        existing->consignment_id != row.consignment_id)
      return Status::AlreadyExists("scan '" + row.scan_id +
                                   "' is already stored with other pixels or another "
                                   "consignment; a new scan needs a new scan_id");
    CS_ASSIGN_OR_RETURN(auto decision, store->GetDecision(row.consignment_id));
    json out = {{"result", "unchanged"}, {"scan", service::ScanJson(*existing)}};
    if (decision) out["decision"] = service::DecisionJson(*decision);
    metrics->scans.Add("result=\"unchanged\"");
    return JsonResponse(200, out);
  }
  json m = {{"scan_id", row.scan_id},
            {"consignment_id", row.consignment_id},
            {"image_sha256", row.image_sha256},
            {"source_format", row.source_format},
            {"source_sha256", row.source_sha256},
            {"meta_json", row.meta_json},
            {"width", row.width},
            {"height", row.height},
            {"received_ms", row.received_ms}};
  CS_RETURN_IF_ERROR(queue->Publish(service::kScansSubject, m.dump(),
                                    row.scan_id + "/" + row.image_sha256.substr(0, 16),
                                    {{kActorHeader, caller.username}, {kIdHeader, row.scan_id}}));
  metrics->scans.Add("result=\"queued\"");
  return JsonResponse(202, json{{"result", "queued"}, {"scan", service::ScanJson(row)}});
}

void Service::Impl::FollowStoredSettings() {
  auto latest = store->LatestRules();
  if (latest.ok() && *latest) {
    int64_t current;
    {
      std::lock_guard lock(risk_mu);
      current = rules_version;
    }
    if ((*latest)->version != current) {
      auto parsed = RuleSet::Parse((*latest)->text, "rules v" + std::to_string((*latest)->version));
      if (parsed.ok()) {
        std::lock_guard lock(risk_mu);
        rules = std::make_shared<const RuleSet>(std::move(parsed).value());
        rules_version = (*latest)->version;
        risk = std::make_shared<const DeclarationRisk>(model, valuation, rules, LazyExplanations());
        std::fprintf(stderr, "clearsight: now deciding with the stored rules v%lld\n",
                     static_cast<long long>(rules_version));
      }
    }
  }
  auto capacity = store->GetSetting("capacity");
  if (capacity.ok() && *capacity && **capacity != followed_capacity) {
    if (ApplyCapacityJson(**capacity).ok()) followed_capacity = **capacity;
  }
}

// ---- worker: consume ----------------------------------------------------------------------

void Service::Impl::WorkDeclarations(std::vector<std::unique_ptr<QueueMessage>>& messages) {
  // One batch per submitting user (the audit names who sent each declaration).
  std::map<std::string, std::vector<size_t>> by_actor;
  for (size_t i = 0; i < messages.size(); ++i)
    by_actor[messages[i]->header(kActorHeader)].push_back(i);
  for (const auto& [actor, members] : by_actor) {
    std::string lines;
    for (size_t i : members) {
      lines += messages[i]->data();
      lines.push_back('\n');
    }
    ReadOptions ro;
    ro.format = DeclarationFormat::kNativeJsonl;
    ro.max_rejections_kept = 1 << 20;
    IngestReport report;
    auto batch = ParseDeclarations(lines, "queue", ro, &report);
    // A record the serving process accepted but this one rejects (another program version):
    // ended with its reason, never retried.
    std::map<int64_t, std::string> rejected;  // line -> reason
    for (const auto& r : report.rejections) rejected[r.line] = r.ToString();
    std::map<std::string, const SubmitResult*> result_of;
    std::vector<SubmitResult> results;
    if (batch.ok()) {
      results = SubmitBatch(*batch, actor.empty() ? "worker" : actor);
      for (const auto& r : results) result_of[r.declaration_id] = &r;
    }
    for (size_t k = 0; k < members.size(); ++k) {
      QueueMessage& m = *messages[members[k]];
      const std::string id = m.header(kIdHeader);
      const std::string what = "declaration '" + id + "'";
      if (!batch.ok()) {
        Settle(m, batch.status(), what);
        continue;
      }
      if (auto it = rejected.find(static_cast<int64_t>(k) + 1); it != rejected.end()) {
        Settle(m, Status::InvalidArgument(it->second), what);
        continue;
      }
      auto it = result_of.find(id);
      if (it == result_of.end()) {
        Settle(m, Status::InvalidArgument("the message holds no declaration named by its header"),
               what);
        continue;
      }
      Settle(m, it->second->error, what);
    }
  }
}

void Service::Impl::WorkScans(std::vector<std::unique_ptr<QueueMessage>>& messages) {
  // As many at once as the analysis workers take (their commits then share a group), the rest
  // after them.
  const size_t parallel = static_cast<size_t>(std::max(1, options.analysis_threads));
  for (size_t first = 0; first < messages.size(); first += parallel) {
    std::vector<std::thread> running;
    for (size_t i = first; i < std::min(messages.size(), first + parallel); ++i)
      running.emplace_back([this, &m = *messages[i]] { WorkScan(m); });
    for (auto& t : running) t.join();
  }
}

void Service::Impl::WorkScan(QueueMessage& m) {
  {
    const std::string what = "scan '" + m.header(kIdHeader) + "'";
    Status s = [&]() -> Status {
      CS_ASSIGN_OR_RETURN(json j, service::ParseBody(m.data(), "scan message"));
      ScanRow row;
      try {
        row.scan_id = j.at("scan_id").get<std::string>();
        row.consignment_id = j.at("consignment_id").get<std::string>();
        row.image_sha256 = j.at("image_sha256").get<std::string>();
        row.source_format = j.at("source_format").get<std::string>();
        row.source_sha256 = j.at("source_sha256").get<std::vector<std::string>>();
        row.meta_json = j.at("meta_json").get<std::string>();
        row.width = j.at("width").get<int>();
        row.height = j.at("height").get<int>();
        row.received_ms = j.at("received_ms").get<int64_t>();
      } catch (const std::exception& e) {
        return Status::InvalidArgument(std::string("scan message: ") + e.what());
      }
      auto bytes = store->ReadImage(row.image_sha256);
      if (!bytes.ok())
        return Status::IoError(
            "the scan's file " + row.image_sha256 + " is not in " + store->images_dir() +
            " (workers share serve's image directory): " + bytes.status().message());
      ScanReadOptions ro;
      ro.max_pixels = std::max<int64_t>(options.max_scan_pixels, int64_t{row.width} * row.height);
      CS_ASSIGN_OR_RETURN(Scan scan, DecodeScan(*bytes, row.meta_json, row.scan_id, ro));
      const std::string actor = m.header(kActorHeader);
      return DecideScan(scan, row, actor.empty() ? "worker" : actor, nullptr).status();
    }();
    Settle(m, s, what);
  }
}

Status Service::RunWorker(const std::string& role, int batch, const std::atomic<bool>& stop) {
  Impl& m = *impl_;
  if (!m.queue)
    return Status::FailedPrecondition("a worker needs the message queue: give its NATS URL");
  if (role != "declarations" && role != "scans")
    return Status::InvalidArgument("the worker role must be declarations or scans, not '" + role +
                                   "'");
  if (batch < 1 || batch > 1000)
    return Status::InvalidArgument("the batch must be 1..1000 messages");
  const bool declarations = role == "declarations";
  CS_RETURN_IF_ERROR(m.queue->Subscribe(
      declarations ? service::kDeclarationsSubject : service::kScansSubject, role));
  using Clock = std::chrono::steady_clock;
  auto last_report = Clock::now(), last_error = Clock::time_point{};
  int64_t handled = 0, handled_at_report = 0;
  while (!stop.load()) {
    auto messages = m.queue->Fetch(batch, 1000);
    if (!messages.ok()) {
      // The server restarting or unreachable: the client reconnects by itself; say so now and
      // then, not on every attempt.
      if (Clock::now() - last_error > std::chrono::seconds(10)) {
        std::fprintf(stderr, "worker %s: %s; retrying\n", role.c_str(),
                     messages.status().ToString().c_str());
        last_error = Clock::now();
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      continue;
    }
    if (!messages->empty()) {
      if (declarations)
        m.WorkDeclarations(*messages);
      else
        m.WorkScans(*messages);
      handled += static_cast<int64_t>(messages->size());
    }
    const auto now = Clock::now();
    if (now - last_report > std::chrono::seconds(10) && handled > handled_at_report) {
      const double secs = std::chrono::duration<double>(now - last_report).count();
      auto pending = m.queue->Pending(role);
      std::fprintf(stderr, "worker %s: %lld messages handled (%.0f/s); %s waiting\n", role.c_str(),
                   static_cast<long long>(handled),
                   static_cast<double>(handled - handled_at_report) / secs,
                   pending.ok() ? std::to_string(*pending).c_str() : "? (queue unreachable)");
      last_report = now;
      handled_at_report = handled;
    }
  }
  std::fprintf(stderr, "worker %s: stopping after %lld messages\n", role.c_str(),
               static_cast<long long>(handled));
  return Status::Ok();
}

}  // namespace clearsight
