// A generator of realistic postal items (GeneratePostalItems): S10 identifiers of several posts,
// multi-piece items with goods descriptions tied to HS codes and plausible prices per kg, vague
// descriptions, several currencies, and planted faults whose field and line it records, so tests
// can hold the readers to what they must say about each one.
#include <cmath>
#include <random>

#include "clearsight/declarations.h"
#include "clearsight/postal.h"
#include "clearsight/text.h"
#include "xml_adapter.h"

namespace clearsight {

Result<PostalFormat> ParsePostalFormat(std::string_view name) {
  if (name == "ead") return PostalFormat::kEad;
  if (name == "h7") return PostalFormat::kH7Csv;
  if (name == "h7xml") return PostalFormat::kH7Xml;
  return Status::InvalidArgument("unknown postal format '" + std::string(name) +
                                 "' (expected ead, h7 or h7xml)");
}

namespace {

struct Goods {
  const char* hs;
  const char* description;
  double eur_per_kg;  // a typical retail price
  double kg_lo, kg_hi;
};
constexpr Goods kGoods[] = {
    {"610910", "Cotton T-shirt", 60, 0.15, 0.4},
    {"620462", "Women's denim trousers", 55, 0.4, 0.8},
    {"640411", "Running shoes", 70, 0.6, 1.1},
    {"851712", "Mobile phone", 2200, 0.15, 0.25},
    {"847130", "Laptop computer", 450, 1.2, 2.2},
    {"851830", "Wireless earphones", 900, 0.05, 0.12},
    {"950300", "Plastic building blocks", 40, 0.3, 1.5},
    {"490199", "Paperback novel", 25, 0.2, 0.6},
    {"330499", "Face cream moisturiser", 300, 0.05, 0.2},
    {"420222", "Leather handbag", 180, 0.4, 1.0},
    {"711719", "Costume jewellery necklace", 900, 0.02, 0.1},
    {"392690", "Silicone phone case", 120, 0.03, 0.1},
    {"870899", "Car brake pads", 35, 0.8, 2.5},
    {"090210", "Green tea leaves", 60, 0.1, 0.5},
    {"210690", "Whey protein powder", 30, 0.5, 2.0},
    {"611595", "Cotton socks", 50, 0.05, 0.3},
    {"940540", "LED desk lamp", 45, 0.4, 1.2},
    {"852351", "USB flash drive", 800, 0.01, 0.05},
    {"900410", "Polarised sunglasses", 600, 0.03, 0.08},
};
constexpr const char* kVague[] = {
    "gift",        "parts", "sample",           "clothes",     "goods",
    "accessories", "items", "personal effects", "spare parts", "gift for birthday"};
struct Post {
  const char* country;
  const char* currency;
  double per_eur;  // units of the currency per EUR
  const char* operator_code;
};
constexpr Post kPosts[] = {{"CN", "USD", 1.08, "CNA"}, {"CN", "CNY", 7.8, "CNA"},
                           {"US", "USD", 1.08, "USA"}, {"GB", "GBP", 0.855, "GBA"},
                           {"JP", "JPY", 160, "JPA"},  {"TR", "TRY", 35, "TRA"},
                           {"KR", "KRW", 1450, "KRA"}, {"HK", "HKD", 8.45, "HKA"},
                           {"IN", "INR", 90, "INA"},   {"DE", "EUR", 1.0, "DEA"}};
constexpr const char* kServices[] = {"RR", "RX", "LX", "CP", "EE", "UA"};
constexpr const char* kCategories[] = {"sale_of_goods", "sale_of_goods",     "sale_of_goods",
                                       "gift",          "commercial_sample", "returned_goods",
                                       "other",         "documents"};
constexpr const char* kCountries[] = {"DE", "FR", "NL", "IT", "ES", "PL", "BE", "AT"};
constexpr const char* kFirst[] = {"Anna", "Jan",  "Marie", "Luca",  "Sofia", "Piet",
                                  "Ewa",  "Hugo", "Lena",  "Marco", "Julia", "Tomas"};
constexpr const char* kLast[] = {"Muster", "Kowalski", "Rossi", "Dubois",  "Jansen",
                                 "Garcia", "Schmidt",  "Novak", "Peeters", "Huber"};
constexpr const char* kStreets[] = {"Hauptstrasse", "Rue de la Paix", "Kerkstraat", "Via Roma",
                                    "Calle Mayor",  "ul. Dluga",      "Ringstrasse"};
constexpr const char* kShops[] = {"Shenzhen Trading Co", "Global Gadgets Ltd", "Tokyo Style KK",
                                  "Istanbul Bazaar",     "Seoul Beauty",       "HK Express Goods",
                                  "Mumbai Crafts",       "Berlin Retro",       "Yiwu Wholesale"};
constexpr const char* kUnknownCurrency = "ZZZ";  // no rate in the generated table

enum class Fault { kNone, kCheckDigit, kNoDescription, kNoValue, kCurrency, kWeight };

struct GenPiece {
  std::string description, hs, origin, currency;  // currency: set only on a fault
  int quantity = 1;
  double net_kg = 0, value = 0;
  bool drop_description = false, drop_value = false;
};
struct GenParty {
  std::string id, name, address, postcode, country;
};
struct GenItem {
  std::string id, date, category, currency, courier;
  GenParty sender, addressee;
  double gross = 0, total = 0;
  std::vector<GenPiece> pieces;
  Fault fault = Fault::kNone;
  int fault_piece = 0;  // 0-based
};

class Rng {
 public:
  explicit Rng(uint64_t seed) : g_(seed * 0x9e3779b97f4a7c15ULL + 1) {}
  double Uniform() { return static_cast<double>(g_() >> 11) * 0x1.0p-53; }
  double Between(double lo, double hi) { return lo + (hi - lo) * Uniform(); }
  size_t Index(size_t n) { return static_cast<size_t>(g_() % n); }
  bool Chance(double p) { return Uniform() < p; }

