// Python semantics of Jinja values, part 1: construction, str()/repr(), truthiness, equality and
// ordering, and json.dumps (as transformers' tojson calls it). Arithmetic, membership, iteration and
// len() are in value-ops.cpp. See value.h.
#include "text/jinja/value.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "text/jinja/error.h"
#include "text/jinja/unicode.h"
#include "text/jinja/value-errors.h"

namespace cyllm::jinja {

// ---- construction -----------------------------------------------------------------------------

Value Value::undefined(std::string hint) {
  Value v;
  v.kind = Kind::kUndefined;
  v.s = std::move(hint);
  return v;
}
Value Value::none() {
  Value v;
  v.kind = Kind::kNone;
  return v;
}
Value Value::boolean(bool x) {
  Value v;
  v.kind = Kind::kBool;
  v.b = x;
  return v;
}
Value Value::integer(int64_t x) {
  Value v;
  v.kind = Kind::kInt;
  v.i = x;
  return v;
}
Value Value::number(double x) {
  Value v;
  v.kind = Kind::kFloat;
  v.f = x;
  return v;
}
Value Value::string(std::string x) {
  Value v;
  v.kind = Kind::kString;
  v.s = std::move(x);
  return v;
}
Value Value::make_list(List items) {
  Value v;
  v.kind = Kind::kList;
  v.list = std::make_shared<List>(std::move(items));
  return v;
}
Value Value::make_tuple(List items) {
  Value v = make_list(std::move(items));
  v.kind = Kind::kTuple;
  return v;
}
Value Value::make_dict() {
  Value v;
  v.kind = Kind::kDict;
  v.dict = std::make_shared<Dict>();
  return v;
}
Value Value::make_namespace() {
  Value v = make_dict();
  v.kind = Kind::kNamespace;
  return v;
}
Value Value::callable(std::string name, NativeFn fn) {
  Value v;
  v.kind = Kind::kCallable;
  v.fn = std::make_shared<Callable>(Callable{std::move(name), std::move(fn)});
  return v;
}
Value Value::generator(List items, std::string type_name) {
  Value v;
  v.kind = Kind::kGenerator;
  v.gen = std::make_shared<Generator>();
  v.gen->items = std::move(items);
  v.gen->type_name = std::move(type_name);
  return v;
}

const Value* Dict::find(const Value& key) const {
  for (const auto& kv : items)
    if (py_equal(kv.first, key)) return &kv.second;
  return nullptr;
}
const Value* Dict::find(std::string_view key) const {
  for (const auto& kv : items)
    if (kv.first.kind == Value::Kind::kString && kv.first.s == key) return &kv.second;
  return nullptr;
}
void Dict::set(const Value& key, Value value) {
  for (auto& kv : items)
    if (py_equal(kv.first, key)) {
      kv.second = std::move(value);
      return;
    }
  items.emplace_back(key, std::move(value));
}

const Value* CallArgs::kwarg(std::string_view name) const {
  for (const auto& kv : kw)
    if (kv.first == name) return &kv.second;
  return nullptr;
}

// ---- names, truthiness, str/repr --------------------------------------------------------------

std::string type_name(const Value& v) {
  switch (v.kind) {
    case Value::Kind::kUndefined: return "Undefined";
    case Value::Kind::kNone: return "NoneType";
    case Value::Kind::kBool: return "bool";
    case Value::Kind::kInt: return "int";
    case Value::Kind::kFloat: return "float";
    case Value::Kind::kString: return "str";
    case Value::Kind::kList: return "list";
    case Value::Kind::kTuple: return "tuple";
    case Value::Kind::kDict: return "dict";
    case Value::Kind::kNamespace: return "Namespace";
    case Value::Kind::kCallable: return "function";
    case Value::Kind::kGenerator: return v.gen ? v.gen->type_name : "generator";
  }
  return "object";
}

void fail_undefined(const Value& v) { throw_runtime("UndefinedError: " + v.s); }

bool truthy(const Value& v) {
  switch (v.kind) {
    case Value::Kind::kUndefined:
    case Value::Kind::kNone: return false;
    case Value::Kind::kBool: return v.b;
    case Value::Kind::kInt: return v.i != 0;
    case Value::Kind::kFloat: return v.f != 0.0;
    case Value::Kind::kString: return !v.s.empty();
    case Value::Kind::kList:
    case Value::Kind::kTuple: return !v.list->empty();
    case Value::Kind::kDict: return !v.dict->items.empty();
    default: return true;
  }
}

std::string py_float_repr(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d < 0 ? "-inf" : "inf";
  if (d == 0) return std::signbit(d) ? "-0.0" : "0.0";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), d, std::chars_format::scientific);
  std::string sci(buf, res.ptr);  // e.g. "-1.2345e+02"
  bool neg = sci[0] == '-';
  if (neg) sci.erase(0, 1);
  size_t epos = sci.find('e');
  int exp10 = std::atoi(sci.c_str() + epos + 1);
  std::string digits;
  for (size_t k = 0; k < epos; ++k)
    if (sci[k] != '.') digits.push_back(sci[k]);
  int decpt = exp10 + 1;  // digits are d1.d2d3... * 10^exp10 -> point after `decpt` digits
  std::string out = neg ? "-" : "";
  if (decpt > 16 || decpt < -3) {
    out += digits[0];
    if (digits.size() > 1) out += "." + digits.substr(1);
    char eb[16];
    std::snprintf(eb, sizeof(eb), "e%c%02d", exp10 < 0 ? '-' : '+', std::abs(exp10));
    out += eb;
  } else if (decpt <= 0) {
    out += "0." + std::string(static_cast<size_t>(-decpt), '0') + digits;
  } else if (static_cast<size_t>(decpt) >= digits.size()) {
    out += digits + std::string(static_cast<size_t>(decpt) - digits.size(), '0') + ".0";
  } else {
    out += digits.substr(0, decpt) + "." + digits.substr(decpt);
  }
  return out;
}

