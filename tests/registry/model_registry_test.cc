// Model directories in and out of the registry: real trained models, a real SQLite store, the
// files content-addressed in its image directory and checked out again.
#include "clearsight/model_registry.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "clearsight/declarations.h"
#include "clearsight/file_util.h"

namespace clearsight {
namespace {

namespace fs = std::filesystem;

const DeclarationBatch& Rows() {
  static const DeclarationBatch batch = [] {
    ReadOptions o;
    o.format = DeclarationFormat::kKcs;
    auto b = ReadDeclarations(std::string(CS_DATA) + "/customs/df_syn_train_eng.csv", o, nullptr);
    EXPECT_TRUE(b.ok()) << b.status().ToString();
    DeclarationBatch out = std::move(b).value();
    out.rows.resize(3000);
    return out;
  }();
  return batch;
}

// A small model on the first `rows` declarations, saved to `dir` (with a baseline beside it when
// asked, as `model train` does).
RiskModel TrainTo(const std::string& dir, size_t rows, bool with_baseline) {
  DeclarationBatch part = Rows();
  part.rows.resize(rows);
  RiskModelOptions o;
  o.trees = 5;
  o.max_depth = 3;
  auto m = RiskModel::Train(part, o);
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_TRUE(m->Save(dir).ok());
  if (with_baseline) {
    o.baseline = true;
    auto b = RiskModel::Train(part, o);
    EXPECT_TRUE(b.ok());
    EXPECT_TRUE(b->Save(dir + "/baseline").ok());
  }
  return std::move(m).value();
}

class ModelRegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("cs_registry_" + std::to_string(::getpid()) + "_" + std::to_string(counter_++));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    StoreOptions o;
    o.url = (dir_ / "cs.db").string();
    auto s = Store::Open(o);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s).value();
  }
  void TearDown() override {
    store_.reset();
    fs::remove_all(dir_);
  }
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }
  // The blob of `file` in the store's image directory.
  std::string BlobOf(const ModelVersionRow& m, const std::string& file) const {
    for (const auto& f : m.files)
      if (f.path == file) return store_->ImagePath(f.sha256).value();
    ADD_FAILURE() << "no file " << file;
    return "";
  }

  static inline int counter_ = 0;
  fs::path dir_;
  std::unique_ptr<Store> store_;
};

TEST_F(ModelRegistryTest, ADirectoryIsStoredWithItsFilesAndComesBackIdenticalElsewhere) {
  RiskModel trained = TrainTo(Path("m"), 2000, /*with_baseline=*/true);
  RegisterModelOptions o;
  o.created_by = "trainer";
  o.metrics_json = R"({"auc": 0.8})";
  auto row = RegisterModelDir(*store_, Path("m"), o);
  ASSERT_TRUE(row.ok()) << row.status().ToString();
  EXPECT_EQ(row->version, 1);
  std::vector<std::string> paths;
  for (const auto& f : row->files) paths.push_back(f.path);
  EXPECT_EQ(paths, (std::vector<std::string>{"baseline/features.json", "baseline/meta.json",
                                             "baseline/model.json", "baseline/templates.bin",
                                             "features.json", "meta.json", "model.json",
                                             "templates.bin"}));
  auto listed = ModelDirFiles(Path("m"));
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(row->content_sha256, ModelContentSha256(*listed));
  EXPECT_EQ(row->features, trained.feature_names());
  EXPECT_EQ(row->training_rows, 2000);
  ASSERT_TRUE(row->training_from && row->training_cutoff);
  EXPECT_EQ(FormatDate(*row->training_from), "2020-01-01");
  EXPECT_LT(*row->training_from, *row->training_cutoff);

  // The training directory is gone (another machine): the registry alone brings the model back,
  // as it loads from that directory (with the baseline blended in for unseen templates).
  auto as_trained = RiskModel::Load(Path("m"));
  ASSERT_TRUE(as_trained.ok()) << as_trained.status().ToString();
  EXPECT_TRUE(as_trained->blends_unseen_templates());
  auto meta = ReadFile(Path("m/meta.json"));
  ASSERT_TRUE(meta.ok());
  fs::remove_all(Path("m"));
  auto stored = store_->GetModelVersion(1);
  ASSERT_TRUE(stored.ok() && stored->has_value());
  auto out = CheckOutModel(*store_, **stored);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(*out, store_->images_dir() + "/models/" + row->content_sha256);
  EXPECT_EQ(*ReadFile(*out + "/meta.json"), *meta);
  auto again = ModelDirFiles(*out);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(ModelContentSha256(*again), row->content_sha256);
  auto loaded = LoadModelVersion(*store_, **stored);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  DeclarationBatch later = Rows();
  later.rows.erase(later.rows.begin(), later.rows.begin() + 2500);
  EXPECT_EQ(loaded->Score(later), as_trained->Score(later));

  // The same files again are the same version.
  auto twice = RegisterModelDir(*store_, *out, o);
  EXPECT_EQ(twice.status().code(), StatusCode::kAlreadyExists);
  EXPECT_NE(twice.status().message().find("version 1"), std::string::npos);
}

