// Declaration records and what ingest reports: dates as days since 1970, the extra columns kept
// with a record, rejections and the ingest report.
#include <algorithm>
#include <cstring>
#include <ostream>

#include "clearsight/declarations.h"
#include "clearsight/text.h"

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

}  // namespace clearsight
