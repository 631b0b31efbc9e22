// The Jinja value model: what templates compute with. Python semantics as jinja2 exposes them:
// none/bool/int/float/str/list/tuple/dict, plus jinja's Undefined, namespace(), callables (macros,
// globals, bound methods) and one-shot generators (what select/map/reverse/items return).
// This file also holds Python's str()/repr() of values, truthiness, ==/< and the arithmetic
// operators, and json.dumps as transformers' `tojson` calls it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace cyllm::jinja {

class Evaluator;
struct Value;

using List = std::vector<Value>;

// Insertion-ordered mapping (Python dicts keep insertion order). Linear lookup: the dicts chat
// templates see are small.
struct Dict {
  std::vector<std::pair<Value, Value>> items;
  const Value* find(const Value& key) const;
  const Value* find(std::string_view key) const;
  void set(const Value& key, Value value);
};

struct CallArgs {
  std::vector<Value> pos;
  std::vector<std::pair<std::string, Value>> kw;
  // Keyword argument by name, or nullptr.
  const Value* kwarg(std::string_view name) const;
};

using NativeFn = std::function<Value(CallArgs&, Evaluator&)>;
struct Callable {
  std::string name;  // for messages: "range", "macro 'foo'", "method 'str.strip'"
  NativeFn fn;
};

// A Python generator/iterator: iterating it consumes it (a second loop sees nothing).
struct Generator {
  std::vector<Value> items;
  size_t pos = 0;
  std::string type_name;  // "generator", "list_reverseiterator"
};

struct Value {
  enum class Kind : uint8_t { kUndefined, kNone, kBool, kInt, kFloat, kString, kList, kTuple, kDict, kNamespace, kCallable, kGenerator };

  Kind kind = Kind::kUndefined;
  bool b = false;
  int64_t i = 0;
  double f = 0;
  std::string s;                  // kString: the text (UTF-8); kUndefined: the error to raise on use
  std::shared_ptr<List> list;     // kList, kTuple
  std::shared_ptr<Dict> dict;     // kDict, kNamespace
  std::shared_ptr<Callable> fn;   // kCallable
  std::shared_ptr<Generator> gen; // kGenerator

  static Value undefined(std::string hint = "value is undefined");
  static Value none();
  static Value boolean(bool v);
  static Value integer(int64_t v);
  static Value number(double v);
  static Value string(std::string v);
  static Value make_list(List items = {});
  static Value make_tuple(List items);
  static Value make_dict();
  static Value make_namespace();
  static Value callable(std::string name, NativeFn fn);
  static Value generator(List items, std::string type_name = "generator");

  bool is_undefined() const { return kind == Kind::kUndefined; }
  bool is_none() const { return kind == Kind::kNone; }
  bool is_string() const { return kind == Kind::kString; }
  bool is_int() const { return kind == Kind::kInt || kind == Kind::kBool; }  // Python: bool is an int
  bool is_number() const { return kind == Kind::kInt || kind == Kind::kFloat || kind == Kind::kBool; }
  bool is_list_like() const { return kind == Kind::kList || kind == Kind::kTuple; }
  bool is_mapping() const { return kind == Kind::kDict; }
  double as_double() const { return kind == Kind::kFloat ? f : static_cast<double>(kind == Kind::kBool ? b : i); }
  int64_t as_int() const { return kind == Kind::kBool ? static_cast<int64_t>(b) : i; }
};

// Python type name as error messages print it: "str", "int", "dict", "NoneType", ...
std::string type_name(const Value& v);
// Raises the UndefinedError an Undefined carries.
[[noreturn]] void fail_undefined(const Value& v);

bool truthy(const Value& v);
std::string py_str(const Value& v);    // str(v); Undefined -> ""
std::string py_repr(const Value& v);   // repr(v)
std::string py_repr_string(std::string_view s);
std::string py_float_repr(double d);   // repr(float): shortest round-trip, Python's layout

bool py_equal(const Value& a, const Value& b);
// -1/0/1 for a<b, a==b, a>b; throws TypeError-like JinjaError when not orderable.
int py_compare(const Value& a, const Value& b, const char* op = "<");

Value py_add(const Value& a, const Value& b);
Value py_sub(const Value& a, const Value& b);
Value py_mul(const Value& a, const Value& b);
Value py_truediv(const Value& a, const Value& b);
Value py_floordiv(const Value& a, const Value& b);
Value py_mod(const Value& a, const Value& b);
Value py_pow(const Value& a, const Value& b);
Value py_neg(const Value& a);
Value py_pos(const Value& a);
bool py_contains(const Value& container, const Value& item);  // `item in container`

// Materialises an iterable (list, tuple, str chars, dict keys, generator). Consumes generators.
// Undefined iterates as empty. Others raise "'int' object is not iterable".
List py_iterate(const Value& v);
// len(v); raises for values without a length.
int64_t py_len(const Value& v);

struct JsonOptions {
  bool ensure_ascii = false;
  std::optional<std::string> indent;  // nullopt: one line
  std::optional<std::pair<std::string, std::string>> separators;
  bool sort_keys = false;
};
// json.dumps(v, ...) with Python's exact layout. Raises for values JSON cannot hold.
std::string py_json_dumps(const Value& v, const JsonOptions& opt);

Value from_json(const nlohmann::ordered_json& j);

// Limits that keep hostile templates from exhausting memory (checked where strings/lists grow).
constexpr size_t kMaxValueBytes = size_t{64} << 20;

}  // namespace cyllm::jinja