std::string py_repr_string(std::string_view s) {
  bool has_sq = s.find('\'') != std::string_view::npos;
  bool has_dq = s.find('"') != std::string_view::npos;
  char quote = (has_sq && !has_dq) ? '"' : '\'';
  std::string out(1, quote);
  char hex[16];
  for (char32_t c : utf8_decode(s)) {
    if (c == static_cast<char32_t>(quote) || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c < 0x20 || c == 0x7F) {
      std::snprintf(hex, sizeof(hex), "\\x%02x", static_cast<unsigned>(c));
      out += hex;
    } else if (c < 0x7F || py_isprintable(c)) {
      utf8_append(out, c);
    } else {
      if (c <= 0xFF)
        std::snprintf(hex, sizeof(hex), "\\x%02x", static_cast<unsigned>(c));
      else if (c <= 0xFFFF)
        std::snprintf(hex, sizeof(hex), "\\u%04x", static_cast<unsigned>(c));
      else
        std::snprintf(hex, sizeof(hex), "\\U%08x", static_cast<unsigned>(c));
      out += hex;
    }
  }
  out.push_back(quote);
  return out;
}

namespace {

void repr_into(std::string& out, const Value& v, int depth);

void str_into(std::string& out, const Value& v, int depth) {
  switch (v.kind) {
    case Value::Kind::kUndefined: return;
    case Value::Kind::kNone: out += "None"; return;
    case Value::Kind::kBool: out += v.b ? "True" : "False"; return;
    case Value::Kind::kInt: out += std::to_string(v.i); return;
    case Value::Kind::kFloat: out += py_float_repr(v.f); return;
    case Value::Kind::kString: out += v.s; return;
    default: repr_into(out, v, depth);
  }
}

void repr_into(std::string& out, const Value& v, int depth) {
  if (depth > 200) throw JinjaError(JinjaErrorKind::kLimit, "RecursionError: value nested too deeply to print");
  if (out.size() > kMaxValueBytes) throw JinjaError(JinjaErrorKind::kLimit, "output too large");
  switch (v.kind) {
    case Value::Kind::kUndefined: out += "Undefined"; return;
    case Value::Kind::kString: out += py_repr_string(v.s); return;
    case Value::Kind::kList:
    case Value::Kind::kTuple: {
      bool tuple = v.kind == Value::Kind::kTuple;
      out += tuple ? "(" : "[";
      for (size_t k = 0; k < v.list->size(); ++k) {
        if (k) out += ", ";
        repr_into(out, (*v.list)[k], depth + 1);
      }
      if (tuple && v.list->size() == 1) out += ",";
      out += tuple ? ")" : "]";
      return;
    }
    case Value::Kind::kDict:
    case Value::Kind::kNamespace: {
      bool ns = v.kind == Value::Kind::kNamespace;
      out += ns ? "<Namespace {" : "{";
      bool first = true;
      for (const auto& kv : v.dict->items) {
        if (!first) out += ", ";
        first = false;
        repr_into(out, kv.first, depth + 1);
        out += ": ";
        repr_into(out, kv.second, depth + 1);
      }
      out += ns ? "}>" : "}";
      return;
    }
    case Value::Kind::kCallable: out += "<function " + v.fn->name + ">"; return;
    case Value::Kind::kGenerator: out += "<" + v.gen->type_name + " object>"; return;
    default: str_into(out, v, depth);
  }
}

}  // namespace

