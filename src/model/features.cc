#include "model/features.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <numeric>

#include "clearsight/postal.h"
#include "clearsight/text.h"

namespace clearsight::model {

namespace {

// Stable 64-bit hashes: model files store key strings and every build must hash them the same
// way, which std::hash does not promise. Text is read 8 bytes at a time; numbers hash their bits.
inline uint64_t Mix64(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}
inline uint64_t HashText(std::string_view s) {
  uint64_t h = 0x9E3779B97F4A7C15ULL ^ (s.size() * 0xff51afd7ed558ccdULL);
  size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, s.data() + i, 8);
    h = Mix64(h ^ w);
  }
  if (i < s.size()) {
    uint64_t w = 0;
    std::memcpy(&w, s.data() + i, s.size() - i);
    h = Mix64(h ^ w ^ 0x5555);
  }
  return h;
}
inline uint64_t HashNumber(double v) {
  if (std::isnan(v)) v = std::numeric_limits<double>::quiet_NaN();  // one NaN
  if (v == 0) v = 0;                                                // -0 == 0
  uint64_t bits;
  std::memcpy(&bits, &v, 8);
  return Mix64(bits ^ 0x1234567ULL);
}
inline uint64_t Combine(uint64_t h, uint64_t part) { return (h * 0x9E3779B97F4A7C15ULL) ^ part; }
inline uint64_t Finish(uint64_t h) { return Mix64(h) | 1; }  // never 0: 0 marks an empty slot
constexpr char kSep = '\x1f';

constexpr struct {
  FieldRef::Kind kind;
  const char* name;
  const char* label;  // for reasons
} kFieldNames[] = {
    {FieldRef::Kind::kImporter, "importer_id", "importer"},
    {FieldRef::Kind::kDeclarant, "declarant_id", "declarant"},
    {FieldRef::Kind::kSeller, "seller_id", "seller"},
    {FieldRef::Kind::kCourier, "courier_id", "courier"},
    {FieldRef::Kind::kOffice, "office_id", "office"},
    {FieldRef::Kind::kHs6, "hs6", "HS"},
    {FieldRef::Kind::kHs4, "hs4", "HS"},
    {FieldRef::Kind::kHs2, "hs2", "HS chapter"},
    {FieldRef::Kind::kOrigin, "origin_country", "origin"},
    {FieldRef::Kind::kDeparture, "departure_country", "departure"},
    {FieldRef::Kind::kMode, "mode_of_transport", "transport mode"},
    {FieldRef::Kind::kCurrency, "currency", "currency"},
    {FieldRef::Kind::kNetMass, "net_mass_kg", "net mass"},
    {FieldRef::Kind::kDeclaredValue, "declared_value", "declared value"},
    {FieldRef::Kind::kTaxRate, "tax_rate", "tax rate"},
};

std::string_view FieldValue(const FieldRef& f, int extra_index, const Declaration& d) {
  switch (f.kind) {
    case FieldRef::Kind::kImporter:
      return d.importer_id;
    case FieldRef::Kind::kDeclarant:
      return d.declarant_id;
    case FieldRef::Kind::kSeller:
      return d.seller_id;
    case FieldRef::Kind::kCourier:
      return d.courier_id;
    case FieldRef::Kind::kOffice:
      return d.office_id;
    case FieldRef::Kind::kHs6:
      return std::string_view(d.hs_code).substr(0, 6);
    case FieldRef::Kind::kHs4:
      return std::string_view(d.hs_code).substr(0, 4);
    case FieldRef::Kind::kHs2:
      return std::string_view(d.hs_code).substr(0, 2);
    case FieldRef::Kind::kOrigin:
      return d.origin_country;
    case FieldRef::Kind::kDeparture:
      return d.departure_country;
    case FieldRef::Kind::kMode:
      return d.mode_of_transport;
    case FieldRef::Kind::kCurrency:
      return d.currency;
    case FieldRef::Kind::kExtra:
      return extra_index >= 0 ? d.extra[static_cast<size_t>(extra_index)] : std::string_view();
    default:
      return {};
  }
  return {};
}

double NumberValue(const FieldRef& f, const Declaration& d) {
  switch (f.kind) {
    case FieldRef::Kind::kNetMass:
      return d.net_mass_kg;
    case FieldRef::Kind::kDeclaredValue:
      return d.declared_value;
    case FieldRef::Kind::kTaxRate:
      return d.tax_rate;
    default:
      return kMissing;
  }
}

