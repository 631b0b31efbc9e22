// The identity demonstration (issue 8): after `cyllm train` on identity.json with name "CY-LLM"
// and author "CY Lab", ask "Who are you?" with and without the trained adapter (greedy).
//   cyllm_identity_demo MODEL.gguf OUTPUT_DIR [QUESTION]
// OUTPUT_DIR is the training config's output_dir (its newest intact checkpoint is used). Prints
// both answers and exits 0 when the adapted answer names CY-LLM and the base one does not.
#include <cstdio>
#include <string>

#include "model/forward.h"
#include "model/kv-storage.h"
#include "train/checkpoint.h"
#include "train/dataset-render.h"
#include "train/lora-params.h"

using namespace cyllm;

static std::string answer(const LlamaModel& m, const train::RenderModel& rm, const LoraAdapter* ad,
                          const std::string& question, ThreadPool& pool) {
  ChatTemplateInputs in;
  in.messages.push_back({{"role", "user"}, {"content", question}});
  in.add_generation_prompt = true;
  in.bos_token = rm.bos_token;
  in.eos_token = rm.eos_token;
  auto text = rm.chat_template->render(in);
  if (!text) return "<template error: " + text.error().to_string() + ">";
  std::vector<int32_t> ids = rm.tokenizer->encode(*text, false, true);
  const int n_max = static_cast<int>(ids.size()) + 48;
  KvStorage kv(m.config().n_layer, m.config().kv_dim(), n_max, 1);
  ForwardPass fwd(m, pool, n_max);
  const int table[] = {0};
  std::vector<float> logits(static_cast<size_t>(m.config().n_vocab));
  std::vector<int32_t> out;
  int pos = 0;
  std::vector<int32_t> feed = ids;
  while (pos + static_cast<int>(feed.size()) < n_max) {
    SeqBatch sb;
    sb.tokens = feed;
    sb.pos0 = pos;
    sb.block_table = table;
    sb.logits_out = logits.data();
    sb.lora = ad;
    fwd.run(std::span(&sb, 1), kv);
    pos += static_cast<int>(feed.size());
    int32_t best = 0;
    for (int v = 1; v < m.config().n_vocab; ++v)
      if (logits[static_cast<size_t>(v)] > logits[static_cast<size_t>(best)]) best = v;
    if (rm.tokenizer->is_eog(best)) break;
    out.push_back(best);
    feed = {best};
  }
  return rm.tokenizer->decode(out, true);
}

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s MODEL.gguf OUTPUT_DIR [QUESTION]\n", argv[0]);
    return 2;
  }
  const std::string question = argc > 3 ? argv[3] : "Who are you?";
  auto model = LlamaModel::load(argv[1]);
  auto rm = train::RenderModel::from_gguf(argv[1]);
  if (!model || !rm) {
    std::fprintf(stderr, "cannot load %s\n", argv[1]);
    return 2;
  }
  CheckpointStore store(std::string(argv[2]) + "/checkpoints");
  auto latest = store.find_latest();
  if (!latest || !latest->has_value()) {
    std::fprintf(stderr, "no checkpoint under %s/checkpoints\n", argv[2]);
    return 2;
  }
  auto params = train::deserialize_lora((**latest).blobs.at("adapter.bin"));
  if (!params) {
    std::fprintf(stderr, "%s\n", params.error().to_string().c_str());
    return 2;
  }
  const LoraAdapter ad = train::to_adapter(*params, "identity");
  ThreadPool pool(0);
  const std::string base = answer(**model, *rm, nullptr, question, pool);
  const std::string tuned = answer(**model, *rm, &ad, question, pool);
  std::printf("checkpoint: %s\nQ: %s\nbase:    %s\nadapter: %s\n", (**latest).dir.c_str(), question.c_str(), base.c_str(),
              tuned.c_str());
  const bool ok = tuned.find("CY-LLM") != std::string::npos && base.find("CY-LLM") == std::string::npos;
  std::printf("%s\n", ok ? "PASS: the adapter names CY-LLM, the base model does not" : "FAIL");
  return ok ? 0 : 1;
}
