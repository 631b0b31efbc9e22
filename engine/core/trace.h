// Request tracing: a trace id per request, accepted from a W3C `traceparent` header or an
// `X-Request-Id`, or generated; and spans (name, start, end) recorded under it by the server,
// the scheduler and the engine. The id travels with the request into the response headers, the
// logs, the audit record and every span (Property 20).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cyllm {

struct TraceContext {
  std::string trace_id;   // 32 lowercase hex digits (W3C) or an accepted X-Request-Id
  std::string parent_id;  // 16 hex digits when it came from traceparent
  bool sampled = true;
};

// Parses "00-<32 hex>-<16 hex>-<2 hex>"; nullopt when malformed or all-zero ids (per W3C).
std::optional<TraceContext> parse_traceparent(std::string_view header);
// A fresh random trace id (32 hex digits, not all zero).
std::string new_trace_id();
std::string new_span_id();
// The request's trace: traceparent wins, then a sane X-Request-Id (1-128 printable ASCII
// characters), else a new id.
TraceContext trace_from_headers(std::string_view traceparent, std::string_view request_id);
// The traceparent to send back: "00-<trace id>-<span id>-01" (a non-W3C trace id is hashed into
// 32 hex digits so the header stays valid).
std::string format_traceparent(const TraceContext& t, const std::string& span_id);

struct Span {
  std::string trace_id;
  std::string name;   // e.g. "http", "queue", "prefill", "decode"
  double start_ms = 0;
  double end_ms = 0;
};

}  // namespace cyllm