std::string py_str(const Value& v) {
  std::string out;
  str_into(out, v, 0);
  return out;
}

std::string py_repr(const Value& v) {
  std::string out;
  repr_into(out, v, 0);
  return out;
}

// ---- comparison -------------------------------------------------------------------------------

bool py_equal(const Value& a, const Value& b) {
  using K = Value::Kind;
  if (a.is_number() && b.is_number()) {
    if (a.kind != K::kFloat && b.kind != K::kFloat) return a.as_int() == b.as_int();
    return a.as_double() == b.as_double();
  }
  if (a.kind != b.kind) return false;
  switch (a.kind) {
    case K::kUndefined:
    case K::kNone: return true;
    case K::kString: return a.s == b.s;
    case K::kList:
    case K::kTuple: {
      if (a.list == b.list) return true;
      if (a.list->size() != b.list->size()) return false;
      for (size_t k = 0; k < a.list->size(); ++k)
        if (!py_equal((*a.list)[k], (*b.list)[k])) return false;
      return true;
    }
    case K::kDict: {
      if (a.dict == b.dict) return true;
      if (a.dict->items.size() != b.dict->items.size()) return false;
      for (const auto& kv : a.dict->items) {
        const Value* o = b.dict->find(kv.first);
        if (!o || !py_equal(kv.second, *o)) return false;
      }
      return true;
    }
    case K::kNamespace: return a.dict == b.dict;
    case K::kCallable: return a.fn == b.fn;
    case K::kGenerator: return a.gen == b.gen;
    default: return false;
  }
}

