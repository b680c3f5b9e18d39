// From a postal item to declarations: S10 identifiers, description quality, and ItemEmitter, which
// every postal and express reader hands its items to.
#include "postal_items.h"

#include <algorithm>
#include <cmath>
#include <unordered_set>

#include "clearsight/postal.h"
#include "clearsight/text.h"

namespace clearsight {

namespace {
bool IsLetter(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
}  // namespace

int S10CheckDigit(std::string_view serial) {
  static constexpr int kWeights[8] = {8, 6, 4, 2, 3, 5, 9, 7};
  if (serial.size() != 8) return -1;
  int sum = 0;
  for (size_t i = 0; i < 8; ++i) {
    if (!IsDigit(serial[i])) return -1;
    sum += (serial[i] - '0') * kWeights[i];
  }
  const int check = 11 - sum % 11;
  return check == 10 ? 0 : check == 11 ? 5 : check;
}

bool HasS10Shape(std::string_view id) {
  if (id.size() != 13) return false;
  for (size_t i = 0; i < 13; ++i) {
    const bool letter = i < 2 || i >= 11;
    if (letter ? !IsLetter(id[i]) : !IsDigit(id[i])) return false;
  }
  return true;
}

std::string S10Problem(std::string_view id) {
  if (!HasS10Shape(id))
    return "'" + Excerpt(id, 40) +
           "' is not an S10 identifier (2 letters, 8 digits, a check digit, 2 letters)";
  const int expected = S10CheckDigit(id.substr(2, 8));
  const int given = id[10] - '0';
  if (given != expected)
    return "'" + std::string(id) + "' has check digit " + std::to_string(given) + ", expected " +
           std::to_string(expected) + " (S10: weights 8 6 4 2 3 5 9 7)";
  return {};
}

namespace {

// Words that say nothing about what the goods are, and words that only qualify others.
const std::unordered_set<std::string_view>& VagueWords() {
  static const std::unordered_set<std::string_view> kWords = {
      "gift",       "gifts",      "present",       "presents",    "parts",     "part",
      "spare",      "spares",     "sample",        "samples",     "clothes",   "clothing",
      "goods",      "item",       "items",         "accessories", "accessory", "stuff",
      "things",     "thing",      "merchandise",   "product",     "products",  "personal",
      "effects",    "misc",       "miscellaneous", "various",     "other",     "others",
      "general",    "commercial", "package",       "parcel",      "box",       "apparel",
      "garment",    "garments",   "souvenir",      "souvenirs",   "household", "electronics",
      "electronic", "toy",        "toys",          "tool",        "tools",     "equipment",
      "material",   "materials",  "supplies",      "article",     "articles",  "object",
      "objects",    "belongings", "wear",          "merch",       "order",     "purchase"};
  return kWords;
}
const std::unordered_set<std::string_view>& FillerWords() {
  static const std::unordered_set<std::string_view> kWords = {
      "and",       "the",    "for",    "with",  "new",   "used",     "old",   "set",    "sets",
      "pcs",       "piece",  "pieces", "pack",  "lot",   "assorted", "mixed", "free",   "birthday",
      "christmas", "use",    "unit",   "units", "qty",   "size",     "color", "colour", "from",
      "your",      "his",    "her",    "our",   "their", "not",      "none",  "see",    "attached",
      "invoice",   "inside", "etc",    "kind",  "type",  "types",    "some",  "any",    "all"};
  return kWords;
}

}  // namespace

DescriptionQuality RateDescription(std::string_view description) {
  DescriptionQuality q;
  std::vector<std::string> seen;
  std::string word;
  auto finish_word = [&] {
    const bool has_letter = std::any_of(word.begin(), word.end(), [](char c) {
      return IsLetter(c) || static_cast<unsigned char>(c) >= 0x80;
    });
    if (word.size() >= 3 && has_letter && !VagueWords().count(word) && !FillerWords().count(word) &&
        std::find(seen.begin(), seen.end(), word) == seen.end())
      seen.push_back(word);
    word.clear();
  };
  for (char c : description) {
    // Bytes of multi-byte UTF-8 characters are letters: "Baumwoll-T-Shirt", "коврик" count.
    if (IsLetter(c) || IsDigit(c) || static_cast<unsigned char>(c) >= 0x80) {
      word.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
    } else {
      finish_word();
    }
  }
  finish_word();
  q.informative_words = static_cast<int>(seen.size());
  q.vague = seen.empty();
  q.score = seen.empty() ? 0.0 : std::min(1.0, 0.25 + 0.25 * static_cast<double>(seen.size()));
  return q;
}

namespace postal {

std::string PartyKey(std::string_view prefix, const Party& party) {
  uint64_t h = 0xcbf29ce484222325ULL;
  auto mix = [&h](unsigned char c) { h = (h ^ c) * 0x100000001b3ULL; };
  for (const Text* t : {&party.name, &party.address, &party.postcode, &party.country}) {
    bool space = false, any = false;
    for (char c : t->v) {
      unsigned char u = static_cast<unsigned char>(c);
      if (IsLetter(c) || IsDigit(c) || u >= 0x80) {
        if (space && any) mix(' ');
        mix(static_cast<unsigned char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c));
        space = false;
        any = true;
      } else {
        space = true;
      }
    }
    mix('|');
  }
  static const char kHex[] = "0123456789abcdef";
  std::string key(prefix);
  key += '-';
  for (int i = 15; i >= 0; --i) key += kHex[(h >> (4 * i)) & 15];
  return key;
}

std::string_view CanonicalCategory(std::string_view written) {
  std::string k;
  for (char c : Trim(written)) {
    if (IsLetter(c))
      k += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    else if (c == ' ' || c == '_' || c == '-')
      k += '_';
  }
  static constexpr std::string_view kCategories[] = {
      "gift", "documents", "commercial_sample", "sale_of_goods", "returned_goods", "other"};
  for (auto c : kCategories)
    if (k == c) return c;
  if (k == "commercial_samples" || k == "sample") return "commercial_sample";
  if (k == "returned_goods" || k == "returned_good" || k == "return") return "returned_goods";
  if (k == "merchandise" || k == "sale") return "sale_of_goods";
  if (k == "document") return "documents";
  return {};
}

ItemEmitter::ItemEmitter(ingest::BatchBuilder* builder) : builder_(builder) {
  auto& cols = builder_->batch().extra_columns;
  first_column_ = static_cast<int>(cols.size());
  for (const char* c : kItemColumns) {
    columns_[c] = static_cast<int>(cols.size());
    cols.push_back(c);
  }
}

int ItemEmitter::Column(const std::string& name) {
  auto it = columns_.find(name);
  if (it != columns_.end()) return it->second;
  auto& cols = builder_->batch().extra_columns;
  const int index = static_cast<int>(cols.size());
  cols.push_back(name);
  columns_[name] = index;
  return index;
}

void ItemEmitter::RejectItem(const Item& item, const Text& at, std::string field,
                             const std::string& why) {
  const int64_t line = at.present && at.line > 0 ? at.line : item.line;
  const std::string raw = item.raw ? item.raw(-1) : std::string();
  const size_t n = std::max<size_t>(1, item.pieces.size());
  for (size_t i = 0; i < n; ++i) {
    std::string reason = why;
    if (item.pieces.size() > 1)
      reason += " (the whole item is rejected: content piece " + std::to_string(i + 1) + " of " +
                std::to_string(item.pieces.size()) + ")";
    builder_->Reject(line, field, std::move(reason), raw);
  }
}

namespace {
std::string Missing(const Text& t) {
  return t.present ? std::string("is empty") : "is missing (no " + std::string(t.source) + ")";
}
std::string_view TrimmedView(const Text& t) { return Trim(t.v); }
}  // namespace

void ItemEmitter::Emit(const Item& item) {
  std::string why;
  // ---- the item: identifier, date, category, parties, gross weight
  const std::string_view id = Trim(item.id.v);
  if (id.empty()) return RejectItem(item, item.id, "item_id", Missing(item.id));
  if (item.id_must_be_s10 || HasS10Shape(id)) {
    if (std::string p = S10Problem(id); !p.empty()) return RejectItem(item, item.id, "item_id", p);
  }
  int32_t date = 0;
  if (!ParseDate(item.date.v, &date))
    return RejectItem(item, item.date, "date",
                      Trim(item.date.v).empty()
                          ? Missing(item.date)
                          : "'" + Excerpt(item.date.v, 40) + "' is not a date (YYYY-MM-DD)");
  std::string_view category;
  if (!TrimmedView(item.category).empty()) {
    category = CanonicalCategory(item.category.v);
    if (category.empty())
      return RejectItem(item, item.category, "item_category",
                        "'" + Excerpt(item.category.v, 40) +
                            "' is not an item category (gift, documents, commercial sample, sale "
                            "of goods, returned goods, other)");
  } else if (item.category_required) {
    return RejectItem(item, item.category, "item_category", Missing(item.category));
  }
  CompactString sender_country, addressee_country;
  if (!ingest::SetCountry(item.sender.country.v, &sender_country, false, &why))
    return RejectItem(item, item.sender.country, "sender_country", why);
  if (!ingest::SetCountry(item.addressee.country.v, &addressee_country, false, &why))
    return RejectItem(item, item.addressee.country, "addressee_country", why);
  std::string importer(TrimmedView(item.addressee.id));
  if (importer.empty()) {
    if (TrimmedView(item.addressee.name).empty() && TrimmedView(item.addressee.address).empty())
      return RejectItem(item, item.addressee.name, "importer_id",
                        "the addressee has no id, name or address");
    importer = PartyKey("ADR", item.addressee);
  }
  std::string seller(TrimmedView(item.sender.id));
  if (seller.empty() &&
      (!TrimmedView(item.sender.name).empty() || !TrimmedView(item.sender.address).empty()))
    seller = PartyKey("SND", item.sender);
  double gross = kMissing;
  if (!ingest::SetNumber(item.gross_kg.v, &gross, false, true, &why))
    return RejectItem(item, item.gross_kg, "item_gross_weight_kg", why);
  double total = kMissing;
  if (!ingest::SetNumber(item.total_value.v, &total, false, true, &why))
    return RejectItem(item, item.total_value, "item_total_value", why);
  if (item.pieces.empty())
    return RejectItem(item, item.id, "contents", "the item has no content pieces");

  // ---- weights: the pieces' net weights as declared against the item's gross weight
  double net_sum = 0;
  for (const auto& p : item.pieces) {
    double w;
    if (ParseDouble(p.net_kg.v, &w) && w > 0) net_sum += w;
  }
  const bool mismatch = !IsMissing(gross) && net_sum > gross + kWeightTolerance;

  // ---- each piece: one declaration
  const std::string pieces_in_item = std::to_string(item.pieces.size());
  const std::string gross_text(TrimmedView(item.gross_kg)),
      total_text(TrimmedView(item.total_value));
  int64_t flagged = 0;
  for (size_t i = 0; i < item.pieces.size(); ++i) {
    const Piece& p = item.pieces[i];
    auto raw = [&item, i] { return item.raw ? item.raw(static_cast<int>(i)) : std::string(); };
    auto reject = [&](const Text& at, const char* field, std::string reason) {
      builder_->Reject(at.present && at.line > 0 ? at.line : p.line, field, std::move(reason),
                       raw());
    };
    std::string number(TrimmedView(p.number));
    if (number.empty()) {
      number = std::to_string(i + 1);
    } else {
      int64_t n;
      if (!ParseInt64(number, &n) || n < 1 || n > 999) {
        reject(p.number, "piece_number",
               "'" + Excerpt(number, 20) + "' is not a piece number (1..999)");
        continue;
      }
      number = std::to_string(n);
    }
    if (TrimmedView(p.description).empty()) {
      reject(p.description, "description", Missing(p.description));
      continue;
    }
    Declaration& d = builder_->Begin();
    auto fail = [&](const Text& at, const char* field, std::string reason) {
      builder_->Abort();
      reject(at, field, std::move(reason));
    };
    if (!p.value.present || TrimmedView(p.value).empty()) {
      fail(p.value, "declared_value", Missing(p.value));
      continue;
    }
    if (!ingest::SetNumber(p.value.v, &d.declared_value, true, true, &why)) {
      fail(p.value, "declared_value", why);
      continue;
    }
    if (!p.net_kg.present || TrimmedView(p.net_kg).empty()) {
      fail(p.net_kg, "net_mass_kg", Missing(p.net_kg));
      continue;
    }
    if (!ingest::SetNumber(p.net_kg.v, &d.net_mass_kg, true, true, &why)) {
      fail(p.net_kg, "net_mass_kg", why);
      continue;
    }
    if (!ingest::SetNumber(p.quantity.v, &d.supplementary_units, false, true, &why)) {
      fail(p.quantity, "supplementary_units", why);
      continue;
    }
    const Text& currency = TrimmedView(p.currency).empty() ? item.currency : p.currency;
    const std::string_view code = TrimmedView(currency);
    if (code.size() != 3 || !std::all_of(code.begin(), code.end(), IsLetter)) {
      fail(currency, "currency",
           code.empty() ? Missing(currency)
                        : "'" + Excerpt(code, 20) + "' is not a three-letter ISO 4217 code");
      continue;
    }
    std::string upper(code);
    for (char& c : upper)
      if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    d.currency = upper;
    if (TrimmedView(p.hs).empty()) {
      d.hs_code = kNoHsCode;  // no HS code given: the placeholder chapter (docs/declarations.md)
    } else if (!ingest::SetHs(p.hs.v, &d.hs_code, false, &why)) {
      fail(p.hs, "hs_code", why);
      continue;
    }
    const Text& origin = TrimmedView(p.origin).empty() ? item.sender.country : p.origin;
    if (!ingest::SetCountry(origin.v, &d.origin_country, true, &why)) {
      fail(origin, "origin_country",
           Trim(origin.v).empty() ? "is missing: the piece names no origin and the item no sender "
                                    "country"
                                  : why);
      continue;
    }
    d.declaration_id = std::string(id) + "-" + number;
    d.consignment_id = id;
    d.date = date;
    d.importer_id = importer;
    d.seller_id = seller;
    d.departure_country = sender_country;
    d.description = TrimmedView(p.description);
    d.office_id = TrimmedView(item.office);
    d.courier_id = TrimmedView(item.courier);
    d.mode_of_transport = item.mode_of_transport;
    // kItemColumns, in order.
    const std::string_view values[] = {id,
                                       category,
                                       gross_text,
                                       total_text,
                                       sender_country.view(),
                                       addressee_country.view(),
                                       number,
                                       pieces_in_item,
                                       mismatch           ? "1"
                                       : IsMissing(gross) ? ""
                                                          : "0",
                                       item.message};
    for (size_t c = 0; c < std::size(values); ++c)
      d.extra.Set(static_cast<size_t>(first_column_) + c, values[c]);
    for (const auto& [name, text] : item.extras)
      d.extra.Set(static_cast<size_t>(Column(name)), TrimmedView(text));
    for (const auto& [name, text] : p.extras)
      d.extra.Set(static_cast<size_t>(Column(name)), TrimmedView(text));
    if (builder_->Finish(p.line, raw, currency.present ? currency.line : 0) && mismatch) ++flagged;
  }
  if (flagged > 0) {
    builder_->Warn(item.gross_kg.line > 0 ? item.gross_kg.line : item.line, "item_gross_weight_kg",
                   "content pieces weigh " + FormatFixed(net_sum, 3) +
                       " kg net, more than the item's gross weight " + FormatFixed(gross, 3) +
                       " kg; " + std::to_string(flagged) +
                       (flagged == 1 ? " piece is" : " pieces are") +
                       " kept and marked weight_mismatch = 1",
                   item.raw ? item.raw(-1) : std::string(), flagged);
  }
}

}  // namespace postal
}  // namespace clearsight
