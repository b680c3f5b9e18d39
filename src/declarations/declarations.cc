// Declaration readers and validation. The CSV path is the hot one (ingest benchmark: >= 1M kcs
// rows/s on one thread): fields are views into the file buffer, numbers go through from_chars,
// and the duplicate-id check is an open-addressing table of row indices.
#include "clearsight/declarations.h"

#include <algorithm>
#include <cstring>
#include <functional>
#include <nlohmann/json.hpp>
#include <ostream>
#include <stdexcept>

#include "clearsight/file_util.h"
#include "clearsight/text.h"
#include "common/csv.h"
#include "common/json_limits.h"
#include "ingest.h"
#include "postal_items.h"

namespace clearsight {

std::ostream& operator<<(std::ostream& os, const CompactString& s) { return os << s.view(); }

// ---------------------------------------------------------------------------------------------
// Dates

namespace {
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}
bool IsLeap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }
int Digits(const char* p, int n) {
  int v = 0;
  for (int i = 0; i < n; ++i) {
    if (p[i] < '0' || p[i] > '9') return -1;
    v = v * 10 + (p[i] - '0');
  }
  return v;
}
}  // namespace

bool ParseDate(std::string_view s, int32_t* days) {
  s = Trim(s);
  // "YYYY-MM-DD", optionally followed by a time ("T12:00:00Z" or " 12:00").
  if (s.size() < 10 || s[4] != '-' || s[7] != '-') return false;
  if (s.size() > 10 && s[10] != 'T' && s[10] != ' ') return false;
  int y = Digits(s.data(), 4), m = Digits(s.data() + 5, 2), d = Digits(s.data() + 8, 2);
  if (y < 1900 || y > 2200 || m < 1 || m > 12 || d < 1) return false;
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int dim = kDays[m - 1] + (m == 2 && IsLeap(y) ? 1 : 0);
  if (d > dim) return false;
  *days =
      static_cast<int32_t>(DaysFromCivil(y, static_cast<unsigned>(m), static_cast<unsigned>(d)));
  return true;
}

std::string FormatDate(int32_t days) {
  int64_t z = days + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
  char buf[48];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", static_cast<int>(y), m, d);
  return buf;
}

int DayOfWeek(int32_t days) {
  // 1970-01-01 was a Thursday (3 when Monday is 0).
  int r = (days + 3) % 7;
  return r < 0 ? r + 7 : r;
}

// ---------------------------------------------------------------------------------------------
// Records

std::string_view ExtraValues::operator[](size_t i) const {
  if (i >= count_) return {};
  const std::string_view all = packed();
  size_t b = 0;
  for (size_t k = 0; k < i; ++k) b = all.find('\x1f', b) + 1;
  const size_t e = all.find('\x1f', b);
  return all.substr(b, e == std::string_view::npos ? std::string_view::npos : e - b);
}

void ExtraValues::Append(bool separator, std::string_view v) {
  const size_t need = static_cast<size_t>(bytes_) + separator + v.size();
  if (need > UINT32_MAX) throw std::length_error("ExtraValues: more than 4 GiB of values");
  if (need > capacity()) {
    // v may point into the old buffer: copy it before that is freed.
    const uint32_t cap = static_cast<uint32_t>(
        std::min<size_t>(UINT32_MAX, std::max<size_t>(need, 2 * size_t{capacity()})));
    char* block = new char[cap];
    std::memcpy(block, packed().data(), bytes_);
    if (separator) block[bytes_] = '\x1f';
    if (!v.empty()) std::memcpy(block + bytes_ + separator, v.data(), v.size());
    Free();
    heap_block_ = {block, cap};
    heap_ = 1;
  } else {
    // The space after the values never overlaps v (a view of the values), so no memmove.
    char* at = mutable_data() + bytes_;
    if (separator) *at++ = '\x1f';
    if (!v.empty()) std::memcpy(at, v.data(), v.size());
  }
  bytes_ = static_cast<uint32_t>(need);
}

void ExtraValues::CopyFrom(const ExtraValues& o) {
  bytes_ = 0;
  Append(false, o.packed());
  count_ = o.count_;
}

