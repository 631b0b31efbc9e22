// Differential fuzz target: the fast JSON row parser (engine/train/json-fast.cpp) against
// nlohmann's parser. Both must accept or reject the same input (nesting deeper than kMaxJsonDepth
// excepted) and accepted input must give equal values.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "train/json-fast.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view s(reinterpret_cast<const char*>(data), size);
  // nlohmann stops reading at a NUL byte (and accepts what came before); the fast parser rejects
  // NUL. Compare on the text before the first NUL.
  s = s.substr(0, s.find('\0'));
  nlohmann::ordered_json fast, ref;
  std::string err;
  bool ok_fast = cyllm::train::parse_json_fast(s, &fast, &err);
  bool ok_ref = true;
  try {
    ref = nlohmann::ordered_json::parse(s);
  } catch (const std::exception&) {
    ok_ref = false;
  }
  if (ok_ref && !ok_fast && err.find("nesting too deep") != std::string::npos) return 0;
  if (ok_fast != ok_ref) std::abort();
  if (ok_fast && fast.dump() != ref.dump()) std::abort();
  return 0;
}
