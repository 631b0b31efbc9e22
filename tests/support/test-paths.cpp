#include "support/test-paths.h"

#include <cstdlib>
#include <string>
#include <unistd.h>

namespace cyllm::test {

namespace {
std::string env_or(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return (v != nullptr && *v != '\0') ? std::string(v) : std::string(fallback);
}
}  // namespace

std::string shared_dir() { return env_or("CYLLM_SHARED_DIR", CYLLM_SHARED_DIR_DEFAULT); }

std::string default_model_path() {
  const std::string explicit_path = env_or("CYLLM_TEST_MODEL", "");
  if (!explicit_path.empty()) return ::access(explicit_path.c_str(), R_OK) == 0 ? explicit_path : std::string();
  const std::string p = env_or("CYLLM_MODELS_DIR", CYLLM_MODELS_DIR_DEFAULT) + "/SmolLM2-135M-Instruct.Q4_1.gguf";
  return ::access(p.c_str(), R_OK) == 0 ? p : std::string();
}

bool in_ci() {
  const char* v = std::getenv("CI");
  return v != nullptr && std::string(v) == "true";
}

}  // namespace cyllm::test
