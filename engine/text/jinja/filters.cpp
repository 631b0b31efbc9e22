// Jinja filters and tests, as jinja2 3.1 defines them, with transformers' `tojson`
// (json.dumps(x, ensure_ascii=False, indent=..., separators=..., sort_keys=False)).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <set>

#include "text/jinja/args.h"
#include "text/jinja/error.h"
#include "text/jinja/evaluator.h"
#include "text/jinja/parser.h"
#include "text/jinja/strings.h"
#include "text/jinja/unicode.h"

namespace cyllm::jinja {

namespace {

const std::set<std::string, std::less<>>& filter_names() {
  static const std::set<std::string, std::less<>> k = {
      "abs", "attr", "batch", "capitalize", "center", "count", "d", "default", "dictsort", "e", "escape", "first",
      "float", "format", "indent", "int", "items", "join", "last", "length", "list", "lower", "map", "max", "min",
      "reject", "rejectattr", "replace", "reverse", "round", "safe", "select", "selectattr", "sort", "string", "sum",
      "title", "tojson", "trim", "unique", "upper", "wordcount"};
  return k;
}

const std::set<std::string, std::less<>>& unsupported_filter_names() {
  static const std::set<std::string, std::less<>> k = {
      "filesizeformat", "forceescape", "groupby", "pprint", "random", "slice", "striptags", "truncate",
      "urlencode", "urlize", "wordwrap", "xmlattr"};
  return k;
}

const std::set<std::string, std::less<>>& test_names() {
  static const std::set<std::string, std::less<>> k = {
      "boolean", "callable", "defined", "divisibleby", "eq", "equalto", "==", "escaped", "even", "false", "filter",
      "float", "ge", ">=", "gt", "greaterthan", ">", "in", "integer", "iterable", "le", "<=", "lower", "lt",
      "lessthan", "<", "mapping", "ne", "!=", "none", "number", "odd", "sameas", "sequence", "string", "test", "true",
      "undefined", "upper"};
  return k;
}

[[noreturn]] void type_error(const std::string& m) { throw_runtime("TypeError: " + m); }

// jinja2's make_attrgetter: dotted path, each part looked up item-first; digits become indices.
Value get_attr_path(Evaluator& ev, Value item, const std::string& path) {
  size_t start = 0;
  while (true) {
    size_t dot = path.find('.', start);
    std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    bool digits = !part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
    item = ev.getitem(item, digits ? Value::integer(std::stoll(part)) : Value::string(part));
    if (dot == std::string::npos) return item;
    start = dot + 1;
  }
}

Value str_or_lower(const Value& v, bool case_sensitive) {
  if (!case_sensitive && v.is_string()) return Value::string(py_str_lower(v.s));
  return v;
}

// Python's round() for floats: correctly rounded to `ndigits` decimals, ties to even on the
// exact binary value. glibc's printf rounds the same way, so "%.*f" gives Python's digits.
double py_round(double x, int64_t ndigits) {
  if (!std::isfinite(x) || ndigits > 300) return x;
  if (ndigits >= 0) {
    char buf[768];  // up to 309 integer digits + 300 decimals
    std::snprintf(buf, sizeof(buf), "%.*f", static_cast<int>(ndigits), x);
    return std::strtod(buf, nullptr);
  }
  double p = std::pow(10.0, static_cast<double>(-ndigits));
  return std::nearbyint(x / p) * p;
}

Value select_or_reject(Evaluator& ev, const Value& seq, CallArgs& a, bool select, bool by_attr) {
  size_t k = 0;
  std::string attr;
  if (by_attr) {
    if (a.pos.empty()) type_error("selectattr/rejectattr need an attribute name");
    attr = py_str(a.pos[k++]);
  }
  std::string test;
  bool has_test = k < a.pos.size();
  if (has_test) test = need_str(a.pos[k++], "test name");
  if (has_test && !is_known_test(test)) throw_runtime("TemplateRuntimeError: No test named '" + test + "'.");
  CallArgs targs;
  targs.pos.assign(a.pos.begin() + static_cast<std::ptrdiff_t>(k), a.pos.end());
  targs.kw = a.kw;
  List out;
  for (auto& item : py_iterate(seq)) {
    ev.step();
    Value v = by_attr ? get_attr_path(ev, item, attr) : item;
    bool r = has_test ? ev.apply_test(test, v, targs) : truthy(v);
    if (r == select) out.push_back(item);
  }
  return Value::generator(std::move(out));
}

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&#34;"; break;
      case '\'': out += "&#39;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

// jinja2's title filter: capitalise each chunk split at runs of [-\s({\[<].
std::string jinja_title(const std::string& s) {
  auto cps = utf8_decode(s);
  std::string out;
  auto is_delim = [](char32_t c) { return c == '-' || c == '(' || c == '{' || c == '[' || c == '<' || py_isspace(c); };
  size_t i = 0;
  while (i < cps.size()) {
    size_t j = i;
    bool delim = is_delim(cps[i]);
    while (j < cps.size() && is_delim(cps[j]) == delim) ++j;
    out += py_str_upper(utf8_encode(cps.data() + i, cps.data() + i + 1));
    out += py_str_lower(utf8_encode(cps.data() + i + 1, cps.data() + j));
    i = j;
  }
  return out;
}

Value min_max(Evaluator& ev, const Value& v, CallArgs& a, bool want_max) {
  Bound b(want_max ? "do_max" : "do_min", a, {"case_sensitive", "attribute"});
  bool cs = truthy(b.get(0, Value::boolean(false)));
  auto attr = b.opt(1);
  List items = py_iterate(v);
  if (items.empty()) return Value::undefined("No aggregated item, sequence was empty.");
  size_t best = 0;
  auto key = [&](const Value& x) { return str_or_lower(attr ? get_attr_path(ev, x, py_str(*attr)) : x, cs); };
  Value bk = key(items[0]);
  for (size_t k = 1; k < items.size(); ++k) {
    Value kk = key(items[k]);
    int c = py_compare(kk, bk);
    if (want_max ? c > 0 : c < 0) {
      best = k;
      bk = kk;
    }
  }
  return items[best];
}

}  // namespace

bool is_known_filter(std::string_view name) { return filter_names().count(name) > 0; }
bool is_unsupported_filter(std::string_view name) { return unsupported_filter_names().count(name) > 0; }
bool is_known_test(std::string_view name) { return test_names().count(name) > 0; }

Value Evaluator::apply_filter(const std::string& name, const Value& v, CallArgs& a) {
  step();
  if (name == "trim") {
    Bound b("do_trim", a, {"chars"});
    auto chars = b.opt(0);
    std::string cs = chars ? py_str(*chars) : std::string();
    return Value::string(py_strip(py_str(v), chars ? &cs : nullptr, true, true));
  }
  if (name == "length" || name == "count") return Value::integer(py_len(v));
  if (name == "tojson") {
    Bound b("tojson", a, {"ensure_ascii", "indent", "separators", "sort_keys"});
    JsonOptions o;
    o.ensure_ascii = truthy(b.get(0, Value::boolean(false)));
    if (auto ind = b.opt(1)) {
      if (ind->is_string()) o.indent = ind->s;
      else o.indent = std::string(static_cast<size_t>(std::max<int64_t>(0, std::min<int64_t>(need_int(*ind, "indent"), 1000))), ' ');
    }
    if (auto sep = b.opt(2)) {
      List parts = py_iterate(*sep);
      if (parts.size() != 2) throw_runtime("ValueError: separators must be a (item_separator, key_separator) pair");
      o.separators = std::make_pair(need_str(parts[0], "separator"), need_str(parts[1], "separator"));
    }
    o.sort_keys = truthy(b.get(3, Value::boolean(false)));
    return Value::string(py_json_dumps(v, o));
  }
  if (name == "items") {
    if (v.is_undefined()) return Value::generator({});
    if (v.kind != Value::Kind::kDict) throw_runtime("TypeError: Can only get item pairs from a mapping.");
    List out;
    for (const auto& kv : v.dict->items) out.push_back(Value::make_tuple({kv.first, kv.second}));
    return Value::generator(std::move(out));
  }
  if (name == "default" || name == "d") {
    Bound b("do_default", a, {"default_value", "boolean"});
    bool boolean = truthy(b.get(1, Value::boolean(false)));
    if (v.is_undefined() || (boolean && !truthy(v))) return b.get(0, Value::string(""));
    return v;
  }
  if (name == "upper") return Value::string(py_str_upper(py_str(v)));
  if (name == "lower") return Value::string(py_str_lower(py_str(v)));
  if (name == "capitalize") return Value::string(py_str_capitalize(py_str(v)));
  if (name == "title") return Value::string(jinja_title(py_str(v)));
  if (name == "replace") {
    Bound b("do_replace", a, {"old", "new", "count"});
    auto cnt = b.opt(2);
    return Value::string(py_replace(py_str(v), py_str(b.need(0)), py_str(b.need(1)), cnt ? need_int(*cnt, "count") : -1));
  }
  if (name == "join") {
    Bound b("do_join", a, {"d", "attribute"});
    std::string sep = py_str(b.get(0, Value::string("")));
    auto attr = b.opt(1);
    std::string out;
    bool first = true;
    for (const auto& item : py_iterate(v)) {
      if (!first) out += sep;
      first = false;
      out += py_str(attr ? get_attr_path(*this, item, py_str(*attr)) : item);
      if (out.size() > kMaxValueBytes) throw JinjaError(JinjaErrorKind::kLimit, "join result too large");
    }
    return Value::string(std::move(out));
  }
  if (name == "select") return select_or_reject(*this, v, a, true, false);
  if (name == "reject") return select_or_reject(*this, v, a, false, false);
  if (name == "selectattr") return select_or_reject(*this, v, a, true, true);
  if (name == "rejectattr") return select_or_reject(*this, v, a, false, true);
  if (name == "map") {
    List out;
    if (const Value* attr = a.kwarg("attribute")) {
      const Value* dflt = a.kwarg("default");
      for (const auto& item : py_iterate(v)) {
        Value r = get_attr_path(*this, item, py_str(*attr));
        out.push_back(r.is_undefined() && dflt ? *dflt : r);
      }
      return Value::generator(std::move(out));
    }
    if (a.pos.empty()) return Value::generator(py_iterate(v));
    std::string fname = need_str(a.pos[0], "filter name");
    if (!is_known_filter(fname)) throw_runtime("TemplateRuntimeError: No filter named '" + fname + "'.");
    CallArgs fargs;
    fargs.pos.assign(a.pos.begin() + 1, a.pos.end());
    fargs.kw = a.kw;
    for (const auto& item : py_iterate(v)) out.push_back(apply_filter(fname, item, fargs));
    return Value::generator(std::move(out));
  }
  if (name == "first") {
    if (v.kind == Value::Kind::kGenerator) {
      if (v.gen->pos < v.gen->items.size()) return v.gen->items[v.gen->pos++];
      return Value::undefined("No first item, sequence was empty.");
    }
    List items = py_iterate(v);
    if (items.empty()) return Value::undefined("No first item, sequence was empty.");
    return items.front();
  }
  if (name == "last") {
    if (v.kind == Value::Kind::kGenerator) type_error("'generator' object is not reversible");
    List items = py_iterate(v);
    if (items.empty()) return Value::undefined("No last item, sequence was empty.");
    return items.back();
  }
  if (name == "string") return Value::string(py_str(v));
  if (name == "int") {
    Bound b("do_int", a, {"default", "base"});
    Value dflt = b.get(0, Value::integer(0));
    if (b.has(1) && !(b.need(1).is_int() && b.need(1).as_int() == 10))
      throw JinjaError(JinjaErrorKind::kUnsupported, "the int filter's base argument (only base 10 is supported)");
    if (v.kind == Value::Kind::kInt || v.kind == Value::Kind::kBool) return Value::integer(v.as_int());
    if (v.kind == Value::Kind::kFloat) {
      if (!std::isfinite(v.f)) throw_runtime("OverflowError: cannot convert float infinity/NaN to integer");
      if (std::fabs(v.f) >= 9.2e18) throw JinjaError(JinjaErrorKind::kUnsupported, "integer overflow in int filter");
      return Value::integer(static_cast<int64_t>(v.f));
    }
    if (v.is_string()) {
      if (auto i = py_parse_int(v.s)) return Value::integer(*i);
      if (auto f = py_parse_float(v.s)) {
        if (std::isfinite(*f) && std::fabs(*f) < 9.2e18) return Value::integer(static_cast<int64_t>(*f));
        if (!std::isnan(*f) && !std::isfinite(*f)) throw_runtime("OverflowError: cannot convert float infinity to integer");
      }
    }
    return dflt;
  }
  if (name == "float") {
    Bound b("do_float", a, {"default"});
    if (v.is_number()) return Value::number(v.as_double());
    if (v.is_string())
      if (auto f = py_parse_float(v.s)) return Value::number(*f);
    return b.get(0, Value::number(0.0));
  }
  if (name == "list") return Value::make_list(py_iterate(v));
  if (name == "abs") {
    if (v.kind == Value::Kind::kFloat) return Value::number(std::fabs(v.f));
    if (!v.is_int()) type_error("bad operand type for abs(): '" + type_name(v) + "'");
    if (v.as_int() == INT64_MIN) throw JinjaError(JinjaErrorKind::kUnsupported, "integer overflow in abs");
    return Value::integer(std::llabs(v.as_int()));
  }
  if (name == "round") {
    Bound b("do_round", a, {"precision", "method"});
    int64_t prec = need_int(b.get(0, Value::integer(0)), "precision");
    std::string method = py_str(b.get(1, Value::string("common")));
    if (!v.is_number()) type_error("type " + type_name(v) + " doesn't define __round__ method");
    if (method == "common") {
      if (v.kind != Value::Kind::kFloat) return Value::integer(v.as_int());  // round(int, n) stays an int
      return Value::number(py_round(v.f, prec));
    }
    if (method != "ceil" && method != "floor") throw_runtime("TypeError: method must be common, ceil or floor");
    double p = std::pow(10.0, static_cast<double>(prec));
    double x = v.as_double() * p;
    return Value::number((method == "ceil" ? std::ceil(x) : std::floor(x)) / p);
  }
  if (name == "sum") {
    Bound b("do_sum", a, {"attribute", "start"});
    auto attr = b.opt(0);
    Value total = b.get(1, Value::integer(0));
    for (const auto& item : py_iterate(v)) total = py_add(total, attr ? get_attr_path(*this, item, py_str(*attr)) : item);
    return total;
  }
  if (name == "min") return min_max(*this, v, a, false);
  if (name == "max") return min_max(*this, v, a, true);
  if (name == "unique") {
    Bound b("do_unique", a, {"case_sensitive", "attribute"});
    bool cs = truthy(b.get(0, Value::boolean(false)));
    auto attr = b.opt(1);
    List seen, out;
    for (const auto& item : py_iterate(v)) {
      Value key = str_or_lower(attr ? get_attr_path(*this, item, py_str(*attr)) : item, cs);
      bool dup = false;
      for (const auto& s : seen) dup = dup || py_equal(s, key);
      if (dup) continue;
      seen.push_back(key);
      out.push_back(item);
    }
    return Value::generator(std::move(out));
  }
  if (name == "sort") {
    Bound b("do_sort", a, {"reverse", "case_sensitive", "attribute"});
    bool rev = truthy(b.get(0, Value::boolean(false)));
    bool cs = truthy(b.get(1, Value::boolean(false)));
    auto attr = b.opt(2);
    List items = py_iterate(v);
    List keys;
    for (const auto& item : items) keys.push_back(str_or_lower(attr ? get_attr_path(*this, item, py_str(*attr)) : item, cs));
    std::vector<size_t> order(items.size());
    for (size_t k = 0; k < order.size(); ++k) order[k] = k;
    std::stable_sort(order.begin(), order.end(), [&](size_t x, size_t y) {
      return rev ? py_compare(keys[y], keys[x]) < 0 : py_compare(keys[x], keys[y]) < 0;
    });
    List out;
    for (size_t k : order) out.push_back(items[k]);
    return Value::make_list(std::move(out));
  }
  if (name == "dictsort") {
    Bound b("do_dictsort", a, {"case_sensitive", "by", "reverse"});
    bool cs = truthy(b.get(0, Value::boolean(false)));
    std::string by = py_str(b.get(1, Value::string("key")));
    bool rev = truthy(b.get(2, Value::boolean(false)));
    if (by != "key" && by != "value") throw_runtime("FilterArgumentError: You can only sort by either \"key\" or \"value\"");
    if (v.kind != Value::Kind::kDict) type_error("dictsort needs a mapping");
    List items;
    for (const auto& kv : v.dict->items) items.push_back(Value::make_tuple({kv.first, kv.second}));
    size_t pos = by == "key" ? 0 : 1;
    std::stable_sort(items.begin(), items.end(), [&](const Value& x, const Value& y) {
      Value kx = str_or_lower((*x.list)[pos], cs), ky = str_or_lower((*y.list)[pos], cs);
      return rev ? py_compare(ky, kx) < 0 : py_compare(kx, ky) < 0;
    });
    return Value::make_list(std::move(items));
  }
  if (name == "reverse") {
    if (v.is_string()) {
      auto cps = utf8_decode(v.s);
      std::reverse(cps.begin(), cps.end());
      return Value::string(utf8_encode(cps));
    }
    List items = py_iterate(v);
    std::reverse(items.begin(), items.end());
    if (v.is_list_like()) return Value::generator(std::move(items), v.kind == Value::Kind::kList ? "list_reverseiterator" : "reversed");
    if (v.kind == Value::Kind::kDict) return Value::generator(std::move(items), "dict_reversekeyiterator");
    return Value::make_list(std::move(items));
  }
  if (name == "safe") return v.is_string() ? v : Value::string(py_str(v));
  if (name == "escape" || name == "e") return Value::string(html_escape(py_str(v)));
  if (name == "center") {
    Bound b("do_center", a, {"width"});
    return Value::string(py_pad(py_str(v), need_int(b.get(0, Value::integer(80)), "width"), " ", 0));
  }
  if (name == "indent") {
    Bound b("do_indent", a, {"width", "first", "blank"});
    Value w = b.get(0, Value::integer(4));
    std::string ind = w.is_string() ? w.s : std::string(static_cast<size_t>(std::max<int64_t>(0, std::min<int64_t>(need_int(w, "width"), 10000))), ' ');
    bool first = truthy(b.get(1, Value::boolean(false)));
    bool blank = truthy(b.get(2, Value::boolean(false)));
    std::string s = py_str(v) + "\n";
    auto lines = py_splitlines(s, false);
    std::string rv;
    if (blank) {
      for (size_t k = 0; k < lines.size(); ++k) rv += (k ? "\n" + ind : "") + lines[k];
    } else {
      rv = lines.empty() ? "" : lines[0];
      for (size_t k = 1; k < lines.size(); ++k) rv += "\n" + (lines[k].empty() ? lines[k] : ind + lines[k]);
    }
    if (first) rv = ind + rv;
    return Value::string(std::move(rv));
  }
  if (name == "wordcount") {
    int64_t n = 0;
    bool in_word = false;
    for (char32_t c : utf8_decode(py_str(v))) {
      bool w = c == '_' || py_isdigit(c) || py_isalpha(c);
      if (w && !in_word) ++n;
      in_word = w;
    }
    return Value::integer(n);
  }
  if (name == "format") {
    Value args;
    if (!a.kw.empty()) {
      throw JinjaError(JinjaErrorKind::kUnsupported, "the format filter with keyword arguments");
    }
    args = Value::make_tuple(a.pos);
    return py_mod(Value::string(py_str(v)), args);
  }
  if (name == "attr") {
    Bound b("do_attr", a, {"name"});
    const std::string& n = need_str(b.need(0), "attribute name");
    if (v.is_undefined()) fail_undefined(v);
    if (v.kind == Value::Kind::kNamespace)
      if (const Value* x = v.dict->find(std::string_view(n))) return *x;
    Value m = bound_method(v, n);  // attributes only: no item lookup, as jinja2's attr filter
    if (!m.is_undefined()) return m;
    return Value::undefined("'" + type_name(v) + " object' has no attribute '" + n + "'");
  }
  if (name == "batch") {
    Bound b("do_batch", a, {"linecount", "fill_with"});
    int64_t n = need_int(b.need(0), "linecount");
    if (n <= 0) throw_runtime("ValueError: batch size must be positive");
    auto fill = b.opt(1);
    List out, cur;
    for (const auto& item : py_iterate(v)) {
      cur.push_back(item);
      if (static_cast<int64_t>(cur.size()) == n) {
        out.push_back(Value::make_list(std::move(cur)));
        cur.clear();
      }
    }
    if (!cur.empty()) {
      if (fill)
        while (static_cast<int64_t>(cur.size()) < n) cur.push_back(*fill);
      out.push_back(Value::make_list(std::move(cur)));
    }
    return Value::generator(std::move(out));
  }
  if (is_unsupported_filter(name)) throw JinjaError(JinjaErrorKind::kUnsupported, "unsupported construct: filter '" + name + "'");
  throw_runtime("TemplateRuntimeError: No filter named '" + name + "'.");
}

bool Evaluator::apply_test(const std::string& name, const Value& v, CallArgs& a) {
  using K = Value::Kind;
  step();
  auto arg = [&](const char* fname) -> Value {
    Bound b(fname, a, {"other"});
    return b.need(0);
  };
  if (name == "defined") return !v.is_undefined();
  if (name == "undefined") return v.is_undefined();
  if (name == "none") return v.is_none();
  if (name == "boolean") return v.kind == K::kBool;
  if (name == "true") return v.kind == K::kBool && v.b;
  if (name == "false") return v.kind == K::kBool && !v.b;
  if (name == "integer") return v.kind == K::kInt;
  if (name == "float") return v.kind == K::kFloat;
  if (name == "number") return v.is_number();
  if (name == "string") return v.is_string();
  if (name == "mapping") return v.kind == K::kDict;
  if (name == "iterable")
    return v.is_string() || v.is_list_like() || v.kind == K::kDict || v.kind == K::kGenerator || v.is_undefined();
  if (name == "sequence") return v.is_string() || v.is_list_like() || v.kind == K::kDict || v.is_undefined();
  if (name == "callable") return v.kind == K::kCallable || v.is_undefined();
  if (name == "escaped") return false;
  if (name == "sameas") {
    Value o = arg("test_sameas");
    if (v.kind != o.kind) return false;
    switch (v.kind) {
      case K::kNone: return true;
      case K::kBool: return v.b == o.b;
      case K::kInt: return v.i == o.i && v.i >= -5 && v.i <= 256;  // CPython's small-int cache
      case K::kList:
      case K::kTuple: return v.list == o.list;
      case K::kDict:
      case K::kNamespace: return v.dict == o.dict;
      case K::kCallable: return v.fn == o.fn;
      default: return false;
    }
  }
  if (name == "odd" || name == "even") {
    Value m = py_mod(v, Value::integer(2));
    bool odd = m.is_int() ? m.as_int() == 1 : m.as_double() == 1.0;
    return name == "odd" ? odd : !odd;
  }
  if (name == "divisibleby") {
    Bound b("test_divisibleby", a, {"num"});
    Value m = py_mod(v, b.need(0));
    return !truthy(m);
  }
  if (name == "lower") return py_islower(py_str(v));
  if (name == "upper") return py_isupper(py_str(v));
  if (name == "in") {
    Bound b("test_in", a, {"seq"});
    return py_contains(b.need(0), v);
  }
  if (name == "eq" || name == "equalto" || name == "==") return py_equal(v, arg("test_eq"));
  if (name == "ne" || name == "!=") return !py_equal(v, arg("test_ne"));
  if (name == "lt" || name == "lessthan" || name == "<") return py_compare(v, arg("test_lt"), "<") < 0;
  if (name == "le" || name == "<=") return py_compare(v, arg("test_le"), "<=") <= 0;
  if (name == "gt" || name == "greaterthan" || name == ">") return py_compare(v, arg("test_gt"), ">") > 0;
  if (name == "ge" || name == ">=") return py_compare(v, arg("test_ge"), ">=") >= 0;
  if (name == "filter") return v.is_string() && is_known_filter(v.s);
  if (name == "test") return v.is_string() && is_known_test(v.s);
  throw_runtime("TemplateRuntimeError: No test named '" + name + "'.");
}

}  // namespace cyllm::jinja
