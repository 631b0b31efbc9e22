// Test helper: runs the engine on token ids and writes every position's logits as float32
// ([n_tokens, n_vocab], row-major) to a file, for the Python oracle (tests/python/test_logits_oracle.py).
// usage: cyllm_logits_tool MODEL.gguf OUT.bin [--threads N] [--batch B] [--exact] ID...
// --exact keeps activations in float32 (ContextOptions::exact_activations).
// --lora PATH applies a LoRA adapter (PEFT directory or GGUF LoRA, model/adapter-io.h).
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "model/adapter-io.h"
#include "model/inference-context.h"

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s MODEL OUT.bin [--threads N] [--batch B] ID...\n", argv[0]);
    return 2;
  }
  int threads = 0, batch = 256;
  bool exact = false;
  const char* lora_path = nullptr;
  std::vector<int32_t> ids;
  for (int i = 3; i < argc; ++i) {
    if (std::strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
      threads = std::atoi(argv[++i]);
    } else if (std::strcmp(argv[i], "--lora") == 0 && i + 1 < argc) {
      lora_path = argv[++i];
    } else if (std::strcmp(argv[i], "--exact") == 0) {
      exact = true;
    } else if (std::strcmp(argv[i], "--batch") == 0 && i + 1 < argc) {
      batch = std::atoi(argv[++i]);
    } else {
      ids.push_back(static_cast<int32_t>(std::atol(argv[i])));
    }
  }
  auto model = cyllm::LlamaModel::load(argv[1]);
  if (!model) {
    std::fprintf(stderr, "%s\n", model.error().to_string().c_str());
    return 1;
  }
  cyllm::ThreadPool pool(threads);
  cyllm::ContextOptions opts;
  opts.n_ctx = static_cast<int>(ids.size()) + 8;
  opts.n_batch = batch;
  opts.exact_activations = exact;
  cyllm::InferenceContext ctx(**model, opts, pool);
  std::optional<cyllm::LoadedAdapter> lora;
  if (lora_path) {
    auto l = cyllm::load_adapter(lora_path, (*model)->config());
    if (!l) {
      std::fprintf(stderr, "%s\n", l.error().to_string().c_str());
      return 1;
    }
    lora = std::move(*l);
    ctx.set_lora(&lora->adapter);
  }
  if (auto st = ctx.eval(ids, /*all_logits=*/true); !st) {
    std::fprintf(stderr, "%s\n", st.error().to_string().c_str());
    return 1;
  }
  FILE* f = std::fopen(argv[2], "wb");
  if (f == nullptr) return 1;
  const size_t n = ids.size() * static_cast<size_t>(ctx.n_vocab());
  const bool ok = std::fwrite(ctx.logits(), sizeof(float), n, f) == n;
  return (std::fclose(f) == 0 && ok) ? 0 : 1;
}
