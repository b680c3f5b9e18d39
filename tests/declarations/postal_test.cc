// Postal EAD and H7 readers, the S10 check digit, currency rates, and the generator round trip:
// every planted fault is rejected or flagged with its field and line, every good piece is kept.
#include "clearsight/postal.h"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <tuple>

#include "clearsight/currency_rates.h"
#include "clearsight/declarations.h"

namespace clearsight {
namespace {

// ---- S10 ---------------------------------------------------------------------------------------

TEST(S10, CheckDigitsComputedByHand) {
  // 1*8 + 2*6 + 3*4 + 4*2 + 5*3 + 6*5 + 7*9 + 8*7 = 204; 204 mod 11 = 6; 11 - 6 = 5.
  EXPECT_EQ(S10CheckDigit("12345678"), 5);
  EXPECT_EQ(S10Problem("RR123456785GB"), "");
  // 4*8 + 7*6 + 3*4 + 1*2 + 2*3 + 4*5 + 8*9 + 2*7 = 200; 200 mod 11 = 2; 11 - 2 = 9.
  EXPECT_EQ(S10CheckDigit("47312482"), 9);
  EXPECT_EQ(S10Problem("EE473124829GB"), "");
  // 2*6 = 12; 12 mod 11 = 1; 11 - 1 = 10, which counts as 0.
  EXPECT_EQ(S10CheckDigit("02000000"), 0);
  EXPECT_EQ(S10Problem("RR020000000GB"), "");
  // A sum of 0: 11 - 0 = 11, which counts as 5.
  EXPECT_EQ(S10CheckDigit("00000000"), 5);
  EXPECT_EQ(S10Problem("cp000000005de"), "");  // letters in any case
}

TEST(S10, WrongCheckDigitAndWrongShapeAreNamed) {
  EXPECT_NE(S10Problem("RR123456784GB").find("has check digit 4, expected 5"), std::string::npos);
  for (const char* bad :
       {"", "RR12345678GB", "R1123456785GB", "RR123456785G1", "RR1234567850GB", "RR12345678XGB"}) {
    EXPECT_NE(S10Problem(bad).find("is not an S10 identifier"), std::string::npos) << bad;
    EXPECT_FALSE(HasS10Shape(bad)) << bad;
  }
  EXPECT_EQ(S10CheckDigit("1234567"), -1);
  EXPECT_EQ(S10CheckDigit("1234567a"), -1);
}

// ---- postal EAD
// ----------------------------------------------------------------------------------

const char kEad[] = R"(<?xml version="1.0" encoding="UTF-8"?>
<PostalItems message="ITMATT">
  <Item>
    <ItemId>RR123456785GB</ItemId>
    <DateOfPosting>2024-03-01</DateOfPosting>
    <ItemCategory>Sale of goods</ItemCategory>
    <OriginPost>GBA</OriginPost>
    <DestinationOffice>DE004503</DestinationOffice>
    <GrossWeight>1.2</GrossWeight>
    <TotalValue currency="gbp">63</TotalValue>
    <InsuredValue>100</InsuredValue>
    <Sender><Name>Shop Ltd</Name><Address>1 High St, London</Address><Country>GB</Country></Sender>
    <Addressee><Name>Anna Muster</Name><Address>Hauptstr. 5</Address><Postcode>10115</Postcode><Country>de</Country></Addressee>
    <Contents>
      <Content><Number>1</Number><Description>Cotton T-shirts</Description><Quantity>3</Quantity><NetWeight>0.6</NetWeight><Value>30</Value><HSCode>6109.10</HSCode><OriginCountry>CN</OriginCountry></Content>
      <Content><Number>2</Number><Description>gift</Description><NetWeight>0.4</NetWeight><Value>30</Value><Colour>red</Colour></Content>
      <Content><Number>3</Number><Description>   </Description><NetWeight>0.1</NetWeight><Value>3</Value></Content>
      <Content><Number>4</Number><Description>Socks</Description><NetWeight>0.05</NetWeight></Content>
    </Contents>
  </Item>
  <Item>
    <ItemId>RR123456784GB</ItemId>
    <DateOfPosting>2024-03-01</DateOfPosting>
    <ItemCategory>gift</ItemCategory>
    <Addressee><Id>DE123</Id></Addressee>
    <Content><Description>Book</Description><NetWeight>0.5</NetWeight><Value currency="USD">12</Value></Content>
    <Content><Description>Pen</Description><NetWeight>0.1</NetWeight><Value currency="USD">2</Value></Content>
  </Item>
  <Item>
    <ItemId>EE473124829GB</ItemId>
    <DateOfPosting>2024-03-02</DateOfPosting>
    <ItemCategory>commercial sample</ItemCategory>
    <GrossWeight>0.3</GrossWeight>
    <Sender><Country>CN</Country></Sender>
    <Addressee><Id>DE123</Id><Country>DE</Country></Addressee>
    <Content><Description>Ceramic mug</Description><NetWeight>0.25</NetWeight><Value currency="US$">8</Value></Content>
    <Content><Description>Porcelain plate</Description><NetWeight>0.2</NetWeight><Value currency="USD">9</Value></Content>
  </Item>
  <Note>not an item</Note>
</PostalItems>
)";

std::set<std::tuple<int64_t, std::string>> LinesAndFields(const std::vector<Rejection>& v) {
  std::set<std::tuple<int64_t, std::string>> s;
  for (const auto& r : v) s.insert({r.line, r.field});
  return s;
}

TEST(PostalEad, EachPieceBecomesADeclarationOfTheItemsConsignment) {
  IngestReport report;
  auto batch = ParseDeclarations(kEad, "items.xml", ReadOptions{}, &report);
  ASSERT_TRUE(batch.ok()) << batch.status().message();
  ASSERT_EQ(batch->rows.size(), 3u);  // pieces 1 and 2 of the first item, the plate of the third
  const Declaration& d = batch->rows[0];
  EXPECT_EQ(d.declaration_id, "RR123456785GB-1");
  EXPECT_EQ(d.consignment_id, "RR123456785GB");
  EXPECT_EQ(FormatDate(d.date), "2024-03-01");
  EXPECT_EQ(d.hs_code, "610910");
  EXPECT_EQ(d.origin_country, "CN");
  EXPECT_EQ(d.departure_country, "GB");
  EXPECT_EQ(d.net_mass_kg, 0.6);
  EXPECT_EQ(d.declared_value, 30);
  EXPECT_EQ(d.supplementary_units, 3);
  EXPECT_EQ(d.currency, "GBP");
  EXPECT_EQ(d.description, "Cotton T-shirts");
  EXPECT_EQ(d.courier_id, "GBA");
  EXPECT_EQ(d.office_id, "DE004503");
  EXPECT_EQ(d.mode_of_transport, "5");
  EXPECT_EQ(d.importer_id.substr(0, 4), "ADR-");
  EXPECT_EQ(d.seller_id.substr(0, 4), "SND-");
  const Declaration& gift = batch->rows[1];
  EXPECT_EQ(gift.hs_code, "00");               // no HS code given: the placeholder
  EXPECT_EQ(gift.origin_country, "GB");        // no origin: the sender's country
  EXPECT_EQ(gift.importer_id, d.importer_id);  // the same addressee, the same key
  auto extra = [&](const Declaration& r, const char* col) {
    return std::string(batch->Extra(r, batch->ExtraIndex(col)));
  };
  EXPECT_EQ(extra(d, "item_id"), "RR123456785GB");
  EXPECT_EQ(extra(d, "item_category"), "sale_of_goods");
  EXPECT_EQ(extra(d, "item_gross_weight_kg"), "1.2");
  EXPECT_EQ(extra(d, "item_total_value"), "63");
  EXPECT_EQ(extra(d, "sender_country"), "GB");
  EXPECT_EQ(extra(d, "addressee_country"), "DE");
  EXPECT_EQ(extra(d, "piece_number"), "1");
  EXPECT_EQ(extra(d, "pieces_in_item"), "4");
  EXPECT_EQ(extra(d, "weight_mismatch"), "0");
  EXPECT_EQ(extra(d, "message"), "ITMATT");
  EXPECT_EQ(extra(d, "insured_value"), "100");  // an element no field takes: an extra column
  EXPECT_EQ(extra(gift, "colour"), "red");
  EXPECT_EQ(batch->rows[2].declaration_id, "EE473124829GB-2");
  EXPECT_EQ(extra(batch->rows[2], "weight_mismatch"), "1");
  EXPECT_EQ(batch->rows[2].importer_id, "DE123");
  EXPECT_TRUE(ValidateDeclaration(d).ok());
  EXPECT_TRUE(ValidateDeclaration(gift).ok());
}

TEST(PostalEad, BadPiecesAreRejectedWithLineAndFieldAndTheRestKept) {
  IngestReport report;
  auto batch = ParseDeclarations(kEad, "items.xml", ReadOptions{}, &report);
  ASSERT_TRUE(batch.ok());
  EXPECT_EQ(report.accepted, 3);
  // Piece 3 (blank description), piece 4 (no value), both pieces of the item with a wrong check
  // digit, the mug with "US$", and the <Note>.
  EXPECT_EQ(report.rejected, 6);
  const std::set<std::tuple<int64_t, std::string>> expected = {
      {17, "description"}, {18, "declared_value"}, {22, "item_id"}, {36, "currency"}, {39, ""}};
  EXPECT_EQ(LinesAndFields(report.rejections), expected);
  for (const auto& r : report.rejections) {
    EXPECT_EQ(r.file, "items.xml");
    if (r.field == "item_id") {
      EXPECT_NE(r.reason.find("has check digit 4, expected 5"), std::string::npos);
      EXPECT_NE(r.reason.find("the whole item is rejected"), std::string::npos);
    }
    if (r.field == "currency") {
      EXPECT_NE(r.reason.find("'US$' is not a three-letter ISO 4217 code"), std::string::npos);
      EXPECT_NE(r.raw.find("Ceramic mug"), std::string::npos);
    }
    if (r.field == "declared_value") {
      EXPECT_EQ(r.reason, "is missing (no <Value>)");
    }
  }
}

TEST(PostalEad, PiecesHeavierThanTheItemAreKeptAndFlagged) {
  IngestReport report;
  auto batch = ParseDeclarations(kEad, "items.xml", ReadOptions{}, &report);
  ASSERT_TRUE(batch.ok());
  // Item 1: 0.6 + 0.4 + 0.1 + 0.05 = 1.15 kg net under 1.2 kg gross: fine. Item 3: 0.45 > 0.3.
  ASSERT_EQ(report.warnings.size(), 1u);
  EXPECT_EQ(report.flagged, 1);  // the plate; the mug was rejected
  EXPECT_EQ(report.warnings[0].line, 33);
  EXPECT_EQ(report.warnings[0].field, "item_gross_weight_kg");
  EXPECT_NE(report.warnings[0].reason.find("0.450 kg net, more than the item's gross weight 0.300"),
            std::string::npos);
  const int col = batch->ExtraIndex("weight_mismatch");
  EXPECT_EQ(batch->Extra(batch->rows[0], col), "0");
  EXPECT_EQ(batch->Extra(batch->rows[2], col), "1");
  EXPECT_NE(report.Summary().find("flagged 1"), std::string::npos);
}

TEST(PostalEad, ItemLevelProblemsRejectEveryPieceOfTheItem) {
  const std::string doc = R"(<PostalItems>
<Item><ItemId>RR123456785GB</ItemId><DateOfPosting>2024-02-30</DateOfPosting><ItemCategory>gift</ItemCategory>
<Addressee><Id>A</Id></Addressee><Content><Description>x y z</Description><NetWeight>1</NetWeight><Value currency="EUR">1</Value></Content></Item>
<Item><ItemId>RR123456785GB</ItemId><DateOfPosting>2024-02-01</DateOfPosting><ItemCategory>bribe</ItemCategory>
<Addressee><Id>A</Id></Addressee><Content><Description>x y z</Description><NetWeight>1</NetWeight><Value currency="EUR">1</Value></Content></Item>
<Item><ItemId>RR123456785GB</ItemId><DateOfPosting>2024-02-01</DateOfPosting><ItemCategory>gift</ItemCategory>
<Content><Description>x y z</Description><NetWeight>1</NetWeight><Value currency="EUR">1</Value></Content></Item>
<Item><ItemId>RR123456785GB</ItemId><DateOfPosting>2024-02-01</DateOfPosting><ItemCategory>gift</ItemCategory>
<Addressee><Id>A</Id></Addressee></Item>
<Item><DateOfPosting>2024-02-01</DateOfPosting></Item>
</PostalItems>)";
  IngestReport report;
  auto batch = ParseDeclarations(doc, "i.xml", ReadOptions{}, &report);
  ASSERT_TRUE(batch.ok()) << batch.status().message();
  EXPECT_EQ(report.accepted, 0);
  const std::set<std::tuple<int64_t, std::string>> expected = {
      {2, "date"}, {4, "item_category"}, {6, "importer_id"}, {8, "contents"}, {10, "item_id"}};
  EXPECT_EQ(LinesAndFields(report.rejections), expected);
}

