#include "serve/request-queue.h"

#include <algorithm>
#include <cmath>

namespace cyllm {

std::string_view tier_name(Tier t) {
  switch (t) {
    case Tier::kInteractive: return "interactive";
    case Tier::kDefault: return "default";
    case Tier::kBatch: return "batch";
  }
  return "default";
}

std::optional<Tier> parse_tier(std::string_view s) {
  if (s == "interactive") return Tier::kInteractive;
  if (s == "default") return Tier::kDefault;
  if (s == "batch") return Tier::kBatch;
  return std::nullopt;
}

void RequestQueue::push(uint64_t id, Tier tier, int priority, double now_ms) {
  entries_.push_back({id, tier, priority, now_ms, next_seq_++});
}

int RequestQueue::effective_tier(const Entry& e, double now_ms) const {
  const int base = static_cast<int>(e.tier);
  if (aging_ms_ <= 0) return base;
  const int lift = static_cast<int>(std::floor(std::max(0.0, now_ms - e.enqueue_ms) / aging_ms_));
  return std::max(0, base - lift);
}

bool RequestQueue::before(const Entry& a, const Entry& b, double now_ms) const {
  const int ta = effective_tier(a, now_ms), tb = effective_tier(b, now_ms);
  if (ta != tb) return ta < tb;
  if (a.priority != b.priority) return a.priority > b.priority;
  return a.seq < b.seq;
}

size_t RequestQueue::best(double now_ms) const {
  size_t b = 0;
  for (size_t i = 1; i < entries_.size(); ++i)
    if (before(entries_[i], entries_[b], now_ms)) b = i;
  return b;
}

std::optional<uint64_t> RequestQueue::peek(double now_ms) const {
  if (entries_.empty()) return std::nullopt;
  return entries_[best(now_ms)].id;
}

std::optional<uint64_t> RequestQueue::pop(double now_ms) {
  if (entries_.empty()) return std::nullopt;
  const size_t b = best(now_ms);
  const uint64_t id = entries_[b].id;
  entries_.erase(entries_.begin() + static_cast<long>(b));
  return id;
}

bool RequestQueue::remove(uint64_t id) {
  auto it = std::find_if(entries_.begin(), entries_.end(), [id](const Entry& e) { return e.id == id; });
  if (it == entries_.end()) return false;
  entries_.erase(it);
  return true;
}

std::vector<uint64_t> RequestQueue::older_than(double limit_ms, double now_ms) const {
  std::vector<uint64_t> out;
  for (const auto& e : entries_)
    if (now_ms - e.enqueue_ms > limit_ms) out.push_back(e.id);
  return out;
}

}  // namespace cyllm
