// Where tests find shared data (../shared) and the default model (models/).
#pragma once

#include <string>
#include <unistd.h>

namespace cyllm::test {

// The shared/ data folder (env CYLLM_SHARED_DIR overrides the build-time default).
std::string shared_dir();
// Path of the default model. Outside CI a missing model skips the test with a clear message;
// under CI=true a missing model is a failure (see require_default_model()).
std::string default_model_path();
// True when CI=true is set in the environment.
bool in_ci();

}  // namespace cyllm::test

// Use at the top of a TEST body: skips (outside CI) or fails (in CI) when the model is absent.
#define CYLLM_REQUIRE_DEFAULT_MODEL(path_var)                                                     \
  std::string path_var = ::cyllm::test::default_model_path();                                      \
  if (path_var.empty()) {                                                                          \
    if (::cyllm::test::in_ci()) FAIL() << "default model missing under CI: run scripts/fetch-model.sh"; \
    GTEST_SKIP() << "default model not found; run scripts/fetch-model.sh to fetch it";              \
  }

#define CYLLM_REQUIRE_SHARED_FILE(path_var, rel)                                                   \
  std::string path_var = ::cyllm::test::shared_dir() + "/" + (rel);                                \
  if (::access(path_var.c_str(), R_OK) != 0) {                                                     \
    if (::cyllm::test::in_ci()) FAIL() << "shared data missing under CI: " << path_var;            \
    GTEST_SKIP() << "shared data not found: " << path_var;                                         \
  }