TEST(PostalEad, MalformedXmlFailsTheFileWithLineAndADoctypeIsRefused) {
  auto bad =
      ParseDeclarations("<PostalItems>\n<Item>\n<ItemId>RR123456785GB</Item>\n</PostalItems>",
                        "broken.xml", ReadOptions{}, nullptr);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("broken.xml:3: XML error:"), std::string::npos)
      << bad.status().message();
  auto doctype = ParseDeclarations(
      "<?xml version=\"1.0\"?>\n<!DOCTYPE PostalItems [<!ENTITY x SYSTEM "
      "\"file:///etc/passwd\">]>\n"
      "<PostalItems><Item><ItemId>&x;</ItemId></Item></PostalItems>",
      "xxe.xml", ReadOptions{}, nullptr);
  ASSERT_FALSE(doctype.ok());
  EXPECT_NE(doctype.status().message().find("DOCTYPE is not accepted"), std::string::npos);
  ReadOptions ead;
  ead.format = DeclarationFormat::kPostalEad;
  auto wrong_root = ParseDeclarations("<Declarations/>", "other.xml", ead, nullptr);
  ASSERT_FALSE(wrong_root.ok());
  EXPECT_NE(wrong_root.status().message().find("root element <Declarations> is not <PostalItems>"),
            std::string::npos);
  auto h7_as_ead = ParseDeclarations("<H7Declarations/>", "h7.xml", ead, nullptr);
  EXPECT_FALSE(h7_as_ead.ok());
}