uint64_t FieldHash(const FieldRef& f, int extra_index, const Declaration& d) {
  return f.numeric() ? HashNumber(NumberValue(f, d)) : HashText(FieldValue(f, extra_index, d));
}

// The text form of a field's value, as stored in model files and shown in reasons.
std::string FieldText(const FieldRef& f, int extra_index, const Declaration& d) {
  return f.numeric() ? FormatDouble(NumberValue(f, d)) : std::string(FieldValue(f, extra_index, d));
}

uint64_t HashFieldText(const FieldRef& f, std::string_view text) {
  if (!f.numeric()) return HashText(text);
  double v = kMissing;
  if (!text.empty() && !ParseDouble(text, &v)) v = kMissing;
  return HashNumber(v);
}

std::string FieldLabel(const FieldRef& f) {
  for (const auto& n : kFieldNames)
    if (n.kind == f.kind) return n.label;
  std::string s = f.extra;
  std::replace(s.begin(), s.end(), '_', ' ');
  return s;
}

// Extra-column indices of a batch for a list of fields.
std::vector<int> Bind(const std::vector<FieldRef>& fields, const DeclarationBatch& batch) {
  std::vector<int> out;
  for (const auto& f : fields)
    out.push_back(f.kind == FieldRef::Kind::kExtra ? batch.ExtraIndex(f.extra) : -1);
  return out;
}

std::string KeyString(const std::vector<FieldRef>& key, const std::vector<int>& bound,
                      const Declaration& d) {
  std::string s;
  for (size_t i = 0; i < key.size(); ++i) {
    if (i) s.push_back(kSep);
    s.append(FieldText(key[i], bound[i], d));
  }
  return s;
}

uint64_t HashKeyString(const std::vector<FieldRef>& key, std::string_view s) {
  uint64_t h = 0;
  size_t b = 0;
  for (size_t i = 0; i < key.size(); ++i) {
    size_t e = s.find(kSep, b);
    std::string_view part =
        s.substr(b, e == std::string_view::npos ? std::string_view::npos : e - b);
    h = Combine(h, HashFieldText(key[i], part));
    b = e == std::string_view::npos ? s.size() : e + 1;
  }
  return Finish(h);
}

float LogUnitPrice(const Declaration& d) {
  return std::log(static_cast<float>((d.declared_value + 1.0) / (d.net_mass_kg + 0.01)));
}

struct Counts {
  double seen = 0, labelled = 0, fraud = 0, critical = 0;
};

KeyStats ToStats(const Counts& c, double a, double prior_fraud, double prior_critical) {
  return KeyStats{static_cast<float>((c.fraud + a * prior_fraud) / (c.labelled + a)),
                  static_cast<float>((c.critical + a * prior_critical) / (c.labelled + a)),
                  static_cast<float>(std::log1p(c.seen)), static_cast<float>(c.labelled)};
}

size_t TableSize(size_t n) {
  size_t s = 16;
  while (s < n * 2) s <<= 1;
  return s;
}

// Per key: fraud rate, critical rate, log count.
constexpr int kPerKey = 3;
constexpr int kNumeric = 6;  // log mass, log value, log unit price, tax rate, log tax, supp units

}  // namespace

std::string FieldRef::Name() const {
  if (kind == Kind::kExtra) return extra;
  for (const auto& n : kFieldNames)
    if (n.kind == kind) return n.name;
  return "?";
}

Result<FieldRef> FieldRef::Parse(std::string_view name) {
  for (const auto& n : kFieldNames)
    if (name == n.name) return FieldRef{n.kind, ""};
  if (name.empty()) return Status::InvalidArgument("empty field name");
  return FieldRef{Kind::kExtra, std::string(name)};
}

FeatureSpec FeatureSpec::Baseline() {
  FeatureSpec s;
  for (const char* n :
       {"office_id", "process_type", "import_type", "import_use", "payment_type",
        "mode_of_transport", "declarant_id", "importer_id", "seller_id", "courier_id", "hs6",
        "departure_country", "origin_country", "tax_type", "origin_indicator"})
    s.codes.push_back(*FieldRef::Parse(n));
  s.numeric = true;
  s.price_deviation = false;
  return s;
}

