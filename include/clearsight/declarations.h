// Import declarations: the native schema, readers for CSV / JSONL / the KCS dataset, validation.
//
// The schema is documented field by field in docs/declarations.md. Every record read is either
// accepted into a DeclarationBatch or rejected with file, line, field and reason in an
// IngestReport; nothing is dropped silently.
#pragma once

#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "clearsight/compact_string.h"
#include "clearsight/status.h"

namespace clearsight {

// The HS code of a postal content piece declared without one (docs/declarations.md): chapter 00
// does not exist, so it matches no real code; valuation gives such pieces no reference price.
inline constexpr std::string_view kNoHsCode = "00";

inline constexpr double kMissing = std::numeric_limits<double>::quiet_NaN();
inline bool IsMissing(double v) { return std::isnan(v); }

// Days since 1970-01-01 <-> "YYYY-MM-DD". ParseDate rejects impossible dates (2024-02-30).
bool ParseDate(std::string_view text, int32_t* days);
std::string FormatDate(int32_t days);
// 0 = Monday .. 6 = Sunday.
int DayOfWeek(int32_t days);

// The values of a batch's extra columns for one declaration, packed into one buffer (values joined
// by 0x1F). Up to 32 bytes are kept inline, longer ones on the heap: the KCS file's six extra
// columns pack into ~17 bytes, so ingest allocates nothing for them (40 bytes a row, as the
// std::string + count it replaces, which allocated once per row beyond 15 bytes).
class ExtraValues {
 public:
  ExtraValues() noexcept : count_(0), heap_(0) {}
  ExtraValues(std::initializer_list<std::string_view> values) : ExtraValues() {
    for (auto v : values) Set(count_, v);
  }
  ExtraValues(const ExtraValues& o) : ExtraValues() { CopyFrom(o); }
  ExtraValues(ExtraValues&& o) noexcept { Steal(&o); }
  ExtraValues& operator=(const ExtraValues& o) {
    if (this != &o) CopyFrom(o);
    return *this;
  }
  ExtraValues& operator=(ExtraValues&& o) noexcept {
    if (this != &o) {
      Free();
      Steal(&o);
    }
    return *this;
  }
  ~ExtraValues() { Free(); }

  size_t size() const { return count_; }
  bool empty() const { return count_ == 0; }
  // The i-th value; empty when i is past the end.
  std::string_view operator[](size_t i) const;
  // Sets the i-th value, padding with empty values. Appending in order is the fast path.
  // A unit separator (0x1F) inside a value is replaced by a space.
  void Set(size_t i, std::string_view value);
  bool operator==(const ExtraValues& o) const {
    return count_ == o.count_ && packed() == o.packed();
  }

 private:
  static constexpr uint32_t kInline = 32;
  struct Heap {
    char* data;
    uint32_t capacity;
  };

  std::string_view packed() const { return {heap_ ? heap_block_.data : inline_, bytes_}; }
  char* mutable_data() { return heap_ ? heap_block_.data : inline_; }
  uint32_t capacity() const { return heap_ ? heap_block_.capacity : kInline; }
  // Appends v, after a separator when asked; v may be a view of this object's values.
  void Append(bool separator, std::string_view v);
  void CopyFrom(const ExtraValues& o);
  void Free() noexcept;
  void Steal(ExtraValues* o) noexcept;

  union {
    char inline_[kInline];
    Heap heap_block_;
  };
  uint32_t bytes_ = 0;
  uint32_t count_ : 31;
  uint32_t heap_ : 1;
};

struct Declaration {
  // Required.
  CompactString declaration_id;
  CompactString importer_id;
  CompactString hs_code;  // 2..10 digits, leading zeros kept
  CompactString origin_country;
  double net_mass_kg = 0;
  double declared_value = 0;
  // Optional; empty string / kMissing when absent.
  CompactString declarant_id;
  CompactString seller_id;
  CompactString courier_id;
  CompactString office_id;
  CompactString departure_country;
  CompactString mode_of_transport;
  double supplementary_units = kMissing;
  CompactString currency;
  double tax_rate = kMissing;  // percent of the customs value
  CompactString description;
  CompactString consignment_id;
  // Outcomes of an inspection, when known: -1 unknown, 0 no, 1 yes.
  int8_t inspected = -1;
  int8_t fraud = -1;
  int8_t critical = -1;
  // Required: days since 1970-01-01 (kept here, beside the three bytes above, for the padding).
  int32_t date = 0;
  double revenue_recovered = kMissing;
  // Values of the batch's extra_columns, in that order (columns the schema does not name).
  ExtraValues extra;