// ---- H7
// --------------------------------------------------------------------------------------------

TEST(H7Csv, ConsignmentRowsGroupIntoOneItemAndConflictsAreRejected) {
  const std::string csv =
      "transport_document,acceptance_date,importer_id,country_of_dispatch,gross_mass_kg,"
      "item_number,description,hs_code,item_gross_mass_kg,intrinsic_value,currency,"
      "country_of_origin,platform\n"
      "1Z999AA10123456784,2024-05-02,DE77,CN,2.0,1,Bluetooth speaker,851822,0.8,35.5,EUR,,shopA\n"
      "1Z999AA10123456784,2024-05-02,DE77,CN,2.0,2,Phone charger cable,854442,0.3,9,EUR,VN,shopA\n"
      "1Z999AA10123456784,2024-05-02,DE78,CN,2.0,3,Wall clock,910521,0.4,12,EUR,,shopA\n"
      "LX000000005CN,2024-05-03,DE79,CN,0.5,1,Silk scarf,621410,0.2,,EUR,,shopB\n"
      "LX000000006CN,2024-05-03,DE79,CN,0.5,1,Silk scarf,621410,0.2,20,EUR,,shopB\n";
  IngestReport report;
  auto batch = ParseDeclarations(csv, "h7.csv", ReadOptions{}, &report);  // detected by header
  ASSERT_TRUE(batch.ok()) << batch.status().message();
  ASSERT_EQ(report.accepted, 2);
  EXPECT_EQ(batch->rows[0].declaration_id, "1Z999AA10123456784-1");
  EXPECT_EQ(batch->rows[0].consignment_id, "1Z999AA10123456784");  // not S10-shaped: no check
  EXPECT_EQ(batch->rows[0].origin_country, "CN");
  EXPECT_EQ(batch->rows[1].origin_country, "VN");
  EXPECT_EQ(batch->rows[1].importer_id, "DE77");
  EXPECT_EQ(batch->Extra(batch->rows[1], batch->ExtraIndex("message")), "H7");
  EXPECT_EQ(batch->Extra(batch->rows[1], batch->ExtraIndex("platform")), "shopA");
  EXPECT_EQ(batch->Extra(batch->rows[1], batch->ExtraIndex("pieces_in_item")), "2");
  const std::set<std::tuple<int64_t, std::string>> expected = {
      {4, "importer_id"}, {5, "declared_value"}, {6, "item_id"}};
  EXPECT_EQ(LinesAndFields(report.rejections), expected);
  for (const auto& r : report.rejections) {
    if (r.field == "importer_id") {
      EXPECT_NE(r.reason.find("'DE78' differs from 'DE77' on line 2"), std::string::npos);
    }
  }
}

