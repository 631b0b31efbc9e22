#include "core/thread-priority.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

namespace cyllm {

namespace {
id_t current_tid() { return static_cast<id_t>(::syscall(SYS_gettid)); }
}  // namespace

int current_thread_nice() {
  errno = 0;
  return ::getpriority(PRIO_PROCESS, current_tid());  // on Linux, PRIO_PROCESS with a tid is that thread
}

bool set_current_thread_nice(int nice) {
  if (nice < 0 || nice > 19) return false;
  if (nice <= current_thread_nice()) return nice == current_thread_nice();
  return ::setpriority(PRIO_PROCESS, current_tid(), nice) == 0;
}

}  // namespace cyllm
