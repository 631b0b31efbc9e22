#include "core/oom-advice.h"

#include <cstdio>

namespace cyllm {

namespace {

std::string mib(uint64_t b) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.0f MiB", static_cast<double>(b) / (1024.0 * 1024.0));
  return buf;
}

// Largest value in [1, current) for which `with(v)` fits; 0 when none does. The requirement grows
// monotonically with v, so a binary search finds it.
template <class F>
int largest_fitting(int current, F with) {
  int lo = 0, hi = current - 1;
  while (lo < hi) {
    const int mid = lo + (hi - lo + 1) / 2;
    if (with(mid).fits()) lo = mid;
    else hi = mid - 1;
  }
  return lo >= 1 && with(lo).fits() ? lo : 0;
}

}  // namespace

uint64_t MemoryPlan::kv_bytes() const {
  return kv_elements_per_token * static_cast<uint64_t>(kv_bytes_per_element) * static_cast<uint64_t>(context) *
         static_cast<uint64_t>(parallel);
}

uint64_t MemoryPlan::required_bytes() const {
  return weights_bytes + adapter_bytes + kv_bytes() + activation_bytes_per_token * static_cast<uint64_t>(batch_tokens);
}

std::vector<OomSuggestion> oom_suggestions(const MemoryPlan& p) {
  std::vector<OomSuggestion> out;
  auto add = [&](const char* kind, const std::string& text, const MemoryPlan& plan) {
    out.push_back({kind, text, plan});
  };
  if (int c = largest_fitting(p.context, [&](int v) { MemoryPlan q = p; q.context = v; return q; }); c > 0) {
    MemoryPlan q = p;
    q.context = c;
    add("context", "Lower the context from " + std::to_string(p.context) + " to " + std::to_string(c) + " tokens.", q);
  }
  if (int n = largest_fitting(p.parallel, [&](int v) { MemoryPlan q = p; q.parallel = v; return q; }); n > 0) {
    MemoryPlan q = p;
    q.parallel = n;
    add("parallel", "Serve " + std::to_string(n) + " sequences at once instead of " + std::to_string(p.parallel) + ".", q);
  }
  for (int bytes : {2, 1}) {
    if (bytes >= p.kv_bytes_per_element) continue;
    MemoryPlan q = p;
    q.kv_bytes_per_element = bytes;
    if (q.fits()) {
      add("kv_precision", std::string("Store the KV cache in ") + (bytes == 2 ? "16-bit floats" : "8 bits") + " (saves " +
                              mib(p.kv_bytes() - q.kv_bytes()) + ").", q);
      break;
    }
  }
  if (int b = largest_fitting(p.batch_tokens, [&](int v) { MemoryPlan q = p; q.batch_tokens = v; return q; }); b > 0) {
    MemoryPlan q = p;
    q.batch_tokens = b;
    add("batch", "Lower the prefill batch from " + std::to_string(p.batch_tokens) + " to " + std::to_string(b) + " tokens.", q);
  }
  if (p.n_adapters > 0) {
    const uint64_t each = p.adapter_bytes / static_cast<uint64_t>(p.n_adapters);
    for (int k = 1; k <= p.n_adapters; ++k) {
      MemoryPlan q = p;
      q.n_adapters = p.n_adapters - k;
      q.adapter_bytes = k == p.n_adapters ? 0 : p.adapter_bytes - each * static_cast<uint64_t>(k);
      if (q.fits()) {
        add("adapters", "Unload " + std::to_string(k) + " of the " + std::to_string(p.n_adapters) +
                            " resident adapters (or lower the maximum loaded adapters to " + std::to_string(q.n_adapters) + ").",
            q);
        break;
      }
    }
  }
  if (out.empty()) {  // nothing about this configuration fits: the model itself is too large
    MemoryPlan q = p;
    q.weights_bytes = p.free_bytes > p.required_bytes() - p.weights_bytes ? p.free_bytes - (p.required_bytes() - p.weights_bytes) : 0;
    add("model", "Use a smaller or more strongly quantized model: the weights alone need " + mib(p.weights_bytes) +
                     " of the " + mib(p.free_bytes) + " free" +
                     (q.weights_bytes > 0 ? "; at most " + mib(q.weights_bytes) + " of weights would fit." : "."),
        q);
  }
  return out;
}

Error oom_error(const MemoryPlan& p, const std::string& what) {
  std::string hints;
  for (const auto& s : oom_suggestions(p)) hints += (hints.empty() ? "" : " Or: ") + s.text;
  return make_error(ErrorCode::kOutOfMemory,
                    "out of memory " + what + ": needs " + mib(p.required_bytes()) + " but " + mib(p.free_bytes) + " are free",
                    hints);
}

}  // namespace cyllm