FeatureSpec FeatureSpec::Full() {
  FeatureSpec s;
  auto k = [](std::initializer_list<const char*> names) {
    std::vector<FieldRef> key;
    for (const char* n : names) key.push_back(*FieldRef::Parse(n));
    return key;
  };
  // Repeat consignments: the same goods, quantity, value and route seen before ("template").
  s.keys = {k({"hs6", "net_mass_kg", "declared_value", "origin_country", "departure_country",
               "tax_type", "tax_rate"}),
            k({"hs6", "net_mass_kg"}), k({"declared_value"}), k({"hs6"}), k({"hs4"})};
  // Who: traders and their intermediaries, and goods by origin. (Chosen over a variant without
  // them and one with the raw frequency codes added, on an in-train split: docs/model.md.)
  for (auto key : {k({"importer_id"}), k({"declarant_id"}), k({"seller_id"}),
                   k({"importer_id", "hs6"}), k({"hs6", "origin_country"})})
    s.keys.push_back(key);
  s.numeric = true;
  s.price_deviation = true;
  return s;
}

void FeatureBuilder::Table::Freeze(const std::vector<FieldRef>& key) {
  size_t size = TableSize(by_key.size());
  slots.assign(size, Slot{0, 0, 0, 0});
  for (const auto& [k, v] : by_key) {
    const uint64_t h = HashKeyString(key, k);
    const uint32_t tag = Tag(h);
    size_t i = h & (size - 1);
    while (slots[i].tag != 0 && slots[i].tag != tag) i = (i + 1) & (size - 1);
    slots[i] = Slot{tag, v.fraud_rate, v.critical_rate, v.log_seen};
  }
}

const FeatureBuilder::Table::Slot* FeatureBuilder::Table::Find(uint64_t h) const {
  const size_t mask = slots.size() - 1;
  const uint32_t tag = Tag(h);
  size_t i = h & mask;
  while (true) {
    const Slot& s = slots[i];
    if (s.tag == tag) return &s;
    if (s.tag == 0) return nullptr;
    i = (i + 1) & mask;
  }
}

void FeatureBuilder::CodeTable::Freeze(const FieldRef& field) {
  size_t size = TableSize(rank.size());
  hashes.assign(size, 0);
  values.assign(size, 0);
  for (const auto& [k, v] : rank) {
    uint64_t h = Finish(Combine(0, HashFieldText(field, k)));
    size_t i = h & (size - 1);
    while (hashes[i] != 0 && hashes[i] != h) i = (i + 1) & (size - 1);
    hashes[i] = h;
    values[i] = static_cast<float>(v);
  }
}

float FeatureBuilder::CodeTable::Find(uint64_t h, float unseen) const {
  const size_t mask = hashes.size() - 1;
  size_t i = h & mask;
  while (true) {
    uint64_t s = hashes[i];
    if (s == h) return values[i];
    if (s == 0) return unseen;
    i = (i + 1) & mask;
  }
}

void FeatureBuilder::BuildNames() {
  names_.clear();
  for (const auto& c : spec_.codes) names_.push_back("code:" + c.Name());
  for (const auto& key : spec_.keys) {
    std::string n;
    for (size_t i = 0; i < key.size(); ++i) n += (i ? "*" : "") + key[i].Name();
    names_.push_back("fraud_rate:" + n);
    names_.push_back("critical_rate:" + n);
    names_.push_back("log_seen:" + n);
  }
  if (spec_.numeric) {
    for (const char* n : {"log_net_mass", "log_declared_value", "log_unit_price", "tax_rate",
                          "log_tax_amount", "supplementary_units"})
      names_.push_back(n);
  }
  if (spec_.price_deviation) names_.push_back("unit_price_deviation");
  if (spec_.calendar) names_.push_back("day_of_week");
  if (spec_.description_quality) names_.push_back("description_quality");
}

