// Internal to the declarations stage: the field parsers every reader shares and the batch builder
// that accepts or rejects each record (duplicate ids, the rejection list). The native readers in
// declarations.cc and the postal and H7 adapters (postal.cc, h7.cc) fill records through these,
// so a record is judged the same way whatever format it came in.
#pragma once

#include <sys/mman.h>

#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "clearsight/currency_rates.h"
#include "clearsight/declarations.h"
#include "clearsight/text.h"

namespace clearsight::ingest {

// The native schema's columns, in the order the native CSV writer writes them.
std::vector<std::string_view> NativeColumns();

// Parses one field into the record. Returns "" on success or the reason it is wrong.
// (A std::string return keeps the hot path allocation-free: the empty string does not allocate.)
inline bool SetNumber(std::string_view v, double* out, bool required, bool non_negative,
                      std::string* why) {
  if (v.empty() || Trim(v).empty()) {
    if (required) {
      *why = "is empty";
      return false;
    }
    *out = kMissing;
    return true;
  }
  if (!ParseDouble(v, out)) {
    *why = "'" + Excerpt(v, 40) + "' is not a number";
    return false;
  }
  if (non_negative && *out < 0) {
    *why = "'" + Excerpt(v, 40) + "' is negative";
    return false;
  }
  return true;
}

inline bool SetId(std::string_view v, CompactString* out, bool required, std::string* why) {
  v = Trim(v);
  if (v.empty() && required) {
    *why = "is empty";
    return false;
  }
  out->assign(v.data(), v.size());
  return true;
}

inline bool SetHs(std::string_view v, CompactString* out, bool pad_to_6, std::string* why) {
  v = Trim(v);
  char digits[CompactString::kInline + 1];  // 10 digits at most are valid
  size_t n = 0;
  for (char c : v) {
    if (c >= '0' && c <= '9') {
      if (n < sizeof(digits)) digits[n] = c;
      ++n;
    } else if (c != '.' && c != ' ') {
      *why = "'" + Excerpt(v, 40) + "' is not an HS code (digits, optionally with dots)";
      return false;
    }
  }
  const bool pad = pad_to_6 && n >= 1 && n < 6;  // KCS drops leading zeros: 1..5 digits become 6
  // Chapter, heading, subheading, and the national 8- and 10-digit levels: always pairs.
  if (!pad && (n < 2 || n > 10 || n % 2 != 0)) {
    *why = n == 0 ? std::string("is empty")
                  : "'" + Excerpt(v, 40) + "' has " + std::to_string(n) +
                        " digits, expected 2, 4, 6, 8 or 10";
    return false;
  }
  if (pad) {
    char padded[6];
    std::memset(padded, '0', 6 - n);
    std::memcpy(padded + (6 - n), digits, n);
    out->assign(padded, 6);
  } else {
    out->assign(digits, n);
  }
  return true;
}

inline bool SetCountry(std::string_view v, CompactString* out, bool required, std::string* why) {
  v = Trim(v);
  if (v.empty()) {
    if (required) {
      *why = "is empty";
      return false;
    }
    out->clear();
    return true;
  }
  // ISO 3166-1 alpha-2: two ASCII letters (digits, "1E3" and alpha-3 codes are refused).
  char code[2];
  bool ok = v.size() == 2;
  for (size_t i = 0; ok && i < 2; ++i) {
    char c = v[i];
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    ok = c >= 'A' && c <= 'Z';
    code[i] = c;
  }
  if (!ok) {
    *why = "'" + Excerpt(v, 40) + "' is not an ISO 3166 alpha-2 country code (two letters)";
    return false;
  }
  out->assign(code, 2);
  return true;
}
// Open-addressing table from declaration id to row index, for duplicate detection. Each slot
// holds a 32-bit fingerprint of the id beside the row, so a probe touches a row (a cache miss in a
// large batch) only when the fingerprints agree.
class IdIndex {
 public:
  explicit IdIndex(const std::vector<Declaration>* rows) : rows_(rows) { slots_.assign(1024, 0); }

  void Reserve(size_t n) {
    size_t size = 1024;
    while (size < n * 2) size <<= 1;
    if (size > slots_.size()) Rehash(size);
  }

