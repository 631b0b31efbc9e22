#include "core/config-schema.h"

#include <cmath>
#include <cstdio>

namespace cyllm {

namespace {
std::string num(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", x);
  return buf;
}
std::string list(const std::set<std::string>& s) {
  std::string out;
  for (const auto& x : s) out += (out.empty() ? "" : ", ") + x;
  return out;
}
std::string parent_of(const std::string& path) {
  const size_t dot = path.rfind('.');
  return dot == std::string::npos ? std::string() : path.substr(0, dot);
}
}  // namespace

ConfigSchema& ConfigSchema::integer(const std::string& path, long long lo, long long hi, bool required) {
  fields_.push_back({path, Kind::kInteger, static_cast<double>(lo), static_cast<double>(hi), required, {}, 0});
  return *this;
}
ConfigSchema& ConfigSchema::number(const std::string& path, double lo, double hi, bool required) {
  fields_.push_back({path, Kind::kNumber, lo, hi, required, {}, 0});
  return *this;
}
ConfigSchema& ConfigSchema::boolean(const std::string& path, bool required) {
  fields_.push_back({path, Kind::kBoolean, 0, 0, required, {}, 0});
  return *this;
}
ConfigSchema& ConfigSchema::string(const std::string& path, std::set<std::string> allowed, bool required) {
  fields_.push_back({path, Kind::kString, 0, 0, required, std::move(allowed), 0});
  return *this;
}
ConfigSchema& ConfigSchema::object(const std::string& path, bool required) {
  fields_.push_back({path, Kind::kObject, 0, 0, required, {}, 0});
  return *this;
}
ConfigSchema& ConfigSchema::string_list(const std::string& path, std::set<std::string> allowed, size_t min_items,
                                        bool required) {
  fields_.push_back({path, Kind::kStringList, 0, 0, required, std::move(allowed), min_items});
  return *this;
}

const ConfigSchema::Field* ConfigSchema::find(const std::string& path) const {
  for (const auto& f : fields_)
    if (f.path == path) return &f;
  return nullptr;
}

void ConfigSchema::check(const Field& f, const nlohmann::json& v, std::vector<ConfigProblem>& out) const {
  auto bad = [&](const std::string& why) { out.push_back({f.path, why}); };
  switch (f.kind) {
    case Kind::kInteger:
      if (!v.is_number_integer()) return bad("must be an integer");
      if (v.get<double>() < f.lo || v.get<double>() > f.hi)
        return bad("must be between " + num(f.lo) + " and " + num(f.hi) + ", got " + v.dump());
      return;
    case Kind::kNumber:
      if (!v.is_number()) return bad("must be a number");
      if (!std::isfinite(v.get<double>()) || v.get<double>() < f.lo || v.get<double>() > f.hi)
        return bad("must be between " + num(f.lo) + " and " + num(f.hi) + ", got " + v.dump());
      return;
    case Kind::kBoolean:
      if (!v.is_boolean()) bad("must be true or false");
      return;
    case Kind::kString:
      if (!v.is_string()) return bad("must be a string");
      if (!f.allowed.empty() && !f.allowed.count(v.get<std::string>()))
        return bad("must be one of " + list(f.allowed) + ", got " + v.dump());
      if (f.allowed.empty() && v.get<std::string>().empty()) bad("must not be empty");
      return;
    case Kind::kStringList:
      if (!v.is_array()) return bad("must be a list of strings");
      if (v.size() < f.min_items) bad("needs at least " + std::to_string(f.min_items) + " entries");
      for (size_t i = 0; i < v.size(); ++i) {
        const std::string p = f.path + "[" + std::to_string(i) + "]";
        if (!v[i].is_string()) {
          out.push_back({p, "must be a string"});
        } else if (!f.allowed.empty() && !f.allowed.count(v[i].get<std::string>())) {
          out.push_back({p, "must be one of " + list(f.allowed) + ", got " + v[i].dump()});
        }
      }
      return;
    case Kind::kObject:
      if (!v.is_object()) bad("must be an object");
      return;
  }
}

void ConfigSchema::walk(const std::string& prefix, const nlohmann::json& obj, std::vector<ConfigProblem>& out) const {
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    const std::string path = prefix.empty() ? it.key() : prefix + "." + it.key();
    const Field* f = find(path);
    if (f == nullptr) {
      out.push_back({path, "is not a known setting"});
      continue;
    }
    check(*f, *it, out);
    if (f->kind == Kind::kObject && it->is_object()) walk(path, *it, out);
  }
}

std::vector<ConfigProblem> ConfigSchema::validate(const nlohmann::json& config) const {
  std::vector<ConfigProblem> out;
  if (!config.is_object()) return {{"", "the configuration must be a JSON object"}};
  walk("", config, out);
  for (const auto& f : fields_) {
    if (!f.required) continue;
    // Missing only counts when the parent object is present (a missing parent is reported itself).
    const std::string parent = parent_of(f.path);
    const nlohmann::json* node = &config;
    bool parent_ok = true;
    for (size_t start = 0; !parent.empty() && start <= parent.size();) {
      const size_t dot = parent.find('.', start);
      const std::string key = parent.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
      if (!node->is_object() || !node->contains(key)) {
        parent_ok = false;
        break;
      }
      node = &(*node)[key];
      if (dot == std::string::npos) break;
      start = dot + 1;
    }
    if (!parent_ok || !node->is_object()) continue;
    const std::string leaf = f.path.substr(parent.empty() ? 0 : parent.size() + 1);
    if (!node->contains(leaf)) out.push_back({f.path, "is required"});
  }
  return out;
}

std::string ConfigSchema::format(const std::vector<ConfigProblem>& problems) {
  std::string out;
  for (const auto& p : problems) out += (p.path.empty() ? "(top level)" : p.path) + ": " + p.reason + "\n";
  return out;
}

}  // namespace cyllm