Result<FeatureBuilder> FeatureBuilder::Fit(const DeclarationBatch& history, const FeatureSpec& spec,
                                           std::vector<float>* train_matrix) {
  if (history.rows.empty()) return Status::InvalidArgument("no history rows to fit features on");
  FeatureBuilder fb;
  fb.spec_ = spec;
  fb.BuildNames();
  fb.IndexFields();
  const auto& rows = history.rows;

  // Frequency-rank codes (no labels involved: the whole history is fair game).
  fb.codes_.resize(spec.codes.size());
  auto code_bound = Bind(spec.codes, history);
  for (size_t c = 0; c < spec.codes.size(); ++c) {
    std::unordered_map<std::string, int64_t> freq;
    for (const auto& d : rows) ++freq[FieldText(spec.codes[c], code_bound[c], d)];
    std::vector<std::pair<std::string, int64_t>> v(freq.begin(), freq.end());
    std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) {
      return a.second != b.second ? a.second > b.second : a.first < b.first;
    });
    for (size_t i = 0; i < v.size(); ++i) fb.codes_[c].rank[v[i].first] = static_cast<int>(i);
    fb.codes_[c].Freeze(spec.codes[c]);
  }

  // HS6 median log unit price (no labels).
  {
    std::unordered_map<std::string, std::vector<float>> prices;
    std::vector<float> all;
    for (const auto& d : rows) {
      if (d.net_mass_kg <= 0 || d.declared_value <= 0) continue;
      float p = LogUnitPrice(d);
      prices[d.hs_code.substr(0, 6)].push_back(p);
      all.push_back(p);
    }
    auto median = [](std::vector<float>& v) {
      std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
      return v[v.size() / 2];
    };
    fb.global_log_price_ = all.empty() ? 0.f : median(all);
    for (auto& [k, v] : prices)
      fb.hs6_price_.by_key[k] = KeyStats{median(v), 0, 0, static_cast<float>(v.size())};
    fb.hs6_price_.Freeze({FieldRef{FieldRef::Kind::kHs6, ""}});
  }

  // Target statistics, out of time: rows see only rows of earlier days.
  double labelled = 0, fraud = 0, critical = 0;
  for (const auto& d : rows) {
    if (d.fraud >= 0) {
      ++labelled;
      fraud += d.fraud == 1;
      critical += d.critical == 1;
    }
  }
  if (labelled == 0)
    return Status::InvalidArgument("no history row has an outcome (fraud) to learn from");
  fb.prior_fraud_ = static_cast<float>(fraud / labelled);
  fb.prior_critical_ = static_cast<float>(critical / labelled);

  std::vector<size_t> order(rows.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return rows[a].date < rows[b].date; });
  std::vector<std::unordered_map<std::string, Counts>> counts(spec.keys.size());
  std::vector<std::vector<int>> key_bound;
  for (const auto& key : spec.keys) key_bound.push_back(Bind(key, history));

  const int nf = fb.num_features();
  if (train_matrix) {
    train_matrix->assign(rows.size() * nf, 0.f);
    // Everything but the key statistics is computed by the scoring path, once the tables exist.
  }
  fb.tables_.resize(spec.keys.size());
  const double a = spec.smoothing;
  const int key_offset = static_cast<int>(spec.codes.size());
  double run_labelled = 0, run_fraud = 0, run_critical = 0;
  size_t i = 0;
  std::vector<std::string> key_strings(spec.keys.size());
  while (i < order.size()) {
    size_t j = i;
    while (j < order.size() && rows[order[j]].date == rows[order[i]].date) ++j;
    // A running prior once enough outcomes are known, the history's prior before that.
    double pf = run_labelled >= 200 ? run_fraud / run_labelled : fb.prior_fraud_;
    double pc = run_labelled >= 200 ? run_critical / run_labelled : fb.prior_critical_;
    if (train_matrix) {
      for (size_t r = i; r < j; ++r) {
        const Declaration& d = rows[order[r]];
        float* out = train_matrix->data() + order[r] * nf + key_offset;
        for (size_t k = 0; k < spec.keys.size(); ++k) {
          auto it = counts[k].find(KeyString(spec.keys[k], key_bound[k], d));
          KeyStats s = ToStats(it == counts[k].end() ? Counts{} : it->second, a, pf, pc);
          out[k * kPerKey + 0] = s.fraud_rate;
          out[k * kPerKey + 1] = s.critical_rate;
          out[k * kPerKey + 2] = s.log_seen;
        }
      }
    }
    for (size_t r = i; r < j; ++r) {
      const Declaration& d = rows[order[r]];
      for (size_t k = 0; k < spec.keys.size(); ++k) {
        Counts& c = counts[k][KeyString(spec.keys[k], key_bound[k], d)];
        ++c.seen;
        if (d.fraud >= 0) {
          ++c.labelled;
          c.fraud += d.fraud == 1;
          c.critical += d.critical == 1;
        }
      }
      if (d.fraud >= 0) {
        ++run_labelled;
        run_fraud += d.fraud == 1;
        run_critical += d.critical == 1;
      }
    }
    i = j;
  }
  for (size_t k = 0; k < spec.keys.size(); ++k) {
    for (const auto& [key, c] : counts[k])
      fb.tables_[k].by_key[key] = ToStats(c, a, fb.prior_fraud_, fb.prior_critical_);
    fb.tables_[k].Freeze(spec.keys[k]);
  }

  if (train_matrix) {
    // Codes and numeric features through the scoring path; key statistics were set above.
    std::vector<float> tmp(static_cast<size_t>(nf));
    for (size_t r = 0; r < rows.size(); ++r) {
      fb.Compute(history, r, r + 1, tmp.data());
      float* out = train_matrix->data() + r * nf;
      for (int f = 0; f < nf; ++f) {
        bool is_key =
            f >= key_offset && f < key_offset + static_cast<int>(spec.keys.size()) * kPerKey;
        if (!is_key) out[f] = tmp[f];
      }
    }
  }
  return fb;
}

