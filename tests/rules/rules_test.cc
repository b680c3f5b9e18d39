#include "clearsight/rules.h"

#include <gtest/gtest.h>

#include "clearsight/postal.h"

namespace clearsight {
namespace {

Declaration Phone(const std::string& origin, double value) {
  Declaration d;
  d.declaration_id = "D";
  ParseDate("2026-03-01", &d.date);
  d.importer_id = "IMP";
  d.hs_code = "851712";
  d.origin_country = origin;
  d.net_mass_kg = 10;
  d.declared_value = value;
  return d;
}

const char kRules[] = R"(# analyst profile
rule "cheap phones"
  when hs_code startswith "8517" and origin_country in ["XX", "YY"] and unit_price_ratio < 0.4
  then channel red
  reason "Phones from XX/YY far below the reference price"
  owner "a.kim"
  valid 2026-01-01 to 2026-12-31
end

rule "heavy or valuable"
  when (net_mass_kg > 100 or declared_value >= 5000) and not origin_country = "ZZ"
  then score +0.25
end

rule "expired"
  when importer_id = "IMP"
  then channel yellow
  valid to 2025-12-31
end

rule "lane"
  when lane in ["B", "C"] and priority > 2
  then channel yellow
end
)";

TEST(RuleSet, ParsesAndMatchesConditionsActionsAndValidity) {
  auto set = RuleSet::Parse(kRules, "profile.rules");
  ASSERT_TRUE(set.ok()) << set.status().message();
  ASSERT_EQ(set->rules().size(), 4u);
  const Rule& r = set->rules()[0];
  EXPECT_EQ(r.name, "cheap phones");
  EXPECT_EQ(r.owner, "a.kim");
  EXPECT_EQ(r.action.channel, Channel::kRed);
  EXPECT_EQ(r.line, 2);
  EXPECT_EQ(set->rules()[1].action.kind, RuleAction::Kind::kScore);
  EXPECT_DOUBLE_EQ(set->rules()[1].action.weight, 0.25);

  DeclarationBatch batch;
  batch.extra_columns = {"lane", "priority"};
  DerivedFeatures cheap;
  cheap.unit_price_ratio = 0.3;
  Declaration d = Phone("XX", 100);
  d.extra = {"B", "3"};
  EXPECT_EQ(set->Match(d, batch, cheap), (std::vector<int>{0, 3}));
  DerivedFeatures fair;
  fair.unit_price_ratio = 0.9;
  EXPECT_EQ(set->Match(d, batch, fair), (std::vector<int>{3}));
  // Unknown ratio: comparisons with a missing value are false.
  EXPECT_EQ(set->Match(d, batch, DerivedFeatures{}), (std::vector<int>{3}));
  Declaration big = Phone("CN", 6000);
  big.extra = {"A", "9"};
  EXPECT_EQ(set->Match(big, batch, cheap), (std::vector<int>{1}));
  big.origin_country = "ZZ";
  EXPECT_TRUE(set->Match(big, batch, cheap).empty());
  Declaration late = Phone("XX", 100);
  ParseDate("2027-01-01", &late.date);
  EXPECT_TRUE(set->Match(late, batch, cheap).empty()) << "outside its validity";
}

TEST(RuleSet, SyntaxErrorsNameFileLineAndColumn) {
  struct Case {
    const char* text;
    const char* want;
  } cases[] = {
      {"rule \"a\"\n  when hs_code startswith \"85\" and\n  then channel red\nend\n",
       "r.rules:3:3: expected a field name"},
      {"rule \"a\"\n  when net_mass_kg startswith \"1\"\n  then channel red\nend\n",
       "r.rules:2:20: field 'net_mass_kg' is a number"},
      {"rule \"a\"\n  when hs_code = \"85\"\n  then channel purple\nend\n",
       "r.rules:3:16: expected red, yellow or green"},
      {"rule \"a\"\n  when hs_code = \"85\n", "r.rules:2:18: unterminated string"},
      {"rule \"a\"\n  when hs_code in \"85\"\n  then channel red\nend\n",
       "r.rules:2:19: expected a list"},
      {"rule \"a\"\n  then channel red\nend\n", "has no 'when'"},
      {"rule \"a\"\n  when hs_code = \"1\"\n  then channel red\n  valid 2026-02-30\nend\n",
       "r.rules:4:9: '2026-02-30' is not a date"},
      {"rule \"a\"\n  when origin_country = \"X\" then channel red end\nrule \"a\"\n  when "
       "origin_country = \"X\" then channel red end\n",
       "defined twice"},
      {"rule \"a\"\n  when (hs_code = \"1\"\n  then channel red\nend\n",
       "r.rules:3:3: expected ')'"},
  };
  for (const auto& c : cases) {
    auto set = RuleSet::Parse(c.text, "r.rules");
    ASSERT_FALSE(set.ok()) << c.text;
    EXPECT_NE(set.status().message().find(c.want), std::string::npos)
        << "got: " << set.status().message() << "\nwant: " << c.want;
  }
}

// Found by fuzz_rules: a condition of tens of thousands of '(' overflowed the stack (ASan
// stack-overflow), and PUT /api/rules takes profiles of 4 MiB.
TEST(RuleSet, ConditionsNestAtMost64LevelsInsteadOfOverflowingTheStack) {
  auto nested = [](int levels, const std::string& open, const std::string& close) {
    std::string cond;
    for (int i = 0; i < levels; ++i) cond += open;
    cond += "hs_code startswith \"85\"";
    for (int i = 0; i < levels; ++i) cond += close;
    return "rule \"deep\"\n  when " + cond + "\n  then channel red\nend\n";
  };
  for (const auto& [open, close] : {std::pair{"(", ")"}, std::pair{"not ", ""}}) {
    auto ok = RuleSet::Parse(nested(64, open, close), "r.rules");
    ASSERT_TRUE(ok.ok()) << ok.status().ToString();
    // 64 'not's: an even number, so the rule matches as without them.
    EXPECT_EQ(ok->Match(Phone("CN", 10), DeclarationBatch{}, DerivedFeatures{}).size(), 1u);
    for (int levels : {65, 200000}) {
      auto deep = RuleSet::Parse(nested(levels, open, close), "r.rules");
      ASSERT_FALSE(deep.ok()) << levels;
      EXPECT_NE(deep.status().message().find("deeper than 64 levels"), std::string::npos)
          << deep.status().message();
      EXPECT_EQ(deep.status().message().rfind("r.rules:2:", 0), 0u) << deep.status().message();
    }
  }
}

TEST(RuleStats, CountsHitsAndConfirmedHits) {
  RuleStats s;
  Declaration fraud, clean, unknown;
  fraud.fraud = 1;
  clean.fraud = 0;
  s.Count({0, 1}, fraud, 2);
  s.Count({0}, clean, 2);
  s.Count({1}, unknown, 2);
  EXPECT_EQ(s.hits, (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(s.confirmed, (std::vector<int64_t>{1, 1}));
  EXPECT_EQ(s.with_outcome, (std::vector<int64_t>{2, 1}));
}

TEST(RuleSet, FieldsOutsideTheSchemaAreListedWithWhereTheyAppear) {
  auto set = RuleSet::Parse(
      "rule \"typo\"\n  when hs_cod = \"610910\" and origin_country = \"CN\"\n"
      "  then channel red\nend\n"
      "rule \"extra column\"\n  when process_type = \"B\" or hs_cod = \"6109\"\n"
      "  then score + 0.2\nend\n",
      "profile.rules");
  ASSERT_TRUE(set.ok()) << set.status().message();
  ASSERT_EQ(set->unknown_fields().size(), 2u);
  EXPECT_EQ(set->unknown_fields()[0].name, "hs_cod");
  EXPECT_EQ(set->unknown_fields()[0].where, "profile.rules:2:8");
  EXPECT_EQ(set->unknown_fields()[1].name, "process_type");
  auto clean = RuleSet::Parse("rule \"ok\"\n  when hs_code = \"6109\"\n  then channel red\nend\n",
                              "ok.rules");
  ASSERT_TRUE(clean.ok());
  EXPECT_TRUE(clean->unknown_fields().empty());
}

TEST(RuleSet, DescriptionQualityAndVaguenessAreFields) {
  auto set = RuleSet::Parse(R"(rule "vague gift"
  when description_vague = 1 and item_category = "gift" and declared_value > 20
  then channel yellow
end
rule "poorly described"
  when description_quality < 0.6
  then score +0.1
end
)",
                            "p.rules");
  ASSERT_TRUE(set.ok()) << set.status().message();
  EXPECT_TRUE(set->unknown_fields().size() == 1 && set->unknown_fields()[0].name == "item_category")
      << "description_quality and description_vague are schema fields, item_category an extra";
  DeclarationBatch batch;
  batch.extra_columns = {"item_category"};
  auto with = [&](const char* description, const char* category) {
    Declaration d = Phone("CN", 30);
    d.description = description;
    d.extra = ExtraValues{category};
    return set->Match(d, batch, DerivedFeatures{});
  };
  EXPECT_EQ(with("gift", "gift"), (std::vector<int>{0, 1}));
  EXPECT_EQ(with("Spare parts", "gift"), (std::vector<int>{0, 1}));  // both words vague
  EXPECT_EQ(with("gift", "sale_of_goods"), (std::vector<int>{1}));
  EXPECT_EQ(with("Leather wallet", "gift"), (std::vector<int>{}));  // quality 0.75
  EXPECT_EQ(with("Wallet", "gift"), (std::vector<int>{1}));         // one word: 0.5
  EXPECT_EQ(with("", "gift"), (std::vector<int>{0, 1}));
  // Numbers, not text: a text comparison is refused when the file is read.
  EXPECT_FALSE(
      RuleSet::Parse("rule \"x\"\n when description_vague = \"yes\"\n then channel red\nend\n",
                     "q.rules")
          .ok());
}

TEST(DescriptionQuality, VagueWordsFillersAndInformativeWords) {
  EXPECT_EQ(RateDescription("").score, 0);
  EXPECT_TRUE(RateDescription("gift").vague);
  EXPECT_TRUE(RateDescription("GIFT!!").vague);
  EXPECT_TRUE(RateDescription("Personal effects, used clothes").vague);
  EXPECT_TRUE(RateDescription("gift for birthday").vague);
  EXPECT_TRUE(RateDescription("12 pcs").vague);  // numbers and fillers name no goods
  EXPECT_TRUE(RateDescription("ab").vague);      // too short to be a word
  EXPECT_DOUBLE_EQ(RateDescription("Mobile phone").score, 0.75);
  EXPECT_DOUBLE_EQ(RateDescription("Mobile phone spare parts").score, 0.75);
  EXPECT_DOUBLE_EQ(RateDescription("Women's cotton denim trousers").score, 1.0);
  EXPECT_DOUBLE_EQ(RateDescription("phone phone phone").score, 0.5);  // distinct words count
  EXPECT_FALSE(RateDescription("Baumwoll-Hemd").vague);
  EXPECT_EQ(RateDescription("коврик для йоги").informative_words, 3);  // UTF-8 letters count
}

}  // namespace
}  // namespace clearsight
