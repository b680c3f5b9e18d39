// The EU H7 dataset (customs declarations for low-value consignments, Annex B column H7 of the UCC
// Delegated Regulation) in two forms, CSV and XML, as described in docs/declarations.md ("H7"):
// each house consignment is an item, each goods item a content piece, both turned into
// declarations by ItemEmitter.
#include <array>
#include <string>

#include "clearsight/text.h"
#include "common/csv.h"
#include "postal_items.h"
#include "xml_adapter.h"

namespace clearsight::postal {

namespace {

Text Get(const xml::Node* parent, std::string_view name, std::string_view source) {
  return ChildText(parent, name, source);
}

Party GetParty(const xml::Node* p) { return PartyOf(p, "Identification", "<Identification>"); }

}  // namespace

Item H7XmlItem(const xml::Node& node) {
  Item item;
  item.message = "H7";
  item.line = node.line;
  item.id = Get(&node, "TransportDocument", "<TransportDocument>");
  item.date = Get(&node, "AcceptanceDate", "<AcceptanceDate>");
  item.office = Get(&node, "CustomsOffice", "<CustomsOffice>");
  item.gross_kg = Get(&node, "GrossMass", "<GrossMass>");
  item.currency = Get(&node, "Currency", "<Currency>");
  item.addressee = GetParty(node.Child("Importer"));
  item.sender = GetParty(node.Child("Exporter"));
  // The sender's country is where the goods were dispatched from; the addressee's where they go.
  if (Text t = Get(&node, "CountryOfDispatch", "<CountryOfDispatch>"); t.present)
    item.sender.country = t;
  if (Trim(item.addressee.country.v).empty())
    item.addressee.country = Get(&node, "CountryOfDestination", "<CountryOfDestination>");
  item.id_must_be_s10 = false;
  item.category_required = false;
  for (const char* extra : {"LRN", "CountryOfDestination"}) {
    if (const xml::Node* c = node.Child(extra))
      item.extras.emplace_back(extra == std::string_view("LRN") ? "lrn" : "country_of_destination",
                               Text{c->text, c->line, true, c->name});
  }
  for (const auto& c : node.children) {
    if (c.name != "ConsignmentItem") continue;
    Piece& p = item.pieces.emplace_back();
    p.line = c.line;
    p.number = Get(&c, "GoodsItemNumber", "<GoodsItemNumber>");
    p.description = Get(&c, "DescriptionOfGoods", "<DescriptionOfGoods>");
    p.hs = Get(&c, "HarmonizedSystemSubHeadingCode", "<HarmonizedSystemSubHeadingCode>");
    p.quantity = Get(&c, "Quantity", "<Quantity>");
    p.net_kg = Get(&c, "GrossMass", "<GrossMass>");
    p.value = Get(&c, "IntrinsicValue", "<IntrinsicValue>");
    if (const xml::Node* v = c.Child("IntrinsicValue"); v && v->HasAttribute("currency"))
      p.currency = Text{v->Attribute("currency"), v->line, true, "<IntrinsicValue currency>"};
    p.origin = Get(&c, "CountryOfOrigin", "<CountryOfOrigin>");
  }
  return item;
}

// ---- CSV ----------------------------------------------------------------------------------------

namespace {

enum class H7Col {
  kLrn,
  kTransportDocument,
  kAcceptanceDate,
  kCustomsOffice,
  kImporterId,
  kImporterName,
  kImporterAddress,
  kImporterPostcode,
  kImporterCountry,
  kExporterId,
  kExporterName,
  kExporterAddress,
  kExporterPostcode,
  kExporterCountry,
  kCountryOfDispatch,
  kCountryOfDestination,
  kGrossMass,  // the last consignment-level column
  kItemNumber,
  kDescription,
  kHs,
  kQuantity,
  kItemGrossMass,
  kIntrinsicValue,
  kCurrency,
  kCountryOfOrigin,
  kCount,
};

constexpr const char* kH7Names[] = {"lrn",
                                    "transport_document",
                                    "acceptance_date",
                                    "customs_office",
                                    "importer_id",
                                    "importer_name",
                                    "importer_address",
                                    "importer_postcode",
                                    "importer_country",
                                    "exporter_id",
                                    "exporter_name",
                                    "exporter_address",
                                    "exporter_postcode",
                                    "exporter_country",
                                    "country_of_dispatch",
                                    "country_of_destination",
                                    "gross_mass_kg",
                                    "item_number",
                                    "description",
                                    "hs_code",
                                    "quantity",
                                    "item_gross_mass_kg",
                                    "intrinsic_value",
                                    "currency",
                                    "country_of_origin"};
static_assert(std::size(kH7Names) == static_cast<size_t>(H7Col::kCount));

constexpr H7Col kH7Required[] = {H7Col::kTransportDocument, H7Col::kAcceptanceDate,
                                 H7Col::kDescription, H7Col::kIntrinsicValue, H7Col::kCurrency};

bool IsConsignmentLevel(size_t c) { return c <= static_cast<size_t>(H7Col::kGrossMass); }

struct Row {
  int64_t line = 0;
  std::string raw;
  std::vector<std::string> fields;
};

}  // namespace

bool LooksLikeH7Header(std::string_view header_line) {
  CsvReader reader(header_line);
  CsvRecord rec;
  if (!reader.Next(&rec)) return false;
  bool doc = false, value = false;
  for (auto f : rec.fields) {
    const std::string n = ToLower(Trim(f));
    doc |= n == "transport_document";
    value |= n == "intrinsic_value";
  }
  return doc && value;
}

Result<DeclarationBatch> ParseH7Csv(std::string_view data, std::string_view name,
                                    const ReadOptions& options, IngestReport* report) {
  CsvReader reader(data, options.max_record_bytes);
  CsvRecord rec;
  auto file_error = [&](int64_t line, const std::string& why) {
    return Status::InvalidArgument(std::string(name) + ":" + std::to_string(line) + ": " + why);
  };
  if (!reader.Next(&rec))
    return Status::InvalidArgument(std::string(name) +
                                   ": no header row (the file holds only blank lines)");
  if (!rec.error.empty()) return file_error(rec.line, "header row: " + rec.error);
  if (!IsValidUtf8(rec.raw)) return file_error(rec.line, "header row is not valid UTF-8");
  std::array<int, static_cast<size_t>(H7Col::kCount)> col;
  col.fill(-1);
  std::vector<std::pair<std::string, int>> extra_cols;
  for (size_t i = 0; i < rec.fields.size(); ++i) {
    const std::string n = ToLower(Trim(rec.fields[i]));
    bool known = false;
    for (size_t c = 0; c < std::size(kH7Names); ++c) {
      if (n != kH7Names[c]) continue;
      if (col[c] >= 0) return file_error(rec.line, "header names column '" + n + "' twice");
      col[c] = static_cast<int>(i);
      known = true;
    }
    if (!known && !n.empty()) extra_cols.emplace_back(n, static_cast<int>(i));
  }
  std::string missing;
  for (H7Col c : kH7Required) {
    if (col[static_cast<size_t>(c)] < 0)
      missing +=
          (missing.empty() ? "'" : ", '") + std::string(kH7Names[static_cast<size_t>(c)]) + "'";
  }
  if (!missing.empty())
    return file_error(rec.line, "header lacks required H7 column(s) " + missing + "; found '" +
                                    Excerpt(rec.raw, 200) + "'");
  const size_t ncols = rec.fields.size();

  ingest::BatchBuilder builder(name, options, report);
  ItemEmitter emitter(&builder);
  std::vector<Row> group;
  auto text = [&](const Row& r, H7Col c) {
    const int i = col[static_cast<size_t>(c)];
    Text t;
    t.source = kH7Names[static_cast<size_t>(c)];
    t.line = r.line;
    if (i >= 0) {
      t.v = r.fields[static_cast<size_t>(i)];
      t.present = true;
    }
    return t;
  };
  auto flush = [&] {
    if (group.empty()) return;
    const Row& first = group.front();
    Item item;
    item.message = "H7";
    item.line = first.line;
    item.id = text(first, H7Col::kTransportDocument);
    item.date = text(first, H7Col::kAcceptanceDate);
    item.office = text(first, H7Col::kCustomsOffice);
    item.gross_kg = text(first, H7Col::kGrossMass);
    item.addressee =
        Party{text(first, H7Col::kImporterId), text(first, H7Col::kImporterName),
              text(first, H7Col::kImporterAddress), text(first, H7Col::kImporterPostcode),
              text(first, H7Col::kImporterCountry)};
    item.sender = Party{text(first, H7Col::kExporterId), text(first, H7Col::kExporterName),
                        text(first, H7Col::kExporterAddress), text(first, H7Col::kExporterPostcode),
                        text(first, H7Col::kExporterCountry)};
    if (Text t = text(first, H7Col::kCountryOfDispatch); !Trim(t.v).empty())
      item.sender.country = t;
    if (Trim(item.addressee.country.v).empty())
      item.addressee.country = text(first, H7Col::kCountryOfDestination);
    item.id_must_be_s10 = false;
    item.category_required = false;
    for (H7Col c : {H7Col::kLrn, H7Col::kCountryOfDestination})
      if (Text t = text(first, c); t.present)
        item.extras.emplace_back(kH7Names[static_cast<size_t>(c)], t);
    for (const Row& r : group) {
      Piece& p = item.pieces.emplace_back();
      p.line = r.line;
      p.number = text(r, H7Col::kItemNumber);
      p.description = text(r, H7Col::kDescription);
      p.hs = text(r, H7Col::kHs);
      p.quantity = text(r, H7Col::kQuantity);
      p.net_kg = text(r, H7Col::kItemGrossMass);
      p.value = text(r, H7Col::kIntrinsicValue);
      p.currency = text(r, H7Col::kCurrency);
      p.origin = text(r, H7Col::kCountryOfOrigin);
      for (const auto& [n, i] : extra_cols)
        p.extras.emplace_back(n, Text{r.fields[static_cast<size_t>(i)], r.line, true, n});
    }
    item.raw = [&group](int piece) {
      if (piece >= 0) return group[static_cast<size_t>(piece)].raw;
      std::string all;
      for (const Row& r : group) all += r.raw + "\n";
      return all;
    };
    emitter.Emit(item);
    group.clear();
  };

  const int doc_col = col[static_cast<size_t>(H7Col::kTransportDocument)];
  while (reader.Next(&rec)) {
    if (ingest::RejectMalformedRecord(rec, ncols, builder)) continue;
    Row row{rec.line, std::string(rec.raw), {}};
    row.fields.reserve(ncols);
    for (auto f : rec.fields) row.fields.emplace_back(f);
    // A house consignment's rows are consecutive; a new transport document starts the next.
    if (!group.empty() && Trim(group.front().fields[static_cast<size_t>(doc_col)]) !=
                              Trim(row.fields[static_cast<size_t>(doc_col)]))
      flush();
    if (!group.empty()) {
      // Consignment-level columns say the same on every row of the consignment.
      const Row& first = group.front();
      bool differs = false;
      for (size_t c = 0; c < std::size(kH7Names) && !differs; ++c) {
        const int i = col[c];
        if (!IsConsignmentLevel(c) || i < 0) continue;
        const std::string_view a = Trim(first.fields[static_cast<size_t>(i)]),
                               b = Trim(row.fields[static_cast<size_t>(i)]);
        if (a == b) continue;
        builder.Reject(row.line, kH7Names[c],
                       "'" + Excerpt(b, 40) + "' differs from '" + Excerpt(a, 40) + "' on line " +
                           std::to_string(first.line) + ", the consignment's first row",
                       row.raw);
        differs = true;
      }
      if (differs) continue;
    }
    group.push_back(std::move(row));
  }
  flush();
  return std::move(builder.batch());
}

}  // namespace clearsight::postal
