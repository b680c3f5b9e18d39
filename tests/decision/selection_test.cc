#include "clearsight/selection.h"

#include <gtest/gtest.h>

namespace clearsight {
namespace {

DeclarationBatch Lane(int n, int32_t date, const std::string& office, std::vector<float>* scores) {
  DeclarationBatch b;
  for (int i = 0; i < n; ++i) {
    Declaration d;
    d.declaration_id = office + "-" + std::to_string(date) + "-" + std::to_string(i);
    d.date = date;
    d.office_id = office;
    b.rows.push_back(d);
    scores->push_back(static_cast<float>(i) / n);
  }
  return b;
}

TEST(SelectChannels, KeepsTheBudgetPerLaneAndDayWithAControlSample) {
  std::vector<float> scores;
  DeclarationBatch b = Lane(1000, 1, "A", &scores);
  DeclarationBatch b2 = Lane(200, 1, "B", &scores);
  b.rows.insert(b.rows.end(), b2.rows.begin(), b2.rows.end());
  SelectionOptions o;
  o.red_share = 0.05;
  o.yellow_share = 0.05;
  o.control_share = 0.2;
  auto sel = SelectChannels(b, scores, o);
  int red_a = 0, control_a = 0, yellow_a = 0, red_b = 0;
  for (size_t i = 0; i < b.rows.size(); ++i) {
    if (b.rows[i].office_id == "A") control_a += sel[i].control;
  }
  for (size_t i = 0; i < b.rows.size(); ++i) {
    bool a = b.rows[i].office_id == "A";
    if (a) {
      red_a += sel[i].channel == Channel::kRed;
      yellow_a += sel[i].channel == Channel::kYellow;
      // Scored reds are the top scores of the rows not drawn for control: within the top 50 plus
      // the control rows.
      if (sel[i].channel == Channel::kRed && !sel[i].control) {
        EXPECT_GE(scores[i], static_cast<float>(1000 - 50 - control_a) / 1000) << i;
      }
    } else {
      red_b += sel[i].channel == Channel::kRed;
    }
    if (sel[i].control) {
      EXPECT_EQ(sel[i].channel, Channel::kRed);
    }
  }
  EXPECT_EQ(red_a, 50);
  // The control draw: each declaration with probability 0.2 x 0.05 = 1 %, about 10 of 1,000.
  EXPECT_GE(control_a, 3);
  EXPECT_LE(control_a, 20);
  EXPECT_EQ(yellow_a, 50);
  EXPECT_EQ(red_b, 10);
}

TEST(SelectChannels, ControlDrawIsReproducibleAndIndependentOfOrder) {
  std::vector<float> scores;
  DeclarationBatch b = Lane(500, 3, "A", &scores);
  SelectionOptions o;
  o.red_count = 20;
  o.control_share = 0.5;
  auto first = SelectChannels(b, scores, o);
  std::reverse(b.rows.begin(), b.rows.end());
  std::reverse(scores.begin(), scores.end());
  auto second = SelectChannels(b, scores, o);
  std::set<std::string> c1, c2;
  for (size_t i = 0; i < first.size(); ++i) {
    if (first[i].control) c1.insert(b.rows[b.rows.size() - 1 - i].declaration_id);
    if (second[i].control) c2.insert(b.rows[i].declaration_id);
  }
  // A count budget of 20 with half of it control: at most 10, each drawn with probability 10/500.
  EXPECT_GE(c1.size(), 4u);
  EXPECT_LE(c1.size(), 10u);
  EXPECT_EQ(c1, c2);
  o.seed = 2;
  auto third = SelectChannels(b, scores, o);
  std::set<std::string> c3;
  for (size_t i = 0; i < third.size(); ++i)
    if (third[i].control) c3.insert(b.rows[i].declaration_id);
  EXPECT_NE(c2, c3);
}

TEST(SelectChannels, SmallLanesKeepTheSharesOnAverage) {
  std::vector<float> scores;
  DeclarationBatch all;
  for (int day = 0; day < 400; ++day) {
    DeclarationBatch lane = Lane(7, day, "small", &scores);
    all.rows.insert(all.rows.end(), lane.rows.begin(), lane.rows.end());
  }
  SelectionOptions o;  // 5 % red, 10 % of it control, 5 % yellow
  auto sel = SelectChannels(all, scores, o);
  double red = 0, control = 0, yellow = 0;
  for (const auto& s : sel) {
    red += s.channel == Channel::kRed;
    control += s.control;
    yellow += s.channel == Channel::kYellow;
  }
  const double n = static_cast<double>(all.rows.size());  // 2,800: 140 red expected
  EXPECT_NEAR(red / n, 0.05, 0.01);
  EXPECT_NEAR(yellow / n, 0.05, 0.01);
  EXPECT_GT(control, 3);
  EXPECT_LT(control / red, 0.25);
}

}  // namespace
}  // namespace clearsight
