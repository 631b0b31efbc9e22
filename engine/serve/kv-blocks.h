// Paged KV-cache bookkeeping: fixed-size blocks with reference counts, and the prefix cache.
//
// A block holds `block_tokens` positions of keys and values for every layer (the storage lives
// with the model's KV arrays; this class only hands out block ids). Sequences own blocks through
// their block tables; blocks shared by several sequences (a common prompt prefix, the n>1 choices
// of one request) carry one reference per owner.
//
// Prefix cache: a full block is published under a hash chain over (parent hash, adapter id, its
// token ids), so equal prefixes under the same adapter map to the same chain of blocks. A block
// whose last owner releases it stays cached (evictable) instead of returning to the free list; a
// new request reuses the longest cached chain of its prompt. Cached blocks are evicted LRU or LFU
// (a setting) when blocks are needed or when the cache would exceed its size limit; blocks in use
// are never evicted. Hit rate = hit tokens / queried tokens (full prompt blocks looked up), 0 when
// nothing was looked up (Properties 10, 16, 24).
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <span>
#include <unordered_map>
#include <vector>

namespace cyllm {

enum class EvictionPolicy { kLru, kLfu };

struct PrefixCacheConfig {
  bool enabled = true;
  EvictionPolicy policy = EvictionPolicy::kLru;
  int max_cached_blocks = -1;  // -1: bounded only by the pool
};

struct PrefixCacheStats {
  uint64_t queried_tokens = 0;
  uint64_t hit_tokens = 0;
  uint64_t evictions = 0;
  double hit_rate() const { return queried_tokens == 0 ? 0.0 : static_cast<double>(hit_tokens) / queried_tokens; }
};

class KvBlockManager {
 public:
  KvBlockManager(int n_blocks, int block_tokens, PrefixCacheConfig cfg = {});

  int block_tokens() const { return block_tokens_; }
  int total_blocks() const { return static_cast<int>(refs_.size()); }
  int free_blocks() const { return static_cast<int>(free_.size()); }
  int cached_blocks() const { return static_cast<int>(evictable_.size()); }
  // Blocks a caller could obtain now: free plus evictable cached ones.
  int available_blocks() const { return free_blocks() + cached_blocks(); }
  int used_blocks() const { return total_blocks() - available_blocks(); }

  static uint64_t chain_hash(uint64_t parent, uint64_t adapter_id, std::span<const int32_t> tokens);

  // The longest cached chain covering whole blocks of `tokens`, each block retained for the
  // caller. Counts queried and hit tokens.
  std::vector<int> match_prefix(std::span<const int32_t> tokens, uint64_t adapter_id);

  // A fresh block with one reference; evicts a cached block when none is free. nullopt: out of
  // blocks (the caller preempts or waits).
  std::optional<int> allocate();
  void retain(int block);
  // Drops one reference; at zero the block becomes cached (if published) or free.
  void release(int block);
  // Publishes a full block under its chain hash. If another block already holds that hash, the
  // existing one is returned (retained) so the caller can switch to it and release its own copy.
  int publish(int block, uint64_t hash);

  int refs(int block) const { return refs_[static_cast<size_t>(block)]; }
  const PrefixCacheStats& stats() const { return stats_; }
  const PrefixCacheConfig& config() const { return cfg_; }

 private:
  struct Meta {
    uint64_t hash = 0;
    bool published = false;
    uint64_t last_use = 0;
    uint64_t uses = 0;
  };
  using Key = std::pair<std::pair<uint64_t, uint64_t>, int>;  // ((primary, secondary), block)
  Key key(int block) const;
  void make_evictable(int block);
  void unmake_evictable(int block);
  void evict(int block);
  void enforce_limit();

  int block_tokens_;
  PrefixCacheConfig cfg_;
  std::vector<int> refs_;
  std::vector<Meta> meta_;
  std::vector<int> free_;
  std::set<Key> evictable_;
  std::unordered_map<uint64_t, int> by_hash_;
  uint64_t tick_ = 0;
  PrefixCacheStats stats_;
};

}  // namespace cyllm