TEST(H7Csv, AHeaderWithoutTheRequiredColumnsFailsNamingThem) {
  ReadOptions h7;
  h7.format = DeclarationFormat::kH7Csv;
  auto r = ParseDeclarations("transport_document,description\nA,b\n", "h.csv", h7, nullptr);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("'acceptance_date', 'intrinsic_value', 'currency'"),
            std::string::npos)
      << r.status().message();
}

// ---- currency rates ----------------------------------------------------------------------------

TEST(CurrencyRates, ConvertsWithTheRateValidOnTheDayAndNamesAMissingOne) {
  auto rates = CurrencyRates::Parse(
      "currency,per_eur,valid_from,valid_to\n"
      "USD,1.25,2024-01-01,2024-06-30\n"
      "usd,1.0,2024-07-01,\n"
      "GBP,0.8,,\n",
      "rates.csv");
  ASSERT_TRUE(rates.ok()) << rates.status().message();
  EXPECT_EQ(rates->base(), "EUR");
  EXPECT_EQ(rates->size(), 3u);
  int32_t mar = 0, aug = 0, dec23 = 0;
  ASSERT_TRUE(ParseDate("2024-03-01", &mar) && ParseDate("2024-08-01", &aug) &&
              ParseDate("2023-12-31", &dec23));
  EXPECT_DOUBLE_EQ(*rates->ToBase(100, "USD", mar), 80);
  EXPECT_DOUBLE_EQ(*rates->ToBase(100, "usd", aug), 100);
  EXPECT_DOUBLE_EQ(*rates->ToBase(100, "GBP", dec23), 125);
  EXPECT_DOUBLE_EQ(*rates->ToBase(7, "EUR", dec23), 7);
  auto missing = rates->ToBase(1, "XAF", mar);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().message(), "no rate for 'XAF' in rates.csv");
  auto early = rates->ToBase(1, "USD", dec23);
  ASSERT_FALSE(early.ok());
  EXPECT_EQ(early.status().message(),
            "no rate for 'USD' valid on 2023-12-31 in rates.csv (its rates cover "
            "2024-01-01..2024-06-30, 2024-07-01.....)");
}

