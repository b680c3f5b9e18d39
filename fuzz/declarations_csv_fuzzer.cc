// The CSV declaration readers (native, KCS, H7 CSV): any bytes give a batch or an error, every
// accepted record passes validation and serialises to JSON.
#include <nlohmann/json.hpp>

#include "clearsight/declarations.h"
#include "fuzz_util.h"

using namespace clearsight;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = fuzz::AsText(data, size);
  for (DeclarationFormat format :
       {DeclarationFormat::kNativeCsv, DeclarationFormat::kKcs, DeclarationFormat::kH7Csv}) {
    ReadOptions options;
    options.format = format;
    options.max_record_bytes = 64 << 10;
    IngestReport report;
    auto batch = ParseDeclarations(text, "fuzz.csv", options, &report);
    if (!batch.ok()) continue;
    for (const Declaration& d : batch->rows) {
      if (!ValidateDeclaration(d).ok()) __builtin_trap();  // accepted but invalid
      (void)nlohmann::json::parse(
          DeclarationToJson(d, batch->extra_columns));  // throws if not JSON
    }
  }
  return 0;
}
