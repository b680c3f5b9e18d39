// The model registry's rules, written once for both backends on top of StoreTxn: registration,
// promotion, rollback and rejection, each one transaction with its audit entry.
#include <algorithm>
#include <nlohmann/json.hpp>

#include "clearsight/store.h"
#include "store/sql_conn.h"

namespace clearsight {

using nlohmann::json;

std::string_view ModelStatusName(ModelStatus status) {
  switch (status) {
    case ModelStatus::kCandidate:
      return "candidate";
    case ModelStatus::kLive:
      return "live";
    case ModelStatus::kRetired:
      return "retired";
    case ModelStatus::kRejected:
      return "rejected";
  }
  return "candidate";
}

Result<ModelStatus> ParseModelStatus(std::string_view name) {
  for (ModelStatus s :
       {ModelStatus::kCandidate, ModelStatus::kLive, ModelStatus::kRetired, ModelStatus::kRejected})
    if (name == ModelStatusName(s)) return s;
  return Status::InvalidArgument(
      "model status must be candidate, live, retired or rejected, not '" + std::string(name) + "'");
}

std::string ModelContentSha256(const std::vector<ModelFileRef>& files) {
  std::vector<const ModelFileRef*> sorted;
  for (const auto& f : files) sorted.push_back(&f);
  std::sort(sorted.begin(), sorted.end(),
            [](const ModelFileRef* a, const ModelFileRef* b) { return a->path < b->path; });
  std::string lines;
  for (const ModelFileRef* f : sorted) lines += f->sha256 + "  " + f->path + "\n";
  return Sha256Hex(lines);
}

namespace store {

std::string ModelFilesToJson(const std::vector<ModelFileRef>& files) {
  json a = json::array();
  for (const auto& f : files)
    a.push_back(json{{"path", f.path}, {"sha256", f.sha256}, {"bytes", f.bytes}});
  return a.dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<std::vector<ModelFileRef>> ModelFilesFromJson(const std::string& text) {
  json a = json::parse(text, nullptr, false);
  std::vector<ModelFileRef> out;
  if (!a.is_array()) return Status::DataLoss("its file list is not a JSON array");
  for (const auto& f : a) {
    if (!f.is_object() || !f.contains("path") || !f["path"].is_string() || !f.contains("sha256") ||
        !f["sha256"].is_string() || !f.contains("bytes") || !f["bytes"].is_number_integer())
      return Status::DataLoss("its file list has an entry without path, sha256 and bytes");
    out.push_back(ModelFileRef{f["path"].get<std::string>(), f["sha256"].get<std::string>(),
                               f["bytes"].get<int64_t>()});
  }
  return out;
}

std::string StringsToJson(const std::vector<std::string>& strings) {
  return json(strings).dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<std::vector<std::string>> StringsFromJson(const std::string& text) {
  json a = json::parse(text, nullptr, false);
  if (!a.is_array()) return Status::DataLoss("its feature list is not a JSON array");
  std::vector<std::string> out;
  for (const auto& s : a) {
    if (!s.is_string()) return Status::DataLoss("its feature list holds a non-string");
    out.push_back(s.get<std::string>());
  }
  return out;
}

}  // namespace store

namespace {

std::string V(int64_t version) { return "v" + std::to_string(version); }

std::string NoVersion(int64_t version) {
  return "no model version " + std::to_string(version) + " (clearsight model list shows them)";
}

// A path inside the model directory: relative, '/'-separated, no empty, "." or ".." segment.
bool IsModelFilePath(std::string_view path) {
  if (path.empty() || path.size() > 1024 || path.front() == '/') return false;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    const std::string_view seg = path.substr(start, end - start);
    if (seg.empty() || seg == "." || seg == "..") return false;
    for (char c : seg)
      if (static_cast<unsigned char>(c) < 0x20 || c == '\\') return false;
    start = end + 1;
  }
  return true;
}

Status Audit(StoreTxn& txn, const std::string& actor, const std::string& action, int64_t version,
             const json& detail) {
  AuditEntry e;
  e.actor = actor;
  e.action = action;
  e.subject = V(version);
  e.detail_json = detail.dump(-1, ' ', false, json::error_handler_t::replace);
  return txn.Audit(&e);
}

json Optional(const std::optional<int64_t>& v) { return v ? json(*v) : json(nullptr); }

}  // namespace

Result<ModelVersionRow> Store::RegisterModel(ModelVersionRow row) {
  if (row.created_by.empty())
    return Status::InvalidArgument("a model registration needs who registers it (created_by)");
  if (row.files.empty()) return Status::InvalidArgument("a model version needs at least one file");
  for (const auto& f : row.files) {
    if (!IsModelFilePath(f.path))
      return Status::InvalidArgument("model file path '" + f.path +
                                     "' is not a relative path inside the model directory");
    if (!IsSha256Hex(f.sha256) || f.bytes < 0)
      return Status::InvalidArgument("model file '" + f.path + "' needs its sha256 and size");
  }
  if (row.metrics_json.empty()) row.metrics_json = "{}";
  json metrics = json::parse(row.metrics_json, nullptr, false);
  if (!metrics.is_object()) return Status::InvalidArgument("model metrics must be a JSON object");
  row.metrics_json = metrics.dump(-1, ' ', false, json::error_handler_t::replace);
  row.content_sha256 = ModelContentSha256(row.files);
  row.status = ModelStatus::kCandidate;
  row.reason.clear();
  row.promoted_by.clear();
  row.promoted_ms.reset();
  row.previous_live.reset();
  row.created_ms = NowMs();
  CS_RETURN_IF_ERROR(Write([&](StoreTxn& txn) -> Status {
    CS_ASSIGN_OR_RETURN(auto same, txn.ModelVersionWithContent(row.content_sha256));
    if (same)
      return Status::AlreadyExists("these model files are already registered as version " +
                                   std::to_string(same->version) + " (" +
                                   std::string(ModelStatusName(same->status)) + ")");
    if (row.parent_version) {
      CS_ASSIGN_OR_RETURN(auto parent, txn.GetModelVersion(*row.parent_version));
      if (!parent)
        return Status::InvalidArgument("parent model version " +
                                       std::to_string(*row.parent_version) + " is not registered");
    }
    CS_RETURN_IF_ERROR(txn.InsertModelVersion(&row));
    int64_t bytes = 0;
    for (const auto& f : row.files) bytes += f.bytes;
    return Audit(txn, row.created_by, "model_registered", row.version,
                 json{{"version", row.version},
                      {"content_sha256", row.content_sha256},
                      {"files", row.files.size()},
                      {"bytes", bytes},
                      {"parent_version", Optional(row.parent_version)},
                      {"training_rows", Optional(row.training_rows)},
                      {"metrics", metrics}});
  }));
  return row;
}

Result<ModelChange> Store::PromoteModel(int64_t version, const ModelChangeRequest& request) {
  if (request.actor.empty())
    return Status::InvalidArgument("a promotion needs who promotes (the actor)");
  ModelChange change;
  CS_RETURN_IF_ERROR(Write([&](StoreTxn& txn) -> Status {
    CS_ASSIGN_OR_RETURN(auto target, txn.GetModelVersion(version));
    if (!target) return Status::NotFound(NoVersion(version));
    if (target->status == ModelStatus::kLive)
      return Status::FailedPrecondition("model version " + std::to_string(version) +
                                        " is live already");
    if (target->status == ModelStatus::kRejected && !request.force)
      return Status::FailedPrecondition(
          "model version " + std::to_string(version) + " was rejected" +
          (target->reason.empty() ? std::string() : " (" + target->reason + ")") +
          ": promote it with force (--force; \"force\": true) only if you mean it");
    const bool forced = target->status == ModelStatus::kRejected;
    CS_ASSIGN_OR_RETURN(auto live, txn.LiveModelVersion());
    const int64_t now = NowMs();
    if (live) {
      live->status = ModelStatus::kRetired;
      live->reason = "replaced by " + V(version);
      CS_RETURN_IF_ERROR(txn.UpdateModelVersion(*live));  // first: one live version at a time
      change.previous = live->version;
    }
    target->status = ModelStatus::kLive;
    target->reason = request.reason;
    target->promoted_by = request.actor;
    target->promoted_ms = now;
    target->previous_live = change.previous;
    CS_RETURN_IF_ERROR(txn.UpdateModelVersion(*target));
    change.live = *target;
    return Audit(txn, request.actor, "model_promoted", version,
                 json{{"version", version},
                      {"previous", Optional(change.previous)},
                      {"reason", request.reason},
                      {"forced", forced},
                      {"content_sha256", target->content_sha256}});
  }));
  return change;
}

Result<ModelChange> Store::RollbackModel(const ModelChangeRequest& request) {
  if (request.actor.empty())
    return Status::InvalidArgument("a rollback needs who rolls back (the actor)");
  ModelChange change;
  CS_RETURN_IF_ERROR(Write([&](StoreTxn& txn) -> Status {
    CS_ASSIGN_OR_RETURN(auto live, txn.LiveModelVersion());
    if (!live) return Status::FailedPrecondition("no model version is live: nothing to roll back");
    if (request.expected_live && *request.expected_live != live->version)
      return Status::FailedPrecondition(
          "the live model version is now " + std::to_string(live->version) + ", not " +
          std::to_string(*request.expected_live) + ": another change came first; look again");
    if (!live->previous_live)
      return Status::FailedPrecondition(
          "model version " + std::to_string(live->version) +
          " went live when none was: there is no earlier live version to return to (promote "
          "another instead)");
    CS_ASSIGN_OR_RETURN(auto target, txn.GetModelVersion(*live->previous_live));
    if (!target)
      return Status::DataLoss("model version " + std::to_string(live->version) + " names version " +
                              std::to_string(*live->previous_live) +
                              " as its predecessor, which is not registered");
    if (target->status == ModelStatus::kRejected)
      return Status::FailedPrecondition(
          "model version " + std::to_string(target->version) + ", live before " +
          std::to_string(live->version) + ", was rejected since" +
          (target->reason.empty() ? std::string() : " (" + target->reason + ")") +
          ": promote a version instead");
    live->status = ModelStatus::kRejected;
    live->reason = "rolled back by " + request.actor +
                   (request.reason.empty() ? std::string() : ": " + request.reason);
    CS_RETURN_IF_ERROR(txn.UpdateModelVersion(*live));
    // The target keeps its own previous_live: a second rollback goes one step further back.
    target->status = ModelStatus::kLive;
    target->reason = "rollback from " + V(live->version) +
                     (request.reason.empty() ? std::string() : ": " + request.reason);
    target->promoted_by = request.actor;
    target->promoted_ms = NowMs();
    CS_RETURN_IF_ERROR(txn.UpdateModelVersion(*target));
    change.live = *target;
    change.previous = live->version;
    return Audit(txn, request.actor, "model_rolled_back", target->version,
                 json{{"version", target->version},
                      {"from", live->version},
                      {"reason", request.reason},
                      {"content_sha256", target->content_sha256}});
  }));
  return change;
}

Result<ModelVersionRow> Store::RejectModel(int64_t version, const ModelChangeRequest& request) {
  if (request.actor.empty())
    return Status::InvalidArgument("a rejection needs who rejects (the actor)");
  if (request.reason.empty()) return Status::InvalidArgument("a rejection needs a reason");
  ModelVersionRow out;
  CS_RETURN_IF_ERROR(Write([&](StoreTxn& txn) -> Status {
    CS_ASSIGN_OR_RETURN(auto target, txn.GetModelVersion(version));
    if (!target) return Status::NotFound(NoVersion(version));
    if (target->status == ModelStatus::kLive)
      return Status::FailedPrecondition("model version " + std::to_string(version) +
                                        " is live: roll it back (which rejects it) or promote "
                                        "another first");
    if (target->status == ModelStatus::kRejected)
      return Status::FailedPrecondition("model version " + std::to_string(version) +
                                        " is rejected already (" + target->reason + ")");
    const std::string was(ModelStatusName(target->status));
    target->status = ModelStatus::kRejected;
    target->reason = request.reason;
    CS_RETURN_IF_ERROR(txn.UpdateModelVersion(*target));
    out = *target;
    return Audit(txn, request.actor, "model_rejected", version,
                 json{{"version", version}, {"was", was}, {"reason", request.reason}});
  }));
  return out;
}

}  // namespace clearsight
