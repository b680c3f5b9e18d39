// Model directories in and out of the registry: their files content-addressed in the store's image
// directory, checked out again (verified) where a service loads them.
#include "clearsight/model_registry.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>

#include "clearsight/declarations.h"
#include "clearsight/file_util.h"
#include "clearsight/text.h"

namespace clearsight {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// Model files are read whole: the image directory's own limit.
constexpr size_t kMaxModelFileBytes = size_t{2} << 30;

// Each regular file under `dir` with its path relative to it, in byte order of that path.
Result<std::vector<std::pair<std::string, fs::path>>> ListModelDir(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    return Status::NotFound(dir +
                            ": not a model directory (train one with 'clearsight model "
                            "train')");
  std::vector<std::pair<std::string, fs::path>> out;
  fs::recursive_directory_iterator it(dir, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    out.emplace_back(it->path().lexically_relative(dir).generic_string(), it->path());
  }
  if (ec) return Status::IoError("cannot list " + dir + ": " + ec.message());
  std::sort(out.begin(), out.end());
  if (out.empty()) return Status::NotFound(dir + ": no files in the model directory");
  return out;
}

// The training window and rows a model's meta.json names (absent in hand-made ones).
void ReadTrainingMeta(const std::string& dir, ModelVersionRow* row) {
  auto text = ReadFile(dir + "/meta.json", 64 << 20);
  if (!text.ok()) return;
  json meta = json::parse(*text, nullptr, false);
  if (!meta.is_object()) return;
  auto date = [&](const char* key) -> std::optional<int32_t> {
    int32_t days = 0;
    if (meta.contains(key) && meta[key].is_string() &&
        ParseDate(meta[key].get<std::string>(), &days))
      return days;
    return std::nullopt;
  };
  row->training_from = date("train_from");
  row->training_cutoff = date("train_to");
  if (meta.contains("train_rows") && meta["train_rows"].is_number_integer())
    row->training_rows = meta["train_rows"].get<int64_t>();
}

std::string Named(const ModelVersionRow& v) { return "model version " + std::to_string(v.version); }

}  // namespace

Result<std::vector<ModelFileRef>> ModelDirFiles(const std::string& dir) {
  CS_ASSIGN_OR_RETURN(auto listed, ListModelDir(dir));
  std::vector<ModelFileRef> files;
  for (const auto& [rel, path] : listed) {
    CS_ASSIGN_OR_RETURN(std::string bytes, ReadFile(path.string(), kMaxModelFileBytes));
    files.push_back(ModelFileRef{rel, Sha256Hex(bytes), static_cast<int64_t>(bytes.size())});
  }
  return files;
}

Result<ModelVersionRow> RegisterModelDir(Store& store, const std::string& dir,
                                         const RegisterModelOptions& options) {
  CS_ASSIGN_OR_RETURN(RiskModel model, RiskModel::Load(dir));  // its errors name what is wrong
  CS_ASSIGN_OR_RETURN(auto listed, ListModelDir(dir));
  ModelVersionRow row;
  row.created_by = options.created_by;
  row.parent_version = options.parent_version;
  row.metrics_json = options.metrics_json;
  row.features = model.feature_names();
  ReadTrainingMeta(dir, &row);
  // The files first, each durable before the row that names them (as scans are stored).
  for (const auto& [rel, path] : listed) {
    CS_ASSIGN_OR_RETURN(std::string bytes, ReadFile(path.string(), kMaxModelFileBytes));
    CS_ASSIGN_OR_RETURN(std::string sha, store.PutImage(bytes));
    row.files.push_back(ModelFileRef{rel, sha, static_cast<int64_t>(bytes.size())});
  }
  return store.RegisterModel(std::move(row));
}

Result<ModelVersionRow> FindOrRegisterModelDir(Store& store, const std::string& dir,
                                               const RegisterModelOptions& options) {
  CS_ASSIGN_OR_RETURN(auto files, ModelDirFiles(dir));
  CS_ASSIGN_OR_RETURN(auto found, store.ModelVersionWithContent(ModelContentSha256(files)));
  if (found) return std::move(*found);
  return RegisterModelDir(store, dir, options);
}

