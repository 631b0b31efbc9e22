// A private redis-server for a test: started on a free loopback port (and a unix socket in its own
// temporary folder), no persistence, ready when PING answers, ended (SIGTERM, then SIGKILL) by
// stop() or the destructor, and by the kernel if the test process dies (PR_SET_PDEATHSIG). Never
// uses a system Redis.
#pragma once

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>

#include <arpa/inet.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support/test-paths.h"

namespace cyllm::test {

class RedisProcess {
 public:
  RedisProcess() = default;
  RedisProcess(const RedisProcess&) = delete;
  RedisProcess& operator=(const RedisProcess&) = delete;
  ~RedisProcess() {
    stop();
    if (!dir_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
    }
  }

  // $CYLLM_REDIS_SERVER, else redis-server on PATH, else "" (not installed).
  static std::string find_binary() {
    if (const char* v = std::getenv("CYLLM_REDIS_SERVER"); v != nullptr && *v != '\0')
      return ::access(v, X_OK) == 0 ? std::string(v) : std::string();
    const char* path = std::getenv("PATH");
    std::string dirs = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
    dirs += ":/usr/sbin:/usr/bin";
    size_t start = 0;
    while (start <= dirs.size()) {
      const size_t end = dirs.find(':', start);
      const std::string d = dirs.substr(start, end == std::string::npos ? std::string::npos : end - start);
      if (!d.empty()) {
        const std::string p = d + "/redis-server";
        if (::access(p.c_str(), X_OK) == 0) return p;
      }
      if (end == std::string::npos) break;
      start = end + 1;
    }
    return {};
  }

  // A port nothing listens on right now (the kernel's pick for an ephemeral bind).
  static int free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return 0;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    int port = 0;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
      port = ntohs(a.sin_port);
    ::close(fd);
    return port;
  }

  // Starts redis-server (on `port`, or a free one) and waits until PING answers.
  bool start(std::string* err, int port = 0) {
    stop();
    const std::string bin = find_binary();
    if (bin.empty()) {
      *err = "redis-server not found";
      return false;
    }
    if (dir_.empty()) {
      char tmpl[] = "/tmp/cyllm-redis-XXXXXX";
      if (::mkdtemp(tmpl) == nullptr) {
        *err = "mkdtemp failed";
        return false;
      }
      dir_ = tmpl;
    }
    for (int attempt = 0; attempt < 5; ++attempt) {  // a free port can be taken before redis binds it
      port_ = port != 0 ? port : free_port();
      if (launch(bin) && wait_ready()) return true;
      stop();
      if (port != 0 && attempt >= 2) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    *err = "redis-server did not answer PING on port " + std::to_string(port_) + " (log: " + dir_ + "/redis.log)";
    return false;
  }

  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 500; ++i) {  // 5 s, then SIGKILL
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  bool running() const { return pid_ > 0; }
  int port() const { return port_; }
  std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_); }
  std::string socket_path() const { return dir_ + "/redis.sock"; }

  // A direct connection for checks (caller frees with redisFree).
  redisContext* client() const {
    timeval tv{1, 0};
    redisContext* c = redisConnectWithTimeout("127.0.0.1", port_, tv);
    if (c != nullptr && c->err != 0) {
      redisFree(c);
      return nullptr;
    }
    if (c != nullptr) redisSetTimeout(c, tv);
    return c;
  }

 private:
  bool launch(const std::string& bin) {
    const std::string port = std::to_string(port_), sock = socket_path(), log = dir_ + "/redis.log";
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid < 0) return false;
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(127);
      const int fd = ::open("/dev/null", O_RDWR);
      if (fd >= 0) {
        ::dup2(fd, 0);
        ::dup2(fd, 1);
        ::dup2(fd, 2);
      }
      ::execl(bin.c_str(), "redis-server", "--port", port.c_str(), "--bind", "127.0.0.1", "--save", "",
              "--appendonly", "no", "--daemonize", "no", "--dir", dir_.c_str(), "--logfile", log.c_str(),
              "--unixsocket", sock.c_str(), "--unixsocketperm", "700", static_cast<char*>(nullptr));
      ::_exit(127);
    }
    pid_ = pid;
    return true;
  }

  bool wait_ready() {
    for (int i = 0; i < 200; ++i) {  // 10 s
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {  // exited: port taken, bad option, ...
        pid_ = -1;
        return false;
      }
      if (redisContext* c = client()) {
        // PING answers once it is up; INFO's process_id shows it is ours, not another test's server
        // that happened to take the port first.
        auto* r = static_cast<redisReply*>(redisCommand(c, "PING"));
        const bool pong = r != nullptr && r->type == REDIS_REPLY_STATUS && std::string(r->str) == "PONG";
        if (r != nullptr) freeReplyObject(r);
        bool ours = false;
        if (pong) {
          r = static_cast<redisReply*>(redisCommand(c, "INFO server"));
          ours = r != nullptr && r->type == REDIS_REPLY_STRING &&
                 std::string(r->str, r->len).find("process_id:" + std::to_string(pid_) + "\r") != std::string::npos;
          if (r != nullptr) freeReplyObject(r);
        }
        redisFree(c);
        if (pong) return ours;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  pid_t pid_ = -1;
  int port_ = 0;
  std::string dir_;
};

}  // namespace cyllm::test

// Use at the top of a TEST body: skips (outside CI) or fails (in CI) when redis-server is absent.
#define CYLLM_REQUIRE_REDIS_SERVER()                                                                     \
  if (::cyllm::test::RedisProcess::find_binary().empty()) {                                              \
    if (::cyllm::test::in_ci()) FAIL() << "redis-server missing under CI: run scripts/setup-deps.sh";    \
    GTEST_SKIP() << "redis-server not installed (Debian package redis-server; scripts/setup-deps.sh)"; \
  }
