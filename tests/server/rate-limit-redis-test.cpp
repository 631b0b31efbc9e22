// The Redis rate-limit backend against a real redis-server started by the test (redis-process.h):
// Property 28 as for the in-process limiter, the same decisions as RateLimiter side by side, windows
// shared between instances and atomic under concurrency, keys that expire, and the documented
// behaviour (fail open or closed, one warning, reconnection) when Redis is down or silent.
// Without redis-server the Redis tests skip, except under CI=true, where they fail.
#include <gtest/gtest.h>
#include <rapidcheck.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/log.h"
#include "properties/p28-rate-limit-property.h"
#include "server/rate-limit-redis.h"
#include "server/redis-process.h"

namespace cyllm::server {
namespace {

using test::RedisProcess;
using Clock = std::chrono::steady_clock;

// ---- URL parsing and the factory (no server needed) ------------------------------------------

TEST(RedisUrl, ParsesHostPortDbAndCredentials) {
  auto a = parse_redis_url("redis://127.0.0.1:6380");
  ASSERT_TRUE(a.ok()) << a.error().to_string();
  EXPECT_FALSE(a->unix_socket);
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 6380);
  EXPECT_EQ(a->db, 0);
  EXPECT_TRUE(a->password.empty());

  auto b = parse_redis_url("redis://cache.internal");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->host, "cache.internal");
  EXPECT_EQ(b->port, 6379);

  auto c = parse_redis_url("redis://:s3cret@redis:7000/3");
  ASSERT_TRUE(c.ok()) << c.error().to_string();
  EXPECT_EQ(c->host, "redis");
  EXPECT_EQ(c->port, 7000);
  EXPECT_EQ(c->db, 3);
  EXPECT_EQ(c->user, "");
  EXPECT_EQ(c->password, "s3cret");
  EXPECT_EQ(c->describe().find("s3cret"), std::string::npos) << c->describe();

  auto d = parse_redis_url("redis://alice:p@ss@[::1]:6390");
  ASSERT_TRUE(d.ok()) << d.error().to_string();
  EXPECT_EQ(d->user, "alice");
  EXPECT_EQ(d->password, "p@ss");
  EXPECT_EQ(d->host, "::1");
  EXPECT_EQ(d->port, 6390);
  EXPECT_EQ(d->describe(), "[::1]:6390");

  auto e = parse_redis_url("unix:/run/redis/redis.sock");
  ASSERT_TRUE(e.ok());
  EXPECT_TRUE(e->unix_socket);
  EXPECT_EQ(e->path, "/run/redis/redis.sock");
  auto f = parse_redis_url("unix:///tmp/r.sock");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->path, "/tmp/r.sock");
  EXPECT_EQ(f->describe(), "unix:/tmp/r.sock");
}

TEST(RedisUrl, RejectsMalformedUrlsWithoutEchoingSecrets) {
  for (const char* bad : {"", "127.0.0.1:6379", "http://x", "redis://", "redis://:6379", "redis://h:0",
                          "redis://h:70000", "redis://h:port", "redis://h:", "redis://::1:6379", "redis://[::1",
                          "redis://h/db", "redis://user@h", "redis://user:@h", "unix:", "unix://"}) {
    auto r = parse_redis_url(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument) << bad;
      EXPECT_NE(r.error().message.find("redis_url"), std::string::npos) << r.error().message;
    }
  }
  auto r = parse_redis_url("rediss://:hunter2@h:1");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().to_string().find("hunter2"), std::string::npos) << r.error().to_string();
}

TEST(RateLimitFactory, BuildsEachBackendAndRejectsBadSettings) {
  RateLimitBackendConfig cfg;  // memory by default
  auto mem = make_rate_limiter(cfg);
  ASSERT_TRUE(mem.ok()) << mem.error().to_string();
  EXPECT_NE(dynamic_cast<RateLimiter*>(mem->get()), nullptr);
  (*mem)->set_key_limits("k", {1, 0});
  EXPECT_TRUE((*mem)->admit("k", "t", 1, 0).allowed);
  EXPECT_FALSE((*mem)->admit("k", "t", 1, 1).allowed);

  cfg.backend = "redis";
  cfg.redis_url = "redis://127.0.0.1:1";  // nothing there: still built, connects on first use
  auto red = make_rate_limiter(cfg);
  ASSERT_TRUE(red.ok()) << red.error().to_string();
  EXPECT_NE(dynamic_cast<RedisRateLimiter*>(red->get()), nullptr);

  cfg.redis_url = "not-a-url";
  EXPECT_FALSE(make_rate_limiter(cfg).ok());
  cfg.redis_url = "redis://127.0.0.1:1";
  cfg.timeout_ms = 0;
  EXPECT_FALSE(make_rate_limiter(cfg).ok());
  cfg.timeout_ms = 100;
  cfg.window_s = 0;
  EXPECT_FALSE(make_rate_limiter(cfg).ok());
  cfg.window_s = 60;
  cfg.backend = "memcached";
  auto unknown = make_rate_limiter(cfg);
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().message.find("memcached"), std::string::npos);
}

