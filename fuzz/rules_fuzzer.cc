// The rule language: any text parses into rules or fails with a located error; rules that parse
// are matched against a few declarations (with and without derived values) without crashing.
#include <cmath>

#include "clearsight/declarations.h"
#include "clearsight/rules.h"
#include "fuzz_util.h"

using namespace clearsight;

namespace {
const DeclarationBatch& Sample() {
  static const DeclarationBatch batch = [] {
    ReadOptions options;
    options.format = DeclarationFormat::kNativeJsonl;
    auto b = ParseDeclarations(
        R"({"declaration_id":"D1","date":"2026-03-01","importer_id":"IMP1","hs_code":"851712","origin_country":"CN","net_mass_kg":2.5,"declared_value":120,"office_id":"30","description":"phone","colour":"red"}
{"declaration_id":"D2","date":"2021-01-05","importer_id":"QLRUBN9","hs_code":"610910","origin_country":"XX","net_mass_kg":0.001,"declared_value":0,"office_id":"7"}
)",
        "sample.jsonl", options, nullptr);
    if (!b.ok() || b->rows.size() != 2) __builtin_trap();
    return std::move(b).value();
  }();
  return batch;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto rules = RuleSet::Parse(fuzz::AsText(data, size), "fuzz.rules");
  if (!rules.ok()) return 0;
  const DeclarationBatch& batch = Sample();
  DerivedFeatures derived;
  DerivedFeatures known{0.3, 2.5, 1e6, 0.9};
  for (const Declaration& d : batch.rows)
    for (const DerivedFeatures* f : {&derived, &known})
      for (int i : rules->Match(d, batch, *f))
        if (i < 0 || static_cast<size_t>(i) >= rules->rules().size()) __builtin_trap();
  return 0;
}
