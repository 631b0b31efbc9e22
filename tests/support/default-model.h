// The default model and its tokenizer, loaded once per test binary and shared by its tests, with a
// 2-thread pool. model is null when the file is absent (use CYLLM_REQUIRE_DEFAULT_MODEL first).
#pragma once

#include <memory>

#include "core/thread-pool.h"
#include "model/llama-model.h"
#include "text/tokenizer.h"

namespace cyllm::test {

struct DefaultModel {
  std::unique_ptr<LlamaModel> model;
  std::unique_ptr<Tokenizer> tok;
  ThreadPool pool{2};
};

DefaultModel& default_model();

}  // namespace cyllm::test