TEST_F(ModelRegistryTest, AMissingOrDamagedFileIsNamedAndNothingIsCheckedOut) {
  TrainTo(Path("m"), 1500, /*with_baseline=*/false);
  RegisterModelOptions o;
  o.created_by = "trainer";
  auto row = RegisterModelDir(*store_, Path("m"), o);
  ASSERT_TRUE(row.ok()) << row.status().ToString();
  const std::string blob = BlobOf(*row, "model.json");
  auto original = ReadFile(blob);
  ASSERT_TRUE(original.ok());
  ASSERT_TRUE(WriteFileAtomic(blob, "{\"not\": \"the model\"}").ok());
  auto damaged = CheckOutModel(*store_, *row);
  EXPECT_EQ(damaged.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(damaged.status().message().find("model version 1: file model.json"), std::string::npos)
      << damaged.status().ToString();
  EXPECT_FALSE(fs::exists(store_->images_dir() + "/models/" + row->content_sha256));
  fs::remove(blob);
  auto missing = LoadModelVersion(*store_, *row);
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("model.json"), std::string::npos);
  EXPECT_NE(missing.status().message().find("--images"), std::string::npos)
      << missing.status().ToString();
  // Nothing half-made is left for the next try to trust.
  for (const auto& e : fs::directory_iterator(store_->images_dir() + "/models"))
    ADD_FAILURE() << "left behind: " << e.path();
  ASSERT_TRUE(WriteFileAtomic(blob, *original).ok());
  EXPECT_TRUE(LoadModelVersion(*store_, *row).ok());
}

TEST_F(ModelRegistryTest, ADirectoryThatIsNotAModelIsRefusedWithTheModelsOwnError) {
  fs::create_directories(Path("empty"));
  RegisterModelOptions o;
  o.created_by = "trainer";
  auto r = RegisterModelDir(*store_, Path("empty"), o);
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound) << r.status().ToString();
  EXPECT_NE(r.status().message().find("not a model directory (no meta.json)"), std::string::npos)
      << r.status().ToString();
  auto r2 = RegisterModelDir(*store_, Path("nowhere"), o);
  EXPECT_FALSE(r2.ok());
  auto versions = store_->ModelVersions();
  ASSERT_TRUE(versions.ok());
  EXPECT_TRUE(versions->empty());
}

TEST_F(ModelRegistryTest, AStoredPathThatLeavesTheModelDirectoryIsNeverWritten) {
  ModelVersionRow forged;
  forged.version = 5;
  forged.files = {{"../../escaped.json", Sha256Hex("x"), 1}};
  forged.content_sha256 = ModelContentSha256(forged.files);
  ASSERT_TRUE(store_->PutImage("x").ok());
  auto r = CheckOutModel(*store_, forged);
  EXPECT_EQ(r.status().code(), StatusCode::kDataLoss) << r.status().ToString();
  EXPECT_FALSE(fs::exists(store_->images_dir() + "/escaped.json"));
  EXPECT_FALSE(fs::exists(dir_ / "escaped.json"));
}

TEST(ModelVersionText, AcceptsNumbersAndVPrefixedNumbersOnly) {
  EXPECT_EQ(ParseModelVersion("3").value(), 3);
  EXPECT_EQ(ParseModelVersion("v12").value(), 12);
  for (const char* bad : {"", "v", "0", "-1", "3a", "v 3", "99999999999999999999", "V3"})
    EXPECT_FALSE(ParseModelVersion(bad).ok()) << bad;
}

}  // namespace
}  // namespace clearsight
