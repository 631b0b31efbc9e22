// Property 20 — trace id propagation (engine part): a given traceparent or X-Request-Id is
// accepted (a malformed one replaced by a generated id), the traceparent sent back carries it, and
// every span the scheduler records for the request carries it. The HTTP part (response headers,
// logs, audit record) is checked against the server in tests/python.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <future>

#include "core/trace.h"
#include "serve/scheduler.h"
#include "support/default-model.h"
#include "support/test-paths.h"

namespace cyllm {
namespace {

rc::Gen<std::string> hex(size_t n) { return rc::gen::container<std::string>(n, rc::gen::elementOf(std::string("0123456789abcdef"))); }

RC_GTEST_PROP(P20TracePropagation, HeadersAreAcceptedOrReplaced, ()) {
  const std::string trace = *hex(32), parent = *hex(16);
  RC_PRE(trace.find_first_not_of('0') != std::string::npos && parent.find_first_not_of('0') != std::string::npos);
  const std::string tp = "00-" + trace + "-" + parent + "-01";
  const TraceContext t = trace_from_headers(tp, "ignored-when-traceparent-is-valid");
  RC_ASSERT(t.trace_id == trace && t.parent_id == parent && t.sampled);
  // The traceparent we answer with keeps the trace id and is itself valid.
  const auto back = parse_traceparent(format_traceparent(t, new_span_id()));
  RC_ASSERT(back.has_value() && back->trace_id == trace);
  // A malformed traceparent falls back to X-Request-Id, then to a fresh id.
  const std::string garbage = *rc::gen::string<std::string>();
  RC_PRE(!parse_traceparent(garbage).has_value());
  const std::string rid = "req-" + *hex(10);
  RC_ASSERT(trace_from_headers(garbage, rid).trace_id == rid);
  const TraceContext fresh = trace_from_headers(garbage, "bad id with spaces");
  RC_ASSERT(fresh.trace_id.size() == 32 && parse_traceparent("00-" + fresh.trace_id + "-" + new_span_id() + "-01"));
  // Any accepted id round-trips through a valid traceparent header.
  RC_ASSERT(parse_traceparent(format_traceparent(trace_from_headers("", rid), new_span_id())).has_value());
}

TEST(P20TracePropagation, EverySchedulerSpanCarriesTheTraceId) {
  CYLLM_REQUIRE_DEFAULT_MODEL(path);
  test::DefaultModel& M = test::default_model();
  Scheduler sched(*M.model, *M.tok, {}, M.pool);
  for (int i = 0; i < 3; ++i) {
    ServeRequest r;
    r.prompt = M.tok->encode("Hello there", false, true);
    r.max_tokens = 3;
    r.sampling.temperature = 0.0f;
    r.trace_id = new_trace_id();
    std::promise<ServeEvent> done;
    sched.submit(r, [&](const ServeEvent& e) {
      if (e.done) done.set_value(e);
    });
    const ServeEvent ev = done.get_future().get();
    ASSERT_EQ(ev.spans.size(), 3u);
    for (const auto& sp : ev.spans) {
      EXPECT_EQ(sp.trace_id, r.trace_id);
      EXPECT_LE(sp.start_ms, sp.end_ms);
    }
  }
}

}  // namespace
}  // namespace cyllm