// ---- against a real redis-server -------------------------------------------------------------

struct Captured {
  std::mutex mu;
  std::vector<std::string> lines;
  int count(const std::string& event) {
    std::lock_guard lock(mu);
    int n = 0;
    for (const auto& l : lines) n += l.find("\"event\":\"" + event + "\"") != std::string::npos;
    return n;
  }
};

class RedisRateLimitTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (RedisProcess::find_binary().empty()) return;
    server_ = new RedisProcess;
    if (!server_->start(&start_error_)) {
      delete server_;
      server_ = nullptr;
    }
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    CYLLM_REQUIRE_REDIS_SERVER();
    ASSERT_NE(server_, nullptr) << start_error_;
  }

  // A limiter on the shared server; `prefix` "" gives the test its own windows.
  std::unique_ptr<RedisRateLimiter> limiter(double window_s = 60, std::string prefix = "", bool fail_open = true) {
    RateLimitBackendConfig cfg;
    cfg.backend = "redis";
    cfg.redis_url = server_->url();
    cfg.window_s = window_s;
    cfg.fail_open = fail_open;
    cfg.key_prefix = prefix.empty() ? fresh_prefix() : prefix;
    cfg.log = &quiet_;
    auto r = RedisRateLimiter::create(cfg);
    EXPECT_TRUE(r.ok()) << r.error().to_string();
    return r.ok() ? std::move(*r) : nullptr;
  }
  static std::string fresh_prefix() { return "test" + std::to_string(next_prefix_++) + ":"; }

  // Runs a command on a direct connection and returns its reply (caller frees).
  static redisReply* raw(const std::vector<std::string>& args) {
    redisContext* c = server_->client();
    if (c == nullptr) return nullptr;
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    for (const auto& a : args) {
      argv.push_back(a.c_str());
      lens.push_back(a.size());
    }
    auto* r = static_cast<redisReply*>(redisCommandArgv(c, static_cast<int>(args.size()), argv.data(), lens.data()));
    redisFree(c);
    return r;
  }
  static long long raw_int(const std::vector<std::string>& args) {
    redisReply* r = raw(args);
    const long long v = (r != nullptr && r->type == REDIS_REPLY_INTEGER) ? r->integer : -999;
    if (r != nullptr) freeReplyObject(r);
    return v;
  }
  static std::vector<std::string> raw_keys(const std::string& prefix) {
    std::vector<std::string> out;
    redisReply* r = raw({"KEYS", prefix + "*"});
    if (r != nullptr && r->type == REDIS_REPLY_ARRAY)
      for (size_t i = 0; i < r->elements; ++i) out.emplace_back(r->element[i]->str, r->element[i]->len);
    if (r != nullptr) freeReplyObject(r);
    return out;
  }

  static inline RedisProcess* server_ = nullptr;
  static inline std::string start_error_;
  static inline std::atomic<int> next_prefix_{0};
  Logger quiet_{LogConfig{LogLevel::kError}};
};

TEST_F(RedisRateLimitTest, P28NeverMoreThanTheLimitInAnyWindow) {
  EXPECT_TRUE(rc::check("P28 on Redis: never more than the limit in any window", [&] {
    p28::never_more_than_the_limit_in_any_window([&](double w) -> std::unique_ptr<RateLimitBackend> { return limiter(w); });
  }));
}

TEST_F(RedisRateLimitTest, P28RetryAfterIsHonest) {
  EXPECT_TRUE(rc::check("P28 on Redis: Retry-After is honest", [&] {
    p28::retry_after_is_honest([&](double w) -> std::unique_ptr<RateLimitBackend> { return limiter(w); });
  }));
}

