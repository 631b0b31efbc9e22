// Python semantics of Jinja values, part 2: arithmetic (+ - * / // % ** with int overflow checks,
// sequence repetition, %-formatting), membership, iteration and len. Part 1 (construction, str/repr,
// comparison, JSON) is value.cpp.
#include "text/jinja/value.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "text/jinja/error.h"
#include "text/jinja/unicode.h"
#include "text/jinja/value-errors.h"

namespace cyllm::jinja {

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

}  // namespace cyllm::jinja
