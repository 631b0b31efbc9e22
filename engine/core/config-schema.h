// Validation of JSON configuration files against a declared schema, reporting every problem with
// its path and reason (not just the first), so a user fixes a config in one go (Property 18).
// The trainer and server configs declare their schemas with this.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace cyllm {

struct ConfigProblem {
  std::string path;    // e.g. "lora.rank", "lora.targets[2]"
  std::string reason;  // what is wrong and what is allowed
};

class ConfigSchema {
 public:
  enum class Kind { kInteger, kNumber, kBoolean, kString, kObject, kStringList };

  // Fields are declared by dotted path; parents must be declared as objects first.
  ConfigSchema& integer(const std::string& path, long long lo, long long hi, bool required = false);
  ConfigSchema& number(const std::string& path, double lo, double hi, bool required = false);
  ConfigSchema& boolean(const std::string& path, bool required = false);
  // allowed empty: any non-empty string.
  ConfigSchema& string(const std::string& path, std::set<std::string> allowed = {}, bool required = false);
  ConfigSchema& object(const std::string& path, bool required = false);
  // A list of strings, each from `allowed` (any non-empty string when empty), at least min_items.
  ConfigSchema& string_list(const std::string& path, std::set<std::string> allowed = {}, size_t min_items = 0,
                            bool required = false);

  std::vector<ConfigProblem> validate(const nlohmann::json& config) const;
  static std::string format(const std::vector<ConfigProblem>& problems);  // one "path: reason" a line

 private:
  struct Field {
    std::string path;
    Kind kind;
    double lo = 0, hi = 0;
    bool required = false;
    std::set<std::string> allowed;
    size_t min_items = 0;
  };
  const Field* find(const std::string& path) const;
  void check(const Field& f, const nlohmann::json& v, std::vector<ConfigProblem>& out) const;
  void walk(const std::string& prefix, const nlohmann::json& obj, std::vector<ConfigProblem>& out) const;
  std::vector<Field> fields_;
};

}  // namespace cyllm
