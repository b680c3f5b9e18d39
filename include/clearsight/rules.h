// Analyst rule profiles: a small text format (docs/rules.md) of conditions on declaration fields
// and derived features, each with an action, a reason, an owner and validity dates.
//
//   rule "cheap phones from XX"
//     when hs_code startswith "8517" and origin_country in ["XX", "YY"] and unit_price_ratio < 0.4
//     then channel red
//     reason "Phones from XX/YY declared far below the reference price"
//     owner "a.kim"
//     valid 2026-01-01 to 2026-12-31
//   end
//
// A syntax error names the file, line and column. A parsed RuleSet is immutable; hit counts are
// kept separately in RuleStats.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "clearsight/channel.h"
#include "clearsight/declarations.h"
#include "clearsight/status.h"

namespace clearsight {

// Derived values a rule may use besides the declaration's own fields. Missing (NaN) values make
// every comparison with them false.
struct DerivedFeatures {
  double unit_price_ratio = kMissing;      // declared unit price / reference unit price
  double undervaluation_score = kMissing;  // from valuation
  double revenue_at_risk = kMissing;
  double risk_score = kMissing;  // the learned model's probability
};

struct RuleAction {
  enum class Kind { kChannel, kScore } kind = Kind::kChannel;
  Channel channel = Channel::kRed;  // for kChannel: the least channel this rule demands
  double weight = 0;                // for kScore: added to the risk score
};

struct Rule {
  std::string name;
  std::string reason;
  std::string owner;
  int32_t valid_from = INT32_MIN;  // days since 1970-01-01, inclusive
  int32_t valid_to = INT32_MAX;    // inclusive
  RuleAction action;
  std::string condition_text;  // as written, for listings
  int line = 0;                // where the rule starts in its file
};

struct RuleHit {
  int rule = 0;  // index into RuleSet::rules()
};

class RuleSet {
 public:
  RuleSet();
  ~RuleSet();
  RuleSet(RuleSet&&) noexcept;
  RuleSet& operator=(RuleSet&&) noexcept;

  // Parses rule text; `name` is used in error messages ("rules.txt:12:31: expected ...").
  static Result<RuleSet> Parse(std::string_view text, std::string_view name);
  static Result<RuleSet> Load(const std::string& path);

  const std::vector<Rule>& rules() const;

  // Field names the schema does not have, each with where it first appears ("rules:2:8"). They
  // are read as extra input columns by that name; a typo (`hs_cod`) is one too, and never
  // matches, so whoever installs a profile should confirm them (docs/rules.md).
  struct UnknownField {
    std::string name, where;
  };
  const std::vector<UnknownField>& unknown_fields() const;

  // Indices of the rules valid on the declaration's date whose condition holds.
  std::vector<int> Match(const Declaration& d, const DeclarationBatch& batch,
                         const DerivedFeatures& derived) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Hits and confirmed hits (the hit declaration's outcome was fraud) per rule.
struct RuleStats {
  std::vector<int64_t> hits, confirmed, with_outcome;
  void Count(const std::vector<int>& matched, const Declaration& d, size_t num_rules);
};

}  // namespace clearsight
