#include "cli/args.h"

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>

namespace cyllm::cli {

Args::Args(int argc, char** argv, const std::set<std::string>& value_opts, const std::set<std::string>& flag_opts,
           const std::map<std::string, std::string>& aliases) {
  bool only_positionals = false;
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    if (only_positionals || a.size() < 2 || a[0] != '-' || (a[1] >= '0' && a[1] <= '9')) {
      positionals_.push_back(a);
      continue;
    }
    if (a == "--") {
      only_positionals = true;
      continue;
    }
    std::optional<std::string> inline_value;
    if (auto eq = a.find('='); eq != std::string::npos && a.rfind("--", 0) == 0) {
      inline_value = a.substr(eq + 1);
      a = a.substr(0, eq);
    }
    if (auto it = aliases.find(a); it != aliases.end()) a = it->second;
    if (flag_opts.count(a)) {
      if (inline_value) {
        error_ = "option " + a + " takes no value";
        return;
      }
      flags_.insert(a);
    } else if (value_opts.count(a)) {
      if (inline_value) {
        values_.emplace(a, *inline_value);
      } else if (i + 1 < argc) {
        values_.emplace(a, argv[++i]);
      } else {
        error_ = "option " + a + " needs a value";
        return;
      }
    } else {
      error_ = "unknown option " + a;
      return;
    }
  }
}

std::optional<std::string> Args::get(const std::string& name) const {
  auto range = values_.equal_range(name);
  if (range.first == range.second) return std::nullopt;
  return std::prev(range.second)->second;  // the last occurrence wins
}

std::vector<std::string> Args::get_all(const std::string& name) const {
  std::vector<std::string> out;
  auto range = values_.equal_range(name);
  for (auto it = range.first; it != range.second; ++it) out.push_back(it->second);
  return out;
}

std::string Args::get_or(const std::string& name, const std::string& fallback) const {
  auto v = get(name);
  return v ? *v : fallback;
}

long long Args::get_int(const std::string& name, long long fallback) {
  auto v = get(name);
  if (!v) return fallback;
  char* end = nullptr;
  long long x = std::strtoll(v->c_str(), &end, 10);
  if (end == v->c_str() || *end != '\0') {
    if (error_.empty()) error_ = "option " + name + " needs an integer, got '" + *v + "'";
    return fallback;
  }
  return x;
}

double Args::get_double(const std::string& name, double fallback) {
  auto v = get(name);
  if (!v) return fallback;
  char* end = nullptr;
  double x = std::strtod(v->c_str(), &end);
  if (end == v->c_str() || *end != '\0') {
    if (error_.empty()) error_ = "option " + name + " needs a number, got '" + *v + "'";
    return fallback;
  }
  return x;
}

bool read_input(const std::string& path, std::string* out) {
  if (path == "-") {
    out->assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    return !std::cin.bad();
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  out->assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return !in.bad();
}

}  // namespace cyllm::cli
