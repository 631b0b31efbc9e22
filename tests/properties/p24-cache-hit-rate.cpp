// Property 24 — cache hit rate calculation: hits / (hits + misses) over looked-up prompt tokens,
// and 0 when nothing was looked up.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "serve/kv-blocks.h"

namespace cyllm {
namespace {

TEST(P24CacheHitRate, ZeroWithoutLookups) {
  KvBlockManager m(8, 4);
  EXPECT_EQ(m.stats().hit_rate(), 0.0);
}

RC_GTEST_PROP(P24CacheHitRate, EqualsHitsOverLookups, ()) {
  const int bt = *rc::gen::inRange(1, 6);
  KvBlockManager m(256, bt);
  uint64_t hits = 0, misses = 0;
  // A few prompts sharing prefixes over a tiny alphabet, so hits and misses both happen.
  const int n = *rc::gen::inRange(1, 30);
  for (int k = 0; k < n; ++k) {
    const auto prompt = *rc::gen::container<std::vector<int32_t>>(rc::gen::inRange(0, 2));
    const size_t full = prompt.size() / static_cast<size_t>(bt);
    auto got = m.match_prefix(prompt, 0);
    hits += got.size() * static_cast<uint64_t>(bt);
    misses += (full - got.size()) * static_cast<uint64_t>(bt);
    // Publish the whole prompt's blocks (as a finished prefill would), then release them.
    std::vector<int> blocks = got;
    uint64_t h = 0;
    for (size_t i = 0; i < full; ++i) {
      h = KvBlockManager::chain_hash(h, 0, std::span(prompt).subspan(i * bt, static_cast<size_t>(bt)));
      if (i < got.size()) continue;
      auto b = m.allocate();
      RC_ASSERT(b.has_value());
      const int kept = m.publish(*b, h);
      if (kept != *b) m.release(*b);
      blocks.push_back(kept);
    }
    for (int b : blocks) m.release(b);
  }
  const auto& s = m.stats();
  RC_ASSERT(s.hit_tokens == hits);
  RC_ASSERT(s.queried_tokens == hits + misses);
  const double expect = hits + misses == 0 ? 0.0 : static_cast<double>(hits) / static_cast<double>(hits + misses);
  RC_ASSERT(s.hit_rate() == expect);
}

}  // namespace
}  // namespace cyllm