Result<std::string> CheckOutModel(const Store& store, const ModelVersionRow& version) {
  if (!IsSha256Hex(version.content_sha256))
    return Status::DataLoss(Named(version) + ": its content hash is not a sha256");
  const std::string models = store.images_dir() + "/models";
  const std::string target = models + "/" + version.content_sha256;
  std::error_code ec;
  if (fs::is_directory(target, ec)) return target;
  thread_local std::mt19937_64 rng{std::random_device{}()};
  const std::string staging = models + "/.tmp-" + version.content_sha256 + "-" +
                              std::to_string(::getpid()) + "-" + std::to_string(rng());
  auto fail = [&](const Status& s) {
    fs::remove_all(staging, ec);
    return s;
  };
  CS_RETURN_IF_ERROR(MakeDirs(staging));
  for (const auto& f : version.files) {
    const fs::path rel(f.path);
    if (f.path.empty() || rel.is_absolute() ||
        std::find(rel.begin(), rel.end(), fs::path("..")) != rel.end())
      return fail(Status::DataLoss(Named(version) + ": file path '" + f.path +
                                   "' leaves the model directory"));
    auto bytes = store.ReadImage(f.sha256);
    if (!bytes.ok()) {
      if (bytes.status().code() == StatusCode::kNotFound)
        return fail(Status::NotFound(
            Named(version) + ": file " + f.path + " (" + f.sha256 + ") is not in " +
            store.images_dir() +
            ": it was registered against another image directory; share that one (--images)"));
      return fail(bytes.status().WithContext(Named(version) + ": file " + f.path));
    }
    if (static_cast<int64_t>(bytes->size()) != f.bytes || Sha256Hex(*bytes) != f.sha256)
      return fail(Status::DataLoss(Named(version) + ": file " + f.path + " (" + f.sha256 +
                                   ") is damaged in " + store.images_dir() +
                                   ": its bytes no longer match their sha256"));
    const fs::path out = fs::path(staging) / rel;
    if (Status s = MakeDirs(out.parent_path().string()); !s.ok()) return fail(s);
    if (Status s = WriteFileAtomic(out.string(), *bytes); !s.ok()) return fail(s);
  }
  fs::rename(staging, target, ec);
  if (ec) {
    // Another process checked the same files out first: theirs is as good.
    std::error_code exists_ec;
    const bool there = fs::is_directory(target, exists_ec);
    fs::remove_all(staging, exists_ec);
    if (!there)
      return Status::IoError("cannot move the checked-out model into " + target + ": " +
                             ec.message());
  }
  return target;
}

namespace {
json OptionalInt(const std::optional<int64_t>& v) { return v ? json(*v) : json(nullptr); }
json OptionalDate(const std::optional<int32_t>& d) {
  return d ? json(FormatDate(*d)) : json(nullptr);
}
}  // namespace

std::string ModelVersionToJson(const ModelVersionRow& m, bool full) {
  int64_t bytes = 0;
  for (const auto& f : m.files) bytes += f.bytes;
  json metrics = json::parse(m.metrics_json, nullptr, false);
  json j = {{"version", m.version},
            {"status", ModelStatusName(m.status)},
            {"reason", m.reason},
            {"created_at", IsoTime(m.created_ms)},
            {"created_by", m.created_by},
            {"content_sha256", m.content_sha256},
            {"bytes", bytes},
            {"parent_version", OptionalInt(m.parent_version)},
            {"training",
             {{"from", OptionalDate(m.training_from)},
              {"cutoff", OptionalDate(m.training_cutoff)},
              {"rows", OptionalInt(m.training_rows)}}},
            {"metrics", metrics.is_object() ? metrics : json::object()},
            {"promoted_by", m.promoted_by.empty() ? json(nullptr) : json(m.promoted_by)},
            {"promoted_at", m.promoted_ms ? json(IsoTime(*m.promoted_ms)) : json(nullptr)},
            {"previous_live", OptionalInt(m.previous_live)}};
  if (full) {
    json files = json::array();
    for (const auto& f : m.files)
      files.push_back(json{{"path", f.path}, {"sha256", f.sha256}, {"bytes", f.bytes}});
    j["files"] = std::move(files);
    j["features"] = m.features;
  } else {
    j["feature_count"] = m.features.size();
  }
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<int64_t> ParseModelVersion(std::string_view text) {
  const std::string_view digits = StartsWith(text, "v") ? text.substr(1) : text;
  int64_t v = 0;
  if (digits.empty() || digits.size() > 18 ||
      digits.find_first_not_of("0123456789") != std::string_view::npos || !ParseInt64(digits, &v) ||
      v < 1)
    return Status::InvalidArgument(
        "a model version is a whole number from 1 (\"3\" or \"v3\"), not '" + Excerpt(text, 40) +
        "'");
  return v;
}

Result<RiskModel> LoadModelVersion(const Store& store, const ModelVersionRow& version) {
  CS_ASSIGN_OR_RETURN(std::string dir, CheckOutModel(store, version));
  auto model = RiskModel::Load(dir);
  if (!model.ok()) return model.status().WithContext("loading " + Named(version));
  return model;
}

}  // namespace clearsight
