#include "core/atomic-file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>

namespace cyllm {

namespace {

Error io_error(const std::string& what, int err) {
  return make_error(ErrorCode::kIoError, what + ": " + std::strerror(err),
                    "Check free disk space and the permissions of the output directory.");
}

}  // namespace

Status write_file_atomic(const std::string& path, std::string_view data) {
  namespace fs = std::filesystem;
  const fs::path target(path);
  fs::path dir = target.parent_path();
  if (dir.empty()) dir = ".";
  std::random_device rd;
  char suffix[32];
  std::snprintf(suffix, sizeof suffix, ".tmp-%08x%08x", rd(), rd());
  const std::string tmp = path + suffix;

  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return io_error("cannot create '" + tmp + "'", errno);
  auto fail = [&](const std::string& what) {
    const int e = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    return io_error(what, e);
  };
  size_t off = 0;
  while (off < data.size()) {
    const ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status(fail("cannot write '" + tmp + "'"));
    }
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) return Status(fail("cannot sync '" + tmp + "'"));
  if (::close(fd) != 0) {
    const int e = errno;
    ::unlink(tmp.c_str());
    return io_error("cannot close '" + tmp + "'", e);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int e = errno;
    ::unlink(tmp.c_str());
    return io_error("cannot rename '" + tmp + "' to '" + path + "'", e);
  }
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return io_error("cannot open directory '" + dir.string() + "'", errno);
  const int rc = ::fsync(dfd);
  const int e = errno;
  ::close(dfd);
  if (rc != 0) return io_error("cannot sync directory '" + dir.string() + "'", e);
  return {};
}

}  // namespace cyllm
