// Property 21 — Prometheus format conformance: the exposition of any registry content (label
// values with quotes, backslashes, newlines and UTF-8; any sample values) passes
// `promtool check metrics` (Debian's prometheus package; skipped outside CI when absent).
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <cstdio>
#include <fstream>
#include <unistd.h>

#include "core/metrics.h"
#include "serve/request-metrics.h"
#include "support/test-paths.h"

namespace cyllm {
namespace {

bool have_promtool() { return std::system("command -v promtool > /dev/null 2>&1") == 0; }

// Runs promtool on the text; returns its output when it fails, "" when it passes.
std::string promtool_problems(const std::string& text) {
  char path[] = "/tmp/cyllm-p21-XXXXXX";
  const int fd = mkstemp(path);
  if (fd < 0) return "cannot create a temp file";
  ::close(fd);
  std::ofstream(path) << text;
  const std::string cmd = std::string("promtool check metrics < ") + path + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[512];
  while (p && fgets(buf, sizeof buf, p)) out += buf;
  const int rc = p ? pclose(p) : -1;
  ::unlink(path);
  return rc == 0 ? "" : (out.empty() ? "promtool failed" : out);
}

RC_GTEST_PROP(P21PrometheusFormat, PromtoolAcceptsTheExposition, ()) {
  if (!have_promtool()) {
    RC_ASSERT(!test::in_ci());  // CI installs promtool; outside CI this property cannot run
    RC_DISCARD("promtool not installed");
  }
  MetricsRegistry reg;
  RequestMetrics rm(reg);
  const auto label = rc::gen::container<std::string>(rc::gen::inRange<char>(1, 127));
  const int n = *rc::gen::inRange(0, 30);
  for (int i = 0; i < n; ++i) {
    LatencyRecord r;
    r.queue_time_ms = *rc::gen::inRange(0, 10000);
    r.ttft_ms = r.queue_time_ms + *rc::gen::inRange(0, 10000);
    r.total_time_ms = r.ttft_ms + *rc::gen::inRange(0, 100000);
    r.prompt_tokens = *rc::gen::inRange(0, 5000);
    r.completion_tokens = *rc::gen::inRange(0, 5000);
    r.inter_token_ms = {1.5, 20.0};
    rm.record(*label, *label + "\"\\\n\xc3\xa9", *rc::gen::element(200, 400, 401, 429, 500), r);
  }
  reg.gauge("cyllm_queue_depth", "Requests waiting.\nSecond line with a \\ backslash.", {"model_id"});
  reg.set("cyllm_queue_depth", {*label}, *rc::gen::inRange(-5, 500));
  const std::string problems = promtool_problems(reg.exposition());
  RC_ASSERT(problems.empty());
}

TEST(P21PrometheusFormat, InvalidNamesAreRefused) {
  MetricsRegistry reg;
  EXPECT_FALSE(reg.counter("2bad", "x", {}));
  EXPECT_FALSE(reg.counter("bad-name", "x", {}));
  EXPECT_FALSE(reg.counter("ok_total", "x", {"__reserved"}));
  EXPECT_FALSE(reg.histogram("h_seconds", "x", {"le"}, {1}));
  EXPECT_TRUE(reg.counter("ok_total", "x", {"a"}));
  EXPECT_FALSE(reg.gauge("ok_total", "x", {"a"}));  // redeclared with another type
}

}  // namespace
}  // namespace cyllm
