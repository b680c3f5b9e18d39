// model register, list, show, promote, rollback and reject: thin shells over the model registry.
#include <cstdio>
#include <optional>
#include <string>

#include "clearsight/file_util.h"
#include "clearsight/model_registry.h"
#include "clearsight/store.h"
#include "clearsight/text.h"
#include "commands.h"

namespace clearsight::cli {

namespace {

const char kRegistryUsage[] =
    "usage: clearsight model register --db DB --model DIR [--parent V] [--by NAME]\n"
    "                                 [--metrics FILE]\n"
    "       clearsight model list --db DB [--json]\n"
    "       clearsight model show --db DB VERSION [--json]\n"
    "       clearsight model promote --db DB VERSION --by NAME [--reason TEXT] [--force]\n"
    "       clearsight model rollback --db DB --by NAME [--reason TEXT]\n"
    "       clearsight model reject --db DB VERSION --by NAME --reason TEXT\n"
    "   (each also takes --images DIR and --audit-key FILE, as serve does)\n\n"
    "The model registry (docs/model.md, \"Model registry\"): every risk model version with its\n"
    "files (kept content-addressed in the store's image directory), metrics, training data,\n"
    "features, parent, status (candidate, live, retired, rejected) and who made it live when.\n"
    "  register  stores DIR (from `clearsight model train`) as a candidate; --metrics FILE is a\n"
    "            JSON object of evaluation figures (e.g. `clearsight model eval --json`)\n"
    "  promote   makes VERSION live (it must load here first) and retires the live one; a\n"
    "            rejected version is refused unless --force\n"
    "  rollback  rejects the live version and makes the one live before it live again\n"
    "  reject    marks a candidate or retired version rejected, with the reason\n"
    "Every change is one transaction with its audit entry. A running service serves the new live\n"
    "version within its poll interval (5 s), without a restart.\n";

// The one VERSION argument of show, promote and reject.
Result<int64_t> VersionArg(const Args& args) {
  if (args.positional().size() != 1)
    return Status::InvalidArgument("give exactly one model VERSION (clearsight model list)");
  return ParseModelVersion(args.positional()[0]);
}

std::string Megabytes(int64_t bytes) { return FormatFixed(static_cast<double>(bytes) / 1e6, 1); }

std::string DateOr(const std::optional<int32_t>& d, const char* none) {
  return d ? FormatDate(*d) : none;
}

// The shared flags; `extra` are the command's own.
int Check(const Args& args, std::set<std::string> extra) {
  extra.insert({"db", "images", "audit-key", "help"});
  if (int rc = CheckArgs(args, extra, kRegistryUsage)) return rc < 0 ? -1 : rc;
  if (!args.Has("db")) return Usage("--db is required", kRegistryUsage);
  return 0;
}

void PrintVersion(const ModelVersionRow& m) {
  int64_t bytes = 0;
  for (const auto& f : m.files) bytes += f.bytes;
  std::printf("model version %lld: %s%s\n", static_cast<long long>(m.version),
              std::string(ModelStatusName(m.status)).c_str(),
              m.reason.empty() ? "" : (" (" + m.reason + ")").c_str());
  std::printf("  registered   %s by %s\n", IsoTime(m.created_ms).c_str(), m.created_by.c_str());
  if (m.promoted_ms)
    std::printf("  made live    %s by %s\n", IsoTime(*m.promoted_ms).c_str(),
                m.promoted_by.c_str());
  std::printf("  parent       %s\n",
              m.parent_version ? ("v" + std::to_string(*m.parent_version)).c_str() : "-");
  std::printf("  training     %s .. %s, %s rows\n", DateOr(m.training_from, "?").c_str(),
              DateOr(m.training_cutoff, "?").c_str(),
              m.training_rows ? std::to_string(*m.training_rows).c_str() : "?");
  std::printf("  content      %s (%zu files, %s MB)\n", m.content_sha256.c_str(), m.files.size(),
              Megabytes(bytes).c_str());
  for (const auto& f : m.files)
    std::printf("    %-24s %s %12lld\n", f.path.c_str(), f.sha256.c_str(),
                static_cast<long long>(f.bytes));
  std::printf("  features     %zu\n", m.features.size());
  for (const auto& f : m.features) std::printf("    %s\n", f.c_str());
  std::printf("  metrics      %s\n", m.metrics_json.c_str());
}

}  // namespace

int CmdModelRegister(int argc, char** argv, int first) {
  Args args(argc, argv, first, {"help"});
  if (int rc = Check(args, {"model", "parent", "by", "metrics"})) return rc < 0 ? 0 : rc;
  if (!args.Has("model")) return Usage("--model DIR is required", kRegistryUsage);
  RegisterModelOptions o;
  o.created_by = args.Get("by", "cli");
  if (args.Has("parent")) {
    auto parent = ParseModelVersion(args.Get("parent"));
    if (!parent.ok()) return Usage("--parent: " + parent.status().message(), kRegistryUsage);
    o.parent_version = *parent;
  }
  if (args.Has("metrics")) {
    auto text = ReadFile(args.Get("metrics"), 16 << 20);
    if (!text.ok()) return Fail(text.status());
    o.metrics_json = *text;
  }
  auto store = OpenStoreFromArgs(args);
  if (!store.ok()) return Fail(store.status());
  auto row = RegisterModelDir(**store, args.Get("model"), o);
  if (!row.ok()) return Fail(row.status());
  int64_t bytes = 0;
  for (const auto& f : row->files) bytes += f.bytes;
  std::printf("registered model version %lld (candidate) from %s: %zu files, %s MB, content %s\n",
              static_cast<long long>(row->version), args.Get("model").c_str(), row->files.size(),
              Megabytes(bytes).c_str(), row->content_sha256.c_str());
  return 0;
}

int CmdModelList(int argc, char** argv, int first) {
  Args args(argc, argv, first, {"help", "json"});
  if (int rc = Check(args, {"json"})) return rc < 0 ? 0 : rc;
  auto store = OpenStoreFromArgs(args);
  if (!store.ok()) return Fail(store.status());
  auto versions = (*store)->ModelVersions();
  if (!versions.ok()) return Fail(versions.status());
  if (args.Has("json")) {
    std::string out = "[";
    for (const auto& m : *versions)
      out += (out.size() > 1 ? "," : "") + ModelVersionToJson(m, /*full=*/false);
    std::printf("%s]\n", out.c_str());
    return 0;
  }
  if (versions->empty()) {
    std::printf("no model versions registered (clearsight model register)\n");
    return 0;
  }
  std::printf("%-7s %-9s %-20s %-12s %-10s %9s %-6s %-30s %s\n", "version", "status", "registered",
              "by", "cutoff", "rows", "parent", "made live", "reason");
  for (const auto& m : *versions) {
    const std::string live =
        m.promoted_ms ? IsoTime(*m.promoted_ms).substr(0, 19) + " " + m.promoted_by : "-";
    std::printf("%-7lld %-9s %-20s %-12s %-10s %9s %-6s %-30s %s\n",
                static_cast<long long>(m.version), std::string(ModelStatusName(m.status)).c_str(),
                IsoTime(m.created_ms).substr(0, 19).c_str(), m.created_by.c_str(),
                DateOr(m.training_cutoff, "-").c_str(),
                m.training_rows ? std::to_string(*m.training_rows).c_str() : "-",
                m.parent_version ? ("v" + std::to_string(*m.parent_version)).c_str() : "-",
                live.c_str(), m.reason.c_str());
  }
  return 0;
}

int CmdModelShow(int argc, char** argv, int first) {
  Args args(argc, argv, first, {"help", "json"});
  if (int rc = Check(args, {"json"})) return rc < 0 ? 0 : rc;
  auto version = VersionArg(args);
  if (!version.ok()) return Usage(version.status().message(), kRegistryUsage);
  auto store = OpenStoreFromArgs(args);
  if (!store.ok()) return Fail(store.status());
  auto m = (*store)->GetModelVersion(*version);
  if (!m.ok()) return Fail(m.status());
  if (!*m)
    return Fail(Status::NotFound("no model version " + std::to_string(*version) +
                                 " (clearsight model list shows them)"));
  if (args.Has("json"))
    std::printf("%s\n", ModelVersionToJson(**m, /*full=*/true).c_str());
  else
    PrintVersion(**m);
  return 0;
}

int CmdModelPromote(int argc, char** argv, int first) {
  Args args(argc, argv, first, {"help", "force"});
  if (int rc = Check(args, {"by", "reason", "force"})) return rc < 0 ? 0 : rc;
  auto version = VersionArg(args);
  if (!version.ok()) return Usage(version.status().message(), kRegistryUsage);
  if (args.Get("by").empty()) return Usage("--by NAME (who promotes) is required", kRegistryUsage);
  auto store = OpenStoreFromArgs(args);
  if (!store.ok()) return Fail(store.status());
  auto row = (*store)->GetModelVersion(*version);
  if (!row.ok()) return Fail(row.status());
  if (!*row)
    return Fail(Status::NotFound("no model version " + std::to_string(*version) +
                                 " (clearsight model list shows them)"));
  // What goes live must load: checked here, on the store's image directory.
  if (auto loaded = LoadModelVersion(**store, **row); !loaded.ok())
    return Fail(loaded.status().WithContext("not promoted"));
  ModelChangeRequest request;
  request.actor = args.Get("by");
  request.reason = args.Get("reason");
  request.force = args.Has("force");
  auto change = (*store)->PromoteModel(*version, request);
  if (!change.ok()) return Fail(change.status());
  std::printf("model version %lld is live%s\n", static_cast<long long>(*version),
              change->previous
                  ? (" (version " + std::to_string(*change->previous) + " retired)").c_str()
                  : "");
  return 0;
}

int CmdModelRollback(int argc, char** argv, int first) {
  Args args(argc, argv, first, {"help"});
  if (int rc = Check(args, {"by", "reason"})) return rc < 0 ? 0 : rc;
  if (!args.positional().empty())
    return Usage("rollback takes no VERSION: it returns to the version live before the live one",
                 kRegistryUsage);
  if (args.Get("by").empty())
    return Usage("--by NAME (who rolls back) is required", kRegistryUsage);
  auto store = OpenStoreFromArgs(args);
  if (!store.ok()) return Fail(store.status());
  ModelChangeRequest request;
  request.actor = args.Get("by");
  request.reason = args.Get("reason");
  // The target must load; the store then rolls back only while the live version is the same.
  auto live = (*store)->LiveModelVersion();
  if (!live.ok()) return Fail(live.status());
  if (*live && (*live)->previous_live) {
    request.expected_live = (*live)->version;
    auto target = (*store)->GetModelVersion(*(*live)->previous_live);
    if (!target.ok()) return Fail(target.status());
    if (*target && (*target)->status != ModelStatus::kRejected) {
      if (auto loaded = LoadModelVersion(**store, **target); !loaded.ok())
        return Fail(loaded.status().WithContext("not rolled back"));
    }
  }
  auto change = (*store)->RollbackModel(request);
  if (!change.ok()) return Fail(change.status());
  std::printf("model version %lld is live again (version %lld rejected)\n",
              static_cast<long long>(change->live.version),
              static_cast<long long>(change->previous.value_or(0)));
  return 0;
}

int CmdModelReject(int argc, char** argv, int first) {
  Args args(argc, argv, first, {"help"});
  if (int rc = Check(args, {"by", "reason"})) return rc < 0 ? 0 : rc;
  auto version = VersionArg(args);
  if (!version.ok()) return Usage(version.status().message(), kRegistryUsage);
  if (args.Get("by").empty()) return Usage("--by NAME (who rejects) is required", kRegistryUsage);
  if (args.Get("reason").empty())
    return Usage("--reason TEXT (why it is rejected) is required", kRegistryUsage);
  auto store = OpenStoreFromArgs(args);
  if (!store.ok()) return Fail(store.status());
  ModelChangeRequest request;
  request.actor = args.Get("by");
  request.reason = args.Get("reason");
  auto row = (*store)->RejectModel(*version, request);
  if (!row.ok()) return Fail(row.status());
  std::printf("model version %lld rejected: %s\n", static_cast<long long>(row->version),
              row->reason.c_str());
  return 0;
}

}  // namespace clearsight::cli