  // Starts loading the slot `id` will probe, so the cache miss overlaps the record's parsing.
  void Prefetch(std::string_view id) const {
    __builtin_prefetch(&slots_[Hash(Trim(id)) & (slots_.size() - 1)]);
  }

  // Returns the row index holding `id`, or -1 after inserting `row` for it.
  int64_t FindOrInsert(std::string_view id, uint32_t row) {
    if ((count_ + 1) * 2 > slots_.size()) Rehash(slots_.size() * 2);
    const size_t mask = slots_.size() - 1;
    const uint64_t h = Hash(id);
    const uint64_t fp = h >> 32;
    size_t i = h & mask;
    while (slots_[i] != 0) {
      if ((slots_[i] >> 32) == fp) {
        uint32_t r = static_cast<uint32_t>(slots_[i]) - 1;
        if ((*rows_)[r].declaration_id == id) return r;
      }
      i = (i + 1) & mask;
    }
    slots_[i] = (fp << 32) | (row + 1);
    ++count_;
    return -1;
  }

 private:
  static uint64_t Hash(std::string_view s) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ULL;
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 32;
    return h;
  }
  void Rehash(size_t size) {
    std::vector<uint64_t> old;
    old.swap(slots_);
    slots_.assign(size, 0);
    const size_t mask = size - 1;
    for (uint64_t s : old) {
      if (s == 0) continue;
      uint32_t r = static_cast<uint32_t>(s) - 1;
      size_t i = Hash((*rows_)[r].declaration_id) & mask;
      while (slots_[i] != 0) i = (i + 1) & mask;
      slots_[i] = s;
    }
  }
  const std::vector<Declaration>* rows_;
  std::vector<uint64_t> slots_;
  size_t count_ = 0;
};

// A million declarations take ~0.5 GB; with 4 KiB pages the first touch of each page costs more
// than parsing the rows on it. Transparent huge pages cut those faults 512-fold where the kernel
// offers them ("madvise" mode); elsewhere this is a no-op.
inline void AdviseHugePages(void* p, size_t bytes) {
  constexpr uintptr_t kHuge = uintptr_t{2} << 20;
  if (bytes < 4 * kHuge) return;
  uintptr_t b = (reinterpret_cast<uintptr_t>(p) + kHuge - 1) & ~(kHuge - 1);
  uintptr_t e = (reinterpret_cast<uintptr_t>(p) + bytes) & ~(kHuge - 1);
  if (e > b) madvise(reinterpret_cast<void*>(b), e - b, MADV_HUGEPAGE);
}

inline std::string NulMessage(size_t at) {
  return "has a NUL byte at character " + std::to_string(at + 1) + " of the record";
}

class BatchBuilder {
 public:
  BatchBuilder(std::string_view name, const ReadOptions& options, IngestReport* report)
      : name_(name), options_(options), report_(report), index_(&batch_.rows) {}

  void Reject(int64_t line, std::string field, std::string reason, std::string_view raw) {
    ++report_->rejected;
    if (report_->rejections.size() < options_.max_rejections_kept) {
      report_->rejections.push_back(Rejection{std::string(name_), line, std::move(field),
                                              std::move(reason), std::string(raw.substr(0, 4096))});
    }
  }

  Declaration& Begin() {
    batch_.rows.emplace_back();
    return batch_.rows.back();
  }
  void Abort() { batch_.rows.pop_back(); }

  // Records accepted but marked (IngestReport::flagged): one warning for `records` records.
  void Warn(int64_t line, std::string field, std::string reason, std::string_view raw,
            int64_t records) {
    report_->flagged += records;
    if (report_->warnings.size() < options_.max_rejections_kept) {
      report_->warnings.push_back(Rejection{std::string(name_), line, std::move(field),
                                            std::move(reason), std::string(raw.substr(0, 4096))});
    }
  }

