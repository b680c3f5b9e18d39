// The postal XML readers (EAD items, H7 XML) through libxml2: any bytes give a batch or an
// error, every accepted item passes validation.
#include "clearsight/declarations.h"
#include "fuzz_util.h"

using namespace clearsight;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  for (DeclarationFormat format : {DeclarationFormat::kPostalEad, DeclarationFormat::kH7Xml}) {
    ReadOptions options;
    options.format = format;
    options.max_record_bytes = 64 << 10;
    IngestReport report;
    auto batch = ParseDeclarations(fuzz::AsText(data, size), "fuzz.xml", options, &report);
    if (!batch.ok()) continue;
    for (const Declaration& d : batch->rows)
      if (!ValidateDeclaration(d).ok()) __builtin_trap();  // accepted but invalid
  }
  return 0;
}