int FeatureBuilder::KeyIndex(const std::vector<FieldRef>& key) const {
  for (size_t k = 0; k < spec_.keys.size(); ++k)
    if (spec_.keys[k] == key) return static_cast<int>(k);
  return -1;
}

double FeatureBuilder::KeyLabelled(int k, const DeclarationBatch& batch, size_t row) const {
  if (k < 0 || k >= static_cast<int>(tables_.size()) || row >= batch.rows.size()) return 0;
  const auto& key = spec_.keys[static_cast<size_t>(k)];
  const auto it = tables_[static_cast<size_t>(k)].by_key.find(
      KeyString(key, Bind(key, batch), batch.rows[row]));
  return it == tables_[static_cast<size_t>(k)].by_key.end() ? 0 : it->second.labelled;
}

void FeatureBuilder::IndexFields() {
  fields_.clear();
  code_field_.clear();
  key_fields_.clear();
  auto index = [this](const FieldRef& f) {
    for (size_t i = 0; i < fields_.size(); ++i)
      if (fields_[i] == f) return static_cast<int>(i);
    fields_.push_back(f);
    return static_cast<int>(fields_.size() - 1);
  };
  for (const auto& c : spec_.codes) code_field_.push_back(index(c));
  for (const auto& key : spec_.keys) {
    std::vector<int> v;
    for (const auto& f : key) v.push_back(index(f));
    key_fields_.push_back(std::move(v));
  }
}

