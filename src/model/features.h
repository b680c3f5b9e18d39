// Features for the declaration risk model, computed the same way at training and scoring time.
//
// Categorical fields become (a) frequency-rank codes learned on the training data and (b) target
// statistics of keys (importer, declarant x importer, HS6 x origin, ...): smoothed past fraud
// rate and how often the key was seen. For the training rows these statistics are computed out
// of time: a row only sees rows of strictly earlier days, exactly as a live scorer would. At
// scoring time the statistics of the whole history are used, frozen in compact hash tables, so
// a feature vector costs a few hash lookups and some arithmetic.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "clearsight/declarations.h"
#include "clearsight/status.h"

namespace clearsight::model {

// A declaration field that can be part of a key or a frequency code.
struct FieldRef {
  enum class Kind : uint8_t {
    kImporter,
    kDeclarant,
    kSeller,
    kCourier,
    kOffice,
    kHs6,
    kHs4,
    kHs2,
    kOrigin,
    kDeparture,
    kMode,
    kCurrency,
    kExtra,
    kNetMass,
    kDeclaredValue,
    kTaxRate,  // numbers, keyed by exact value
  };
  Kind kind = Kind::kImporter;
  std::string extra;  // column name for kExtra

  std::string Name() const;
  static Result<FieldRef> Parse(std::string_view name);
  bool numeric() const { return kind >= Kind::kNetMass; }
  bool operator==(const FieldRef& o) const { return kind == o.kind && extra == o.extra; }
};

struct FeatureSpec {
  std::vector<FieldRef> codes;              // frequency-rank codes
  std::vector<std::vector<FieldRef>> keys;  // target statistics per key
  bool numeric = true;                      // mass, value, unit price, tax rate, tax amount
  bool price_deviation = true;              // log unit price minus the HS6 median log unit price
  bool calendar = false;                    // day of week
  // How informative the goods description is (RateDescription, 0..1): vague descriptions
  // ("gift", "parts") are a risk signal in postal traffic. Off unless asked for: the KCS data
  // has no descriptions, and a model trained without it reads the same as before.
  bool description_quality = false;
  double smoothing = 10.0;  // pseudo-count pulling rare keys to the prior

  static FeatureSpec Full();
  // The plain baseline: frequency-ranked codes of the raw columns, raw numbers.
  static FeatureSpec Baseline();
};

// A compact, immutable hash table from a key to per-key statistics.
struct KeyStats {
  float fraud_rate;     // smoothed
  float critical_rate;  // smoothed
  float log_seen;       // log1p(rows seen with this key)
  float labelled;       // rows with a known outcome
};

class FeatureBuilder {
 public:
  // Learns codes and statistics from `history` (rows with outcomes count towards rates) and
  // returns the out-of-time feature matrix of the history rows themselves in *train_matrix
  // (row-major, num_features() per row, in the order of history.rows).
  static Result<FeatureBuilder> Fit(const DeclarationBatch& history, const FeatureSpec& spec,
                                    std::vector<float>* train_matrix);

  int num_features() const { return static_cast<int>(names_.size()); }
  const std::vector<std::string>& names() const { return names_; }
  const FeatureSpec& spec() const { return spec_; }

  // Features of rows [begin, end) of `batch` into out (row-major, num_features() per row).
  void Compute(const DeclarationBatch& batch, size_t begin, size_t end, float* out) const;

  // A plain-words reason for feature `f` with value `v` for declaration `d`
  // ("importer QLRUBN9: 62 % of 14 past declarations were fraud").
  std::string Describe(int f, float v, const Declaration& d, const DeclarationBatch& batch) const;

  // Whether value v of feature f reads as a reason for more risk to a person: a key's fraud rate
  // below the overall rate does not, even when the trees give it a positive weight.
  bool ReadsAsRisk(int f, float v) const;

  // The index in spec().keys of the key made of exactly these fields, or -1.
  int KeyIndex(const std::vector<FieldRef>& key) const;
  // How many rows with an outcome the history had for row `row`'s value of key `k` (0 when the
  // value was never seen). Reads the exact key map: a string and a lookup per call.
  double KeyLabelled(int k, const DeclarationBatch& batch, size_t row) const;

  std::string ToJson() const;
  static Result<FeatureBuilder> FromJson(std::string_view json);

 private:
  struct Table {
    // What scoring reads, beside the key's tag: 16 bytes, so a slot never straddles two cache
    // lines and four share one. The slot's index holds the hash's low bits and the tag its high
    // 32 (never 0, which marks an empty slot): an unseen key is taken for a stored one only if
    // both match, about once in 2^31 lookups at this table's load.
    struct Slot {
      uint32_t tag;
      float fraud_rate, critical_rate, log_seen;
    };
    static_assert(sizeof(Slot) == 16);
    static uint32_t Tag(uint64_t h) { return static_cast<uint32_t>(h >> 32) | 1u; }
    std::vector<Slot> slots;
    std::unordered_map<std::string, KeyStats> by_key;  // the source of truth, serialised
    void Freeze(const std::vector<FieldRef>& key);
    const Slot* Find(uint64_t h) const;
    void Prefetch(uint64_t h) const { __builtin_prefetch(&slots[h & (slots.size() - 1)]); }
  };
  struct CodeTable {
    std::unordered_map<std::string, int> rank;
    std::vector<uint64_t> hashes;
    std::vector<float> values;
    void Freeze(const FieldRef& field);
    float Find(uint64_t h, float unseen) const;
  };
  void BuildNames();
  void IndexFields();

  // Every distinct field the codes and keys use is hashed once per row; codes and keys refer to
  // them by index.
  std::vector<FieldRef> fields_;
  std::vector<int> code_field_;
  std::vector<std::vector<int>> key_fields_;

  FeatureSpec spec_;
  std::vector<std::string> names_;
  std::vector<CodeTable> codes_;
  std::vector<Table> tables_;
  Table hs6_price_;  // median log unit price per HS6 in fraud_rate's slot
  float prior_fraud_ = 0, prior_critical_ = 0;
  float global_log_price_ = 0;
};

}  // namespace clearsight::model
