#include "server/rate-limit-redis.h"

#include <csignal>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <random>

#include <hiredis/hiredis.h>
#include <pthread.h>

#include "core/log.h"

namespace cyllm::server {

namespace {

// One admit, atomically. KEYS: per scope (key, then tenant; only those with limits) its event set
// and its token sum. ARGV: now, now - window (the expiry cutoff, computed by the caller in the same
// double arithmetic as RateLimiter), window, tokens, ttl_ms, the event's member, then per scope:
// requests/min, tokens/min, scope name. Returns {1} (admitted and recorded) or
// {0, limit, ceil(retry_after_s)}. The waits are computed as RateLimiter::wait_for does.
constexpr const char* kAdmitScript = R"lua(
local now = tonumber(ARGV[1])
local cutoff = ARGV[2]
local window = tonumber(ARGV[3])
local tokens = tonumber(ARGV[4])
local ttl = ARGV[5]
local function tokens_of(member) return tonumber(string.match(member, '^(-?%d+):')) end
local n = #KEYS / 2
local sums, counts = {}, {}
local best, limit = 0, ''
for i = 1, n do
  local events, sumkey = KEYS[2 * i - 1], KEYS[2 * i]
  local rpm, tpm = tonumber(ARGV[4 + 3 * i]), tonumber(ARGV[5 + 3 * i])
  local sum = tonumber(redis.call('GET', sumkey) or '0')
  local old = redis.call('ZRANGEBYSCORE', events, '-inf', cutoff)
  if #old > 0 then
    for _, m in ipairs(old) do sum = sum - tokens_of(m) end
    redis.call('ZREMRANGEBYSCORE', events, '-inf', cutoff)
  end
  local count = redis.call('ZCARD', events)
  if count == 0 then sum = 0 end
  sums[i], counts[i] = sum, count
  local wait, by_tokens = 0, false
  if rpm > 0 and count >= rpm then
    local e = redis.call('ZRANGE', events, count - rpm, count - rpm, 'WITHSCORES')
    wait = math.max(wait, tonumber(e[2]) + window - now)
  end
  if tpm > 0 and sum + tokens > tpm then
    if tokens > tpm then
      by_tokens = true
      wait = math.max(wait, window)
    else
      local excess = sum + tokens - tpm
      local all = redis.call('ZRANGE', events, 0, -1, 'WITHSCORES')
      for j = 1, #all, 2 do
        excess = excess - tokens_of(all[j])
        if excess <= 0 then
          local w = tonumber(all[j + 1]) + window - now
          if w > wait then by_tokens = true end
          wait = math.max(wait, w)
          break
        end
      end
    end
  end
  if wait > 0 and wait > best then
    best = wait
    limit = ARGV[6 + 3 * i] .. (by_tokens and ' tokens/min' or ' requests/min')
  end
end
if best > 0 then
  for i = 1, n do
    if counts[i] == 0 then
      redis.call('DEL', KEYS[2 * i])
    else
      redis.call('SET', KEYS[2 * i], sums[i], 'PX', ttl)
      redis.call('PEXPIRE', KEYS[2 * i - 1], ttl)
    end
  end
  return {0, limit, math.ceil(best)}
end
for i = 1, n do
  redis.call('ZADD', KEYS[2 * i - 1], ARGV[1], ARGV[6])
  redis.call('PEXPIRE', KEYS[2 * i - 1], ttl)
  redis.call('SET', KEYS[2 * i], sums[i] + tokens, 'PX', ttl)
end
return {1}
)lua";

std::string exact(double v) {  // round-trips through strtod (Lua's tonumber, Redis's score parser)
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

bool parse_int(std::string_view s, int lo, int hi, int* out) {
  if (s.empty()) return false;
  int v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v < lo || v > hi) return false;
  *out = v;
  return true;
}

Error bad_url(const std::string& why) {
  return make_error(ErrorCode::kInvalidArgument, "invalid redis_url: " + why,
                    "write redis://host:port (optionally redis://:password@host:port/db) or unix:/path/to/redis.sock");
}

// hiredis writes with write(2): a write to a connection Redis has closed raises SIGPIPE, whose default
// action ends the process. While a guard lives, SIGPIPE is blocked in this thread (it is delivered to
// the writing thread), and one raised meanwhile is consumed; the write then fails with EPIPE.
class SigpipeGuard {
 public:
  SigpipeGuard() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    sigset_t pending;
    sigemptyset(&pending);
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
    blocked_ = pthread_sigmask(SIG_BLOCK, &pipe_, &old_) == 0;
  }
  ~SigpipeGuard() {
    if (!blocked_) return;
    sigset_t pending;
    sigemptyset(&pending);
    if (!was_pending_ && sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1) {
      const timespec none{};
      sigtimedwait(&pipe_, nullptr, &none);
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  SigpipeGuard(const SigpipeGuard&) = delete;
  SigpipeGuard& operator=(const SigpipeGuard&) = delete;

 private:
  sigset_t pipe_, old_;
  bool was_pending_ = false, blocked_ = false;
};

Logger& fallback_logger() {
  static Logger logger{LogConfig{}};
  return logger;
}

}  // namespace

std::string RedisEndpoint::describe() const {
  if (unix_socket) return "unix:" + path;
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port) + (db ? "/" + std::to_string(db) : "");
}

