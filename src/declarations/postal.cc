// Postal electronic advance data (EAD): items of UPU CUSITM / ITMATT messages in the XML form of
// docs/declarations.md ("Postal EAD"), read through the libxml2 adapter and turned into
// declarations by ItemEmitter. The root element also decides between EAD and H7 XML (h7.cc).
#include <string>

#include "clearsight/text.h"
#include "postal_items.h"
#include "xml_adapter.h"

namespace clearsight::postal {

// The H7 XML form's record (h7.cc).
Item H7XmlItem(const xml::Node& consignment);

namespace {

constexpr std::string_view kEadRoot = "PostalItems";
constexpr std::string_view kH7Root = "H7Declarations";

Text Get(const xml::Node* parent, std::string_view name, std::string_view source) {
  return ChildText(parent, name, source);
}

// "DeclaredPurpose" -> "declared_purpose": an element no field takes, as an extra column.
std::string SnakeCase(std::string_view name) {
  std::string s;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    if (c >= 'A' && c <= 'Z') {
      if (i > 0 && !(name[i - 1] >= 'A' && name[i - 1] <= 'Z')) s += '_';
      s += static_cast<char>(c - 'A' + 'a');
    } else {
      s += c == '-' || c == '.' ? '_' : c;
    }
  }
  return s;
}

Party GetParty(const xml::Node* item, std::string_view element) {
  const xml::Node* p = item->Child(element);
  Party party = PartyOf(p, "Id", "<Id>");
  if (p == nullptr) party.country.line = item->line;
  return party;
}

bool Known(std::string_view name, std::initializer_list<std::string_view> names) {
  for (auto n : names)
    if (n == name) return true;
  return false;
}

// Leaf elements no field takes become extra columns; elements with children are structure.
void AddExtras(const xml::Node& node, std::initializer_list<std::string_view> known,
               std::vector<std::pair<std::string, Text>>* extras) {
  for (const auto& c : node.children) {
    if (Known(c.name, known) || !c.children.empty()) continue;
    extras->emplace_back(SnakeCase(c.name), Text{c.text, c.line, true, c.name});
  }
}

std::string RawOf(const xml::Node& node) {
  auto text = xml::Write(node, false);
  return text.ok() ? *text : std::string();
}

Item EadItem(const xml::Node& node, std::string_view message) {
  Item item;
  item.message = message;
  item.line = node.line;
  item.id = Get(&node, "ItemId", "<ItemId>");
  item.date = Get(&node, "DateOfPosting", "<DateOfPosting>");
  item.category = Get(&node, "ItemCategory", "<ItemCategory>");
  item.gross_kg = Get(&node, "GrossWeight", "<GrossWeight>");
  item.total_value = Get(&node, "TotalValue", "<TotalValue>");
  item.currency = Get(&node, "Currency", "<Currency>");
  if (const xml::Node* tv = node.Child("TotalValue");
      tv && tv->HasAttribute("currency") && Trim(item.currency.v).empty()) {
    item.currency = Text{tv->Attribute("currency"), tv->line, true, "<TotalValue currency>"};
  }
  item.courier = Get(&node, "OriginPost", "<OriginPost>");
  item.office = Get(&node, "DestinationOffice", "<DestinationOffice>");
  item.sender = GetParty(&node, "Sender");
  item.addressee = GetParty(&node, "Addressee");
  item.id_must_be_s10 = true;
  item.category_required = true;
  item.mode_of_transport = "5";  // UN/ECE Recommendation 19: mail
  AddExtras(node,
            {"ItemId", "DateOfPosting", "ItemCategory", "GrossWeight", "TotalValue", "Currency",
             "OriginPost", "DestinationOffice"},
            &item.extras);
  std::vector<const xml::Node*> contents;
  for (const auto& c : node.children) {
    if (c.name == "Content") contents.push_back(&c);
    if (c.name == "Contents")
      for (const auto& cc : c.children)
        if (cc.name == "Content") contents.push_back(&cc);
  }
  for (const xml::Node* c : contents) {
    Piece& p = item.pieces.emplace_back();
    p.line = c->line;
    p.number = Get(c, "Number", "<Number>");
    p.description = Get(c, "Description", "<Description>");
    p.quantity = Get(c, "Quantity", "<Quantity>");
    p.net_kg = Get(c, "NetWeight", "<NetWeight>");
    p.value = Get(c, "Value", "<Value>");
    if (const xml::Node* v = c->Child("Value"); v && v->HasAttribute("currency"))
      p.currency = Text{v->Attribute("currency"), v->line, true, "<Value currency>"};
    p.hs = Get(c, "HSCode", "<HSCode>");
    p.origin = Get(c, "OriginCountry", "<OriginCountry>");
    AddExtras(
        *c, {"Number", "Description", "Quantity", "NetWeight", "Value", "HSCode", "OriginCountry"},
        &p.extras);
  }
  item.raw = [&node, contents](int piece) {
    return RawOf(piece < 0 ? node : *contents[static_cast<size_t>(piece)]);
  };
  return item;
}

}  // namespace

