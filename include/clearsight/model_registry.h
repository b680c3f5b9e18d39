// The model registry over model directories: a trained model directory is registered with its
// files stored content-addressed beside the store (like scans), so that any machine that shares the
// database and the image directory can check a version out again and load it. The rows and the
// rules of promotion and rollback are the store's (clearsight/store.h, "The model registry").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "clearsight/risk_model.h"
#include "clearsight/status.h"
#include "clearsight/store.h"

namespace clearsight {

struct RegisterModelOptions {
  std::string created_by;                 // who registers it (audited); required
  std::optional<int64_t> parent_version;  // the version it was retrained from
  std::string metrics_json = "{}";        // evaluation figures, a JSON object
};

// The regular files under `dir` (recursively, symlinks to files followed) with their sha256 and
// size, as a registration would record them; nothing is stored. ModelContentSha256 of the result
// finds a directory in the registry (Store::ModelVersionWithContent). NotFound / IoError naming
// the path.
Result<std::vector<ModelFileRef>> ModelDirFiles(const std::string& dir);

// Registers the model directory `dir` as a candidate: it must load (RiskModel::Load, whose error
// it returns for a directory that is not a model); each file is written to the store's
// content-addressed directory (durably) before the row; the training window and rows come from its
// meta.json, the features from the model. Fails as Store::RegisterModel does (AlreadyExists naming
// the version when these files are registered already).
Result<ModelVersionRow> RegisterModelDir(Store& store, const std::string& dir,
                                         const RegisterModelOptions& options);

// The version that holds exactly the files of `dir`, registered (RegisterModelDir) when none does.
Result<ModelVersionRow> FindOrRegisterModelDir(Store& store, const std::string& dir,
                                               const RegisterModelOptions& options);

// The version's files as a model directory, "<image dir>/models/<content_sha256>": written (each
// file checked against its sha256, the directory renamed into place whole) unless it is there
// already; returns its path. NotFound naming the file when a file is missing from this machine's
// image directory (it was registered against another one), DataLoss when one is damaged.
Result<std::string> CheckOutModel(const Store& store, const ModelVersionRow& version);

// CheckOutModel, then RiskModel::Load; errors name the version.
Result<RiskModel> LoadModelVersion(const Store& store, const ModelVersionRow& version);

// A version as JSON, the shape `clearsight model show --json` and GET /api/models/{version} give
// (docs/api.md): version, status, reason, created_at, created_by, content_sha256, bytes,
// parent_version, training {from, cutoff, rows}, metrics, promoted_by, promoted_at,
// previous_live; `full` adds files and features, else feature_count.
std::string ModelVersionToJson(const ModelVersionRow& version, bool full);

// "3" or "v3"; InvalidArgument otherwise.
Result<int64_t> ParseModelVersion(std::string_view text);

}  // namespace clearsight
