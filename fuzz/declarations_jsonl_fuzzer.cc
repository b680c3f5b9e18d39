// The JSON Lines declaration reader: any bytes give a batch or an error, every accepted record
// passes validation and serialises to JSON.
#include <nlohmann/json.hpp>

#include "clearsight/declarations.h"
#include "fuzz_util.h"

using namespace clearsight;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ReadOptions options;
  options.format = DeclarationFormat::kNativeJsonl;
  options.max_record_bytes = 64 << 10;
  IngestReport report;
  auto batch = ParseDeclarations(fuzz::AsText(data, size), "fuzz.jsonl", options, &report);
  if (!batch.ok()) return 0;
  for (const Declaration& d : batch->rows) {
    if (!ValidateDeclaration(d).ok()) __builtin_trap();  // accepted but invalid
    (void)nlohmann::json::parse(DeclarationToJson(d, batch->extra_columns));
  }
  return 0;
}
