// Fuzz target: the csv dataset reader (engine/train/dataset-csv.cpp) and the schema checks of every
// row it yields. Any input must give rows, row problems or an Error; never a crash, hang or
// sanitizer report.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "dataset-fuzz-common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view d(reinterpret_cast<const char*>(data), size);
  (void)cyllm::train::read_csv(d, [](cyllm::train::RawRow& r) { return fuzz_check_row(r); });
  return 0;
}
