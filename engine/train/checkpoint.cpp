#include "train/checkpoint.h"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

namespace cyllm {

namespace fs = std::filesystem;

namespace {

Error io_error(const std::string& what) {
  return make_error(ErrorCode::kIoError, "checkpoint: " + what + ": " + std::strerror(errno),
                    "Check free disk space and permissions of the output directory.");
}

// Writes the whole buffer and fsyncs it.
Status write_file(const fs::path& p, const std::string& data) {
  const int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return io_error("cannot create " + p.string());
  size_t off = 0;
  while (off < data.size()) {
    const ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      ::close(fd);
      return io_error("cannot write " + p.string());
    }
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    ::close(fd);
    return io_error("cannot sync " + p.string());
  }
  ::close(fd);
  return {};
}

Status sync_dir(const fs::path& d) {
  const int fd = ::open(d.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return io_error("cannot open directory " + d.string());
  const int rc = ::fsync(fd);
  ::close(fd);
  return rc == 0 ? Status{} : io_error("cannot sync directory " + d.string());
}

uint32_t crc(const std::string& s) {
  return static_cast<uint32_t>(::crc32(0L, reinterpret_cast<const Bytef*>(s.data()), static_cast<uInt>(s.size())));
}

std::optional<std::string> read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool is_checkpoint_name(const std::string& name, int64_t* step) {
  if (name.size() != 15 || name.rfind("ckpt-", 0) != 0) return false;
  for (size_t i = 5; i < name.size(); ++i)
    if (name[i] < '0' || name[i] > '9') return false;
  *step = std::stoll(name.substr(5));
  return true;
}

}  // namespace

std::string CheckpointStore::dir_name(int64_t step) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "ckpt-%010lld", static_cast<long long>(step));
  return buf;
}

Result<std::string> CheckpointStore::write(const CheckpointState& state, const std::map<std::string, std::string>& blobs) {
  std::error_code ec;
  fs::create_directories(root_, ec);
  if (ec) return make_error(ErrorCode::kIoError, "checkpoint: cannot create " + root_ + ": " + ec.message());
  const fs::path final_dir = fs::path(root_) / dir_name(state.step);
  std::random_device rd;
  const fs::path tmp = fs::path(root_) / (dir_name(state.step) + ".tmp-" + std::to_string(rd()));
  fs::create_directory(tmp, ec);
  if (ec) return make_error(ErrorCode::kIoError, "checkpoint: cannot create " + tmp.string() + ": " + ec.message());
  nlohmann::json manifest = {{"format", "cyllm-checkpoint-1"},
                             {"state",
                              {{"step", state.step},
                               {"epoch", state.epoch},
                               {"data_position", state.data_position},
                               {"loss", state.loss},
                               {"eval_loss", state.eval_loss ? nlohmann::json(*state.eval_loss) : nlohmann::json(nullptr)},
                               {"metadata", state.metadata}}},
                             {"blobs", nlohmann::json::object()}};
  for (const auto& [name, data] : blobs) {
    if (name.empty() || name.find('/') != std::string::npos || name == "manifest.json" || name[0] == '.')
      return make_error(ErrorCode::kInvalidArgument, "checkpoint: bad blob name '" + name + "'");
    if (auto st = write_file(tmp / name, data); !st) return st.error();
    manifest["blobs"][name] = {{"size", data.size()}, {"crc32", crc(data)}};
  }
  if (auto st = write_file(tmp / "manifest.json", manifest.dump(2)); !st) return st.error();
  if (auto st = sync_dir(tmp); !st) return st.error();
  fs::remove_all(final_dir, ec);  // a rewrite of the same step replaces it
  fs::rename(tmp, final_dir, ec);
  if (ec) return make_error(ErrorCode::kIoError, "checkpoint: cannot publish " + final_dir.string() + ": " + ec.message());
  if (auto st = sync_dir(root_); !st) return st.error();
  return final_dir.string();
}