void ExtraValues::Free() noexcept {
  if (heap_) delete[] heap_block_.data;
  heap_ = 0;
  bytes_ = 0;
}

void ExtraValues::Steal(ExtraValues* o) noexcept {
  heap_ = o->heap_;
  bytes_ = o->bytes_;
  count_ = o->count_;
  if (heap_)
    heap_block_ = o->heap_block_;
  else
    std::memcpy(inline_, o->inline_, bytes_);
  o->heap_ = 0;
  o->bytes_ = 0;
  o->count_ = 0;
}

void ExtraValues::Set(size_t i, std::string_view value) {
  auto append = [this](std::string_view v) {
    const size_t at = bytes_ + (count_ > 0);
    Append(count_ > 0, v);
    if (v.find('\x1f') != std::string_view::npos)
      std::replace(mutable_data() + at, mutable_data() + bytes_, '\x1f', ' ');
    ++count_;
  };
  while (count_ < i) append({});
  if (i == count_) {
    append(value);
    return;
  }
  ExtraValues rebuilt;
  for (size_t k = 0; k < count_; ++k) rebuilt.Set(k, k == i ? value : (*this)[k]);
  *this = std::move(rebuilt);
}

bool Declaration::SameContent(const Declaration& o) const {
  auto same = [](double a, double b) { return (std::isnan(a) && std::isnan(b)) || a == b; };
  return declaration_id == o.declaration_id && date == o.date && importer_id == o.importer_id &&
         hs_code == o.hs_code && origin_country == o.origin_country &&
         same(net_mass_kg, o.net_mass_kg) && same(declared_value, o.declared_value) &&
         declarant_id == o.declarant_id && seller_id == o.seller_id && courier_id == o.courier_id &&
         office_id == o.office_id && departure_country == o.departure_country &&
         mode_of_transport == o.mode_of_transport &&
         same(supplementary_units, o.supplementary_units) && currency == o.currency &&
         same(tax_rate, o.tax_rate) && description == o.description &&
         consignment_id == o.consignment_id && inspected == o.inspected && fraud == o.fraud &&
         critical == o.critical && same(revenue_recovered, o.revenue_recovered) && extra == o.extra;
}

int DeclarationBatch::ExtraIndex(std::string_view name) const {
  for (size_t i = 0; i < extra_columns.size(); ++i)
    if (extra_columns[i] == name) return static_cast<int>(i);
  return -1;
}

std::string Rejection::ToString() const {
  std::string s = file + ":" + std::to_string(line) + ": ";
  if (!field.empty()) s += "field '" + field + "': ";
  return s + reason;
}

std::string IngestReport::Summary() const {
  std::string s = "accepted " + std::to_string(accepted) + ", rejected " + std::to_string(rejected);
  if (duplicates_identical > 0)
    s += ", identical duplicates skipped " + std::to_string(duplicates_identical);
  if (flagged > 0) s += ", flagged " + std::to_string(flagged);
  return s;
}

void IngestReport::Merge(const IngestReport& o) {
  accepted += o.accepted;
  rejected += o.rejected;
  duplicates_identical += o.duplicates_identical;
  rejections.insert(rejections.end(), o.rejections.begin(), o.rejections.end());
  flagged += o.flagged;
  warnings.insert(warnings.end(), o.warnings.begin(), o.warnings.end());
}

Result<DeclarationFormat> ParseDeclarationFormat(std::string_view name) {
  std::string n = ToLower(name);
  if (n == "auto") return DeclarationFormat::kAuto;
  if (n == "native" || n == "csv") return DeclarationFormat::kNativeCsv;
  if (n == "jsonl" || n == "json") return DeclarationFormat::kNativeJsonl;
  if (n == "kcs") return DeclarationFormat::kKcs;
  if (n == "ead" || n == "postal" || n == "cusitm" || n == "itmatt")
    return DeclarationFormat::kPostalEad;
  if (n == "h7" || n == "h7csv") return DeclarationFormat::kH7Csv;
  if (n == "h7xml") return DeclarationFormat::kH7Xml;
  return Status::InvalidArgument("unknown declaration format '" + std::string(name) +
                                 "' (expected native, jsonl, kcs, ead, h7, h7xml or auto)");
}