Result<RedisEndpoint> parse_redis_url(std::string_view url) {
  RedisEndpoint ep;
  if (url.substr(0, 5) == "unix:") {
    std::string_view path = url.substr(5);
    if (path.substr(0, 2) == "//") path.remove_prefix(2);  // unix:///run/redis.sock
    if (path.empty()) return bad_url("no socket path after unix:");
    ep.unix_socket = true;
    ep.path = std::string(path);
    return ep;
  }
  if (url.substr(0, 8) != "redis://") {
    // (The URL itself is not repeated: it may hold a password.)
    if (url.empty()) return bad_url("empty (the redis backend needs a server address)");
    return bad_url("it must start with redis:// or unix:");
  }
  std::string_view rest = url.substr(8);
  if (const size_t at = rest.rfind('@'); at != std::string_view::npos) {
    const std::string_view userinfo = rest.substr(0, at);
    const size_t colon = userinfo.find(':');
    if (colon == std::string_view::npos) return bad_url("credentials must be written user:password@ or :password@");
    ep.user = std::string(userinfo.substr(0, colon));
    ep.password = std::string(userinfo.substr(colon + 1));
    if (ep.password.empty()) return bad_url("empty password before @");
    rest = rest.substr(at + 1);
  }
  std::string_view hostport = rest;
  if (const size_t slash = rest.find('/'); slash != std::string_view::npos) {
    hostport = rest.substr(0, slash);
    const std::string_view db = rest.substr(slash + 1);
    if (!db.empty() && !parse_int(db, 0, 1 << 20, &ep.db)) return bad_url("database '" + std::string(db) + "' is not a number");
  }
  std::string_view port;
  if (!hostport.empty() && hostport.front() == '[') {
    const size_t close = hostport.find(']');
    if (close == std::string_view::npos) return bad_url("unclosed [ in the IPv6 address");
    ep.host = std::string(hostport.substr(1, close - 1));
    const std::string_view after = hostport.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad_url("expected :port after ]");
      port = after.substr(1);
      if (port.empty()) return bad_url("empty port");
    }
  } else {
    const size_t colon = hostport.find(':');
    ep.host = std::string(hostport.substr(0, colon));
    if (colon != std::string_view::npos) {
      port = hostport.substr(colon + 1);
      if (port.find(':') != std::string_view::npos) return bad_url("write IPv6 addresses in brackets: redis://[::1]:6379");
      if (port.empty()) return bad_url("empty port");
    }
  }
  if (ep.host.empty()) return bad_url("no host");
  if (!port.empty() && !parse_int(port, 1, 65535, &ep.port)) return bad_url("port '" + std::string(port) + "' is not 1-65535");
  return ep;
}

void RedisRateLimiter::ReplyDeleter::operator()(redisReply* r) const { freeReplyObject(r); }

Result<std::unique_ptr<RedisRateLimiter>> RedisRateLimiter::create(const RateLimitBackendConfig& cfg) {
  auto ep = parse_redis_url(cfg.redis_url);
  if (!ep) return ep.error();
  if (!(cfg.window_s > 0) || !std::isfinite(cfg.window_s) || cfg.window_s > 1e7)
    return make_error(ErrorCode::kInvalidArgument, "rate limit window must be between 0 and 1e7 seconds");
  if (cfg.timeout_ms <= 0) return make_error(ErrorCode::kInvalidArgument, "redis timeout_ms must be positive");
  if (cfg.reconnect_interval_ms < 0) return make_error(ErrorCode::kInvalidArgument, "redis reconnect_interval_ms must not be negative");
  return std::unique_ptr<RedisRateLimiter>(new RedisRateLimiter(cfg, std::move(*ep)));
}

RedisRateLimiter::RedisRateLimiter(const RateLimitBackendConfig& cfg, RedisEndpoint ep) : cfg_(cfg), ep_(std::move(ep)) {
  std::random_device rd;
  const uint64_t id = (uint64_t{rd()} << 32) ^ rd();
  char buf[24];
  std::snprintf(buf, sizeof buf, "%016llx-", static_cast<unsigned long long>(id));
  member_prefix_ = buf;
}

