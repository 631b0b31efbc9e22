// Fuzz target: the whole validation pipeline on a buffer — format detection, schema detection,
// the matching reader, row checks and duplicate detection (no model). Never a crash.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "train/dataset-validate.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view d(reinterpret_cast<const char*>(data), size);
  cyllm::train::ValidationOptions o;
  o.max_problems = 64;
  auto r = cyllm::train::validate_buffer(d, o);
  if (r) (void)cyllm::train::to_json(*r).dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  return 0;
}
