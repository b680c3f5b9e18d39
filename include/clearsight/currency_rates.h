// Exchange rates supplied by the operator, so declared values in many currencies compare in one
// base currency (docs/declarations.md, "Currency rates"). The file is CSV:
//
//   currency,per_eur,valid_from,valid_to
//   USD,1.0850,2024-01-01,2024-06-30
//   USD,1.0710,2024-07-01,
//   GBP,0.8550,,
//
// The second column's name, per_<CODE>, names the base currency; a rate is units of `currency`
// per one unit of the base (as central banks quote them: 1 EUR = 1.0850 USD), so a value in USD
// divided by 1.0850 is in EUR. valid_from / valid_to (inclusive, either may be empty) are optional
// columns. The base currency itself needs no row.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "clearsight/status.h"

namespace clearsight {

class CurrencyRates {
 public:
  // Reads a rates file. Fails naming the file and line for a header without currency and
  // per_<CODE> columns, a code that is not three letters, a rate that is not a positive number, a
  // date that does not exist, a period that ends before it starts, or two periods of one currency
  // that overlap (which rate would apply is then unclear).
  static Result<CurrencyRates> Parse(std::string_view text, std::string_view name);
  static Result<CurrencyRates> Load(const std::string& path);

  // The ISO 4217 code values are converted into ("EUR").
  const std::string& base() const { return base_; }

  // Converts `value` in `currency` on `day` (days since 1970-01-01) into the base currency.
  // Fails with a message that names the missing rate: "no rate for 'XAF' in rates.csv" or
  // "no rate for 'USD' valid on 2024-07-03 in rates.csv (its rates cover 2024-01-01..2024-06-30)".
  // The code is compared without case.
  Result<double> ToBase(double value, std::string_view currency, int32_t day) const;

  size_t size() const { return count_; }

 private:
  struct Period {
    int32_t from, to;  // inclusive; INT32_MIN / INT32_MAX when open
    double per_base;
  };
  std::string base_, name_;
  std::unordered_map<std::string, std::vector<Period>> rates_;  // by upper-case code
  size_t count_ = 0;
};

}  // namespace clearsight
