#include "core/trace.h"

#include <cstdio>
#include <mutex>
#include <random>

namespace cyllm {

namespace {

bool is_hex(std::string_view s) {
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

std::string random_hex(size_t digits) {
  static std::mutex mu;
  static std::mt19937_64 rng{std::random_device{}()};
  static const char* hex = "0123456789abcdef";
  std::lock_guard lock(mu);
  std::string out;
  while (out.size() < digits) {
    uint64_t v = rng();
    for (int i = 0; i < 16 && out.size() < digits; ++i, v >>= 4) out += hex[v & 15];
  }
  if (out.find_first_not_of('0') == std::string::npos) out[0] = '1';  // all-zero ids are invalid
  return out;
}

}  // namespace

std::optional<TraceContext> parse_traceparent(std::string_view h) {
  // version(2) - trace-id(32) - parent-id(16) - flags(2)
  if (h.size() < 55 || h[2] != '-' || h[35] != '-' || h[52] != '-') return std::nullopt;
  const auto version = h.substr(0, 2), trace = h.substr(3, 32), parent = h.substr(36, 16), flags = h.substr(53, 2);
  if (!is_hex(version) || version == "ff" || !is_hex(trace) || !is_hex(parent) || !is_hex(flags)) return std::nullopt;
  if (version == "00" && h.size() != 55) return std::nullopt;
  if (trace.find_first_not_of('0') == std::string_view::npos || parent.find_first_not_of('0') == std::string_view::npos)
    return std::nullopt;
  const int f = std::stoi(std::string(flags), nullptr, 16);
  return TraceContext{std::string(trace), std::string(parent), (f & 1) != 0};
}

std::string new_trace_id() { return random_hex(32); }
std::string new_span_id() { return random_hex(16); }

TraceContext trace_from_headers(std::string_view traceparent, std::string_view request_id) {
  if (auto t = parse_traceparent(traceparent)) return *t;
  bool sane = !request_id.empty() && request_id.size() <= 128;
  for (char c : request_id) sane = sane && c > 0x20 && c < 0x7f;
  if (sane) return TraceContext{std::string(request_id), {}, true};
  return TraceContext{new_trace_id(), {}, true};
}

std::string format_traceparent(const TraceContext& t, const std::string& span_id) {
  std::string id = t.trace_id;
  if (id.size() != 32 || !is_hex(id)) {  // an X-Request-Id: derive a stable 128-bit hex id
    uint64_t a = 0xcbf29ce484222325ull, b = 0x84222325cbf29ce4ull;
    for (unsigned char c : t.trace_id) {
      a = (a ^ c) * 0x100000001b3ull;
      b = (b ^ c) * 0x100000001b3ull + 0x9e3779b97f4a7c15ull;
    }
    char buf[33];
    std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(a), static_cast<unsigned long long>(b));
    id = buf;
  }
  return "00-" + id + "-" + span_id + (t.sampled ? "-01" : "-00");
}

}  // namespace cyllm