TEST(CurrencyRates, ABadTableFailsNamingTheLine) {
  const std::pair<const char*, const char*> cases[] = {
      {"code,rate\nUSD,1\n", "rates.csv:1: header"},
      {"currency,per_euro\n", "rates.csv:1: column 'per_euro'"},
      {"currency,per_eur\nUSD,0\n", "rates.csv:2: field 'per_eur': '0' is not a positive number"},
      {"currency,per_eur\nUS,1\n", "rates.csv:2: field 'currency'"},
      {"currency,per_eur\nEUR,1\n", "rates.csv:2: a rate for the base currency EUR"},
      {"currency,per_eur,valid_from,valid_to\nUSD,1,2024-01-01,2024-12-31\nUSD,1.1,2024-06-01,\n",
       "rates.csv:3: USD 2024-06-01..... overlaps an earlier row's 2024-01-01..2024-12-31"},
      {"currency,per_eur,valid_from,valid_to\nUSD,1,2024-02-30,\n",
       "rates.csv:2: field 'valid_from'"},
      {"currency,per_eur,valid_from,valid_to\nUSD,1,2024-03-01,2024-02-01\n",
       "rates.csv:2: the period ends before it starts"},
  };
  for (const auto& [text, expected] : cases) {
    auto r = CurrencyRates::Parse(text, "rates.csv");
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_NE(r.status().message().find(expected), std::string::npos)
        << r.status().message() << " / expected " << expected;
  }
}

