// The model registry in the service: the live model at startup, swapped without a restart when it
// is promoted or rolled back (here or by another process), and the /api/models routes.
#include <cstdio>

#include "clearsight/model_registry.h"
#include "clearsight/text.h"
#include "service/service_impl.h"

namespace clearsight {

using service::Caller;
using service::HttpRequest;
using service::HttpResponse;
using service::JsonResponse;

namespace {

std::string Named(int64_t version) { return "model version " + std::to_string(version); }

// A model that cannot be loaded on this machine cannot go live through it; the registry is left as
// it was.
Status NotLoadable(const Status& s, int64_t version) {
  return Status::FailedPrecondition(Named(version) + " cannot be loaded here, so it was not made " +
                                    "live: " + s.message());
}

json OptionalInt(const std::optional<int64_t>& v) { return v ? json(*v) : json(nullptr); }

// A version as the API shows it: the registry's shape and whether this service serves it.
json ModelJson(const ModelVersionRow& m, bool full, std::optional<int64_t> serving) {
  json j = json::parse(ModelVersionToJson(m, full));
  j["serving"] = serving && *serving == m.version;
  return j;
}

// The body of a promotion or rollback: {"reason": "...", "force": false}, all optional; an empty
// body is {}.
struct ChangeBody {
  std::string reason;
  bool force = false;
};
Result<ChangeBody> ParseChangeBody(const HttpRequest& req, bool allow_force) {
  ChangeBody out;
  if (Trim(req.body).empty()) return out;
  CS_ASSIGN_OR_RETURN(json j, service::ParseBody(req.body));
  if (!j.is_object()) return Status::InvalidArgument("the body must be a JSON object");
  for (auto it = j.begin(); it != j.end(); ++it)
    if (it.key() != "reason" && !(allow_force && it.key() == "force"))
      return Status::InvalidArgument("unknown field '" + Excerpt(it.key(), 40) + "' (send " +
                                     (allow_force ? "\"reason\" and \"force\")" : "\"reason\")"));
  if (j.contains("reason")) {
    if (!j["reason"].is_string()) return Status::InvalidArgument("reason must be a string");
    out.reason = j["reason"].get<std::string>();
    if (out.reason.size() > 2000 || !IsValidUtf8(out.reason))
      return Status::InvalidArgument("reason must be UTF-8 text of at most 2000 bytes");
  }
  if (j.contains("force")) {
    if (!j["force"].is_boolean()) return Status::InvalidArgument("force must be true or false");
    out.force = j["force"].get<bool>();
  }
  return out;
}

}  // namespace

Status Service::Impl::InitModel() {
  CS_ASSIGN_OR_RETURN(auto live, store->LiveModelVersion());
  if (live) {
    auto m = LoadModelVersion(*store, *live);
    if (!m.ok())
      return m.status().WithContext("the registry's live model (docs/model.md, Model registry)");
    if (!options.model_dir.empty()) {
      auto files = ModelDirFiles(options.model_dir);
      if (!files.ok() || ModelContentSha256(*files) != live->content_sha256)
        std::fprintf(stderr,
                     "warning: --model %s is not the model registry's live version: serving "
                     "version %lld; to serve the directory, register and promote it (clearsight "
                     "model register / promote)\n",
                     options.model_dir.c_str(), static_cast<long long>(live->version));
    }
    InstallModel(std::make_shared<const RiskModel>(std::move(m).value()), live->version);
    return Status::Ok();
  }
  if (options.model_dir.empty()) return Status::Ok();
  // No live version: the directory given becomes one (registered unless its files are), so that a
  // deployment started with --model keeps its model and gains the registry.
  auto m = RiskModel::Load(options.model_dir);
  if (!m.ok()) return m.status().WithContext("loading the risk model");
  RegisterModelOptions ro;
  ro.created_by = "system";
  auto row = FindOrRegisterModelDir(*store, options.model_dir, ro);
  if (!row.ok()) return row.status().WithContext("registering --model " + options.model_dir);
  ModelChangeRequest request;
  request.actor = "system";
  request.reason = "serve --model " + options.model_dir + ": the registry had no live model";
  auto change = store->PromoteModel(row->version, request);
  if (!change.ok())
    return change.status().WithContext("making --model " + options.model_dir + " live");
  InstallModel(std::make_shared<const RiskModel>(std::move(m).value()), row->version);
  return Status::Ok();
}

void Service::Impl::InstallModel(std::shared_ptr<const RiskModel> m, int64_t version) {
  std::lock_guard lock(risk_mu);
  model = std::move(m);
  model_version = version;
  model_error.clear();
  risk = std::make_shared<const DeclarationRisk>(model, valuation, rules, LazyExplanations());
}

void Service::Impl::FollowLiveModel() {
  std::lock_guard change(model_change_mu);
  auto live = store->LiveModelVersion();
  if (!live.ok() || !*live) return;  // the store is unreachable for now, or no model is live
  std::optional<int64_t> serving;
  {
    std::lock_guard lock(risk_mu);
    serving = model_version;
  }
  if (serving == (*live)->version) return;
  auto m = LoadModelVersion(*store, **live);
  if (!m.ok()) {
    const std::string error = Named((*live)->version) + " is live in the registry but cannot be " +
                              "loaded here: " + m.status().message();
    std::lock_guard lock(risk_mu);
    if (model_error != error) std::fprintf(stderr, "error: %s\n", error.c_str());
    model_error = error;
    return;
  }
  InstallModel(std::make_shared<const RiskModel>(std::move(m).value()), (*live)->version);
  std::fprintf(stderr, "clearsight serve: now serving %s (made live by %s)\n",
               Named((*live)->version).c_str(), (*live)->promoted_by.c_str());
}

void Service::Impl::WatchLiveModel() {
  const auto interval = std::chrono::milliseconds(options.model_poll_ms);
  std::unique_lock lock(stop_mu);
  while (!stop_cv.wait_for(lock, interval, [&] { return stopped; })) {
    lock.unlock();
    FollowLiveModel();
    if (store->backend() == "postgresql") FollowStoredSettings();
    lock.lock();
  }
}

Result<HttpResponse> Service::Impl::ListModels(const HttpRequest&, const Caller&) {
  CS_ASSIGN_OR_RETURN(auto versions, store->ModelVersions());
  std::optional<int64_t> serving;
  std::string error;
  {
    std::lock_guard lock(risk_mu);
    serving = model_version;
    error = model_error;
  }
  json list = json::array();
  json live = nullptr;
  for (const auto& m : versions) {
    if (m.status == ModelStatus::kLive) live = m.version;
    list.push_back(ModelJson(m, /*full=*/false, serving));
  }
  return JsonResponse(200, json{{"live", live},
                                {"serving", OptionalInt(serving)},
                                {"serving_error", error.empty() ? json() : json(error)},
                                {"models", std::move(list)}});
}

Result<HttpResponse> Service::Impl::GetModel(const HttpRequest& req, const Caller&) {
  CS_ASSIGN_OR_RETURN(int64_t version, ParseModelVersion(req.path_params[0]));
  CS_ASSIGN_OR_RETURN(auto m, store->GetModelVersion(version));
  if (!m) return Status::NotFound("no " + Named(version));
  std::optional<int64_t> serving;
  {
    std::lock_guard lock(risk_mu);
    serving = model_version;
  }
  return JsonResponse(200, ModelJson(*m, /*full=*/true, serving));
}

Result<HttpResponse> Service::Impl::PromoteModel(const HttpRequest& req, const Caller& caller) {
  CS_ASSIGN_OR_RETURN(int64_t version, ParseModelVersion(req.path_params[0]));
  CS_ASSIGN_OR_RETURN(ChangeBody body, ParseChangeBody(req, /*allow_force=*/true));
  std::lock_guard change_lock(model_change_mu);
  CS_ASSIGN_OR_RETURN(auto row, store->GetModelVersion(version));
  if (!row) return Status::NotFound("no " + Named(version));
  // Loaded before the registry changes, so that what goes live is what this service can serve;
  // requests meanwhile are decided with the model they started with.
  auto m = LoadModelVersion(*store, *row);
  if (!m.ok()) return NotLoadable(m.status(), version);
  ModelChangeRequest request;
  request.actor = caller.username;
  request.reason = body.reason;
  request.force = body.force;
  CS_ASSIGN_OR_RETURN(ModelChange change, store->PromoteModel(version, request));
  InstallModel(std::make_shared<const RiskModel>(std::move(m).value()), version);
  return JsonResponse(200, json{{"model", ModelJson(change.live, /*full=*/false, version)},
                                {"previous", OptionalInt(change.previous)}});
}

Result<HttpResponse> Service::Impl::RollbackModel(const HttpRequest& req, const Caller& caller) {
  CS_ASSIGN_OR_RETURN(ChangeBody body, ParseChangeBody(req, /*allow_force=*/false));
  std::lock_guard change_lock(model_change_mu);
  ModelChangeRequest request;
  request.actor = caller.username;
  request.reason = body.reason;
  // The target is loaded first; the store then rolls back only if the live version is still the
  // one it was loaded against (else it names the problem, as it does when there is no target).
  CS_ASSIGN_OR_RETURN(auto live, store->LiveModelVersion());
  std::optional<RiskModel> loaded;
  if (live && live->previous_live) {
    request.expected_live = live->version;
    CS_ASSIGN_OR_RETURN(auto target, store->GetModelVersion(*live->previous_live));
    if (target && target->status != ModelStatus::kRejected) {
      auto m = LoadModelVersion(*store, *target);
      if (!m.ok()) return NotLoadable(m.status(), target->version);
      loaded = std::move(m).value();
    }
  }
  CS_ASSIGN_OR_RETURN(ModelChange change, store->RollbackModel(request));
  if (!loaded) return Status::Internal("the rollback's target was not loaded");
  InstallModel(std::make_shared<const RiskModel>(std::move(*loaded)), change.live.version);
  return JsonResponse(200,
                      json{{"model", ModelJson(change.live, /*full=*/false, change.live.version)},
                           {"rolled_back", OptionalInt(change.previous)}});
}

}  // namespace clearsight
