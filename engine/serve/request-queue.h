// The scheduler's waiting queue: client tiers (interactive > default > batch), a numeric priority
// within a tier (higher first), FIFO among equals (Property 13), and aging so that nothing starves:
// each `aging_ms` spent waiting lifts a request by one tier (never above interactive).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace cyllm {

enum class Tier : int { kInteractive = 0, kDefault = 1, kBatch = 2 };
std::string_view tier_name(Tier t);
std::optional<Tier> parse_tier(std::string_view s);

class RequestQueue {
 public:
  explicit RequestQueue(double aging_ms = 30'000) : aging_ms_(aging_ms) {}

  void push(uint64_t id, Tier tier, int priority, double now_ms);
  // The request to run next, removed from the queue; nullopt when empty.
  std::optional<uint64_t> pop(double now_ms);
  std::optional<uint64_t> peek(double now_ms) const;
  bool remove(uint64_t id);  // cancellation; false when not queued
  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  // Waiting time of the oldest entry (for queue timeouts), and ids waiting longer than limit_ms.
  std::vector<uint64_t> older_than(double limit_ms, double now_ms) const;

 private:
  struct Entry {
    uint64_t id;
    Tier tier;
    int priority;
    double enqueue_ms;
    uint64_t seq;
  };
  int effective_tier(const Entry& e, double now_ms) const;
  bool before(const Entry& a, const Entry& b, double now_ms) const;
  size_t best(double now_ms) const;

  double aging_ms_;
  uint64_t next_seq_ = 0;
  std::vector<Entry> entries_;
};

}  // namespace cyllm
