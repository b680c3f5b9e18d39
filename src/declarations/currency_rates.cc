#include "clearsight/currency_rates.h"

#include <algorithm>
#include <climits>

#include "clearsight/declarations.h"
#include "clearsight/file_util.h"
#include "clearsight/text.h"
#include "common/csv.h"

namespace clearsight {

namespace {

bool IsCurrencyCode(std::string_view c) {
  return c.size() == 3 && std::all_of(c.begin(), c.end(), [](char ch) {
           return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z');
         });
}

std::string Upper(std::string_view s) {
  std::string u(s);
  for (char& c : u)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  return u;
}

std::string Range(int32_t from, int32_t to) {
  return (from == INT32_MIN ? std::string("...") : FormatDate(from)) + ".." +
         (to == INT32_MAX ? std::string("...") : FormatDate(to));
}

}  // namespace

Result<CurrencyRates> CurrencyRates::Parse(std::string_view text, std::string_view name) {
  CurrencyRates rates;
  rates.name_ = std::string(name);
  CsvReader reader(text, size_t{1} << 16);
  CsvRecord rec;
  auto fail = [&](int64_t line, const std::string& why) {
    return Status::InvalidArgument(std::string(name) + ":" + std::to_string(line) + ": " + why);
  };
  if (!reader.Next(&rec))
    return Status::InvalidArgument(std::string(name) +
                                   ": rates file is empty; expected a header currency,per_<BASE>");
  if (!rec.error.empty()) return fail(rec.line, "header row: " + rec.error);
  int currency_col = -1, rate_col = -1, from_col = -1, to_col = -1;
  for (size_t i = 0; i < rec.fields.size(); ++i) {
    const std::string col = ToLower(Trim(rec.fields[i]));
    if (col == "currency") currency_col = static_cast<int>(i);
    if (col == "valid_from") from_col = static_cast<int>(i);
    if (col == "valid_to") to_col = static_cast<int>(i);
    if (StartsWith(col, "per_")) {
      if (rate_col >= 0) return fail(rec.line, "header names two per_<BASE> columns");
      if (!IsCurrencyCode(std::string_view(col).substr(4)))
        return fail(rec.line, "column '" + std::string(Trim(rec.fields[i])) +
                                  "': the base must be a three-letter currency code (per_eur)");
      rate_col = static_cast<int>(i);
      rates.base_ = Upper(std::string_view(col).substr(4));
    }
  }
  if (currency_col < 0 || rate_col < 0)
    return fail(rec.line, "header '" + Excerpt(rec.raw, 120) +
                              "' lacks a currency column and a per_<BASE> rate column "
                              "(e.g. currency,per_eur[,valid_from,valid_to])");
  while (reader.Next(&rec)) {
    if (!rec.error.empty()) return fail(rec.line, rec.error);
    if (rec.fields.size() == 1 && Trim(rec.fields[0]).empty()) continue;
    auto field = [&](int col) {
      return col >= 0 && static_cast<size_t>(col) < rec.fields.size() ? Trim(rec.fields[col])
                                                                      : std::string_view();
    };
    const std::string_view code = field(currency_col);
    if (!IsCurrencyCode(code))
      return fail(rec.line, "field 'currency': '" + Excerpt(code, 20) +
                                "' is not a three-letter ISO 4217 code");
    double per = 0;
    if (!ParseDouble(field(rate_col), &per) || !(per > 0))
      return fail(rec.line, "field 'per_" + ToLower(rates.base_) + "': '" +
                                Excerpt(field(rate_col), 20) + "' is not a positive number");
    Period p{INT32_MIN, INT32_MAX, per};
    if (!field(from_col).empty() && !ParseDate(field(from_col), &p.from))
      return fail(rec.line, "field 'valid_from': '" + Excerpt(field(from_col), 20) +
                                "' is not a date (YYYY-MM-DD)");
    if (!field(to_col).empty() && !ParseDate(field(to_col), &p.to))
      return fail(rec.line, "field 'valid_to': '" + Excerpt(field(to_col), 20) +
                                "' is not a date (YYYY-MM-DD)");
    if (p.to < p.from) return fail(rec.line, "the period ends before it starts");
    const std::string key = Upper(code);
    if (key == rates.base_)
      return fail(rec.line, "a rate for the base currency " + key + " (it is 1 by definition)");
    auto& periods = rates.rates_[key];
    for (const auto& q : periods)
      if (p.from <= q.to && q.from <= p.to)
        return fail(rec.line, key + " " + Range(p.from, p.to) + " overlaps an earlier row's " +
                                  Range(q.from, q.to));
    periods.push_back(p);
    ++rates.count_;
  }
  for (auto& [k, v] : rates.rates_)
    std::sort(v.begin(), v.end(), [](const Period& a, const Period& b) { return a.from < b.from; });
  return rates;
}

Result<CurrencyRates> CurrencyRates::Load(const std::string& path) {
  CS_ASSIGN_OR_RETURN(std::string text, ReadFile(path, size_t{64} << 20));
  return Parse(text, path);
}

Result<double> CurrencyRates::ToBase(double value, std::string_view currency, int32_t day) const {
  const std::string key = Upper(Trim(currency));
  if (key == base_) return value;
  const auto it = rates_.find(key);
  if (it == rates_.end())
    return Status::NotFound("no rate for '" + Excerpt(Trim(currency), 20) + "' in " + name_);
  for (const auto& p : it->second)
    if (p.from <= day && day <= p.to) return value / p.per_base;
  std::string cover;
  for (const auto& p : it->second) cover += (cover.empty() ? "" : ", ") + Range(p.from, p.to);
  return Status::NotFound("no rate for '" + key + "' valid on " + FormatDate(day) + " in " + name_ +
                          " (its rates cover " + cover + ")");
}

}  // namespace clearsight
