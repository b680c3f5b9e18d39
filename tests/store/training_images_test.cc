// Old training images leave the image directory (Store::RemoveTrainingImages); the images of
// consignments, and a file a consignment shares by equal content, stay. SQLite.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "clearsight/store.h"

namespace clearsight {
namespace {

namespace fs = std::filesystem;

class TrainingImagesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("cs_training_images_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    StoreOptions o;
    o.url = (dir_ / "cs.db").string();
    o.images_dir = (dir_ / "images").string();
    auto s = Store::Open(o);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s).value();
  }
  void TearDown() override {
    store_.reset();
    fs::remove_all(dir_);
  }
  // A scan row of `consignment` whose image is `bytes`; returns the image's sha256.
  std::string AddScan(const std::string& scan_id, const std::string& consignment,
                      const std::string& bytes) {
    auto sha = store_->PutImage(bytes);
    EXPECT_TRUE(sha.ok());
    ScanRow row;
    row.scan_id = scan_id;
    row.consignment_id = consignment;
    row.image_sha256 = *sha;
    row.source_format = "tiff";
    row.source_sha256 = {*sha};
    row.meta_json = "{}";
    row.width = row.height = 64;
    row.received_ms = 1;
    EXPECT_TRUE(store_->Write([&](StoreTxn& t) { return t.InsertScan(row); }).ok());
    return *sha;
  }
  // A training trial on the scan, answered at `answered_ms` (none: not answered).
  void AddTrial(int index, const std::string& scan_id, std::optional<int64_t> answered_ms) {
    TrainingTrialRow t;
    t.session_id = 1;
    t.trainee = "olga";
    t.index = index;
    t.scan_id = scan_id;
    t.source = "simulated:1";
    t.time_limit_ms = 20000;
    ASSERT_TRUE(store_->Write([&](StoreTxn& txn) { return txn.InsertTrainingTrial(&t); }).ok());
    if (!answered_ms) return;
    t.responded_ms = answered_ms;
    t.decision = "clear";
    ASSERT_TRUE(store_->Write([&](StoreTxn& txn) { return txn.RecordTrainingResponse(t); }).ok());
  }
  bool Present(const std::string& sha) { return fs::exists(*store_->ImagePath(sha)); }

  fs::path dir_;
  std::unique_ptr<Store> store_;
};

TEST_F(TrainingImagesTest, AnsweredOldImagesGoAndConsignmentsKeepTheirs) {
  TrainingSessionRow session{0, "Week 1", "tom", 0, "{}"};
  ASSERT_TRUE(store_->Write([&](StoreTxn& t) { return t.InsertTrainingSession(&session); }).ok());
  const std::string old_image = AddScan("trn-old", "training:1", "old training image");
  const std::string recent = AddScan("trn-recent", "training:1", "recent training image");
  const std::string pending = AddScan("trn-pending", "training:1", "unanswered training image");
  // A training image whose bytes equal a consignment's scan: one file, shared.
  const std::string shared = AddScan("trn-shared", "training:1", "the same bytes");
  EXPECT_EQ(AddScan("S1", "C1", "the same bytes"), shared);
  const std::string real = AddScan("S2", "C2", "a consignment's scan");
  AddTrial(0, "trn-old", 1000);
  AddTrial(1, "trn-recent", 9000);
  AddTrial(2, "trn-pending", std::nullopt);
  AddTrial(3, "trn-shared", 1000);

  auto removed = store_->RemoveTrainingImages(5000);
  ASSERT_TRUE(removed.ok()) << removed.status().ToString();
  EXPECT_EQ(*removed, 1);  // trn-old's file; trn-shared's stays, a consignment holds it
  EXPECT_FALSE(Present(old_image));
  EXPECT_TRUE(Present(shared));
  EXPECT_TRUE(Present(recent));
  EXPECT_TRUE(Present(pending));
  EXPECT_TRUE(Present(real));
  // The rows are marked: no image; the trials keep their truth and answers.
  EXPECT_EQ((*store_->GetScan("trn-old"))->image_sha256, "");
  EXPECT_EQ((*store_->GetScan("trn-shared"))->image_sha256, "");
  EXPECT_EQ((*store_->GetScan("trn-recent"))->image_sha256, recent);
  EXPECT_EQ((*store_->GetScan("S1"))->image_sha256, shared);
  EXPECT_EQ(store_->TrainingTrials({})->size(), 4u);
  // Once marked, a row is not counted again.
  EXPECT_EQ(*store_->RemoveTrainingImages(5000), 0);
  EXPECT_EQ(*store_->RemoveTrainingImages(10000), 1);  // now trn-recent too
  EXPECT_FALSE(Present(recent));
  EXPECT_TRUE(Present(pending));
}

}  // namespace
}  // namespace clearsight