TEST(CurrencyRates, ReadingWithRatesConvertsKeepsTheOriginalAndRejectsAMissingRate) {
  ReadOptions options;
  auto rates = CurrencyRates::Parse("currency,per_eur\nUSD,1.25\nGBP,0.8\n", "r.csv");
  ASSERT_TRUE(rates.ok());
  options.rates = std::make_shared<const CurrencyRates>(std::move(rates).value());
  const std::string csv =
      "declaration_id,date,importer_id,hs_code,origin_country,net_mass_kg,declared_value,currency\n"
      "a,2024-01-01,I,8517,CN,1,100,USD\n"
      "b,2024-01-01,I,8517,CN,1,100,XAF\n"
      "c,2024-01-01,I,8517,CN,1,100,\n"
      "d,2024-01-01,I,8517,CN,1,100,eur\n";
  IngestReport report;
  auto batch = ParseDeclarations(csv, "d.csv", options, &report);
  ASSERT_TRUE(batch.ok());
  ASSERT_EQ(batch->rows.size(), 2u);
  EXPECT_DOUBLE_EQ(batch->rows[0].declared_value, 80);
  EXPECT_EQ(batch->rows[0].currency, "EUR");
  EXPECT_EQ(batch->Extra(batch->rows[0], batch->ExtraIndex("declared_value_original")), "100");
  EXPECT_EQ(batch->Extra(batch->rows[0], batch->ExtraIndex("currency_original")), "USD");
  EXPECT_EQ(batch->rows[1].currency, "EUR");
  ASSERT_EQ(report.rejections.size(), 2u);
  EXPECT_EQ(report.rejections[0].ToString(),
            "d.csv:3: field 'currency': no rate for 'XAF' in r.csv");
  EXPECT_EQ(report.rejections[1].line, 4);
  EXPECT_NE(report.rejections[1].reason.find("is empty: with a rates table"), std::string::npos);
}

// ---- the generator, round-tripped through every adapter
// --------------------------------------------

struct Read {
  GeneratedPostal gen;
  DeclarationBatch batch;
  IngestReport report;
};

Read GenerateAndRead(PostalFormat format, uint64_t seed, int64_t items) {
  PostalGeneratorOptions o;
  o.items = items;
  o.seed = seed;
  o.format = format;
  o.invalid_share = 0.15;
  Read r;
  auto gen = GeneratePostalItems(o);
  EXPECT_TRUE(gen.ok());
  r.gen = std::move(gen).value();
  ReadOptions options;  // auto-detected
  auto rates = CurrencyRates::Parse(r.gen.rates_csv, "rates.csv");
  EXPECT_TRUE(rates.ok()) << rates.status().message();
  options.rates = std::make_shared<const CurrencyRates>(std::move(rates).value());
  auto batch = ParseDeclarations(r.gen.text, "gen", options, &r.report);
  EXPECT_TRUE(batch.ok()) << batch.status().message();
  if (batch.ok()) r.batch = std::move(batch).value();
  return r;
}

class Generated : public ::testing::TestWithParam<PostalFormat> {};