  // Checks the record just built at the back of rows and keeps it (true) or rejects it. `raw` is
  // the record's text, or a function that makes it (called only for a rejection). A currency
  // without a rate is reported at `currency_line` when the record's currency has its own line.
  template <typename Raw>
  bool Finish(int64_t line, const Raw& raw, int64_t currency_line = 0) {
    Declaration& d = batch_.rows.back();
    if (options_.rates && !ConvertCurrency(&d, currency_line > 0 ? currency_line : line, raw))
      return false;
    uint32_t row = static_cast<uint32_t>(batch_.rows.size() - 1);
    int64_t prev = index_.FindOrInsert(d.declaration_id, row);
    if (prev < 0) {
      first_line_.push_back(line);
      ++report_->accepted;
      return true;
    }
    if (batch_.rows[prev].SameContent(d)) {
      ++report_->duplicates_identical;
    } else {
      Reject(line, "declaration_id",
             "duplicate id '" + Excerpt(d.declaration_id, 64) + "' (first at line " +
                 std::to_string(first_line_[prev]) + ") with different content",
             RawText(raw));
    }
    batch_.rows.pop_back();
    return false;
  }

  DeclarationBatch& batch() { return batch_; }
  void Prefetch(std::string_view id) const { index_.Prefetch(id); }
  void Reserve(size_t n) {
    batch_.rows.reserve(n);
    AdviseHugePages(batch_.rows.data(), batch_.rows.capacity() * sizeof(Declaration));
    first_line_.reserve(n);
    index_.Reserve(n);
  }
  std::string_view name() const { return name_; }

 private:
  template <typename Raw>
  static std::string RawText(const Raw& raw) {
    if constexpr (std::is_invocable_v<Raw>)
      return std::string(raw());
    else
      return std::string(std::string_view(raw));
  }

  // ReadOptions::rates: the value into the base currency, the declared value and code kept.
  template <typename Raw>
  bool ConvertCurrency(Declaration* d, int64_t line, const Raw& raw) {
    const CurrencyRates& rates = *options_.rates;
    const std::string_view code = Trim(d->currency);
    std::string why;
    if (code.empty()) {
      why = "is empty: with a rates table every value needs its currency (the base is " +
            rates.base() + ")";
    } else if (auto v = rates.ToBase(d->declared_value, code, d->date); !v.ok()) {
      why = v.status().message();
    } else {
      if (value_column_ < 0) {
        value_column_ = static_cast<int>(batch_.extra_columns.size());
        batch_.extra_columns.push_back("declared_value_original");
        currency_column_ = value_column_ + 1;
        batch_.extra_columns.push_back("currency_original");
      }
      d->extra.Set(static_cast<size_t>(value_column_), FormatDouble(d->declared_value));
      d->extra.Set(static_cast<size_t>(currency_column_), code);
      d->declared_value = *v;
      d->currency = rates.base();
      return true;
    }
    batch_.rows.pop_back();
    Reject(line, "currency", std::move(why), RawText(raw));
    return false;
  }

  std::string_view name_;
  const ReadOptions& options_;
  IngestReport* report_;
  DeclarationBatch batch_;
  IdIndex index_;
  std::vector<int64_t> first_line_;
  int value_column_ = -1, currency_column_ = -1;  // extra columns of ConvertCurrency
};

// The checks every CSV record gets before its fields are read: the reader's own error, the
// header's number of fields, UTF-8, no NUL byte. Rejects the record and says so (true) when one
// fails.
template <class Record>
bool RejectMalformedRecord(const Record& rec, size_t ncols, BatchBuilder& builder) {
  if (!rec.error.empty()) {
    builder.Reject(rec.line, "", rec.error, rec.raw);
    return true;
  }
  if (rec.fields.size() != ncols) {
    builder.Reject(rec.line, "",
                   "has " + std::to_string(rec.fields.size()) + " fields, the header has " +
                       std::to_string(ncols),
                   rec.raw);
    return true;
  }
  if (!IsValidUtf8(rec.raw)) {
    builder.Reject(rec.line, "", "is not valid UTF-8", rec.raw);
    return true;
  }
  if (const size_t at = rec.raw.find('\0'); at != std::string_view::npos) {
    builder.Reject(rec.line, "", NulMessage(at), rec.raw);
    return true;
  }
  return false;
}

}  // namespace clearsight::ingest