RedisRateLimiter::~RedisRateLimiter() { disconnect(); }

void RedisRateLimiter::set_key_limits(const std::string& key_id, RateLimits l) {
  std::lock_guard lock(mu_);
  key_limits_[key_id] = l;
}

void RedisRateLimiter::set_tenant_limits(const std::string& tenant, RateLimits l) {
  std::lock_guard lock(mu_);
  tenant_limits_[tenant] = l;
}

bool RedisRateLimiter::healthy() const {
  std::lock_guard lock(mu_);
  return healthy_;
}

std::string RedisRateLimiter::last_error() const {
  std::lock_guard lock(mu_);
  return last_error_;
}

void RedisRateLimiter::disconnect() {
  if (ctx_ != nullptr) redisFree(ctx_);
  ctx_ = nullptr;
}

RedisRateLimiter::Reply RedisRateLimiter::command(const std::vector<std::string>& args, std::string* err) {
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (const auto& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  errno = 0;
  void* r = redisCommandArgv(ctx_, static_cast<int>(argv.size()), argv.data(), lens.data());
  if (r == nullptr) {
    const bool timed_out = ctx_->err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK);
    *err = "Redis at " + ep_.describe() + ": " +
           (timed_out ? "no answer within " + std::to_string(cfg_.timeout_ms) + " ms"
                      : std::string(ctx_->errstr[0] ? ctx_->errstr : "connection lost"));
    disconnect();  // a failed context cannot be used again
    return nullptr;
  }
  return Reply(static_cast<redisReply*>(r));
}

bool RedisRateLimiter::connect(std::string* err) {
  disconnect();
  timeval tv{};
  tv.tv_sec = cfg_.timeout_ms / 1000;
  tv.tv_usec = (cfg_.timeout_ms % 1000) * 1000;
  redisContext* c = ep_.unix_socket ? redisConnectUnixWithTimeout(ep_.path.c_str(), tv)
                                    : redisConnectWithTimeout(ep_.host.c_str(), ep_.port, tv);
  if (c == nullptr) {
    *err = "cannot allocate a Redis connection";
    return false;
  }
  if (c->err != 0) {
    *err = "cannot connect to Redis at " + ep_.describe() + ": " + c->errstr;
    redisFree(c);
    return false;
  }
  redisSetTimeout(c, tv);
  if (!ep_.unix_socket) redisEnableKeepAlive(c);
  ctx_ = c;
  auto step = [&](std::vector<std::string> args, const char* what) -> Reply {
    Reply r = command(args, err);
    if (r && r->type == REDIS_REPLY_ERROR) {
      *err = std::string("Redis at ") + ep_.describe() + " refused " + what + ": " + std::string(r->str, r->len);
      disconnect();
      return nullptr;
    }
    return r;
  };
  if (!ep_.password.empty()) {
    std::vector<std::string> auth{"AUTH"};
    if (!ep_.user.empty()) auth.push_back(ep_.user);
    auth.push_back(ep_.password);
    if (!step(std::move(auth), "AUTH")) return false;
  }
  if (ep_.db != 0 && !step({"SELECT", std::to_string(ep_.db)}, "SELECT")) return false;
  Reply sha = step({"SCRIPT", "LOAD", kAdmitScript}, "SCRIPT LOAD");
  if (!sha) return false;
  if (sha->type != REDIS_REPLY_STRING) {
    *err = "Redis at " + ep_.describe() + ": unexpected reply to SCRIPT LOAD";
    disconnect();
    return false;
  }
  sha_.assign(sha->str, sha->len);
  return true;
}

bool RedisRateLimiter::run_script(std::vector<std::string>& args, RateDecision* d, std::string* err) {
  args[0] = "EVALSHA";
  args[1] = sha_;
  Reply r = command(args, err);
  if (!r) return false;
  if (r->type == REDIS_REPLY_ERROR && std::string_view(r->str, r->len).substr(0, 8) == "NOSCRIPT") {
    args[0] = "EVAL";  // the server lost its script cache (SCRIPT FLUSH, restart behind a proxy)
    args[1] = kAdmitScript;
    r = command(args, err);
    if (!r) return false;
  }
  if (r->type == REDIS_REPLY_ERROR) {
    *err = "Redis at " + ep_.describe() + " failed the rate-limit script: " + std::string(r->str, r->len);
    return false;
  }
  const bool shape_ok = r->type == REDIS_REPLY_ARRAY && r->elements >= 1 && r->element[0]->type == REDIS_REPLY_INTEGER &&
                        (r->element[0]->integer == 1 ||
                         (r->elements == 3 && r->element[1]->type == REDIS_REPLY_STRING &&
                          r->element[2]->type == REDIS_REPLY_INTEGER));
  if (!shape_ok) {
    *err = "Redis at " + ep_.describe() + ": unexpected reply from the rate-limit script";
    return false;
  }
  *d = RateDecision{};
  if (r->element[0]->integer == 0) {
    d->allowed = false;
    d->limit.assign(r->element[1]->str, r->element[1]->len);
    d->retry_after_s = static_cast<double>(r->element[2]->integer);
  }
  return true;
}

