// Property 16 — cache eviction policy correctness: LRU evicts the least recently used cached
// block, LFU the least frequently used (ties: least recently used); the size limit is never
// exceeded and blocks in use are never evicted.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <numeric>

#include "serve/kv-blocks.h"

namespace cyllm {
namespace {

constexpr int kBlockTokens = 4;

std::vector<int32_t> tokens_of(int i) { return std::vector<int32_t>(kBlockTokens, 1000 + i); }

void check_eviction_order(EvictionPolicy policy) {
  const int n = *rc::gen::inRange(2, 16);
  KvBlockManager m(n, kBlockTokens, {true, policy, -1});
  std::vector<int> block_of(static_cast<size_t>(n));
  std::vector<uint64_t> uses(static_cast<size_t>(n), 1), last(static_cast<size_t>(n));
  uint64_t clock = 0;
  for (int i = 0; i < n; ++i) {
    const int b = *m.allocate();
    const auto t = tokens_of(i);
    m.publish(b, KvBlockManager::chain_hash(0, 0, t));
    m.release(b);
    block_of[static_cast<size_t>(i)] = b;
    last[static_cast<size_t>(i)] = ++clock;
  }
  RC_ASSERT(m.cached_blocks() == n);
  const int touches = *rc::gen::inRange(0, 40);
  for (int k = 0; k < touches; ++k) {
    const int i = *rc::gen::inRange(0, n);
    auto got = m.match_prefix(tokens_of(i), 0);
    RC_ASSERT(got.size() == 1u);
    RC_ASSERT(got[0] == block_of[static_cast<size_t>(i)]);
    m.release(got[0]);
    ++uses[static_cast<size_t>(i)];
    last[static_cast<size_t>(i)] = ++clock;
  }
  std::vector<int> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int a, int b) {
    if (policy == EvictionPolicy::kLfu && uses[a] != uses[b]) return uses[a] < uses[b];
    return last[a] < last[b];
  });
  for (int i : order) {  // the pool is full of cached blocks: each allocation evicts one
    auto b = m.allocate();
    RC_ASSERT(b.has_value());
    RC_ASSERT(*b == block_of[static_cast<size_t>(i)]);
  }
  RC_ASSERT(!m.allocate().has_value());  // everything is in use now
}

RC_GTEST_PROP(P16CacheEviction, LruEvictsLeastRecentlyUsed, ()) { check_eviction_order(EvictionPolicy::kLru); }
RC_GTEST_PROP(P16CacheEviction, LfuEvictsLeastFrequentlyUsed, ()) { check_eviction_order(EvictionPolicy::kLfu); }

RC_GTEST_PROP(P16CacheEviction, SizeLimitAndInUseBlocksRespected, ()) {
  const int n = *rc::gen::inRange(4, 40);
  const int limit = *rc::gen::inRange(0, n);
  const auto policy = *rc::gen::element(EvictionPolicy::kLru, EvictionPolicy::kLfu);
  KvBlockManager m(n, kBlockTokens, {true, policy, limit});
  std::vector<int> held;
  const int ops = *rc::gen::inRange(1, 200);
  for (int k = 0; k < ops; ++k) {
    const int op = *rc::gen::inRange(0, 3);
    if (op == 0) {
      if (auto b = m.allocate()) {
        // publish() may hand back an existing block with the same content; use that one instead.
        const int kept = m.publish(*b, KvBlockManager::chain_hash(0, 0, tokens_of(*rc::gen::inRange(0, 3 * n))));
        if (kept != *b) m.release(*b);
        held.push_back(kept);
      }
    } else if (op == 1 && !held.empty()) {
      const size_t i = *rc::gen::inRange<size_t>(0, held.size());
      m.release(held[i]);
      held.erase(held.begin() + static_cast<long>(i));
    } else {
      for (int b : m.match_prefix(tokens_of(*rc::gen::inRange(0, 3 * n)), 0)) held.push_back(b);
    }
    RC_ASSERT(m.cached_blocks() <= limit);
    RC_ASSERT(m.free_blocks() + m.cached_blocks() + m.used_blocks() == n);
    for (int b : held) RC_ASSERT(m.refs(b) > 0);  // in use: never evicted or freed
  }
  for (int b : held) m.release(b);
  RC_ASSERT(m.used_blocks() == 0);  // nothing leaked
}

}  // namespace
}  // namespace cyllm
