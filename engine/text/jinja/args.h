// Binding of call arguments to Python-style parameter lists for the built-in filters, tests,
// methods and globals: positional then keyword, with Python's error messages for extras.
#pragma once

#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

#include "text/jinja/error.h"
#include "text/jinja/value.h"

namespace cyllm::jinja {

// Binds `a` to `names` (all optional here; callers check required ones with need()).
class Bound {
 public:
  Bound(const char* fname, const CallArgs& a, std::initializer_list<const char*> names) : fname_(fname) {
    names_.assign(names.begin(), names.end());
    vals_.resize(names_.size());
    if (a.pos.size() > names_.size())
      throw_runtime(std::string("TypeError: ") + fname + "() takes at most " + std::to_string(names_.size()) +
                    " positional argument(s) but " + std::to_string(a.pos.size()) + " were given");
    for (size_t k = 0; k < a.pos.size(); ++k) vals_[k] = a.pos[k];
    for (const auto& kv : a.kw) {
      size_t k = 0;
      while (k < names_.size() && kv.first != names_[k]) ++k;
      if (k == names_.size())
        throw_runtime(std::string("TypeError: ") + fname + "() got an unexpected keyword argument '" + kv.first + "'");
      if (vals_[k]) throw_runtime(std::string("TypeError: ") + fname + "() got multiple values for argument '" + kv.first + "'");
      vals_[k] = kv.second;
    }
  }
  bool has(size_t k) const { return vals_[k].has_value(); }
  const Value& need(size_t k) const {
    if (!vals_[k])
      throw_runtime(std::string("TypeError: ") + fname_ + "() missing required argument '" + names_[k] + "'");
    return *vals_[k];
  }
  Value get(size_t k, Value dflt) const { return vals_[k] ? *vals_[k] : std::move(dflt); }
  // An argument given as None counts as absent (Python's `x=None` defaults).
  std::optional<Value> opt(size_t k) const {
    if (!vals_[k] || vals_[k]->is_none()) return std::nullopt;
    return vals_[k];
  }

 private:
  const char* fname_;
  std::vector<const char*> names_;
  std::vector<std::optional<Value>> vals_;
};

inline const std::string& need_str(const Value& v, const char* what) {
  if (v.is_undefined()) fail_undefined(v);
  if (!v.is_string()) throw_runtime(std::string("TypeError: ") + what + " must be str, not " + type_name(v));
  return v.s;
}

inline int64_t need_int(const Value& v, const char* what) {
  if (v.is_undefined()) fail_undefined(v);
  if (!v.is_int()) throw_runtime("TypeError: '" + type_name(v) + "' object cannot be interpreted as an integer (" + what + ")");
  return v.as_int();
}

}  // namespace cyllm::jinja