RateDecision RedisRateLimiter::unavailable(const std::string& err) {
  last_error_ = err;
  if (healthy_) {
    healthy_ = false;
    Logger& log = cfg_.log != nullptr ? *cfg_.log : fallback_logger();
    log.log(LogLevel::kWarn, "rate_limit_backend_down",
            {{"backend", "redis"}, {"redis", ep_.describe()}, {"error", err}, {"fail_open", cfg_.fail_open},
             {"effect", cfg_.fail_open ? "requests are admitted without rate limits until Redis answers"
                                       : "requests are refused until Redis answers"}});
  }
  RateDecision d;
  d.backend_error = err;
  if (!cfg_.fail_open) {
    d.allowed = false;
    d.limit = "rate limiter unavailable";
    d.retry_after_s = 1;
  }
  return d;
}

RateDecision RedisRateLimiter::admit(const std::string& key_id, const std::string& tenant, int tokens, double now_s) {
  std::lock_guard lock(mu_);
  struct Scope { const RateLimits* limits; const std::string* id; const char* tag; const char* who; };
  std::vector<Scope> scopes;
  if (auto it = key_limits_.find(key_id); it != key_limits_.end()) scopes.push_back({&it->second, &key_id, "k:", "key"});
  if (auto it = tenant_limits_.find(tenant); it != tenant_limits_.end()) scopes.push_back({&it->second, &tenant, "t:", "tenant"});
  if (scopes.empty()) return {};  // nothing limited, nothing recorded (as RateLimiter)
  if (!std::isfinite(now_s)) {
    RateDecision d;
    d.backend_error = "rate limiter given a non-finite time";
    if (!cfg_.fail_open) {
      d.allowed = false;
      d.limit = "rate limiter unavailable";
      d.retry_after_s = 1;
    }
    return d;
  }

  const int64_t ttl_ms = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(2 * cfg_.window_s * 1000)));
  char seq[24];
  std::snprintf(seq, sizeof seq, "%llx", static_cast<unsigned long long>(seq_++));
  std::vector<std::string> args{"EVALSHA", "", std::to_string(2 * scopes.size())};
  for (const auto& s : scopes) {
    args.push_back(cfg_.key_prefix + "ev:" + s.tag + *s.id);
    args.push_back(cfg_.key_prefix + "sum:" + s.tag + *s.id);
  }
  args.insert(args.end(), {exact(now_s), exact(now_s - cfg_.window_s), exact(cfg_.window_s), std::to_string(tokens),
                           std::to_string(ttl_ms), std::to_string(tokens) + ":" + member_prefix_ + seq});
  for (const auto& s : scopes) {
    args.push_back(std::to_string(s.limits->requests_per_min));
    args.push_back(std::to_string(s.limits->tokens_per_min));
    args.push_back(s.who);
  }

  std::string err;
  const SigpipeGuard no_sigpipe;
  const auto now = std::chrono::steady_clock::now();
  bool fresh = false;
  if (ctx_ == nullptr) {
    if (now < next_connect_) return unavailable(last_error_);
    if (!connect(&err)) {
      next_connect_ = now + std::chrono::milliseconds(cfg_.reconnect_interval_ms);
      return unavailable(err);
    }
    fresh = true;
  }
  RateDecision d;
  bool ok = run_script(args, &d, &err);
  if (!ok && ctx_ == nullptr && !fresh) {  // the connection broke (Redis restarted?): one immediate retry
    std::string err2;
    if (connect(&err2)) ok = run_script(args, &d, &err2);
    if (!ok) err = err2;
  }
  if (!ok) {
    if (ctx_ == nullptr) next_connect_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(cfg_.reconnect_interval_ms);
    return unavailable(err);
  }
  if (!healthy_) {
    healthy_ = true;
    last_error_.clear();
    Logger& log = cfg_.log != nullptr ? *cfg_.log : fallback_logger();
    log.log(LogLevel::kInfo, "rate_limit_backend_up", {{"backend", "redis"}, {"redis", ep_.describe()}});
  }
  return d;
}

}  // namespace cyllm::server