void FeatureBuilder::Compute(const DeclarationBatch& batch, size_t begin, size_t end,
                             float* out) const {
  const int nf = num_features();
  const std::vector<int> bound = Bind(fields_, batch);
  const KeyStats unseen_stats = ToStats(Counts{}, spec_.smoothing, prior_fraud_, prior_critical_);
  const Table::Slot unseen{0, unseen_stats.fraud_rate, unseen_stats.critical_rate,
                           unseen_stats.log_seen};
  const size_t nfields = fields_.size(), ncodes = codes_.size(), nkeys = tables_.size();
  const FieldRef hs6{FieldRef::Kind::kHs6, ""};
  // Rows go in blocks: first every row's lookup hashes are computed and their table slots
  // prefetched, then the lookups run while those cache lines arrive.
  constexpr size_t kBlock = 8;
  const size_t per_row = ncodes + nkeys + 1;
  std::vector<uint64_t> fh(nfields), hashes(kBlock * per_row);
  for (size_t b0 = begin; b0 < end; b0 += kBlock) {
    const size_t b1 = std::min(end, b0 + kBlock);
    for (size_t r = b0; r < b1; ++r) {
      const Declaration& d = batch.rows[r];
      for (size_t i = 0; i < nfields; ++i) fh[i] = FieldHash(fields_[i], bound[i], d);
      uint64_t* h = hashes.data() + (r - b0) * per_row;
      for (size_t c = 0; c < ncodes; ++c) h[c] = Finish(Combine(0, fh[code_field_[c]]));
      for (size_t k = 0; k < nkeys; ++k) {
        uint64_t x = 0;
        for (int f : key_fields_[k]) x = Combine(x, fh[f]);
        h[ncodes + k] = Finish(x);
        tables_[k].Prefetch(h[ncodes + k]);
      }
      h[ncodes + nkeys] = spec_.price_deviation ? Finish(Combine(0, FieldHash(hs6, -1, d))) : 0;
    }
    for (size_t r = b0; r < b1; ++r, out += nf) {
      const Declaration& d = batch.rows[r];
      const uint64_t* h = hashes.data() + (r - b0) * per_row;
      float* o = out;
      for (size_t c = 0; c < ncodes; ++c)
        *o++ = codes_[c].Find(h[c], static_cast<float>(codes_[c].rank.size()));
      for (size_t k = 0; k < nkeys; ++k) {
        const Table::Slot* s = tables_[k].Find(h[ncodes + k]);
        if (s == nullptr) s = &unseen;
        *o++ = s->fraud_rate;
        *o++ = s->critical_rate;
        *o++ = s->log_seen;
      }
      const float log_price = LogUnitPrice(d);
      if (spec_.numeric) {
        const float mass = static_cast<float>(d.net_mass_kg),
                    value = static_cast<float>(d.declared_value);
        *o++ = std::log1p(mass);
        *o++ = std::log1p(value);
        *o++ = log_price;
        *o++ = std::isnan(d.tax_rate) ? -1.f : static_cast<float>(d.tax_rate);
        *o++ = std::isnan(d.tax_rate) ? -1.f
                                      : std::log1p(value * static_cast<float>(d.tax_rate) / 100.f);
        *o++ = std::isnan(d.supplementary_units) ? -1.f : static_cast<float>(d.supplementary_units);
      }
      if (spec_.price_deviation) {
        const Table::Slot* s = hs6_price_.Find(h[ncodes + nkeys]);
        *o++ = (d.net_mass_kg <= 0 || d.declared_value <= 0)
                   ? 0.f
                   : log_price - (s ? s->fraud_rate : global_log_price_);
      }
      if (spec_.calendar) *o++ = static_cast<float>(DayOfWeek(d.date));
      if (spec_.description_quality)
        *o++ = static_cast<float>(RateDescription(d.description).score);
    }
  }
}