// The Redis script and RateLimiter decide every request identically: random limits on both
// dimensions and scopes (0 = unlimited), unlimited keys and tenants, zero-token requests, and times
// on exact window boundaries (quarter seconds are exact in binary).
TEST_F(RedisRateLimitTest, SameDecisionsAsInProcess) {
  EXPECT_TRUE(rc::check("Redis and in-process limiters agree", [&] {
    const double W = *rc::gen::element(60.0, 10.0, 2.5);
    RateLimiter mem(W);
    auto red = limiter(W);
    RC_ASSERT(red != nullptr);
    const std::vector<std::string> keys{"k1", "k2", "k3"}, tenants{"t1", "t2"};
    for (const auto& k : {keys[0], keys[1]}) {  // k3 has no limits
      const RateLimits l{*rc::gen::inRange(0, 12), *rc::gen::element(0, *rc::gen::inRange(1, 1500))};
      mem.set_key_limits(k, l);
      red->set_key_limits(k, l);
    }
    const RateLimits tl{*rc::gen::inRange(0, 20), *rc::gen::element(0, *rc::gen::inRange(1, 3000))};
    mem.set_tenant_limits("t1", tl);  // t2 has no limits
    red->set_tenant_limits("t1", tl);
    double now = *rc::gen::element(0.0, 1.0e9);
    const int n = *rc::gen::inRange(1, 250);
    int refused = 0;
    for (int i = 0; i < n; ++i) {
      now += *rc::gen::oneOf(rc::gen::element(0.0, 0.25, 0.5, 1.0, W, W / 2),
                             rc::gen::map(rc::gen::inRange(0, 5000), [](int ms) { return ms / 1000.0; }));
      const std::string& key = keys[*rc::gen::inRange<size_t>(0, keys.size())];
      const std::string& tenant = tenants[*rc::gen::inRange<size_t>(0, tenants.size())];
      const int tokens = *rc::gen::inRange(0, 400);
      const RateDecision a = mem.admit(key, tenant, tokens, now), b = red->admit(key, tenant, tokens, now);
      RC_ASSERT(b.backend_error.empty());
      RC_ASSERT(a.allowed == b.allowed);
      RC_ASSERT(a.limit == b.limit);
      RC_ASSERT(a.retry_after_s == b.retry_after_s);
      refused += !a.allowed;
    }
    RC_TAG(refused > 0 ? "some refused" : "none refused");
  }));
}

TEST_F(RedisRateLimitTest, TwoInstancesShareTheWindows) {
  const std::string prefix = fresh_prefix();
  auto a = limiter(60, prefix), b = limiter(60, prefix);
  auto other = limiter(60);  // its own prefix: a separate deployment
  for (auto* l : {a.get(), b.get(), other.get()}) {
    l->set_key_limits("k", {3, 0});
    l->set_key_limits("tok", {0, 100});
    l->set_tenant_limits("t", {5, 0});
  }
  // Requests per key: three in all, whichever instance takes them.
  EXPECT_TRUE(a->admit("k", "t", 1, 1.0).allowed);
  EXPECT_TRUE(b->admit("k", "t", 1, 1.1).allowed);
  EXPECT_TRUE(a->admit("k", "t", 1, 1.2).allowed);
  RateDecision d = b->admit("k", "t", 1, 1.3);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.limit, "key requests/min");
  EXPECT_EQ(d.retry_after_s, 60);  // the first request (1.0) leaves the window at 61.0
  EXPECT_TRUE(other->admit("k", "t", 1, 1.3).allowed);
  // Per tenant: five in all across keys and instances.
  EXPECT_TRUE(a->admit("k2", "t", 1, 2.0).allowed);
  EXPECT_TRUE(b->admit("k3", "t", 1, 2.0).allowed);
  d = a->admit("k4", "t", 1, 2.0);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.limit, "tenant requests/min");
  // Tokens per key.
  EXPECT_TRUE(a->admit("tok", "u", 60, 3.0).allowed);
  d = b->admit("tok", "u", 50, 3.0);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.limit, "key tokens/min");
  EXPECT_TRUE(b->admit("tok", "u", 40, 3.0).allowed);
  EXPECT_FALSE(a->admit("tok", "u", 1, 3.0).allowed);
  // The window slides for both: at 61.0 the request of 1.0 is out.
  EXPECT_FALSE(a->admit("k", "x", 1, 60.9).allowed);
  EXPECT_TRUE(b->admit("k", "x", 1, 61.0).allowed);
  EXPECT_FALSE(a->admit("k", "x", 1, 61.0).allowed);
}

