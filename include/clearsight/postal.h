// Postal and express consignments: the S10 item identifier, how informative a goods description
// is, a generator of realistic postal items for tests and benchmarks, and the customs response
// per consignment (CUSRSP-like). The readers of postal EAD
// (UPU CUSITM / ITMATT items as XML) and of the EU H7 dataset are formats of ReadDeclarations
// (DeclarationFormat::kPostalEad, kH7Csv, kH7Xml); every content piece of an item becomes one
// Declaration of the item's consignment (docs/declarations.md, "Postal items").
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "clearsight/channel.h"
#include "clearsight/status.h"

namespace clearsight {

// ---- S10 item identifiers (UPU standard S10) -----------------------------------------------
// Two letters (service indicator), an 8-digit serial number, a check digit, and the ISO 3166
// alpha-2 code of the issuing post: RR123456785GB.

// The check digit of an 8-digit serial: the digits weighted 8 6 4 2 3 5 9 7 and summed, then
// 11 - (sum mod 11), where 10 counts as 0 and 11 as 5. -1 when `serial` is not eight digits.
int S10CheckDigit(std::string_view serial);

// "" when `id` is a well-formed S10 identifier with the right check digit, else the reason
// ("has check digit 4, expected 5"). Letters may be lower case.
std::string S10Problem(std::string_view id);

// The S10 shape (2 letters, 9 digits, 2 letters) without the check digit's verdict.
bool HasS10Shape(std::string_view id);

// ---- Description quality ---------------------------------------------------------------------

// Vague descriptions ("gift", "parts", "sample", "clothes") are a known risk signal in small
// consignments. `score` is 0 for an empty or purely vague description, 0.5 with one informative
// word, 0.75 with two and 1 with three or more; a word is informative when it has at least three
// letters and is neither a vague word nor a filler (docs/rules.md lists both).
struct DescriptionQuality {
  double score = 0;
  bool vague = true;  // no informative word at all
  int informative_words = 0;
};
DescriptionQuality RateDescription(std::string_view description);

// ---- A generator of postal items --------------------------------------------------------------

enum class PostalFormat { kEad, kH7Csv, kH7Xml };
// "ead", "h7", "h7xml"; InvalidArgument for anything else.
Result<PostalFormat> ParsePostalFormat(std::string_view name);

struct PostalGeneratorOptions {
  int64_t items = 100;
  uint64_t seed = 1;
  PostalFormat format = PostalFormat::kEad;
  // Share of items carrying one planted fault: a wrong S10 check digit, a piece without
  // description or value, an unknown currency, or pieces heavier than the item (flagged, kept).
  double invalid_share = 0.1;
  double vague_share = 0.2;            // share of pieces with a vague description ("gift")
  int32_t first_day = 19723;           // 2024-01-01
  int days = 30;                       // items are posted over this many days
  std::string rates_currency = "EUR";  // see `rates_csv` below
};

// A fault the generator planted, and what the reader must say about it.
struct PlantedFault {
  std::string item_id;  // as written (a wrong check digit included)
  int piece = 0;        // 1-based piece number; 0 for the whole item
  std::string field;    // the field the reader names
  int64_t line = 0;     // the line the reader names
  bool flag = false;    // a warning (records kept), not a rejection
  int64_t records = 0;  // pieces rejected (or flagged) by it
  std::string what;     // "wrong S10 check digit", ...
};

struct GeneratedPostal {
  std::string text;                  // the message in the chosen format
  std::vector<PlantedFault> faults;  // in the order they appear
  int64_t items = 0, pieces = 0;
  int64_t good_pieces = 0;  // pieces the reader must accept (flagged ones included)
  // A rates table (per_<rates_currency>) for every currency the items use, except the one the
  // unknown-currency faults use, valid over the generated days.
  std::string rates_csv;
};

// Seeded and reproducible: the same options give the same bytes. Items have 1..5 pieces, S10
// identifiers of several posts, senders in several countries, values in several currencies, HS
// codes on most pieces, and weights that add up unless a fault says otherwise.
Result<GeneratedPostal> GeneratePostalItems(const PostalGeneratorOptions& options);

// ---- Customs responses (CUSRSP-like) ----------------------------------------------------------

enum class ResponseAction { kRelease, kHoldForDocuments, kHoldForInspection };
// green -> release, yellow -> hold for documents, red -> hold for inspection.
ResponseAction ResponseActionFor(Channel channel);
// "release", "hold_documents", "hold_inspection".
std::string_view ResponseActionName(ResponseAction action);
// "release", "hold for documents", "hold for inspection".
std::string_view ResponseActionWords(ResponseAction action);

struct ResponseReason {
  std::string code;   // CONTROL, MODEL_RISK, UNDERVALUED, RULE, ... (docs/declarations.md)
  std::string text;   // the plain-words reason an officer reads
  std::string rule;   // for RULE: the rule's name
  std::string piece;  // the declaration (content piece) it is about; "" for the consignment
};

struct PieceDecision {
  std::string declaration_id;
  Channel channel = Channel::kGreen;
  double score = 0;
};

// The answer about one consignment: the strongest decision among its declarations (pieces).
struct ConsignmentResponse {
  std::string consignment_id;
  std::string item_id;  // the S10 identifier of a postal item, else the transport document
  ResponseAction action = ResponseAction::kRelease;
  Channel channel = Channel::kGreen;
  double score = 0;  // the highest piece score
  bool control = false;
  std::vector<ResponseReason> reasons;  // strongest first, each once
  std::vector<PieceDecision> pieces;
};

enum class ResponseFormat { kXml, kJsonl };

// The responses as an XML document (root CustomsResponses) or as JSON lines; both are described
// field by field in docs/declarations.md.
Result<std::string> ResponsesToText(const std::vector<ConsignmentResponse>& responses,
                                    ResponseFormat format);
// JSON lines for a path ending in .jsonl or .json, else XML; written atomically.
Status WriteResponses(const std::string& path, const std::vector<ConsignmentResponse>& responses);

}  // namespace clearsight