namespace {

using ingest::BatchBuilder;
using ingest::NulMessage;
using ingest::SetCountry;
using ingest::SetHs;
using ingest::SetId;
using ingest::SetNumber;

enum class Field : uint8_t {
  kId,
  kDate,
  kImporter,
  kHs,
  kOrigin,
  kMass,
  kValue,
  kDeclarant,
  kSeller,
  kCourier,
  kOffice,
  kDeparture,
  kMode,
  kSupp,
  kCurrency,
  kTaxRate,
  kDescription,
  kConsignment,
  kInspected,
  kFraud,
  kCritical,
  kRevenue,
  kKcsCritical,  // KCS "Critical Fraud": 0 none, 1 fraud, 2 critical
  kExtra,
};

struct NativeName {
  const char* name;
  Field field;
};
constexpr NativeName kNativeFields[] = {
    {"declaration_id", Field::kId},       {"date", Field::kDate},
    {"importer_id", Field::kImporter},    {"hs_code", Field::kHs},
    {"origin_country", Field::kOrigin},   {"net_mass_kg", Field::kMass},
    {"declared_value", Field::kValue},    {"declarant_id", Field::kDeclarant},
    {"seller_id", Field::kSeller},        {"courier_id", Field::kCourier},
    {"office_id", Field::kOffice},        {"departure_country", Field::kDeparture},
    {"mode_of_transport", Field::kMode},  {"supplementary_units", Field::kSupp},
    {"currency", Field::kCurrency},       {"tax_rate", Field::kTaxRate},
    {"description", Field::kDescription}, {"consignment_id", Field::kConsignment},
    {"inspected", Field::kInspected},     {"fraud", Field::kFraud},
    {"critical", Field::kCritical},       {"revenue_recovered", Field::kRevenue},
};
constexpr int kRequiredCount = 7;  // the first seven of kNativeFields

// The KCS dataset's 22 columns and where each lands in the native schema.
struct KcsName {
  const char* column;
  Field field;
  const char* extra;  // name in extra_columns for kExtra
};
constexpr KcsName kKcsFields[] = {
    {"Declaration ID", Field::kId, nullptr},
    {"Date", Field::kDate, nullptr},
    {"Office ID", Field::kOffice, nullptr},
    {"Process Type", Field::kExtra, "process_type"},
    {"Import Type", Field::kExtra, "import_type"},
    {"Import Use", Field::kExtra, "import_use"},
    {"Payment Type", Field::kExtra, "payment_type"},
    {"Mode of Transport", Field::kMode, nullptr},
    {"Declarant ID", Field::kDeclarant, nullptr},
    {"Importer ID", Field::kImporter, nullptr},
    {"Seller ID", Field::kSeller, nullptr},
    {"Courier ID", Field::kCourier, nullptr},
    {"HS6 Code", Field::kHs, nullptr},
    {"Country of Departure", Field::kDeparture, nullptr},
    {"Country of Origin", Field::kOrigin, nullptr},
    {"Tax Rate", Field::kTaxRate, nullptr},
    {"Tax Type", Field::kExtra, "tax_type"},
    {"Country of Origin Indicator", Field::kExtra, "origin_indicator"},
    {"Net Mass", Field::kMass, nullptr},
    {"Item Price", Field::kValue, nullptr},
    {"Fraud", Field::kFraud, nullptr},
    {"Critical Fraud", Field::kKcsCritical, nullptr},
};

const char* FieldName(Field f) {
  for (const auto& n : kNativeFields)
    if (n.field == f) return n.name;
  if (f == Field::kKcsCritical) return "critical";
  return "extra";
}

struct Column {
  Field field;
  int extra_index = -1;
  std::string name;  // as in the header, for messages
};

inline bool SetFlag(std::string_view v, int8_t* out, std::string* why) {
  v = Trim(v);
  if (v.empty()) {
    *out = -1;
    return true;
  }
  if (v == "0" || v == "false" || v == "no") {
    *out = 0;
    return true;
  }
  if (v == "1" || v == "true" || v == "yes") {
    *out = 1;
    return true;
  }
  *why = "'" + Excerpt(v, 40) + "' is not 0/1 (or true/false)";
  return false;
}

bool IsFlag(Field f) {
  return f == Field::kInspected || f == Field::kFraud || f == Field::kCritical ||
         f == Field::kExtra;
}
bool IsNumeric(Field f) {
  return f == Field::kMass || f == Field::kValue || f == Field::kSupp || f == Field::kTaxRate ||
         f == Field::kRevenue;
}

// Applies one raw value to the record; on failure fills *why.
bool ApplyField(const Column& col, std::string_view v, bool kcs, Declaration* d, std::string* why) {
  switch (col.field) {
    case Field::kId:
      return SetId(v, &d->declaration_id, true, why);
    case Field::kDate:
      if (!ParseDate(v, &d->date)) {
        *why = Trim(v).empty() ? std::string("is empty")
                               : "'" + Excerpt(v, 40) + "' is not a date (expected YYYY-MM-DD)";
        return false;
      }
      return true;
    case Field::kImporter:
      return SetId(v, &d->importer_id, true, why);
    case Field::kHs:
      return SetHs(v, &d->hs_code, kcs, why);
    case Field::kOrigin:
      return SetCountry(v, &d->origin_country, true, why);
    case Field::kMass:
      return SetNumber(v, &d->net_mass_kg, true, true, why);
    case Field::kValue:
      return SetNumber(v, &d->declared_value, true, true, why);
    case Field::kDeclarant:
      return SetId(v, &d->declarant_id, false, why);
    case Field::kSeller:
      return SetId(v, &d->seller_id, false, why);
    case Field::kCourier:
      return SetId(v, &d->courier_id, false, why);
    case Field::kOffice:
      return SetId(v, &d->office_id, false, why);
    case Field::kDeparture:
      return SetCountry(v, &d->departure_country, false, why);
    case Field::kMode:
      return SetId(v, &d->mode_of_transport, false, why);
    case Field::kSupp:
      return SetNumber(v, &d->supplementary_units, false, true, why);
    case Field::kCurrency:
      return SetId(v, &d->currency, false, why);
    case Field::kTaxRate:
      if (!SetNumber(v, &d->tax_rate, false, true, why)) return false;
      if (d->tax_rate > 1000) {
        *why = "'" + Excerpt(v, 40) + "' is not a tax rate in percent (0..1000)";
        return false;
      }
      return true;
    case Field::kDescription:
      d->description.assign(v.data(), v.size());
      return true;
    case Field::kConsignment:
      return SetId(v, &d->consignment_id, false, why);
    case Field::kInspected:
      return SetFlag(v, &d->inspected, why);
    case Field::kFraud:
      return SetFlag(v, &d->fraud, why);
    case Field::kCritical:
      return SetFlag(v, &d->critical, why);
    case Field::kRevenue:
      return SetNumber(v, &d->revenue_recovered, false, true, why);
    case Field::kKcsCritical: {
      std::string_view t = Trim(v);
      if (t.empty()) {
        d->critical = -1;
        return true;
      }
      if (t.size() != 1 || t[0] < '0' || t[0] > '2') {
        *why = "'" + Excerpt(v, 40) + "' is not 0, 1 or 2";
        return false;
      }
      d->critical = t[0] == '2' ? 1 : 0;
      return true;
    }
    case Field::kExtra:
      if (col.extra_index >= 0) d->extra.Set(static_cast<size_t>(col.extra_index), v);
      return true;
  }
  return true;
}

std::string RequiredList() {
  std::string s;
  for (int i = 0; i < kRequiredCount; ++i) {
    if (i) s += ",";
    s += kNativeFields[i].name;
  }
  return s;
}

Result<DeclarationBatch> ParseCsv(std::string_view data, std::string_view name, bool kcs_hint,
                                  DeclarationFormat format, const ReadOptions& options,
                                  IngestReport* report) {
  CsvReader reader(data, options.max_record_bytes);
  CsvRecord rec;
  if (!reader.Next(&rec)) {
    return Status::InvalidArgument(std::string(name) +
                                   ": no header row (the file holds only blank lines)");
  }
  if (!rec.error.empty())
    return Status::InvalidArgument(std::string(name) + ":" + std::to_string(rec.line) +
                                   ": header row: " + rec.error);
  if (!IsValidUtf8(rec.raw))
    return Status::InvalidArgument(std::string(name) + ":" + std::to_string(rec.line) +
                                   ": header row is not valid UTF-8");
  bool kcs = format == DeclarationFormat::kKcs;
  if (format == DeclarationFormat::kAuto) {
    for (auto f : rec.fields)
      if (Trim(f) == "HS6 Code") kcs = true;
  }
  (void)kcs_hint;

  BatchBuilder builder(name, options, report);
  std::vector<Column> columns;
  std::vector<bool> seen(static_cast<size_t>(Field::kExtra) + 1, false);
  for (auto raw_name : rec.fields) {
    std::string col_name(Trim(raw_name));
    Column c{Field::kExtra, -1, col_name};
    bool known = false;
    if (kcs) {
      for (const auto& k : kKcsFields) {
        if (col_name == k.column) {
          c.field = k.field;
          known = true;
          if (k.extra) col_name = k.extra;
        }
      }
    } else {
      std::string lower = ToLower(col_name);
      for (const auto& n : kNativeFields) {
        if (lower == n.name) {
          c.field = n.field;
          known = true;
        }
      }
      if (!known) col_name = lower;
    }
    if (c.field != Field::kExtra) {
      if (seen[static_cast<size_t>(c.field)])
        return Status::InvalidArgument(std::string(name) + ":" + std::to_string(rec.line) +
                                       ": header names column '" + c.name + "' twice");
      seen[static_cast<size_t>(c.field)] = true;
    } else if (!col_name.empty()) {
      c.extra_index = static_cast<int>(builder.batch().extra_columns.size());
      builder.batch().extra_columns.push_back(col_name);
    }
    columns.push_back(std::move(c));
  }
  std::string missing;
  for (int i = 0; i < kRequiredCount; ++i) {
    if (!seen[static_cast<size_t>(kNativeFields[i].field)]) {
      if (!missing.empty()) missing += ", ";
      if (kcs) {
        for (const auto& k : kKcsFields)
          if (k.field == kNativeFields[i].field) missing += std::string("'") + k.column + "'";
      } else {
        missing += std::string("'") + kNativeFields[i].name + "'";
      }
    }
  }
  if (!missing.empty()) {
    return Status::InvalidArgument(std::string(name) + ":" + std::to_string(rec.line) +
                                   ": header lacks required column(s) " + missing + "; found '" +
                                   Excerpt(rec.raw, 200) + "'" +
                                   (kcs ? std::string(" (KCS format)")
                                        : " (native format needs " + RequiredList() +
                                              "; use --format kcs for the KCS dataset)"));
  }
  const size_t ncols = columns.size();
  int id_column = -1;
  for (size_t i = 0; i < ncols; ++i)
    if (columns[i].field == Field::kId) id_column = static_cast<int>(i);
  // Size the row vector from the average line length of the first bytes.
  {
    // Estimate the row count from the first records' length, to size everything once.
    size_t sample_end = std::min(data.size(), size_t{1} << 16);
    size_t lines = std::count(data.data(), data.data() + sample_end, '\n');
    size_t estimate = lines > 1 ? data.size() / (sample_end / lines) + 16 : 16;
    builder.Reserve(std::min<size_t>(estimate + estimate / 16, size_t{1} << 26));
  }

  std::string why;
  while (reader.Next(&rec)) {
    if (ingest::RejectMalformedRecord(rec, ncols, builder)) continue;
    if (id_column >= 0) builder.Prefetch(rec.fields[id_column]);
    Declaration& d = builder.Begin();
    if (kcs) {
      d.inspected = 1;  // every KCS row carries an inspection outcome
      d.currency = "KRW";
    }
    bool ok = true;
    for (size_t i = 0; i < ncols; ++i) {
      if (!ApplyField(columns[i], rec.fields[i], kcs, &d, &why)) {
        builder.Abort();
        builder.Reject(rec.line, kcs ? columns[i].name : std::string(FieldName(columns[i].field)),
                       why, rec.raw);
        ok = false;
        break;
      }
    }
    if (!ok) continue;
    if (kcs && d.fraud == 1 && d.critical < 0) d.critical = 0;
    builder.Finish(rec.line, rec.raw);
  }
  return std::move(builder.batch());
}

Result<DeclarationBatch> ParseJsonl(std::string_view data, std::string_view name,
                                    const ReadOptions& options, IngestReport* report) {
  BatchBuilder builder(name, options, report);
  size_t pos = 0;
  int64_t line = 0;
  std::string why;
  while (pos < data.size()) {
    size_t eol = data.find('\n', pos);
    if (eol == std::string_view::npos) eol = data.size();
    std::string_view raw = data.substr(pos, eol - pos);
    pos = eol + 1;
    ++line;
    if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);
    if (Trim(raw).empty()) continue;
    if (raw.size() > options.max_record_bytes) {
      builder.Reject(line, "",
                     "record is " + std::to_string(raw.size()) +
                         " bytes, longer than the limit of " +
                         std::to_string(options.max_record_bytes),
                     raw);
      continue;
    }
    if (!IsValidUtf8(raw)) {
      builder.Reject(line, "", "is not valid UTF-8", raw);
      continue;
    }
    if (const size_t at = raw.find('\0'); at != std::string_view::npos) {
      builder.Reject(line, "", NulMessage(at), raw);
      continue;
    }
    auto parsed = ParseJsonBounded(raw, "the record");
    if (!parsed.ok() || !parsed->is_object()) {
      builder.Reject(
          line, "",
          !parsed.ok() && parsed.status().message().find("(the limit)") != std::string::npos
              ? parsed.status().message()
          : parsed.ok() ? "is not a JSON object"
                        : "is not valid JSON",
          raw);
      continue;
    }
    const nlohmann::json& j = *parsed;
    Declaration& d = builder.Begin();
    bool ok = true;
    std::vector<bool> seen(static_cast<size_t>(Field::kExtra) + 1, false);
    for (auto it = j.begin(); it != j.end() && ok; ++it) {
      Column c{Field::kExtra, -1, it.key()};
      for (const auto& n : kNativeFields)
        if (it.key() == n.name) c.field = n.field;
      if (c.field == Field::kExtra) {
        c.extra_index = builder.batch().ExtraIndex(it.key());
        if (c.extra_index < 0) {
          c.extra_index = static_cast<int>(builder.batch().extra_columns.size());
          builder.batch().extra_columns.push_back(it.key());
        }
      }
      seen[static_cast<size_t>(c.field)] = true;
      std::string text;
      const auto& v = *it;
      if (v.is_string()) {
        text = v.get<std::string>();
      } else if (v.is_number_integer()) {
        text = std::to_string(v.get<int64_t>());
      } else if (v.is_number()) {
        text = FormatDouble(v.get<double>());
      } else if (v.is_boolean() && !IsFlag(c.field)) {
        // true is not 1 kg nor 1 unit of value: only flags and extra columns take booleans.
        builder.Abort();
        builder.Reject(line, it.key(),
                       std::string("is a boolean (true/false), not a ") +
                           (IsNumeric(c.field) ? "number" : "string"),
                       raw);
        ok = false;
        break;
      } else if (v.is_boolean()) {
        text = v.get<bool>() ? "1" : "0";
      } else if (v.is_null()) {
        text.clear();
      } else {
        builder.Abort();
        builder.Reject(line, it.key(), "is not a string or a number", raw);
        ok = false;
        break;
      }
      if (!ApplyField(c, text, false, &d, &why)) {
        builder.Abort();
        builder.Reject(line, it.key(), why, raw);
        ok = false;
      }
    }
    if (!ok) continue;
    for (int i = 0; i < kRequiredCount; ++i) {
      if (!seen[static_cast<size_t>(kNativeFields[i].field)]) {
        builder.Abort();
        builder.Reject(line, kNativeFields[i].name, "is missing", raw);
        ok = false;
        break;
      }
    }
    if (!ok) continue;
    builder.Finish(line, raw);
  }
  if (report->accepted + report->rejected + report->duplicates_identical == 0)
    return Status::InvalidArgument(std::string(name) + ": holds no records (only blank lines)");
  return std::move(builder.batch());
}

}  // namespace

