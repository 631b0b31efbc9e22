// Python semantics of Jinja values: str()/repr(), truthiness, equality and ordering, arithmetic,
// iteration, len() and json.dumps (as transformers' tojson calls it). See value.h.
#include "text/jinja/value.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "text/jinja/error.h"
#include "text/jinja/unicode.h"

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

[[noreturn]] void type_error(std::string msg) { throw_runtime("TypeError: " + std::move(msg)); }

[[noreturn]] void unsupported_operands(const char* op, const Value& a, const Value& b) {
  type_error(std::string("unsupported operand type(s) for ") + op + ": '" + type_name(a) + "' and '" + type_name(b) +
             "'");
}

void check_size(size_t n) {
  if (n > kMaxValueBytes) throw JinjaError(JinjaErrorKind::kLimit, "value too large (over 64 MiB)");
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

// ---- arithmetic -------------------------------------------------------------------------------

namespace {

int64_t checked(bool overflow, int64_t r) {
  if (overflow)
    throw JinjaError(JinjaErrorKind::kUnsupported, "integer overflow: integers beyond 64 bits are not supported");
  return r;
}

Value repeat(const Value& seq, int64_t n) {
  if (n < 0) n = 0;
  if (seq.kind == Value::Kind::kString) {
    check_size(seq.s.size() * static_cast<size_t>(std::min<int64_t>(n, int64_t{1} << 40)));
    std::string out;
    for (int64_t k = 0; k < n; ++k) out += seq.s;
    return Value::string(std::move(out));
  }
  check_size(seq.list->size() * static_cast<size_t>(std::min<int64_t>(n, int64_t{1} << 40)) * 16);
  List out;
  for (int64_t k = 0; k < n; ++k) out.insert(out.end(), seq.list->begin(), seq.list->end());
  return seq.kind == Value::Kind::kTuple ? Value::make_tuple(std::move(out)) : Value::make_list(std::move(out));
}

// printf-style `str % args` for the conversions templates use: %s %r %d %i %f %x %%.
Value percent_format(const std::string& fmt, const Value& args) {
  List items;
  if (args.kind == Value::Kind::kTuple)
    items = *args.list;
  else
    items.push_back(args);
  size_t next = 0;
  std::string out;
  for (size_t k = 0; k < fmt.size(); ++k) {
    if (fmt[k] != '%') {
      out.push_back(fmt[k]);
      continue;
    }
    if (++k >= fmt.size()) throw_runtime("ValueError: incomplete format");
    int precision = -1;
    if (fmt[k] == '.') {
      precision = 0;
      while (++k < fmt.size() && fmt[k] >= '0' && fmt[k] <= '9') precision = precision * 10 + (fmt[k] - '0');
      if (k >= fmt.size()) throw_runtime("ValueError: incomplete format");
    }
    char c = fmt[k];
    if (c == '%') {
      out.push_back('%');
      continue;
    }
    if (next >= items.size()) type_error("not enough arguments for format string");
    const Value& a = items[next++];
    if (c == 's') {
      out += py_str(a);
    } else if (c == 'r') {
      out += py_repr(a);
    } else if (c == 'd' || c == 'i') {
      if (!a.is_number()) type_error("%" + std::string(1, c) + " format: a real number is required, not " + type_name(a));
      out += std::to_string(a.kind == Value::Kind::kFloat ? static_cast<int64_t>(a.f) : a.as_int());
    } else if (c == 'f') {
      if (!a.is_number()) type_error("must be real number, not " + type_name(a));
      char buf[512];
      std::snprintf(buf, sizeof(buf), "%.*f", precision < 0 ? 6 : std::min(precision, 100), a.as_double());
      out += buf;
    } else if (c == 'x') {
      if (!a.is_int()) type_error("%x format: an integer is required, not " + type_name(a));
      char buf[32];
      int64_t x = a.as_int();
      std::snprintf(buf, sizeof(buf), "%s%llx", x < 0 ? "-" : "", static_cast<unsigned long long>(x < 0 ? -x : x));
      out += buf;
    } else {
      throw JinjaError(JinjaErrorKind::kUnsupported, std::string("unsupported %-format conversion '%") + c + "'");
    }
  }
  if (next < items.size() && args.kind == Value::Kind::kTuple)
    type_error("not all arguments converted during string formatting");
  return Value::string(std::move(out));
}

}  // namespace

Value py_add(const Value& a, const Value& b) {
  using K = Value::Kind;
  if (a.is_undefined()) fail_undefined(a);
  if (b.is_undefined()) fail_undefined(b);
  if (a.is_number() && b.is_number()) {
    if (a.kind == K::kFloat || b.kind == K::kFloat) return Value::number(a.as_double() + b.as_double());
    int64_t r;
    bool of = __builtin_add_overflow(a.as_int(), b.as_int(), &r);
    return Value::integer(checked(of, r));
  }
  if (a.kind == K::kString) {
    if (b.kind != K::kString) type_error("can only concatenate str (not \"" + type_name(b) + "\") to str");
    check_size(a.s.size() + b.s.size());
    return Value::string(a.s + b.s);
  }
  if (a.is_list_like() && a.kind == b.kind) {
    List out = *a.list;
    out.insert(out.end(), b.list->begin(), b.list->end());
    check_size(out.size() * 16);
    return a.kind == K::kTuple ? Value::make_tuple(std::move(out)) : Value::make_list(std::move(out));
  }
  if (a.kind == K::kList) type_error("can only concatenate list (not \"" + type_name(b) + "\") to list");
  if (a.kind == K::kTuple) type_error("can only concatenate tuple (not \"" + type_name(b) + "\") to tuple");
  unsupported_operands("+", a, b);
}

Value py_sub(const Value& a, const Value& b) {
  if (a.is_undefined()) fail_undefined(a);
  if (b.is_undefined()) fail_undefined(b);
  if (!a.is_number() || !b.is_number()) unsupported_operands("-", a, b);
  if (a.kind == Value::Kind::kFloat || b.kind == Value::Kind::kFloat) return Value::number(a.as_double() - b.as_double());
  int64_t r;
  bool of = __builtin_sub_overflow(a.as_int(), b.as_int(), &r);
  return Value::integer(checked(of, r));
}

Value py_mul(const Value& a, const Value& b) {
  if (a.is_undefined()) fail_undefined(a);
  if (b.is_undefined()) fail_undefined(b);
  if (a.is_number() && b.is_number()) {
    if (a.kind == Value::Kind::kFloat || b.kind == Value::Kind::kFloat) return Value::number(a.as_double() * b.as_double());
    int64_t r;
    bool of = __builtin_mul_overflow(a.as_int(), b.as_int(), &r);
    return Value::integer(checked(of, r));
  }
  if ((a.is_string() || a.is_list_like()) && b.is_int()) return repeat(a, b.as_int());
  if ((b.is_string() || b.is_list_like()) && a.is_int()) return repeat(b, a.as_int());
  if (a.is_string() || a.is_list_like() || b.is_string() || b.is_list_like())
    type_error("can't multiply sequence by non-int of type '" + type_name(a.is_number() ? a : b) + "'");
  unsupported_operands("*", a, b);
}

Value py_truediv(const Value& a, const Value& b) {
  if (a.is_undefined()) fail_undefined(a);
  if (b.is_undefined()) fail_undefined(b);
  if (!a.is_number() || !b.is_number()) unsupported_operands("/", a, b);
  if (b.as_double() == 0) throw_runtime("ZeroDivisionError: division by zero");
  return Value::number(a.as_double() / b.as_double());
}

Value py_floordiv(const Value& a, const Value& b) {
  if (a.is_undefined()) fail_undefined(a);
  if (b.is_undefined()) fail_undefined(b);
  if (!a.is_number() || !b.is_number()) unsupported_operands("//", a, b);
  if (a.kind == Value::Kind::kFloat || b.kind == Value::Kind::kFloat) {
    if (b.as_double() == 0) throw_runtime("ZeroDivisionError: float floor division by zero");
    return Value::number(std::floor(a.as_double() / b.as_double()));
  }
  int64_t x = a.as_int(), y = b.as_int();
  if (y == 0) throw_runtime("ZeroDivisionError: integer division or modulo by zero");
  if (x == INT64_MIN && y == -1) checked(true, 0);
  int64_t q = x / y;
  if ((x % y != 0) && ((x < 0) != (y < 0))) --q;
  return Value::integer(q);
}

Value py_mod(const Value& a, const Value& b) {
  if (a.is_undefined()) fail_undefined(a);
  if (a.is_string()) return percent_format(a.s, b);
  if (b.is_undefined()) fail_undefined(b);
  if (!a.is_number() || !b.is_number()) unsupported_operands("%", a, b);
  if (a.kind == Value::Kind::kFloat || b.kind == Value::Kind::kFloat) {
    double y = b.as_double();
    if (y == 0) throw_runtime("ZeroDivisionError: float modulo");
    double r = std::fmod(a.as_double(), y);
    if (r != 0 && ((r < 0) != (y < 0))) r += y;
    return Value::number(r);
  }
  int64_t x = a.as_int(), y = b.as_int();
  if (y == 0) throw_runtime("ZeroDivisionError: integer division or modulo by zero");
  if (y == -1) return Value::integer(0);
  int64_t r = x % y;
  if (r != 0 && ((r < 0) != (y < 0))) r += y;
  return Value::integer(r);
}

Value py_pow(const Value& a, const Value& b) {
  if (a.is_undefined()) fail_undefined(a);
  if (b.is_undefined()) fail_undefined(b);
  if (!a.is_number() || !b.is_number()) unsupported_operands("** or pow()", a, b);
  if (a.kind != Value::Kind::kFloat && b.kind != Value::Kind::kFloat && b.as_int() >= 0) {
    int64_t base = a.as_int(), e = b.as_int(), r = 1;
    while (e > 0) {
      if (e & 1) checked(__builtin_mul_overflow(r, base, &r), 0);
      e >>= 1;
      if (e > 0) checked(__builtin_mul_overflow(base, base, &base), 0);
    }
    return Value::integer(r);
  }
  if (a.as_double() == 0 && b.as_double() < 0)
    throw_runtime("ZeroDivisionError: 0.0 cannot be raised to a negative power");
  return Value::number(std::pow(a.as_double(), b.as_double()));
}

Value py_neg(const Value& a) {
  if (a.is_undefined()) fail_undefined(a);
  if (a.kind == Value::Kind::kFloat) return Value::number(-a.f);
  if (!a.is_int()) type_error("bad operand type for unary -: '" + type_name(a) + "'");
  if (a.as_int() == INT64_MIN) checked(true, 0);
  return Value::integer(-a.as_int());
}

Value py_pos(const Value& a) {
  if (a.is_undefined()) fail_undefined(a);
  if (a.kind == Value::Kind::kFloat) return a;
  if (!a.is_int()) type_error("bad operand type for unary +: '" + type_name(a) + "'");
  return Value::integer(a.as_int());
}

bool py_contains(const Value& c, const Value& item) {
  using K = Value::Kind;
  switch (c.kind) {
    case K::kString:
      if (!item.is_string()) {
        if (item.is_undefined()) fail_undefined(item);
        type_error("'in <string>' requires string as left operand, not " + type_name(item));
      }
      return c.s.find(item.s) != std::string::npos;
    case K::kList:
    case K::kTuple:
      for (const auto& x : *c.list)
        if (py_equal(x, item)) return true;
      return false;
    case K::kDict:
      if (item.is_list_like() || item.kind == K::kDict) type_error("unhashable type: '" + type_name(item) + "'");
      return c.dict->find(item) != nullptr;
    case K::kGenerator:
      while (c.gen->pos < c.gen->items.size())
        if (py_equal(c.gen->items[c.gen->pos++], item)) return true;
      return false;
    case K::kUndefined: return false;
    default: type_error("argument of type '" + type_name(c) + "' is not iterable");
  }
}

List py_iterate(const Value& v) {
  using K = Value::Kind;
  switch (v.kind) {
    case K::kList:
    case K::kTuple: return *v.list;
    case K::kString: {
      List out;
      for (char32_t c : utf8_decode(v.s)) {
        std::string s;
        utf8_append(s, c);
        out.push_back(Value::string(std::move(s)));
      }
      return out;
    }
    case K::kDict: {
      List out;
      for (const auto& kv : v.dict->items) out.push_back(kv.first);
      return out;
    }
    case K::kGenerator: {
      List out(v.gen->items.begin() + static_cast<std::ptrdiff_t>(v.gen->pos), v.gen->items.end());
      v.gen->pos = v.gen->items.size();
      return out;
    }
    case K::kUndefined: return {};
    default: type_error("'" + type_name(v) + "' object is not iterable");
  }
}

int64_t py_len(const Value& v) {
  using K = Value::Kind;
  switch (v.kind) {
    case K::kString: return static_cast<int64_t>(utf8_length(v.s));
    case K::kList:
    case K::kTuple: return static_cast<int64_t>(v.list->size());
    case K::kDict: return static_cast<int64_t>(v.dict->items.size());
    case K::kUndefined: return 0;
    default: type_error("object of type '" + type_name(v) + "' has no len()");
  }
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