std::string FeatureBuilder::Describe(int f, float v, const Declaration& d,
                                     const DeclarationBatch& batch) const {
  const int ncodes = static_cast<int>(spec_.codes.size());
  const int nkeys = static_cast<int>(spec_.keys.size());
  if (f < ncodes) {
    const auto& field = spec_.codes[f];
    std::string value = FieldText(field, batch.ExtraIndex(field.extra), d);
    bool unseen = v >= static_cast<float>(codes_[f].rank.size());
    return FieldLabel(field) + " " + (value.empty() ? "(empty)" : value) +
           (unseen ? " (never seen in training)" : "");
  }
  f -= ncodes;
  if (f < nkeys * kPerKey) {
    int k = f / kPerKey, kind = f % kPerKey;
    const auto& key = spec_.keys[k];
    auto bound = Bind(key, batch);
    std::string label, value;
    if (key.size() >= 4) {
      // A composite of goods, quantity, value and route: the same consignment seen before.
      label = "identical earlier consignments";
      for (size_t i = 0; i < key.size(); ++i) {
        std::string t = FieldText(key[i], bound[i], d);
        if (t.empty()) continue;
        value += (value.empty() ? "(" : ", ") + FieldLabel(key[i]) + " " + t;
      }
      value += ")";
    } else {
      for (size_t i = 0; i < key.size(); ++i) {
        label += (i ? " x " : "") + FieldLabel(key[i]);
        value += (i ? " / " : "") + FieldText(key[i], bound[i], d);
      }
    }
    const auto it = tables_[k].by_key.find(KeyString(key, bound, d));
    const int n = it != tables_[k].by_key.end() ? static_cast<int>(it->second.labelled) : 0;
    if (kind == 2) {
      long seen = std::lround(std::expm1(v));
      return label + " " + value +
             (seen == 0 ? ": never seen before"
                        : ": seen " + std::to_string(seen) +
                              (seen == 1 ? " time before" : " times before"));
    }
    if (n == 0) return label + " " + value + ": no inspection history";
    // The raw count behind the smoothed rate: rate = (hits + a * prior) / (n + a).
    const double a = spec_.smoothing, prior = kind == 0 ? prior_fraud_ : prior_critical_;
    long hits = std::lround(std::max(0.0, v * (n + a) - a * prior));
    return label + " " + value + ": " + std::to_string(hits) + " of " + std::to_string(n) +
           (n == 1 ? " earlier inspection" : " earlier inspections") +
           (kind == 0 ? " found fraud" : " found critical fraud");
  }
  f -= nkeys * kPerKey;
  if (spec_.numeric) {
    if (f < kNumeric) {
      switch (f) {
        case 0:
          return "net mass " + FormatFixed(d.net_mass_kg, 1) + " kg";
        case 1:
          return "declared value " + FormatFixed(d.declared_value, 0) + " " + d.currency;
        case 2:
          return "unit price " +
                 FormatFixed(d.net_mass_kg > 0 ? d.declared_value / d.net_mass_kg : 0, 2) +
                 " per kg";
        case 3:
          return "tax rate " + FormatFixed(d.tax_rate, 1) + " %";
        case 4:
          return "duty at stake " + FormatFixed(d.declared_value * d.tax_rate / 100, 0) + " " +
                 d.currency;
        default:
          return "supplementary units " + FormatDouble(d.supplementary_units);
      }
    }
    f -= kNumeric;
  }
  if (spec_.price_deviation) {
    if (f == 0) {
      double pct = (std::exp(v) - 1) * 100;
      return "unit price " + FormatFixed(std::fabs(pct), 0) + (pct < 0 ? " % below" : " % above") +
             " the median for HS " + d.hs_code.substr(0, 6);
    }
    --f;
  }
  if (spec_.calendar) {
    if (f == 0) return "day of week";
    --f;
  }
  const std::string desc =
      d.description.empty() ? "(none)" : "'" + Excerpt(d.description, 40) + "'";
  return "description " + desc + (v < 0.5f ? " is vague" : " names the goods") + " (quality " +
         FormatFixed(v, 2) + ")";
}

bool FeatureBuilder::ReadsAsRisk(int f, float v) const {
  // A description that names the goods is no reason for suspicion.
  if (spec_.description_quality && f == num_features() - 1) return v < 0.5f;
  f -= static_cast<int>(spec_.codes.size());
  if (f < 0 || f >= static_cast<int>(spec_.keys.size()) * kPerKey) return true;
  switch (f % kPerKey) {
    case 0:
      return v > prior_fraud_;
    case 1:
      return v > prior_critical_;
    default:
      return true;
  }
}

std::string FeatureBuilder::ToJson() const {
  nlohmann::json j;
  j["version"] = 1;
  auto fields = [](const std::vector<FieldRef>& v) {
    nlohmann::json a = nlohmann::json::array();
    for (const auto& f : v) a.push_back(f.Name());
    return a;
  };
  j["spec"]["codes"] = fields(spec_.codes);
  j["spec"]["keys"] = nlohmann::json::array();
  for (const auto& k : spec_.keys) j["spec"]["keys"].push_back(fields(k));
  j["spec"]["numeric"] = spec_.numeric;
  j["spec"]["price_deviation"] = spec_.price_deviation;
  j["spec"]["calendar"] = spec_.calendar;
  // Written only when on, so models without it keep their files as they were.
  if (spec_.description_quality) j["spec"]["description_quality"] = true;
  j["spec"]["smoothing"] = spec_.smoothing;
  j["names"] = names_;
  j["prior_fraud"] = prior_fraud_;
  j["prior_critical"] = prior_critical_;
  j["global_log_price"] = global_log_price_;
  j["codes"] = nlohmann::json::array();
  for (const auto& c : codes_) {
    // Ordered by rank, so the file is small and readable.
    std::vector<std::string> by_rank(c.rank.size());
    for (const auto& [k, v] : c.rank) by_rank[v] = k;
    j["codes"].push_back(by_rank);
  }
  auto table = [](const Table& t) {
    std::map<std::string, KeyStats> sorted(t.by_key.begin(), t.by_key.end());
    nlohmann::json keys = nlohmann::json::array(), a = nlohmann::json::array(),
                   b = nlohmann::json::array(), c = nlohmann::json::array(),
                   n = nlohmann::json::array();
    for (const auto& [k, s] : sorted) {
      keys.push_back(k);
      a.push_back(s.fraud_rate);
      b.push_back(s.critical_rate);
      c.push_back(s.log_seen);
      n.push_back(s.labelled);
    }
    return nlohmann::json{
        {"keys", keys}, {"fraud_rate", a}, {"critical_rate", b}, {"log_seen", c}, {"labelled", n}};
  };
  j["tables"] = nlohmann::json::array();
  for (const auto& t : tables_) j["tables"].push_back(table(t));
  j["hs6_price"] = table(hs6_price_);
  return j.dump();
}

