#include "support/default-model.h"

#include "support/test-paths.h"

namespace cyllm::test {

DefaultModel& default_model() {
  static DefaultModel* m = [] {
    auto* out = new DefaultModel;  // lives for the whole process, like the tests that use it
    const std::string path = default_model_path();
    if (path.empty()) return out;
    if (auto loaded = LlamaModel::load(path)) {
      out->model = std::move(loaded.value());
      if (auto tok = Tokenizer::from_gguf(out->model->gguf())) out->tok = std::move(tok.value());
    }
    return out;
  }();
  return *m;
}

}  // namespace cyllm::test
