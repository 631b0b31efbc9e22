// Dataset validation benchmark: generates large JSON Lines files (OpenAI `messages` rows, or raw
// `text` rows) in /tmp and validates each in a child process without a model (no tokenization),
// reporting rows/s, MB/s and the child's peak resident memory as JSON. Two or more sizes show
// whether memory depends on the file size.
// usage: cyllm_dataset_bench [--schema messages|text] [--dir /tmp] [--keep] [SIZE_MB ...]  (default 50 200)
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "train/dataset-validate.h"

namespace {

uint64_t next(uint64_t* s) {
  uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

const char* kWords[] = {"the", "model", "answer", "question", "training", "data", "is", "a", "of", "and",
                        "to", "in", "that", "it", "with", "as", "for", "was", "on", "are", "token",
                        "dataset", "validation", "layer", "gradient", "learning", "rate", "value",
                        "\\\"quoted\\\"", "line\\nbreak", "naïve", "日本語", "emoji😀", "tab\\t", "comma,"};

std::string sentence(uint64_t* s, int words) {
  std::string out;
  for (int i = 0; i < words; ++i) {
    if (i) out += ' ';
    out += kWords[next(s) % (sizeof(kWords) / sizeof(kWords[0]))];
  }
  return out;
}

// Writes about `mb` MB of rows; returns the row count.
uint64_t generate(const std::string& path, uint64_t mb, bool text) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) {
    std::perror(path.c_str());
    std::exit(2);
  }
  std::vector<char> buf(1 << 20);
  std::setvbuf(f, buf.data(), _IOFBF, buf.size());
  uint64_t seed = 12345, bytes = 0, rows = 0, target = mb << 20;
  std::string line;
  while (bytes < target) {
    ++rows;
    if (text) {
      line = "{\"text\": \"row " + std::to_string(rows) + " " + sentence(&seed, 150 + next(&seed) % 150) + "\"}\n";
    } else {
      line = "{\"messages\": [{\"role\": \"system\", \"content\": \"You are helpful.\"}";
      int turns = 1 + next(&seed) % 3;
      for (int t = 0; t < turns; ++t) {
        line += ", {\"role\": \"user\", \"content\": \"" + std::to_string(rows) + " " + sentence(&seed, 20 + next(&seed) % 30) + "\"}";
        line += ", {\"role\": \"assistant\", \"content\": \"" + sentence(&seed, 40 + next(&seed) % 80) + "\"}";
      }
      line += "]}\n";
    }
    std::fwrite(line.data(), 1, line.size(), f);
    bytes += line.size();
  }
  std::fclose(f);
  return rows;
}

}  // namespace

int main(int argc, char** argv) {
  std::string schema = "messages", dir = "/tmp";
  bool keep = false;
  std::vector<uint64_t> sizes;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--schema" && i + 1 < argc) schema = argv[++i];
    else if (a == "--dir" && i + 1 < argc) dir = argv[++i];
    else if (a == "--keep") keep = true;
    else sizes.push_back(std::strtoull(a.c_str(), nullptr, 10));
  }
  if (sizes.empty()) sizes = {50, 200};
  nlohmann::ordered_json out = {{"benchmark", "dataset-validate"}, {"schema", schema}, {"tokenization", false},
                                {"runs", nlohmann::ordered_json::array()}};
  for (uint64_t mb : sizes) {
    std::string path = dir + "/cyllm-dataset-bench-" + std::to_string(::getpid()) + "-" + std::to_string(mb) + ".jsonl";
    uint64_t rows = generate(path, mb, schema == "text");
    int fd[2];
    if (::pipe(fd) != 0) return 2;
    pid_t pid = ::fork();
    if (pid == 0) {
      ::close(fd[0]);
      auto t0 = std::chrono::steady_clock::now();
      auto r = cyllm::train::validate_file(path, {});
      double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      rusage ru{};
      ::getrusage(RUSAGE_SELF, &ru);
      char msg[256];
      int n = std::snprintf(msg, sizeof msg, "%d %llu %llu %.6f %ld", r.ok() ? 1 : 0,
                            r.ok() ? static_cast<unsigned long long>(r->rows) : 0ull,
                            r.ok() ? static_cast<unsigned long long>(r->problem_count) : 0ull, sec, ru.ru_maxrss);
      if (::write(fd[1], msg, n) != n) _exit(3);
      _exit(0);
    }
    ::close(fd[1]);
    char msg[256] = {};
    ssize_t n = ::read(fd[0], msg, sizeof msg - 1);
    ::close(fd[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    int ok = 0;
    unsigned long long vrows = 0, problems = 0;
    double sec = 0;
    long rss_kb = 0;
    if (n > 0) std::sscanf(msg, "%d %llu %llu %lf %ld", &ok, &vrows, &problems, &sec, &rss_kb);
    FILE* f = std::fopen(path.c_str(), "rb");
    std::fseek(f, 0, SEEK_END);
    double bytes = static_cast<double>(std::ftell(f));
    std::fclose(f);
    if (!keep) std::remove(path.c_str());
    out["runs"].push_back({{"file_mb", bytes / 1048576.0}, {"rows", vrows}, {"rows_generated", rows},
                           {"problems", problems}, {"ok", ok == 1}, {"seconds", sec},
                           {"rows_per_s", sec > 0 ? vrows / sec : 0}, {"mb_per_s", sec > 0 ? bytes / 1048576.0 / sec : 0},
                           {"peak_rss_mb", rss_kb / 1024.0}});
  }
  std::printf("%s\n", out.dump(2).c_str());
  return 0;
}
