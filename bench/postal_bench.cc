// Postal benchmark: generated postal items parsed (postal EAD XML, H7 XML, H7 CSV) and decided
// (risk model, rules, selection, one response per item), side by side with the native CSV path on
// the very same content pieces. Parsing runs on one thread (as ReadDeclarations does), deciding
// on --threads.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "bench_util.h"
#include "clearsight/currency_rates.h"
#include "clearsight/decide.h"
#include "clearsight/declarations.h"
#include "clearsight/file_util.h"
#include "clearsight/postal.h"
#include "clearsight/risk_model.h"
#include "clearsight/rules.h"
#include "clearsight/text.h"

using namespace clearsight;

namespace {

const char kRules[] = R"(rule "vague description"
  when description_vague = 1 and declared_value > 20
  then channel yellow
  reason "vague description above 20 EUR"
end
rule "pieces heavier than the item"
  when weight_mismatch = "1"
  then channel red
end
)";

[[noreturn]] void Die(const Status& s) {
  std::fprintf(stderr, "error: %s\n", s.message().c_str());
  std::exit(1);
}

}  // namespace

int main(int argc, char** argv) {
  const bench::Flags flags(
      argc, argv,
      "usage: postal_bench [--items 100000] [--threads 2] [--trees 300] [--seed 1] [--data " CS_DATA
      "]\n"
      "Generated postal items (5 % with a planted fault) parsed and decided per second: postal\n"
      "EAD XML, H7 XML and H7 CSV beside the native CSV of the same content pieces. Values are\n"
      "converted with a rates table on every path. Decisions: a risk model trained on the KCS\n"
      "training rows (--trees), two rules, the daily budget, one response per item (XML).\n",
      {"--items", "--threads", "--trees", "--seed", "--data"});
  const int items = flags.Int("--items", 100'000, 1, 10'000'000);
  const int threads = flags.Int("--threads", 2, 1, 64);
  const int trees = flags.Int("--trees", 300, 1, 5000);
  const int seed = flags.Int("--seed", 1, 0, 1'000'000);
  const std::string data = flags.Text("--data", CS_DATA);

  // The training rows first: a wrong --data fails before any work.
  ReadOptions kcs;
  kcs.format = DeclarationFormat::kKcs;
  auto train = ReadDeclarations(data + "/customs/df_syn_train_eng.csv", kcs, nullptr);
  if (!train.ok()) Die(train.status());
  RiskModelOptions mo;
  mo.trees = trees;
  mo.threads = threads;

  // The messages, and the same pieces as native CSV (values as declared, rates applied on read).
  PostalGeneratorOptions go;
  go.items = items;
  go.seed = static_cast<uint64_t>(seed);
  go.invalid_share = 0.05;
  struct Input {
    std::string name, text;
    DeclarationFormat format;
  };
  std::vector<Input> inputs;
  std::string rates_csv;
  for (auto [format, name, read_as] :
       {std::tuple{PostalFormat::kEad, "postal EAD XML", DeclarationFormat::kPostalEad},
        std::tuple{PostalFormat::kH7Xml, "H7 XML", DeclarationFormat::kH7Xml},
        std::tuple{PostalFormat::kH7Csv, "H7 CSV", DeclarationFormat::kH7Csv}}) {
    go.format = format;
    auto gen = GeneratePostalItems(go);
    if (!gen.ok()) Die(gen.status());
    rates_csv = gen->rates_csv;
    inputs.push_back({name, std::move(gen->text), read_as});
  }
  {
    auto pieces = ParseDeclarations(inputs[0].text, "items.xml", ReadOptions{}, nullptr);
    if (!pieces.ok()) Die(pieces.status());
    const std::string tmp = "/tmp/postal_bench_" + std::to_string(::getpid()) + ".csv";
    if (Status s = WriteDeclarationsCsv(tmp, *pieces); !s.ok()) Die(s);
    auto csv = ReadFile(tmp);
    std::remove(tmp.c_str());
    if (!csv.ok()) Die(csv.status());
    inputs.push_back(
        {"native CSV (same pieces)", std::move(csv).value(), DeclarationFormat::kNativeCsv});
  }
  auto rates = CurrencyRates::Parse(rates_csv, "rates.csv");
  if (!rates.ok()) Die(rates.status());
  ReadOptions read;
  read.rates = std::make_shared<const CurrencyRates>(std::move(rates).value());

  // The deciding parts, loaded once.
  auto model = RiskModel::Train(*train, mo);
  if (!model.ok()) Die(model.status());
  auto rules = RuleSet::Parse(kRules, "bench.rules");
  if (!rules.ok()) Die(rules.status());
  DeclarationRiskOptions ro;
  ro.explain_reasons = 0;
  ro.threads = threads;
  const DeclarationRisk risk(std::make_shared<const RiskModel>(std::move(model).value()), nullptr,
                             std::make_shared<const RuleSet>(std::move(rules).value()), ro);
  BatchDecisionOptions bo;
  bo.threads = threads;

  std::printf(
      "postal benchmark: %d generated items, parse on 1 thread, decide on %d threads, %d trees\n",
      items, threads, trees);
  std::printf("machine: %s\n\n", bench::Machine().c_str());
  std::printf("%-26s %6s %8s %11s %11s %11s %11s %11s %11s\n", "input", "MB", "pieces",
              "parse it/s", "parse pc/s", "decide pc/s", "respond it/s", "e2e it/s", "e2e pc/s");
  std::string json = "{\"bench\":\"postal\",\"items\":" + std::to_string(items) +
                     ",\"threads\":" + std::to_string(threads) + ",\"paths\":[";
  for (size_t k = 0; k < inputs.size(); ++k) {
    const Input& in = inputs[k];
    ReadOptions options = read;
    options.format = in.format;
    DeclarationBatch batch;
    IngestReport report;
    const double parse = bench::BestOf(3, [&] {
      report = IngestReport{};
      auto b = ParseDeclarations(in.text, in.name, options, &report);
      if (!b.ok()) Die(b.status());
      batch = std::move(b).value();
    });
    size_t held = 0;
    std::vector<BatchDecision> decisions;
    const double decide_only = bench::BestOf(3, [&] { decisions = DecideBatch(risk, batch, bo); });
    const double respond = bench::BestOf(3, [&] {
      const std::vector<ConsignmentResponse> responses = ConsignmentResponses(batch, decisions);
      auto text = ResponsesToText(responses, ResponseFormat::kXml);
      if (!text.ok()) Die(text.status());
      held = 0;
      for (const auto& r : responses) held += r.action != ResponseAction::kRelease;
    });
    const double total = parse + decide_only + respond;
    const double pieces = static_cast<double>(batch.rows.size());
    const double mb = static_cast<double>(in.text.size()) / 1e6;
    std::printf("%-26s %6.1f %8.0f %11.0f %11.0f %11.0f %11.0f %11.0f %11.0f\n", in.name.c_str(),
                mb, pieces, items / parse, pieces / parse, pieces / decide_only, items / respond,
                items / total, pieces / total);
    json += std::string(k ? "," : "") + "{\"input\":\"" + in.name +
            "\",\"mb\":" + FormatFixed(mb, 1) + ",\"pieces\":" + std::to_string(batch.rows.size()) +
            ",\"rejected\":" + std::to_string(report.rejected) +
            ",\"flagged\":" + std::to_string(report.flagged) +
            ",\"held_items\":" + std::to_string(held) +
            ",\"parse_items_per_s\":" + FormatFixed(items / parse, 0) +
            ",\"parse_pieces_per_s\":" + FormatFixed(pieces / parse, 0) +
            ",\"decide_pieces_per_s\":" + FormatFixed(pieces / decide_only, 0) +
            ",\"respond_items_per_s\":" + FormatFixed(items / respond, 0) +
            ",\"end_to_end_items_per_s\":" + FormatFixed(items / total, 0) +
            ",\"end_to_end_pieces_per_s\":" + FormatFixed(pieces / total, 0) + "}";
  }
  std::printf(
      "\nit = items, pc = content pieces (declarations). parse: read + validate + rates, one "
      "thread;\n"
      "decide: model, rules, fusion, selection, model reasons for held pieces (DecideBatch, as\n"
      "`score` runs it); respond: one XML response per item; e2e: the three in a row. The native\n"
      "CSV row holds the same pieces (its items/s counts the items they came from).\n\n");
  std::printf("%s]}\n", json.c_str());
  return 0;
}
