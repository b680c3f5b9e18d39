// Declaration readers and validation (records.cc holds the records, writers.cc the writers). The
// CSV path is the hot one (ingest benchmark: >= 1M kcs rows/s on one thread): fields are views
// into the file buffer, numbers go through from_chars, and the duplicate-id check is an
// open-addressing table of row indices.
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

std::vector<std::string_view> ingest::NativeColumns() {
  std::vector<std::string_view> out;
  for (const auto& n : kNativeFields) out.push_back(n.name);
  return out;
}

}  // namespace clearsight