TEST_P(Generated, EveryPlantedFaultIsReportedWithItsFieldAndLineAndEveryGoodPieceKept) {
  const Read r = GenerateAndRead(GetParam(), 7, 400);
  ASSERT_GT(r.gen.faults.size(), 30u);
  std::map<std::string, int> kinds;
  for (const auto& f : r.gen.faults) ++kinds[f.what];
  EXPECT_EQ(kinds.size(), 5u);  // every kind of fault was planted
  std::multiset<std::tuple<int64_t, std::string>> want_rejected, got_rejected, want_flagged,
      got_flagged;
  int64_t flagged_records = 0;
  for (const auto& f : r.gen.faults) {
    for (int64_t i = 0; i < (f.flag ? 1 : f.records); ++i)
      (f.flag ? want_flagged : want_rejected).insert({f.line, f.field});
    if (f.flag) flagged_records += f.records;
  }
  for (const auto& x : r.report.rejections) got_rejected.insert({x.line, x.field});
  for (const auto& x : r.report.warnings) got_flagged.insert({x.line, x.field});
  EXPECT_EQ(got_rejected, want_rejected);
  EXPECT_EQ(got_flagged, want_flagged);
  EXPECT_EQ(r.report.accepted, r.gen.good_pieces);
  EXPECT_EQ(r.report.accepted + r.report.rejected, r.gen.pieces);
  EXPECT_EQ(r.report.flagged, flagged_records);
  EXPECT_EQ(static_cast<int64_t>(r.batch.rows.size()), r.gen.good_pieces);
  // Values arrive converted into EUR, the declared ones kept; vague descriptions arrive as written.
  int vague = 0;
  const int original = r.batch.ExtraIndex("currency_original");
  ASSERT_GE(original, 0);
  std::set<std::string> currencies;
  for (const auto& d : r.batch.rows) {
    EXPECT_EQ(d.currency, "EUR");
    currencies.insert(std::string(r.batch.Extra(d, original)));
    vague += RateDescription(d.description).vague;
    EXPECT_TRUE(ValidateDeclaration(d).ok()) << d.declaration_id;
  }
  EXPECT_GE(currencies.size(), 6u);
  EXPECT_GT(vague, 20);
}

INSTANTIATE_TEST_SUITE_P(AllFormats, Generated,
                         ::testing::Values(PostalFormat::kEad, PostalFormat::kH7Csv,
                                           PostalFormat::kH7Xml));

TEST(Generated, TheThreeFormatsOfOneSeedReadToTheSameDeclarations) {
  const Read ead = GenerateAndRead(PostalFormat::kEad, 11, 150);
  const Read csv = GenerateAndRead(PostalFormat::kH7Csv, 11, 150);
  const Read xml = GenerateAndRead(PostalFormat::kH7Xml, 11, 150);
  ASSERT_EQ(ead.batch.rows.size(), csv.batch.rows.size());
  ASSERT_EQ(ead.batch.rows.size(), xml.batch.rows.size());
  for (size_t i = 0; i < ead.batch.rows.size(); ++i) {
    for (const Read* other : {&csv, &xml}) {
      const Declaration &a = ead.batch.rows[i], &b = other->batch.rows[i];
      EXPECT_EQ(a.declaration_id, b.declaration_id);
      EXPECT_EQ(a.date, b.date);
      EXPECT_EQ(a.importer_id, b.importer_id);
      EXPECT_EQ(a.seller_id, b.seller_id);
      EXPECT_EQ(a.hs_code, b.hs_code);
      EXPECT_EQ(a.origin_country, b.origin_country);
      EXPECT_EQ(a.net_mass_kg, b.net_mass_kg);
      EXPECT_EQ(a.declared_value, b.declared_value);
      EXPECT_EQ(a.description, b.description);
      EXPECT_EQ(a.supplementary_units, b.supplementary_units);
    }
  }
}

TEST(Generated, IsReproducible) {
  PostalGeneratorOptions o;
  o.items = 50;
  auto a = GeneratePostalItems(o), b = GeneratePostalItems(o);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->text, b->text);
  o.seed = 2;
  EXPECT_NE(GeneratePostalItems(o)->text, a->text);
}

}  // namespace
}  // namespace clearsight