// Eight limiters (eight connections) race on one key: the script is atomic, so exactly the limit
// is admitted.
TEST_F(RedisRateLimitTest, ConcurrentInstancesAdmitExactlyTheLimit) {
  const std::string prefix = fresh_prefix();
  const int kLimit = 37, kThreads = 8, kEach = 25;
  std::vector<std::unique_ptr<RedisRateLimiter>> ls;
  for (int i = 0; i < kThreads; ++i) {
    ls.push_back(limiter(60, prefix));
    ls.back()->set_key_limits("k", {kLimit, 0});
  }
  std::atomic<int> admitted{0}, errors{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      for (int j = 0; j < kEach; ++j) {
        const RateDecision d = ls[i]->admit("k", "t", 1, 100.0 + j * 0.001);
        admitted += d.allowed;
        errors += !d.backend_error.empty();
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(admitted.load(), kLimit);
}

TEST_F(RedisRateLimitTest, KeysExpire) {
  // Every key written carries a TTL of at most two windows, refusals included.
  const std::string prefix = fresh_prefix();
  auto l = limiter(60, prefix);
  l->set_key_limits("k", {2, 50});
  l->set_tenant_limits("t", {3, 0});
  int refused = 0;
  for (int i = 0; i < 10; ++i) refused += !l->admit("k", "t", 20, 5.0 + i).allowed;
  EXPECT_GT(refused, 0);
  const auto keys = raw_keys(prefix);
  EXPECT_EQ(keys.size(), 4u);  // events and token sum, for the key and for the tenant
  for (const auto& k : keys) {
    const long long ttl = raw_int({"PTTL", k});
    EXPECT_GT(ttl, 0) << k;
    EXPECT_LE(ttl, 120000) << k;
  }
  // A request refused outright on an empty window leaves nothing behind.
  const std::string p2 = fresh_prefix();
  auto l2 = limiter(60, p2);
  l2->set_key_limits("k", {0, 10});
  EXPECT_FALSE(l2->admit("k", "t", 11, 1.0).allowed);
  EXPECT_TRUE(raw_keys(p2).empty());

  // With a short window the keys are gone from Redis soon after the last request.
  const std::string p3 = fresh_prefix();
  auto l3 = limiter(0.2, p3);
  l3->set_key_limits("k", {5, 0});
  ASSERT_TRUE(l3->admit("k", "t", 1, 1.0).allowed);
  ASSERT_EQ(raw_keys(p3).size(), 2u);
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  while (!raw_keys(p3).empty() && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_TRUE(raw_keys(p3).empty());
}

TEST_F(RedisRateLimitTest, SurvivesScriptFlush) {
  auto l = limiter();
  l->set_key_limits("k", {2, 0});
  EXPECT_TRUE(l->admit("k", "t", 1, 1).allowed);
  redisReply* r = raw({"SCRIPT", "FLUSH"});
  ASSERT_NE(r, nullptr);
  freeReplyObject(r);
  const RateDecision d = l->admit("k", "t", 1, 2);  // NOSCRIPT, then EVAL
  EXPECT_TRUE(d.backend_error.empty()) << d.backend_error;
  EXPECT_TRUE(d.allowed);
  EXPECT_FALSE(l->admit("k", "t", 1, 3).allowed);
}

TEST_F(RedisRateLimitTest, UnixSocket) {
  RateLimitBackendConfig cfg;
  cfg.backend = "redis";
  cfg.redis_url = "unix:" + server_->socket_path();
  cfg.key_prefix = fresh_prefix();
  auto l = make_rate_limiter(cfg);
  ASSERT_TRUE(l.ok()) << l.error().to_string();
  (*l)->set_key_limits("k", {1, 0});
  const RateDecision a = (*l)->admit("k", "t", 1, 1);
  EXPECT_TRUE(a.allowed);
  EXPECT_TRUE(a.backend_error.empty()) << a.backend_error;
  EXPECT_FALSE((*l)->admit("k", "t", 1, 2).allowed);
  EXPECT_EQ(raw_keys(cfg.key_prefix).size(), 2u);
}

// A stopped Redis: fail-open admits with backend_error set and one warning; fail-closed refuses
// ("rate limiter unavailable", retry after 1 s); neither blocks; both recover when Redis is back,
// and a limiter whose connection broke while Redis restarted reconnects within the same call.
TEST(RedisRateLimitDown, FailsOpenOrClosedAsConfiguredAndReconnects) {
  CYLLM_REQUIRE_REDIS_SERVER();
  RedisProcess srv;
  std::string err;
  ASSERT_TRUE(srv.start(&err)) << err;
  Captured logged;
  Logger log(LogConfig{LogLevel::kInfo}, [&](std::string_view line) {
    std::lock_guard lock(logged.mu);
    logged.lines.emplace_back(line);
  });
  auto make = [&](bool fail_open, const char* prefix) {
    RateLimitBackendConfig cfg;
    cfg.backend = "redis";
    cfg.key_prefix = prefix;
    cfg.redis_url = srv.url();
    cfg.fail_open = fail_open;
    cfg.timeout_ms = 500;
    cfg.reconnect_interval_ms = 100;
    cfg.log = &log;
    auto r = RedisRateLimiter::create(cfg);
    EXPECT_TRUE(r.ok());
    (*r)->set_key_limits("k", {2, 0});
    return std::move(*r);
  };
  auto open = make(true, "open:"), closed = make(false, "closed:"), steady = make(true, "steady:");
  EXPECT_TRUE(open->admit("k", "t", 1, 1).allowed);
  EXPECT_TRUE(closed->admit("k", "t", 1, 1).allowed);
  EXPECT_TRUE(steady->admit("k", "t", 1, 1).allowed);  // connected before the restart below
  EXPECT_TRUE(open->healthy());

  // The restart-between-calls case: the old connection is dead, the call reconnects and succeeds.
  srv.stop();
  ASSERT_TRUE(srv.start(&err, srv.port())) << err;
  RateDecision d = steady->admit("k", "t", 1, 2);  // fresh server: empty windows
  EXPECT_TRUE(d.allowed);
  EXPECT_TRUE(d.backend_error.empty()) << d.backend_error;
  EXPECT_TRUE(steady->healthy());

  srv.stop();
  const auto t0 = Clock::now();
  for (int i = 0; i < 20; ++i) {  // far over the limit of 2: all admitted while Redis is down
    d = open->admit("k", "t", 1, 3 + i);
    EXPECT_TRUE(d.allowed);
    EXPECT_NE(d.backend_error.find("127.0.0.1:" + std::to_string(srv.port())), std::string::npos) << d.backend_error;
    const RateDecision c = closed->admit("k", "t", 1, 3 + i);
    EXPECT_FALSE(c.allowed);
    EXPECT_EQ(c.limit, "rate limiter unavailable");
    EXPECT_EQ(c.retry_after_s, 1);
    EXPECT_FALSE(c.backend_error.empty());
  }
  EXPECT_LT(Clock::now() - t0, std::chrono::seconds(3));  // refused connections: no waiting
  EXPECT_FALSE(open->healthy());
  EXPECT_FALSE(open->last_error().empty());
  EXPECT_EQ(logged.count("rate_limit_backend_down"), 2);  // once per limiter, not per request

  ASSERT_TRUE(srv.start(&err, srv.port())) << err;
  std::this_thread::sleep_for(std::chrono::milliseconds(150));  // past reconnect_interval_ms
  d = open->admit("k", "t", 1, 30);
  EXPECT_TRUE(d.backend_error.empty()) << d.backend_error;
  EXPECT_TRUE(d.allowed);
  EXPECT_TRUE(open->healthy());
  EXPECT_TRUE(open->admit("k", "t", 1, 31).allowed);
  d = open->admit("k", "t", 1, 32);  // limits apply again
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.limit, "key requests/min");
  EXPECT_TRUE(closed->admit("k", "t", 1, 33).allowed);
  EXPECT_EQ(logged.count("rate_limit_backend_up"), 2);
}

// A Redis that accepts connections but never answers (a listening socket nobody reads) costs one
// timeout, then nothing until the reconnect interval has passed.
TEST(RedisRateLimitDown, SilentServerTimesOut) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(fd, 16), 0);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len), 0);
  RateLimitBackendConfig cfg;
  cfg.backend = "redis";
  cfg.redis_url = "redis://127.0.0.1:" + std::to_string(ntohs(a.sin_port));
  cfg.timeout_ms = 200;
  cfg.reconnect_interval_ms = 60000;
  cfg.fail_open = false;
  Logger quiet{LogConfig{LogLevel::kError}};
  cfg.log = &quiet;
  auto l = RedisRateLimiter::create(cfg);
  ASSERT_TRUE(l.ok());
  (*l)->set_key_limits("k", {5, 0});
  auto t0 = Clock::now();
  RateDecision d = (*l)->admit("k", "t", 1, 1);
  const auto first = Clock::now() - t0;
  EXPECT_FALSE(d.allowed);
  EXPECT_NE(d.backend_error.find("no answer within 200 ms"), std::string::npos) << d.backend_error;
  EXPECT_GE(first, std::chrono::milliseconds(150));
  EXPECT_LT(first, std::chrono::seconds(2));
  t0 = Clock::now();
  d = (*l)->admit("k", "t", 1, 2);
  EXPECT_LT(Clock::now() - t0, std::chrono::milliseconds(150));  // no new try within the interval
  EXPECT_FALSE(d.allowed);
  EXPECT_FALSE(d.backend_error.empty());
  ::close(fd);
}

}  // namespace
}  // namespace cyllm::server
