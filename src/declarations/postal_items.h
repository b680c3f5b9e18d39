// Internal to the declarations stage: a postal or express item as its readers see it (text as
// written, each value with its line), and the one place that turns an item into declarations, so
// the EAD XML reader and the H7 CSV and XML readers validate and map items the same way
// (docs/declarations.md, "Postal items").
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "ingest.h"

namespace clearsight::postal {

// A value as written, where it was written (`source`: the element or column name, for messages).
struct Text {
  std::string_view v;
  int64_t line = 0;
  bool present = false;
  std::string_view source;
};

struct Party {
  Text id, name, address, postcode, country;
};

}  // namespace clearsight::postal

namespace clearsight::xml {
struct Node;
}  // namespace clearsight::xml

namespace clearsight::postal {

// The child element `name` of `parent` as a Text; an absent element is `present = false` with the
// parent's line. `source` names the element for messages ("<NetWeight>").
Text ChildText(const xml::Node* parent, std::string_view name, std::string_view source);
// A party element (sender, addressee, importer, exporter) whose identifier is `id_element`
// (`id_source` names it for messages and must outlive the Party, as every Text's source does).
Party PartyOf(const xml::Node* p, std::string_view id_element, std::string_view id_source);

struct Piece {
  int64_t line = 0;
  Text number, description, quantity, net_kg, value, currency, hs, origin;
  std::vector<std::pair<std::string, Text>> extras;  // elements / columns no field takes
};

struct Item {
  std::string_view message;  // "CUSITM", "ITMATT", "H7": the extra column `message`
  int64_t line = 0;
  Text id, date, category, gross_kg, total_value, currency, office, courier;
  bool id_must_be_s10 = true;  // EAD: yes; H7: only a transport document of the S10 shape
  bool category_required = true;
  std::string_view mode_of_transport;  // "5" (mail) for EAD
  Party sender, addressee;
  std::vector<Piece> pieces;
  std::vector<std::pair<std::string, Text>> extras;
  // The text kept with a rejection: of piece i, or of the whole item for -1.
  std::function<std::string(int)> raw;
};

// The extra columns every postal record carries, in this order.
inline constexpr const char* kItemColumns[] = {
    "item_id",          "item_category",  "item_gross_weight_kg",
    "item_total_value", "sender_country", "addressee_country",
    "piece_number",     "pieces_in_item", "weight_mismatch",
    "message"};

// Net weights above the gross weight by more than this (kg) are a mismatch: rounding to grams is
// not one.
inline constexpr double kWeightTolerance = 0.0005;

class ItemEmitter {
 public:
  explicit ItemEmitter(ingest::BatchBuilder* builder);
  // Validates the item and adds one declaration per content piece, or rejects pieces (or the
  // whole item) with field, line and reason; flags pieces heavier than the item.
  void Emit(const Item& item);

 private:
  int Column(const std::string& name);
  void RejectItem(const Item& item, const Text& at, std::string field, const std::string& why);

  ingest::BatchBuilder* builder_;
  std::unordered_map<std::string, int> columns_;
  int first_column_ = 0;
};

// A stable id for a party known by name and address only: "<prefix>-" and 16 hex digits of a
// hash of the parts lower-cased, with punctuation and runs of spaces folded.
std::string PartyKey(std::string_view prefix, const Party& party);

// A category as written ("Sale of goods", "sale_of_goods", "COMMERCIAL SAMPLE") in its canonical
// form (gift, documents, commercial_sample, sale_of_goods, returned_goods, other); "" if unknown.
std::string_view CanonicalCategory(std::string_view written);

}  // namespace clearsight::postal

namespace clearsight::postal {

// An XML message by its root element: PostalItems (postal EAD) or H7Declarations (H7). With
// `expected` kPostalEad or kH7Xml the root must be that one; with kAuto either.
Result<DeclarationBatch> ParseXmlMessage(std::string_view data, std::string_view name,
                                         DeclarationFormat expected, const ReadOptions& options,
                                         IngestReport* report);

// The H7 dataset as CSV: one row per goods item, the rows of a house consignment together.
Result<DeclarationBatch> ParseH7Csv(std::string_view data, std::string_view name,
                                    const ReadOptions& options, IngestReport* report);

// Whether a CSV header row is H7's (it names transport_document and intrinsic_value).
bool LooksLikeH7Header(std::string_view header_line);

}  // namespace clearsight::postal