int py_compare(const Value& a, const Value& b, const char* op) {
  using K = Value::Kind;
  if (a.is_undefined()) fail_undefined(a);
  if (b.is_undefined()) fail_undefined(b);
  if (a.is_number() && b.is_number()) {
    if (a.kind != K::kFloat && b.kind != K::kFloat) return a.as_int() < b.as_int() ? -1 : a.as_int() > b.as_int();
    double x = a.as_double(), y = b.as_double();
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  if (a.kind == K::kString && b.kind == K::kString) return a.s < b.s ? -1 : (a.s > b.s ? 1 : 0);
  if (a.kind == b.kind && a.is_list_like()) {
    size_t n = std::min(a.list->size(), b.list->size());
    for (size_t k = 0; k < n; ++k) {
      if (py_equal((*a.list)[k], (*b.list)[k])) continue;
      return py_compare((*a.list)[k], (*b.list)[k], op);
    }
    return a.list->size() < b.list->size() ? -1 : (a.list->size() > b.list->size() ? 1 : 0);
  }
  type_error(std::string("'") + op + "' not supported between instances of '" + type_name(a) + "' and '" +
             type_name(b) + "'");
}

// ---- JSON -------------------------------------------------------------------------------------

namespace {

void json_string(std::string& out, std::string_view s, bool ensure_ascii) {
  out.push_back('"');
  char buf[16];
  for (char32_t c : utf8_decode(s)) {
    switch (c) {
      case '"': out += "\\\""; continue;
      case '\\': out += "\\\\"; continue;
      case '\n': out += "\\n"; continue;
      case '\r': out += "\\r"; continue;
      case '\t': out += "\\t"; continue;
      case '\b': out += "\\b"; continue;
      case '\f': out += "\\f"; continue;
      default: break;
    }
    if (c < 0x20 || (ensure_ascii && c > 0x7E)) {
      if (c >= 0x10000) {
        char32_t v = c - 0x10000;
        std::snprintf(buf, sizeof(buf), "\\u%04x\\u%04x", static_cast<unsigned>(0xD800 | (v >> 10)),
                      static_cast<unsigned>(0xDC00 | (v & 0x3FF)));
      } else {
        std::snprintf(buf, sizeof(buf), "\\u%04x", static_cast<unsigned>(c));
      }
      out += buf;
    } else {
      utf8_append(out, c);
    }
  }
  out.push_back('"');
}

std::string json_float(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d < 0 ? "-Infinity" : "Infinity";
  return py_float_repr(d);
}

std::string json_key(const Value& k) {
  switch (k.kind) {
    case Value::Kind::kString: return k.s;
    case Value::Kind::kBool: return k.b ? "true" : "false";
    case Value::Kind::kInt: return std::to_string(k.i);
    case Value::Kind::kFloat: return json_float(k.f);
    case Value::Kind::kNone: return "null";
    default: type_error("keys must be str, int, float, bool or None, not " + type_name(k));
  }
}

struct JsonWriter {
  const JsonOptions& opt;
  std::string item_sep, key_sep;
  std::string out;

  void newline(int level) {
    out.push_back('\n');
    for (int k = 0; k < level; ++k) out += *opt.indent;
  }

  void write(const Value& v, int level) {
    if (level > 500) throw JinjaError(JinjaErrorKind::kLimit, "RecursionError: value nested too deeply for tojson");
    if (out.size() > kMaxValueBytes) throw JinjaError(JinjaErrorKind::kLimit, "tojson output too large");
    using K = Value::Kind;
    switch (v.kind) {
      case K::kNone: out += "null"; return;
      case K::kBool: out += v.b ? "true" : "false"; return;
      case K::kInt: out += std::to_string(v.i); return;
      case K::kFloat: out += json_float(v.f); return;
      case K::kString: json_string(out, v.s, opt.ensure_ascii); return;
      case K::kList:
      case K::kTuple: {
        if (v.list->empty()) {
          out += "[]";
          return;
        }
        out.push_back('[');
        if (opt.indent) newline(level + 1);
        for (size_t k = 0; k < v.list->size(); ++k) {
          if (k) {
            out += item_sep;
            if (opt.indent) newline(level + 1);
          }
          write((*v.list)[k], level + 1);
        }
        if (opt.indent) newline(level);
        out.push_back(']');
        return;
      }
      case K::kDict: {
        if (v.dict->items.empty()) {
          out += "{}";
          return;
        }
        std::vector<std::pair<std::string, const Value*>> items;
        std::vector<const Value*> keys;
        for (const auto& kv : v.dict->items) {
          items.emplace_back(json_key(kv.first), &kv.second);
          keys.push_back(&kv.first);
        }
        if (opt.sort_keys) {
          std::vector<size_t> order(items.size());
          for (size_t k = 0; k < order.size(); ++k) order[k] = k;
          std::stable_sort(order.begin(), order.end(),
                           [&](size_t x, size_t y) { return py_compare(*keys[x], *keys[y]) < 0; });
          std::vector<std::pair<std::string, const Value*>> sorted;
          for (size_t k : order) sorted.push_back(items[k]);
          items.swap(sorted);
        }
        out.push_back('{');
        if (opt.indent) newline(level + 1);
        for (size_t k = 0; k < items.size(); ++k) {
          if (k) {
            out += item_sep;
            if (opt.indent) newline(level + 1);
          }
          json_string(out, items[k].first, opt.ensure_ascii);
          out += key_sep;
          write(*items[k].second, level + 1);
        }
        if (opt.indent) newline(level);
        out.push_back('}');
        return;
      }
      default: type_error("Object of type " + type_name(v) + " is not JSON serializable");
    }
  }
};

}  // namespace

std::string py_json_dumps(const Value& v, const JsonOptions& opt) {
  JsonWriter w{opt, {}, {}, {}};
  if (opt.separators) {
    w.item_sep = opt.separators->first;
    w.key_sep = opt.separators->second;
  } else {
    w.item_sep = opt.indent ? "," : ", ";
    w.key_sep = ": ";
  }
  w.write(v, 0);
  return std::move(w.out);
}

Value from_json(const nlohmann::ordered_json& j) {
  using T = nlohmann::ordered_json::value_t;
  switch (j.type()) {
    case T::null: return Value::none();
    case T::boolean: return Value::boolean(j.get<bool>());
    case T::number_integer: return Value::integer(j.get<int64_t>());
    case T::number_unsigned: {
      uint64_t u = j.get<uint64_t>();
      if (u <= static_cast<uint64_t>(INT64_MAX)) return Value::integer(static_cast<int64_t>(u));
      return Value::number(static_cast<double>(u));
    }
    case T::number_float: return Value::number(j.get<double>());
    case T::string: return Value::string(j.get<std::string>());
    case T::array: {
      List items;
      items.reserve(j.size());
      for (const auto& x : j) items.push_back(from_json(x));
      return Value::make_list(std::move(items));
    }
    case T::object: {
      Value d = Value::make_dict();
      for (auto it = j.begin(); it != j.end(); ++it) d.dict->items.emplace_back(Value::string(it.key()), from_json(it.value()));
      return d;
    }
    default: return Value::none();
  }
}

}  // namespace cyllm::jinja