namespace {

// Parses dir/manifest.json into c->state; checks every blob's size, and with `verify` also reads
// the blob into c->blobs and checks its CRC-32. Adds the blob sizes to *bytes.
Status read_checkpoint(const std::string& dir, bool verify, Checkpoint* c, uint64_t* bytes) {
  auto bad = [&](const std::string& why) {
    return make_error(ErrorCode::kMalformedFile, "checkpoint " + dir + " is not usable: " + why,
                      "It was probably interrupted while being written; an older checkpoint will be used.");
  };
  auto text = read_file(fs::path(dir) / "manifest.json");
  if (!text) return bad("no manifest");
  auto m = nlohmann::json::parse(*text, nullptr, false);
  if (m.is_discarded() || !m.is_object() || m.value("format", "") != "cyllm-checkpoint-1" || !m.contains("state") ||
      !m.contains("blobs") || !m["blobs"].is_object())
    return bad("the manifest does not parse");
  c->dir = dir;
  try {
    const auto& s = m["state"];
    c->state.step = s.at("step").get<int64_t>();
    c->state.epoch = s.at("epoch").get<int64_t>();
    c->state.data_position = s.at("data_position").get<int64_t>();
    c->state.loss = s.at("loss").get<double>();
    if (!s.at("eval_loss").is_null()) c->state.eval_loss = s.at("eval_loss").get<double>();
    c->state.metadata = s.at("metadata");
    for (auto it = m["blobs"].begin(); it != m["blobs"].end(); ++it) {
      const fs::path blob = fs::path(dir) / it.key();
      const auto size = it->at("size").get<size_t>();
      if (bytes) *bytes += size;
      if (!verify) {
        std::error_code ec;
        const auto on_disk = fs::file_size(blob, ec);
        if (ec) return bad("blob " + it.key() + " is missing");
        if (on_disk != size) return bad("blob " + it.key() + " has the wrong size");
        continue;
      }
      auto data = read_file(blob);
      if (!data) return bad("blob " + it.key() + " is missing");
      if (data->size() != size) return bad("blob " + it.key() + " has the wrong size");
      if (crc(*data) != it->at("crc32").get<uint32_t>()) return bad("blob " + it.key() + " fails its checksum");
      c->blobs[it.key()] = std::move(*data);
    }
  } catch (const nlohmann::json::exception& e) {
    return bad(std::string("the manifest is incomplete (") + e.what() + ")");
  }
  return {};
}

}  // namespace

Result<Checkpoint> CheckpointStore::load(const std::string& dir) const {
  Checkpoint c;
  if (auto st = read_checkpoint(dir, /*verify=*/true, &c, nullptr); !st) return st.error();
  return c;
}

std::vector<CheckpointSummary> CheckpointStore::list() const {
  std::vector<CheckpointSummary> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(root_, ec)) {
    int64_t step = 0;
    if (!e.is_directory() || !is_checkpoint_name(e.path().filename().string(), &step)) continue;
    CheckpointSummary row;
    Checkpoint c;
    if (auto st = read_checkpoint(e.path().string(), /*verify=*/false, &c, &row.bytes); !st) {
      row.problem = st.error().message;
      c.state.step = step;
    }
    row.dir = e.path().string();
    row.state = std::move(c.state);
    const auto t = fs::last_write_time(e.path() / "manifest.json", ec);
    if (!ec)
      row.written_unix_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::file_clock::to_sys(t).time_since_epoch())
                                .count();
    out.push_back(std::move(row));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.state.step < b.state.step; });
  return out;
}

Result<std::optional<Checkpoint>> CheckpointStore::find_latest(std::vector<std::string>* warnings) const {
  std::vector<std::pair<int64_t, std::string>> dirs;
  std::error_code ec;
  if (!fs::exists(root_, ec)) return std::optional<Checkpoint>{};
  for (const auto& e : fs::directory_iterator(root_, ec)) {
    int64_t step = 0;
    if (e.is_directory() && is_checkpoint_name(e.path().filename().string(), &step)) dirs.emplace_back(step, e.path().string());
  }
  std::sort(dirs.begin(), dirs.end(), std::greater<>());
  for (const auto& [step, dir] : dirs) {
    auto c = load(dir);
    if (c) return std::optional<Checkpoint>{std::move(c.value())};
    if (warnings) warnings->push_back(c.error().message);
  }
  return std::optional<Checkpoint>{};
}

Result<int> CheckpointStore::cleanup(int keep_last) const {
  std::error_code ec;
  std::vector<std::pair<int64_t, std::string>> good;
  std::optional<std::pair<double, std::string>> best;
  int removed = 0;
  for (const auto& e : fs::directory_iterator(root_, ec)) {
    const std::string name = e.path().filename().string();
    int64_t step = 0;
    if (name.find(".tmp-") != std::string::npos) {  // interrupted writes
      fs::remove_all(e.path(), ec);
      ++removed;
      continue;
    }
    if (!e.is_directory() || !is_checkpoint_name(name, &step)) continue;
    auto c = load(e.path().string());
    if (!c) continue;  // left for inspection; find_latest skips it
    good.emplace_back(step, e.path().string());
    if (c->state.eval_loss && (!best || *c->state.eval_loss < best->first)) best = {*c->state.eval_loss, e.path().string()};
  }
  std::sort(good.begin(), good.end(), std::greater<>());
  for (size_t i = static_cast<size_t>(std::max(0, keep_last)); i < good.size(); ++i) {
    if (best && good[i].second == best->second) continue;
    fs::remove_all(good[i].second, ec);
    ++removed;
  }
  return removed;
}

}  // namespace cyllm