Result<DeclarationBatch> ParseDeclarations(std::string_view data, std::string_view name,
                                           const ReadOptions& options, IngestReport* report) {
  IngestReport local;
  if (report == nullptr) report = &local;
  if (data.empty()) {
    return Status::InvalidArgument(std::string(name) +
                                   ": file is empty; expected a header row with at least " +
                                   RequiredList());
  }
  // A binary file: NUL bytes in the first 64 KiB, with one in the header line or with control
  // characters making up more than 5 % of those bytes. A stray NUL inside a record of a text file
  // rejects only that record (ParseCsv, ParseJsonl).
  const std::string_view probe = data.substr(0, 65536);
  const size_t first_nul = probe.find('\0');
  auto control = [](char c) {
    return (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\r' && c != '\t') ||
           c == 0x7f;
  };
  if (first_nul != std::string_view::npos &&
      (first_nul < probe.find('\n') ||
       static_cast<size_t>(std::count_if(probe.begin(), probe.end(), control)) * 20 >
           probe.size())) {
    return Status::InvalidArgument(std::string(name) +
                                   ": looks like a binary file (NUL byte at offset " +
                                   std::to_string(first_nul) + "), not CSV or JSONL declarations");
  }
  DeclarationFormat format = options.format;
  if (format == DeclarationFormat::kAuto) {
    std::string_view n = name;
    bool json_ext = (n.size() >= 6 && n.substr(n.size() - 6) == ".jsonl") ||
                    (n.size() >= 5 && n.substr(n.size() - 5) == ".json");
    std::string_view t = Trim(data.substr(0, 64));
    if (StartsWith(t, "\xEF\xBB\xBF")) t = Trim(t.substr(3));  // a UTF-8 byte order mark
    if (json_ext || (!t.empty() && t[0] == '{')) format = DeclarationFormat::kNativeJsonl;
    // The root element says which message it is (postal.cc).
    if (!t.empty() && t[0] == '<')
      return postal::ParseXmlMessage(data, name, format, options, report);
    if (format == DeclarationFormat::kAuto &&
        postal::LooksLikeH7Header(data.substr(0, std::min(data.find('\n'), size_t{1} << 16))))
      format = DeclarationFormat::kH7Csv;
  }
  switch (format) {
    case DeclarationFormat::kNativeJsonl:
      return ParseJsonl(data, name, options, report);
    case DeclarationFormat::kPostalEad:
    case DeclarationFormat::kH7Xml:
      return postal::ParseXmlMessage(data, name, format, options, report);
    case DeclarationFormat::kH7Csv:
      return postal::ParseH7Csv(data, name, options, report);
    default:
      return ParseCsv(data, name, false, format, options, report);
  }
}

Result<DeclarationBatch> ReadDeclarations(const std::string& path, const ReadOptions& options,
                                          IngestReport* report) {
  CS_ASSIGN_OR_RETURN(std::string data, ReadFile(path, options.max_file_bytes));
  return ParseDeclarations(data, path, options, report);
}

Status ValidateDeclaration(const Declaration& d) {
  std::string why;
  if (Trim(d.declaration_id).empty())
    return Status::InvalidArgument("field 'declaration_id': is empty");
  if (Trim(d.importer_id).empty()) return Status::InvalidArgument("field 'importer_id': is empty");
  CompactString hs;
  if (!ingest::SetHs(d.hs_code, &hs, false, &why))
    return Status::InvalidArgument("field 'hs_code': " + why);
  CompactString country;
  if (!ingest::SetCountry(d.origin_country, &country, true, &why))
    return Status::InvalidArgument("field 'origin_country': " + why);
  if (!(d.net_mass_kg >= 0))
    return Status::InvalidArgument("field 'net_mass_kg': is negative or not a number");
  if (!(d.declared_value >= 0))
    return Status::InvalidArgument("field 'declared_value': is negative or not a number");
  if (!IsValidUtf8(d.description) || !IsValidUtf8(d.declaration_id))
    return Status::InvalidArgument("record is not valid UTF-8");
  return Status::Ok();
}

Status WriteRejects(const std::string& path, const IngestReport& report) {
  std::string out = "file,line,field,reason,raw\n";
  for (const auto& r : report.rejections) {
    AppendCsvField(&out, r.file);
    out += ',';
    out += std::to_string(r.line);
    out += ',';
    AppendCsvField(&out, r.field);
    out += ',';
    AppendCsvField(&out, r.reason);
    out += ',';
    AppendCsvField(&out, IsValidUtf8(r.raw) ? r.raw : Excerpt(r.raw, 4096));
    out += '\n';
  }
  return WriteFileAtomic(path, out);
}

namespace {
void AppendOptNumber(std::string* out, double v) {
  if (!std::isnan(v)) *out += FormatDouble(v);
}
void AppendFlag(std::string* out, int8_t v) {
  if (v >= 0) out->push_back(static_cast<char>('0' + v));
}
}  // namespace

Status WriteDeclarationsCsv(const std::string& path, const DeclarationBatch& batch) {
  std::string out;
  for (size_t i = 0; i < std::size(kNativeFields); ++i) {
    if (i) out += ',';
    out += kNativeFields[i].name;
  }
  for (const auto& e : batch.extra_columns) {
    out += ',';
    AppendCsvField(&out, e);
  }
  out += '\n';
  for (const auto& d : batch.rows) {
    AppendCsvField(&out, d.declaration_id);
    out += ',' + FormatDate(d.date) + ',';
    AppendCsvField(&out, d.importer_id);
    out += ',' + d.hs_code + ',' + d.origin_country + ',' + FormatDouble(d.net_mass_kg) + ',' +
           FormatDouble(d.declared_value) + ',';
    AppendCsvField(&out, d.declarant_id);
    out += ',';
    AppendCsvField(&out, d.seller_id);
    out += ',';
    AppendCsvField(&out, d.courier_id);
    out += ',';
    AppendCsvField(&out, d.office_id);
    out += ',' + d.departure_country + ',';
    AppendCsvField(&out, d.mode_of_transport);
    out += ',';
    AppendOptNumber(&out, d.supplementary_units);
    out += ',';
    AppendCsvField(&out, d.currency);
    out += ',';
    AppendOptNumber(&out, d.tax_rate);
    out += ',';
    AppendCsvField(&out, d.description);
    out += ',';
    AppendCsvField(&out, d.consignment_id);
    out += ',';
    AppendFlag(&out, d.inspected);
    out += ',';
    AppendFlag(&out, d.fraud);
    out += ',';
    AppendFlag(&out, d.critical);
    out += ',';
    AppendOptNumber(&out, d.revenue_recovered);
    for (size_t i = 0; i < batch.extra_columns.size(); ++i) {
      out += ',';
      AppendCsvField(&out, d.extra[i]);
    }
    out += '\n';
  }
  return WriteFileAtomic(path, out);
}

std::string DeclarationToJson(const Declaration& d, const std::vector<std::string>& extra_columns) {
  nlohmann::json j;
  j["declaration_id"] = d.declaration_id;
  j["date"] = FormatDate(d.date);
  j["importer_id"] = d.importer_id;
  j["hs_code"] = d.hs_code;
  j["origin_country"] = d.origin_country;
  j["net_mass_kg"] = d.net_mass_kg;
  j["declared_value"] = d.declared_value;
  auto str = [&](const char* k, const std::string& v) {
    if (!v.empty()) j[k] = v;
  };
  auto num = [&](const char* k, double v) {
    if (!std::isnan(v)) j[k] = v;
  };
  auto flag = [&](const char* k, int8_t v) {
    if (v >= 0) j[k] = static_cast<int>(v);
  };
  str("declarant_id", d.declarant_id);
  str("seller_id", d.seller_id);
  str("courier_id", d.courier_id);
  str("office_id", d.office_id);
  str("departure_country", d.departure_country);
  str("mode_of_transport", d.mode_of_transport);
  num("supplementary_units", d.supplementary_units);
  str("currency", d.currency);
  num("tax_rate", d.tax_rate);
  str("description", d.description);
  str("consignment_id", d.consignment_id);
  flag("inspected", d.inspected);
  flag("fraud", d.fraud);
  flag("critical", d.critical);
  num("revenue_recovered", d.revenue_recovered);
  for (size_t i = 0; i < extra_columns.size() && i < d.extra.size(); ++i)
    if (!d.extra[i].empty()) j[extra_columns[i]] = std::string(d.extra[i]);
  return j.dump();
}

}  // namespace clearsight