Result<FeatureBuilder> FeatureBuilder::FromJson(std::string_view json) {
  nlohmann::json j = nlohmann::json::parse(json, nullptr, false);
  if (j.is_discarded()) return Status::DataLoss("features.json is not valid JSON");
  FeatureBuilder fb;
  try {
    auto fields = [](const nlohmann::json& a) -> Result<std::vector<FieldRef>> {
      std::vector<FieldRef> v;
      for (const auto& n : a) {
        CS_ASSIGN_OR_RETURN(FieldRef f, FieldRef::Parse(n.get<std::string>()));
        v.push_back(f);
      }
      return v;
    };
    const auto& s = j.at("spec");
    CS_ASSIGN_OR_RETURN(fb.spec_.codes, fields(s.at("codes")));
    for (const auto& k : s.at("keys")) {
      CS_ASSIGN_OR_RETURN(auto key, fields(k));
      fb.spec_.keys.push_back(std::move(key));
    }
    fb.spec_.numeric = s.at("numeric").get<bool>();
    fb.spec_.price_deviation = s.at("price_deviation").get<bool>();
    fb.spec_.calendar = s.at("calendar").get<bool>();
    fb.spec_.description_quality = s.value("description_quality", false);
    fb.spec_.smoothing = s.at("smoothing").get<double>();
    fb.BuildNames();
    fb.IndexFields();
    if (fb.names_ != j.at("names").get<std::vector<std::string>>())
      return Status::DataLoss(
          "features.json: feature names do not match its spec (written by another version?)");
    fb.prior_fraud_ = j.at("prior_fraud").get<float>();
    fb.prior_critical_ = j.at("prior_critical").get<float>();
    fb.global_log_price_ = j.at("global_log_price").get<float>();
    const auto& codes = j.at("codes");
    if (codes.size() != fb.spec_.codes.size())
      return Status::DataLoss("features.json: code tables do not match the spec");
    for (size_t ci = 0; ci < codes.size(); ++ci) {
      CodeTable t;
      auto v = codes[ci].get<std::vector<std::string>>();
      for (size_t i = 0; i < v.size(); ++i) t.rank[v[i]] = static_cast<int>(i);
      t.Freeze(fb.spec_.codes[ci]);
      fb.codes_.push_back(std::move(t));
    }
    auto table = [](const nlohmann::json& t, const std::vector<FieldRef>& key) {
      Table out;
      auto keys = t.at("keys").get<std::vector<std::string>>();
      auto a = t.at("fraud_rate").get<std::vector<float>>();
      auto b = t.at("critical_rate").get<std::vector<float>>();
      auto c = t.at("log_seen").get<std::vector<float>>();
      auto n = t.at("labelled").get<std::vector<float>>();
      for (size_t i = 0;
           i < keys.size() && i < a.size() && i < b.size() && i < c.size() && i < n.size(); ++i)
        out.by_key[keys[i]] = KeyStats{a[i], b[i], c[i], n[i]};
      out.Freeze(key);
      return out;
    };
    const auto& tables = j.at("tables");
    if (tables.size() != fb.spec_.keys.size())
      return Status::DataLoss("features.json: key tables do not match the spec");
    for (size_t k = 0; k < tables.size(); ++k)
      fb.tables_.push_back(table(tables[k], fb.spec_.keys[k]));
    fb.hs6_price_ = table(j.at("hs6_price"), {FieldRef{FieldRef::Kind::kHs6, ""}});
  } catch (const std::exception& e) {
    return Status::DataLoss(std::string("features.json: ") + e.what());
  }
  return fb;
}

}  // namespace clearsight::model
