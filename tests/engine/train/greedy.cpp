#include "greedy.h"

#include <algorithm>
#include <span>

#include "model/forward.h"
#include "model/kv-storage.h"

namespace cyllm::test {

std::vector<int32_t> greedy(const LlamaModel& m, ThreadPool& pool, const std::vector<int32_t>& prompt,
                            const LoraAdapter* lora, const GreedyOptions& o) {
  const int n_max = static_cast<int>(prompt.size()) + o.max_new;
  KvStorage kv(m.config().n_layer, m.config().kv_dim(), n_max, 1);
  ForwardPass fwd(m, pool, n_max, o.exact);
  const int table[] = {0};
  std::vector<float> logits(static_cast<size_t>(m.config().n_vocab));
  std::vector<int32_t> out, feed = prompt;
  int pos = 0;
  while (static_cast<int>(out.size()) < o.max_new) {
    SeqBatch sb;
    sb.tokens = feed;
    sb.pos0 = pos;
    sb.block_table = table;
    sb.logits_out = logits.data();
    sb.lora = lora;
    fwd.run(std::span(&sb, 1), kv);
    pos += static_cast<int>(feed.size());
    const int32_t best = static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
    if (std::find(o.stop_ids.begin(), o.stop_ids.end(), best) != o.stop_ids.end()) break;
    out.push_back(best);
    feed = {best};
  }
  return out;
}

std::vector<float> all_logits(const LlamaModel& m, ThreadPool& pool, const std::vector<int32_t>& tokens,
                              const LoraAdapter* lora, bool exact) {
  const int n = static_cast<int>(tokens.size());
  KvStorage kv(m.config().n_layer, m.config().kv_dim(), n, 1);
  ForwardPass fwd(m, pool, n, exact);
  const int table[] = {0};
  std::vector<float> logits(static_cast<size_t>(n) * static_cast<size_t>(m.config().n_vocab));
  SeqBatch sb;
  sb.tokens = tokens;
  sb.block_table = table;
  sb.logits = SeqBatch::Logits::kAll;
  sb.logits_out = logits.data();
  sb.lora = lora;
  fwd.run(std::span(&sb, 1), kv);
  return logits;
}

}  // namespace cyllm::test