Text ChildText(const xml::Node* parent, std::string_view name, std::string_view source) {
  Text t;
  t.source = source;
  if (parent == nullptr) return t;
  t.line = parent->line;
  if (const xml::Node* c = parent->Child(name)) {
    t.v = c->text;
    t.line = c->line;
    t.present = true;
  }
  return t;
}

Party PartyOf(const xml::Node* p, std::string_view id_element, std::string_view id_source) {
  Party party;
  party.id = ChildText(p, id_element, id_source);
  party.name = ChildText(p, "Name", "<Name>");
  party.address = ChildText(p, "Address", "<Address>");
  party.postcode = ChildText(p, "Postcode", "<Postcode>");
  party.country = ChildText(p, "Country", "<Country>");
  return party;
}

Result<DeclarationBatch> ParseXmlMessage(std::string_view data, std::string_view name,
                                         DeclarationFormat expected, const ReadOptions& options,
                                         IngestReport* report) {
  ingest::BatchBuilder builder(name, options, report);
  ItemEmitter emitter(&builder);
  bool h7 = false;
  std::string message;
  auto on_root = [&](const xml::Node& root) -> Status {
    const bool ead_root = root.name == kEadRoot, h7_root = root.name == kH7Root;
    if ((expected == DeclarationFormat::kPostalEad && !ead_root) ||
        (expected == DeclarationFormat::kH7Xml && !h7_root) || (!ead_root && !h7_root)) {
      return Status::InvalidArgument(
          std::string(name) + ":" + std::to_string(root.line) + ": root element <" + root.name +
          "> is not " +
          (expected == DeclarationFormat::kPostalEad ? "<PostalItems> (postal EAD)"
           : expected == DeclarationFormat::kH7Xml
               ? "<H7Declarations> (H7 XML)"
               : "a declarations message (<PostalItems> for postal EAD, <H7Declarations> for "
                 "H7)"));
    }
    h7 = h7_root;
    message = h7 ? "H7" : std::string(Trim(root.Attribute("message")));
    if (message.empty()) message = "CUSITM";
    if (!h7 && message != "CUSITM" && message != "ITMATT")
      return Status::InvalidArgument(std::string(name) + ":" + std::to_string(root.line) +
                                     ": attribute message='" + Excerpt(message, 20) +
                                     "' is not CUSITM or ITMATT");
    return Status::Ok();
  };
  auto on_record = [&](xml::Node&& node) -> Status {
    const std::string_view record = h7 ? "HouseConsignment" : "Item";
    if (node.name == "Header") return Status::Ok();  // message metadata: nothing to declare
    if (node.name != record) {
      builder.Reject(node.line, "",
                     "element <" + node.name + "> is not an <" + std::string(record) +
                         "> (nothing of it is read)",
                     RawOf(node));
      return Status::Ok();
    }
    Item item = h7 ? H7XmlItem(node) : EadItem(node, message);
    if (h7)
      item.raw = [&node](int piece) {
        std::vector<const xml::Node*> goods;
        for (const auto& c : node.children)
          if (c.name == "ConsignmentItem") goods.push_back(&c);
        return RawOf(piece < 0 ? node : *goods[static_cast<size_t>(piece)]);
      };
    emitter.Emit(item);
    return Status::Ok();
  };
  CS_RETURN_IF_ERROR(xml::ReadRecords(data, name, on_root, on_record));
  return std::move(builder.batch());
}

}  // namespace clearsight::postal
