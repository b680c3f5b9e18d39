// Declarations written out: the rejects file, native CSV and one record as JSON.
#include <cmath>
#include <nlohmann/json.hpp>

#include "clearsight/declarations.h"
#include "clearsight/file_util.h"
#include "clearsight/text.h"
#include "common/csv.h"
#include "ingest.h"

namespace clearsight {

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
  for (std::string_view name : ingest::NativeColumns()) {
    if (!out.empty()) out += ',';
    out += name;
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
