#include "serve/kv-blocks.h"

#include <algorithm>

namespace cyllm {

KvBlockManager::KvBlockManager(int n_blocks, int block_tokens, PrefixCacheConfig cfg)
    : block_tokens_(std::max(1, block_tokens)), cfg_(cfg) {
  n_blocks = std::max(0, n_blocks);
  refs_.assign(static_cast<size_t>(n_blocks), 0);
  meta_.assign(static_cast<size_t>(n_blocks), Meta{});
  free_.reserve(static_cast<size_t>(n_blocks));
  for (int b = n_blocks - 1; b >= 0; --b) free_.push_back(b);  // hand out low ids first
}

uint64_t KvBlockManager::chain_hash(uint64_t parent, uint64_t adapter_id, std::span<const int32_t> tokens) {
  // FNV-1a over (parent, adapter, tokens), then a 64-bit finalizer (splitmix) to spread bits.
  uint64_t h = 0xcbf29ce484222325ull;
  auto mix = [&h](uint64_t v) {
    for (int i = 0; i < 8; ++i) {
      h ^= (v >> (8 * i)) & 0xff;
      h *= 0x100000001b3ull;
    }
  };
  mix(parent);
  mix(adapter_id);
  for (int32_t t : tokens) mix(static_cast<uint32_t>(t));
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebull;
  h ^= h >> 31;
  return h;
}

KvBlockManager::Key KvBlockManager::key(int block) const {
  const Meta& m = meta_[static_cast<size_t>(block)];
  if (cfg_.policy == EvictionPolicy::kLfu) return {{m.uses, m.last_use}, block};
  return {{m.last_use, 0}, block};
}

void KvBlockManager::make_evictable(int block) { evictable_.insert(key(block)); }
void KvBlockManager::unmake_evictable(int block) { evictable_.erase(key(block)); }

void KvBlockManager::evict(int block) {
  unmake_evictable(block);
  Meta& m = meta_[static_cast<size_t>(block)];
  if (m.published) {
    auto it = by_hash_.find(m.hash);
    if (it != by_hash_.end() && it->second == block) by_hash_.erase(it);
  }
  m = Meta{};
  free_.push_back(block);
  ++stats_.evictions;
}

void KvBlockManager::enforce_limit() {
  if (cfg_.max_cached_blocks < 0) return;
  while (static_cast<int>(evictable_.size()) > cfg_.max_cached_blocks) evict(evictable_.begin()->second);
}

std::vector<int> KvBlockManager::match_prefix(std::span<const int32_t> tokens, uint64_t adapter_id) {
  std::vector<int> out;
  if (!cfg_.enabled) return out;
  const size_t full = tokens.size() / static_cast<size_t>(block_tokens_);
  stats_.queried_tokens += full * static_cast<uint64_t>(block_tokens_);
  uint64_t h = 0;
  for (size_t i = 0; i < full; ++i) {
    h = chain_hash(h, adapter_id, tokens.subspan(i * block_tokens_, static_cast<size_t>(block_tokens_)));
    auto it = by_hash_.find(h);
    if (it == by_hash_.end()) break;
    const int b = it->second;
    if (refs_[static_cast<size_t>(b)] == 0) unmake_evictable(b);
    ++refs_[static_cast<size_t>(b)];
    Meta& m = meta_[static_cast<size_t>(b)];
    m.last_use = ++tick_;
    ++m.uses;
    out.push_back(b);
    stats_.hit_tokens += static_cast<uint64_t>(block_tokens_);
  }
  return out;
}

std::optional<int> KvBlockManager::allocate() {
  if (free_.empty()) {
    if (evictable_.empty()) return std::nullopt;
    evict(evictable_.begin()->second);
  }
  const int b = free_.back();
  free_.pop_back();
  refs_[static_cast<size_t>(b)] = 1;
  meta_[static_cast<size_t>(b)] = Meta{};
  meta_[static_cast<size_t>(b)].last_use = ++tick_;
  return b;
}

void KvBlockManager::retain(int block) {
  if (refs_[static_cast<size_t>(block)] == 0) unmake_evictable(block);
  ++refs_[static_cast<size_t>(block)];
}

void KvBlockManager::release(int block) {
  int& r = refs_[static_cast<size_t>(block)];
  if (r <= 0) return;  // double release: ignore rather than corrupt the pool
  if (--r > 0) return;
  Meta& m = meta_[static_cast<size_t>(block)];
  if (cfg_.enabled && m.published) {
    make_evictable(block);
    enforce_limit();
  } else {
    m = Meta{};
    free_.push_back(block);
  }
}

int KvBlockManager::publish(int block, uint64_t hash) {
  if (!cfg_.enabled) return block;
  auto it = by_hash_.find(hash);
  if (it != by_hash_.end() && it->second != block) {
    retain(it->second);
    Meta& m = meta_[static_cast<size_t>(it->second)];
    m.last_use = ++tick_;
    return it->second;
  }
  Meta& m = meta_[static_cast<size_t>(block)];
  m.hash = hash;
  m.published = true;
  m.uses = std::max<uint64_t>(m.uses, 1);
  m.last_use = ++tick_;
  by_hash_[hash] = block;
  return block;
}

}  // namespace cyllm