 private:
  std::mt19937_64 g_;
};

double Round(double v, int decimals) {
  const double f = std::pow(10.0, decimals);
  return std::round(v * f) / f;
}
std::string Fixed(double v, int decimals) { return FormatFixed(v, decimals); }

std::string S10(Rng& rng, const char* country, bool wrong_check) {
  std::string serial;
  for (int i = 0; i < 8; ++i) serial += static_cast<char>('0' + rng.Index(10));
  int check = S10CheckDigit(serial);
  if (wrong_check) check = (check + 1 + static_cast<int>(rng.Index(9))) % 10;
  return std::string(kServices[rng.Index(std::size(kServices))]) + serial +
         static_cast<char>('0' + check) + country;
}

GenParty Addressee(Rng& rng, size_t k) {
  // A pool of addressees, so some import again and again.
  Rng r(k * 7919 + 17);
  GenParty p;
  p.name = std::string(kFirst[r.Index(std::size(kFirst))]) + " " + kLast[r.Index(std::size(kLast))];
  p.address = std::to_string(1 + r.Index(120)) + " " + kStreets[r.Index(std::size(kStreets))];
  p.postcode = std::to_string(10000 + r.Index(89999));
  p.country = kCountries[r.Index(std::size(kCountries))];
  if (r.Chance(0.2)) p.id = p.country + std::to_string(100000000 + r.Index(899999999));
  (void)rng;
  return p;
}

std::vector<GenItem> MakeItems(const PostalGeneratorOptions& o, Rng& rng) {
  std::vector<GenItem> items;
  items.reserve(static_cast<size_t>(o.items));
  const size_t pool = static_cast<size_t>(std::max<int64_t>(4, o.items / 3));
  for (int64_t n = 0; n < o.items; ++n) {
    GenItem it;
    const Post& post = kPosts[rng.Index(std::size(kPosts))];
    if (rng.Chance(o.invalid_share)) it.fault = static_cast<Fault>(1 + rng.Index(5));
    it.id = S10(rng, post.country, it.fault == Fault::kCheckDigit);
    it.date = FormatDate(o.first_day +
                         static_cast<int32_t>(rng.Index(static_cast<size_t>(std::max(1, o.days)))));
    it.category = kCategories[rng.Index(std::size(kCategories))];
    it.currency = post.currency;
    it.courier = post.operator_code;
    it.sender.name = kShops[rng.Index(std::size(kShops))];
    it.sender.address = std::to_string(1 + rng.Index(300)) + " Commerce Road";
    it.sender.country = post.country;
    it.addressee = Addressee(rng, rng.Index(pool));
    const size_t npieces = 1 + rng.Index(rng.Chance(0.6) ? 1 : 5);
    double net_sum = 0;
    for (size_t i = 0; i < npieces; ++i) {
      const Goods& g = kGoods[rng.Index(std::size(kGoods))];
      GenPiece p;
      p.quantity = 1 + static_cast<int>(rng.Index(rng.Chance(0.7) ? 1 : 6));
      p.net_kg = Round(rng.Between(g.kg_lo, g.kg_hi) * p.quantity, 3);
      const double eur = p.net_kg * g.eur_per_kg * rng.Between(0.6, 1.4);
      p.value = Round(eur * post.per_eur, post.per_eur >= 100 ? 0 : 2);
      p.description =
          rng.Chance(o.vague_share) ? kVague[rng.Index(std::size(kVague))] : g.description;
      if (rng.Chance(0.75)) p.hs = g.hs;
      if (rng.Chance(0.7)) p.origin = rng.Chance(0.8) ? post.country : "CN";
      net_sum += p.net_kg;
      it.total += p.value;
      it.pieces.push_back(std::move(p));
    }
    it.gross = Round(net_sum * rng.Between(1.05, 1.3) + 0.05, 3);
    it.fault_piece = static_cast<int>(rng.Index(npieces));
    GenPiece& fp = it.pieces[static_cast<size_t>(it.fault_piece)];
    switch (it.fault) {
      case Fault::kNoDescription:
        fp.drop_description = true;
        break;
      case Fault::kNoValue:
        fp.drop_value = true;
        break;
      case Fault::kCurrency:
        fp.currency = kUnknownCurrency;
        break;
      case Fault::kWeight:
        it.gross = Round(net_sum * 0.7, 3);
        if (net_sum - it.gross <= 0.001) it.gross = 0;
        break;
      default:
        break;
    }
    it.total = Round(it.total, 2);
    items.push_back(std::move(it));
  }
  return items;
}

// What the reader must say about an item's fault, once its lines are known.
void AddFault(const GenItem& it, int64_t item_id_line, int64_t piece_line, int64_t field_line,
              int64_t gross_line, GeneratedPostal* out) {
  PlantedFault f;
  f.item_id = it.id;
  f.piece = it.fault_piece + 1;
  f.records = 1;
  switch (it.fault) {
    case Fault::kNone:
      return;
    case Fault::kCheckDigit:
      f = PlantedFault{it.id,
                       0,
                       "item_id",
                       item_id_line,
                       false,
                       static_cast<int64_t>(it.pieces.size()),
                       "wrong S10 check digit"};
      break;
    case Fault::kNoDescription:
      f.field = "description";
      f.line = piece_line;
      f.what = "piece without description";
      break;
    case Fault::kNoValue:
      f.field = "declared_value";
      f.line = piece_line;
      f.what = "piece without value";
      break;
    case Fault::kCurrency:
      f.field = "currency";
      f.line = field_line;
      f.what = "unknown currency (no rate)";
      break;
    case Fault::kWeight:
      f = PlantedFault{it.id,
                       0,
                       "item_gross_weight_kg",
                       gross_line,
                       true,
                       static_cast<int64_t>(it.pieces.size()),
                       "pieces heavier than the item"};
      break;
  }
  out->faults.push_back(std::move(f));
}

Result<GeneratedPostal> RenderEad(const std::vector<GenItem>& items, GeneratedPostal out) {
  xml::Node root;
  root.name = "PostalItems";
  root.attributes = {{"message", "CUSITM"}, {"version", "1"}};
  for (const auto& it : items) {
    xml::Node& n = root.Add("Item");
    n.Add("ItemId", it.id);
    n.Add("DateOfPosting", it.date);
    n.Add("ItemCategory", it.category);
    n.Add("OriginPost", it.courier);
    n.Add("GrossWeight", Fixed(it.gross, 3));
    n.Add("TotalValue", Fixed(it.total, 2)).attributes = {{"currency", it.currency}};
    auto party = [](xml::Node& p, const GenParty& g) {
      if (!g.id.empty()) p.Add("Id", g.id);
      p.Add("Name", g.name);
      p.Add("Address", g.address);
      if (!g.postcode.empty()) p.Add("Postcode", g.postcode);
      p.Add("Country", g.country);
    };
    party(n.Add("Sender"), it.sender);
    party(n.Add("Addressee"), it.addressee);
    xml::Node& contents = n.Add("Contents");
    for (size_t i = 0; i < it.pieces.size(); ++i) {
      const GenPiece& p = it.pieces[i];
      xml::Node& c = contents.Add("Content");
      c.Add("Number", std::to_string(i + 1));
      if (!p.drop_description) c.Add("Description", p.description);
      c.Add("Quantity", std::to_string(p.quantity));
      c.Add("NetWeight", Fixed(p.net_kg, 3));
      if (!p.drop_value) {
        xml::Node& v = c.Add("Value", FormatDouble(p.value));
        if (!p.currency.empty()) v.attributes = {{"currency", p.currency}};
      }
      if (!p.hs.empty()) c.Add("HSCode", p.hs);
      if (!p.origin.empty()) c.Add("OriginCountry", p.origin);
    }
  }
  CS_ASSIGN_OR_RETURN(out.text, xml::WriteWithLines(&root));
  for (size_t k = 0; k < items.size(); ++k) {
    const GenItem& it = items[k];
    const xml::Node& n = root.children[k];
    const xml::Node& piece = n.Child("Contents")->children[static_cast<size_t>(it.fault_piece)];
    const xml::Node* value = piece.Child("Value");
    AddFault(it, n.Child("ItemId")->line, piece.line, value ? value->line : piece.line,
             n.Child("GrossWeight")->line, &out);
  }
  return out;
}

Result<GeneratedPostal> RenderH7Xml(const std::vector<GenItem>& items, GeneratedPostal out) {
  xml::Node root;
  root.name = "H7Declarations";
  root.attributes = {{"version", "1"}};
  for (const auto& it : items) {
    xml::Node& n = root.Add("HouseConsignment");
    n.Add("TransportDocument", it.id);
    n.Add("AcceptanceDate", it.date);
    xml::Node& imp = n.Add("Importer");
    if (!it.addressee.id.empty()) imp.Add("Identification", it.addressee.id);
    imp.Add("Name", it.addressee.name);
    imp.Add("Address", it.addressee.address);
    imp.Add("Postcode", it.addressee.postcode);
    imp.Add("Country", it.addressee.country);
    xml::Node& exp = n.Add("Exporter");
    exp.Add("Name", it.sender.name);
    exp.Add("Address", it.sender.address);
    exp.Add("Country", it.sender.country);
    n.Add("CountryOfDispatch", it.sender.country);
    n.Add("CountryOfDestination", it.addressee.country);
    n.Add("GrossMass", Fixed(it.gross, 3));
    n.Add("Currency", it.currency);
    for (size_t i = 0; i < it.pieces.size(); ++i) {
      const GenPiece& p = it.pieces[i];
      xml::Node& c = n.Add("ConsignmentItem");
      c.Add("GoodsItemNumber", std::to_string(i + 1));
      if (!p.drop_description) c.Add("DescriptionOfGoods", p.description);
      if (!p.hs.empty()) c.Add("HarmonizedSystemSubHeadingCode", p.hs);
      c.Add("Quantity", std::to_string(p.quantity));
      c.Add("GrossMass", Fixed(p.net_kg, 3));
      if (!p.drop_value) {
        xml::Node& v = c.Add("IntrinsicValue", FormatDouble(p.value));
        if (!p.currency.empty()) v.attributes = {{"currency", p.currency}};
      }
      if (!p.origin.empty()) c.Add("CountryOfOrigin", p.origin);
    }
  }
  CS_ASSIGN_OR_RETURN(out.text, xml::WriteWithLines(&root));
  for (size_t k = 0; k < items.size(); ++k) {
    const GenItem& it = items[k];
    const xml::Node& n = root.children[k];
    const xml::Node* piece = nullptr;
    int seen = 0;
    for (const auto& c : n.children)
      if (c.name == "ConsignmentItem" && seen++ == it.fault_piece) piece = &c;
    const xml::Node* value = piece->Child("IntrinsicValue");
    AddFault(it, n.Child("TransportDocument")->line, piece->line, value ? value->line : piece->line,
             n.Child("GrossMass")->line, &out);
  }
  return out;
}

GeneratedPostal RenderH7Csv(const std::vector<GenItem>& items, GeneratedPostal out) {
  std::string& s = out.text;
  s = "transport_document,acceptance_date,importer_id,importer_name,importer_address,"
      "importer_postcode,importer_country,exporter_name,exporter_address,country_of_dispatch,"
      "gross_mass_kg,item_number,description,hs_code,quantity,item_gross_mass_kg,"
      "intrinsic_value,currency,country_of_origin\n";
  int64_t line = 1;
  for (const auto& it : items) {
    const int64_t first = line + 1;
    for (size_t i = 0; i < it.pieces.size(); ++i) {
      const GenPiece& p = it.pieces[i];
      for (const std::string& f :
           {it.id, it.date, it.addressee.id, it.addressee.name, it.addressee.address,
            it.addressee.postcode, it.addressee.country, it.sender.name, it.sender.address,
            it.sender.country, Fixed(it.gross, 3), std::to_string(i + 1),
            p.drop_description ? std::string() : p.description, p.hs, std::to_string(p.quantity),
            Fixed(p.net_kg, 3), p.drop_value ? std::string() : FormatDouble(p.value),
            p.currency.empty() ? it.currency : p.currency, p.origin}) {
        AppendCsvField(&s, f);
        s += ',';
      }
      s.back() = '\n';
      ++line;
    }
    const int64_t piece_line = first + it.fault_piece;
    AddFault(it, first, piece_line, piece_line, first, &out);
  }
  return out;
}

}  // namespace

Result<GeneratedPostal> GeneratePostalItems(const PostalGeneratorOptions& options) {
  if (options.items < 0 || options.items > 50'000'000)
    return Status::InvalidArgument("items must be 0..50000000");
  if (!(options.invalid_share >= 0 && options.invalid_share <= 1) ||
      !(options.vague_share >= 0 && options.vague_share <= 1))
    return Status::InvalidArgument("invalid_share and vague_share must be in [0, 1]");
  Rng rng(options.seed);
  const std::vector<GenItem> items = MakeItems(options, rng);
  GeneratedPostal out;
  out.items = options.items;
  for (const auto& it : items) {
    const int64_t n = static_cast<int64_t>(it.pieces.size());
    out.pieces += n;
    const bool rejects_all = it.fault == Fault::kCheckDigit;
    const bool rejects_one = it.fault == Fault::kNoDescription || it.fault == Fault::kNoValue ||
                             it.fault == Fault::kCurrency;
    out.good_pieces += rejects_all ? 0 : rejects_one ? n - 1 : n;
  }
  // Rates for every currency the posts use, over the generated days, quoted per rates_currency.
  const std::string base = options.rates_currency;
  double base_per_eur = 1;
  for (const auto& p : kPosts)
    if (base == p.currency) base_per_eur = p.per_eur;
  out.rates_csv = "currency,per_" + ToLower(base) + ",valid_from,valid_to\n";
  std::vector<std::string> done{base};
  for (const auto& p : kPosts) {
    if (std::find(done.begin(), done.end(), p.currency) != done.end()) continue;
    done.push_back(p.currency);
    out.rates_csv += std::string(p.currency) + "," + FormatDouble(p.per_eur / base_per_eur) + "," +
                     FormatDate(options.first_day) + "," +
                     FormatDate(options.first_day + std::max(1, options.days) - 1) + "\n";
  }
  if (base != "EUR") out.rates_csv += "EUR," + FormatDouble(1 / base_per_eur) + ",,\n";
  switch (options.format) {
    case PostalFormat::kEad:
      return RenderEad(items, std::move(out));
    case PostalFormat::kH7Xml:
      return RenderH7Xml(items, std::move(out));
    case PostalFormat::kH7Csv:
      return RenderH7Csv(items, std::move(out));
  }
  return out;
}

}  // namespace clearsight
