// Fuzz target: the GGUF reader and everything that interprets its metadata (model config, weight
// resolution). Any input must give a value or an Error, never a crash, hang or sanitizer report.
#include <cstddef>
#include <cstdint>

#include "model/gguf-reader.h"
#include "model/model-config.h"
#include "model/weights.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto f = cyllm::GgufFile::parse(data, size, "fuzz");
  if (!f) return 0;
  for (const auto& [key, value] : f->metadata()) (void)value.to_display();
  auto cfg = cyllm::ModelConfig::from_gguf(*f);
  if (cfg) (void)cyllm::ModelWeights::resolve(*f, *cfg);
  return 0;
}