  // Same content in every field (ids included); NaN equals NaN.
  bool SameContent(const Declaration& other) const;
};

struct DeclarationBatch {
  std::vector<Declaration> rows;
  std::vector<std::string> extra_columns;

  // Index of `name` in extra_columns, or -1.
  int ExtraIndex(std::string_view name) const;
  std::string_view Extra(const Declaration& d, int index) const {
    return index >= 0 ? d.extra[static_cast<size_t>(index)] : std::string_view();
  }
};

struct Rejection {
  std::string file;
  int64_t line = 0;   // 1-based physical line where the record starts
  std::string field;  // schema field name, or "" for whole-record problems
  std::string reason;
  std::string raw;  // the record as read (truncated to 4 KiB)

  // "file:line: field 'x': reason"
  std::string ToString() const;
};

struct IngestReport {
  int64_t accepted = 0;
  int64_t rejected = 0;
  int64_t duplicates_identical = 0;   // same id and same content: kept once, counted here
  std::vector<Rejection> rejections;  // the first ReadOptions::max_rejections_kept of them
  // Accepted records marked for a problem that does not make them wrong (a postal item whose
  // pieces weigh more than the item: each piece is kept with weight_mismatch = 1). One warning
  // names the file, line, field and reason for each flagged group; `flagged` counts records.
  int64_t flagged = 0;
  std::vector<Rejection> warnings;  // the first ReadOptions::max_rejections_kept of them

  // "accepted 8120, rejected 14, identical duplicates skipped 0, flagged 3"
  std::string Summary() const;
  void Merge(const IngestReport& other);
};

enum class DeclarationFormat {
  // By content and extension: an XML document by its root element (PostalItems -> postal EAD,
  // H7Declarations -> H7 XML); .jsonl / .json or a leading '{' -> JSONL; a CSV header with
  // transport_document and intrinsic_value -> H7 CSV, with "HS6 Code" -> KCS; else native CSV.
  kAuto,
  kNativeCsv,
  kNativeJsonl,
  kKcs,        // the 22-column Korean customs dataset (see ../shared/data/customs/README.md)
  kPostalEad,  // postal electronic advance data (CUSITM / ITMATT items as XML;
               // docs/declarations.md)
  kH7Csv,      // the EU H7 low-value dataset, one CSV row per goods item
  kH7Xml,      // the same dataset in its XML form
};

// "native", "csv", "jsonl", "kcs", "ead" (or "postal"), "h7", "h7xml", "auto".
Result<DeclarationFormat> ParseDeclarationFormat(std::string_view name);

class CurrencyRates;

struct ReadOptions {
  DeclarationFormat format = DeclarationFormat::kAuto;
  // When set, every accepted record's declared_value is converted into rates->base() with the
  // rate valid on its date, `currency` becomes the base, and the value and code as declared are
  // kept in the extra columns declared_value_original and currency_original. A record without a
  // currency, or whose currency has no rate valid on its date, is rejected (field currency,
  // naming the missing rate). Shared and immutable (clearsight/currency_rates.h).
  std::shared_ptr<const CurrencyRates> rates;
  size_t max_record_bytes = 1 << 20;    // a longer record is rejected, not read into memory twice
  size_t max_rejections_kept = 100000;  // beyond this only the counts grow
  size_t max_file_bytes = size_t{8} << 30;
};

// Reads and validates a declarations file. Returns the accepted rows; rejected rows are counted
// and described in *report (which may be null). Fails as a whole only when the file cannot be
// read, is empty, binary, or has no usable header (the message says which column is missing).
Result<DeclarationBatch> ReadDeclarations(const std::string& path, const ReadOptions& options,
                                          IngestReport* report);

// The same on a buffer already in memory; `name` is used in messages.
Result<DeclarationBatch> ParseDeclarations(std::string_view data, std::string_view name,
                                           const ReadOptions& options, IngestReport* report);

// Validates one record built in code or from the API: returns the first problem found.
Status ValidateDeclaration(const Declaration& d);

// Writes "line,field,reason,raw" CSV for every kept rejection.
Status WriteRejects(const std::string& path, const IngestReport& report);

// Writes the batch as native CSV (header + rows); outcomes are written when any row has them.
Status WriteDeclarationsCsv(const std::string& path, const DeclarationBatch& batch);

// One declaration as a JSON object in the native schema (JSONL line without the newline).
std::string DeclarationToJson(const Declaration& d, const std::vector<std::string>& extra_columns);

}  // namespace clearsight
