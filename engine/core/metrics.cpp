#include "core/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace cyllm {

namespace {

std::string fmt(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

std::string escape_help(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string label_block(const std::vector<std::string>& names, const std::vector<std::string>& values,
                        const std::string& extra_name = {}, const std::string& extra_value = {}) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i)
    out += (out.empty() ? "" : ",") + names[i] + "=\"" + MetricsRegistry::escape_label_value(values[i]) + "\"";
  if (!extra_name.empty()) out += (out.empty() ? "" : ",") + extra_name + "=\"" + extra_value + "\"";
  return out.empty() ? "" : "{" + out + "}";
}

}  // namespace

bool MetricsRegistry::valid_metric_name(const std::string& s) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' || (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

bool MetricsRegistry::valid_label_name(const std::string& s) {
  if (s.empty() || s.rfind("__", 0) == 0) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

std::string MetricsRegistry::escape_label_value(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

bool MetricsRegistry::declare(const std::string& name, Type t, const std::string& help,
                              std::vector<std::string> label_names, std::vector<double> bounds) {
  if (!valid_metric_name(name)) return false;
  for (const auto& l : label_names)
    if (!valid_label_name(l) || (t == Type::kHistogram && l == "le")) return false;
  std::sort(bounds.begin(), bounds.end());
  bounds.erase(std::unique(bounds.begin(), bounds.end()), bounds.end());
  std::lock_guard lock(mu_);
  auto it = families_.find(name);
  if (it != families_.end()) return it->second.type == t && it->second.label_names == label_names;
  families_[name] = Family{t, help, std::move(label_names), std::move(bounds), {}};
  return true;
}

bool MetricsRegistry::counter(const std::string& name, const std::string& help, std::vector<std::string> labels) {
  return declare(name, Type::kCounter, help, std::move(labels), {});
}
bool MetricsRegistry::gauge(const std::string& name, const std::string& help, std::vector<std::string> labels) {
  return declare(name, Type::kGauge, help, std::move(labels), {});
}
bool MetricsRegistry::histogram(const std::string& name, const std::string& help, std::vector<std::string> labels,
                                std::vector<double> buckets) {
  return declare(name, Type::kHistogram, help, std::move(labels), std::move(buckets));
}

void MetricsRegistry::inc(const std::string& name, const std::vector<std::string>& lv, double by) {
  std::lock_guard lock(mu_);
  auto it = families_.find(name);
  if (it == families_.end() || it->second.type != Type::kCounter || lv.size() != it->second.label_names.size() || by < 0) return;
  it->second.series[lv].value += by;
}

void MetricsRegistry::set(const std::string& name, const std::vector<std::string>& lv, double value) {
  std::lock_guard lock(mu_);
  auto it = families_.find(name);
  if (it == families_.end() || it->second.type != Type::kGauge || lv.size() != it->second.label_names.size()) return;
  it->second.series[lv].value = value;
}

void MetricsRegistry::observe(const std::string& name, const std::vector<std::string>& lv, double value) {
  std::lock_guard lock(mu_);
  auto it = families_.find(name);
  if (it == families_.end() || it->second.type != Type::kHistogram || lv.size() != it->second.label_names.size()) return;
  Series& s = it->second.series[lv];
  const auto& b = it->second.bounds;
  if (s.buckets.empty()) s.buckets.assign(b.size(), 0);
  const size_t i = static_cast<size_t>(std::lower_bound(b.begin(), b.end(), value) - b.begin());
  if (i < b.size()) ++s.buckets[i];
  s.sum += value;
  ++s.count;
}

double MetricsRegistry::value(const std::string& name, const std::vector<std::string>& lv) const {
  std::lock_guard lock(mu_);
  auto it = families_.find(name);
  if (it == families_.end()) return 0;
  auto s = it->second.series.find(lv);
  if (s == it->second.series.end()) return 0;
  return it->second.type == Type::kHistogram ? static_cast<double>(s->second.count) : s->second.value;
}

double MetricsRegistry::histogram_sum(const std::string& name, const std::vector<std::string>& lv) const {
  std::lock_guard lock(mu_);
  auto it = families_.find(name);
  if (it == families_.end()) return 0;
  auto s = it->second.series.find(lv);
  return s == it->second.series.end() ? 0 : s->second.sum;
}

std::string MetricsRegistry::exposition() const {
  std::lock_guard lock(mu_);
  std::string out;
  for (const auto& [name, f] : families_) {
    out += "# HELP " + name + " " + escape_help(f.help) + "\n";
    out += "# TYPE " + name + " " + (f.type == Type::kCounter ? "counter" : f.type == Type::kGauge ? "gauge" : "histogram") + "\n";
    for (const auto& [lv, s] : f.series) {
      if (f.type != Type::kHistogram) {
        out += name + label_block(f.label_names, lv) + " " + fmt(s.value) + "\n";
        continue;
      }
      uint64_t cum = 0;
      for (size_t i = 0; i < f.bounds.size(); ++i) {
        cum += s.buckets.empty() ? 0 : s.buckets[i];
        out += name + "_bucket" + label_block(f.label_names, lv, "le", fmt(f.bounds[i])) + " " + std::to_string(cum) + "\n";
      }
      out += name + "_bucket" + label_block(f.label_names, lv, "le", "+Inf") + " " + std::to_string(s.count) + "\n";
      out += name + "_sum" + label_block(f.label_names, lv) + " " + fmt(s.sum) + "\n";
      out += name + "_count" + label_block(f.label_names, lv) + " " + std::to_string(s.count) + "\n";
    }
  }
  return out;
}

}  // namespace cyllm
