// Methods of str, dict and list values (what `x.strip()`, `d.get(k)`, `l.index(x)` call) and the
// global functions of transformers' Jinja environment: range, namespace, dict, joiner,
// raise_exception and strftime_now. Mutating methods are refused as the immutable sandbox does.
#include <ctime>

#include "text/jinja/args.h"
#include "text/jinja/error.h"
#include "text/jinja/evaluator.h"
#include "text/jinja/strings.h"
#include "text/jinja/unicode.h"

namespace cyllm::jinja {

namespace {

using Fn = std::function<Value(const Value& self, CallArgs& a, Evaluator& ev)>;

Value method(const Value& self, const std::string& qual, Fn fn) {
  return Value::callable(qual, [self, fn](CallArgs& a, Evaluator& ev) { return fn(self, a, ev); });
}

Value unsafe(const Value& self, const std::string& name) {
  std::string tn = type_name(self);
  return Value::callable(tn + "." + name, [tn, name](CallArgs&, Evaluator&) -> Value {
    throw_runtime("SecurityError: access to attribute '" + name + "' of '" + tn + "' object is unsafe.");
  });
}

bool starts_or_ends(const std::string& s, const Value& affix, bool ends) {
  auto one = [&](const std::string& x) {
    if (x.size() > s.size()) return false;
    return ends ? s.compare(s.size() - x.size(), x.size(), x) == 0 : s.compare(0, x.size(), x) == 0;
  };
  if (affix.kind == Value::Kind::kTuple) {
    for (const auto& x : *affix.list)
      if (one(need_str(x, "tuple for startswith/endswith"))) return true;
    return false;
  }
  if (!affix.is_string())
    throw_runtime(std::string("TypeError: ") + (ends ? "endswith" : "startswith") +
                  " first arg must be str or a tuple of str, not " + type_name(affix));
  return one(affix.s);
}

// str.format with {} / {0} / {name} fields and {{ }} escapes (no format specs).
std::string str_format(const std::string& fmt, const CallArgs& a) {
  std::string out;
  size_t auto_idx = 0;
  for (size_t i = 0; i < fmt.size(); ++i) {
    char c = fmt[i];
    if (c == '{' && i + 1 < fmt.size() && fmt[i + 1] == '{') {
      out.push_back('{');
      ++i;
      continue;
    }
    if (c == '}' && i + 1 < fmt.size() && fmt[i + 1] == '}') {
      out.push_back('}');
      ++i;
      continue;
    }
    if (c == '}') throw_runtime("ValueError: Single '}' encountered in format string");
    if (c != '{') {
      out.push_back(c);
      continue;
    }
    size_t e = fmt.find('}', i);
    if (e == std::string::npos) throw_runtime("ValueError: Single '{' encountered in format string");
    std::string field = fmt.substr(i + 1, e - i - 1);
    if (field.find_first_of(":!.[") != std::string::npos)
      throw JinjaError(JinjaErrorKind::kUnsupported, "str.format with conversion/format specs ('{" + field + "}')");
    const Value* v = nullptr;
    if (field.empty()) {
      if (auto_idx >= a.pos.size()) throw_runtime("IndexError: Replacement index " + std::to_string(auto_idx) + " out of range");
      v = &a.pos[auto_idx++];
    } else if (field[0] >= '0' && field[0] <= '9') {
      size_t k = std::stoul(field);
      if (k >= a.pos.size()) throw_runtime("IndexError: Replacement index " + field + " out of range");
      v = &a.pos[k];
    } else {
      v = a.kwarg(field);
      if (!v) throw_runtime("KeyError: '" + field + "'");
    }
    out += py_str(*v);
    i = e;
  }
  return out;
}

Value str_method(const Value& self, const std::string& n) {
  const std::string q = "str." + n;
  if (n == "strip" || n == "lstrip" || n == "rstrip") {
    bool l = n != "rstrip", r = n != "lstrip";
    return method(self, q, [l, r, q](const Value& s, CallArgs& a, Evaluator&) {
      Bound b(q.c_str(), a, {"chars"});
      auto chars = b.opt(0);
      std::string cs = chars ? need_str(*chars, "strip arg") : std::string();
      return Value::string(py_strip(s.s, chars ? &cs : nullptr, l, r));
    });
  }
  if (n == "startswith" || n == "endswith") {
    bool ends = n == "endswith";
    return method(self, q, [ends, q](const Value& s, CallArgs& a, Evaluator&) {
      Bound b(q.c_str(), a, {"prefix"});
      return Value::boolean(starts_or_ends(s.s, b.need(0), ends));
    });
  }
  if (n == "split" || n == "rsplit") {
    bool right = n == "rsplit";
    return method(self, q, [right, q](const Value& s, CallArgs& a, Evaluator&) {
      Bound b(q.c_str(), a, {"sep", "maxsplit"});
      std::optional<std::string> sep;
      if (auto x = b.opt(0)) {
        sep = need_str(*x, "separator");
        if (sep->empty()) throw_runtime("ValueError: empty separator");
      }
      int64_t maxsplit = need_int(b.get(1, Value::integer(-1)), "maxsplit");
      List out;
      for (auto& part : py_split(s.s, sep, maxsplit, right)) out.push_back(Value::string(std::move(part)));
      return Value::make_list(std::move(out));
    });
  }
  if (n == "splitlines") {
    return method(self, q, [q](const Value& s, CallArgs& a, Evaluator&) {
      Bound b(q.c_str(), a, {"keepends"});
      List out;
      for (auto& part : py_splitlines(s.s, truthy(b.get(0, Value::boolean(false))))) out.push_back(Value::string(std::move(part)));
      return Value::make_list(std::move(out));
    });
  }
  if (n == "upper" || n == "lower" || n == "title" || n == "capitalize" || n == "casefold") {
    return method(self, q, [n, q](const Value& s, CallArgs& a, Evaluator&) {
      Bound b(q.c_str(), a, {});
      if (n == "upper") return Value::string(py_str_upper(s.s));
      if (n == "title") return Value::string(py_str_title(s.s));
      if (n == "capitalize") return Value::string(py_str_capitalize(s.s));
      return Value::string(py_str_lower(s.s));
    });
  }
  if (n == "replace") {
    return method(self, q, [q](const Value& s, CallArgs& a, Evaluator&) {
      Bound b(q.c_str(), a, {"old", "new", "count"});
      int64_t count = need_int(b.get(2, Value::integer(-1)), "count");
      std::string r = py_replace(s.s, need_str(b.need(0), "replace arg"), need_str(b.need(1), "replace arg"), count);
      if (r.size() > kMaxValueBytes) throw JinjaError(JinjaErrorKind::kLimit, "string too large");
      return Value::string(std::move(r));
    });
  }
  if (n == "find" || n == "rfind" || n == "index" || n == "rindex" || n == "count") {
    return method(self, q, [n, q](const Value& s, CallArgs& a, Evaluator&) {
      Bound b(q.c_str(), a, {"sub"});
      const std::string& sub = need_str(b.need(0), "substring");
      if (n == "count") return Value::integer(py_count(s.s, sub));
      int64_t r = py_find(s.s, sub, n[0] == 'r');
      if (r < 0 && (n == "index" || n == "rindex")) throw_runtime("ValueError: substring not found");
      return Value::integer(r);
    });
  }
  if (n == "join") {
    return method(self, q, [](const Value& s, CallArgs& a, Evaluator&) {
      Bound b("str.join", a, {"iterable"});
      std::string out;
      List items = py_iterate(b.need(0));
      for (size_t k = 0; k < items.size(); ++k) {
        if (!items[k].is_string())
          throw_runtime("TypeError: sequence item " + std::to_string(k) + ": expected str instance, " +
                        type_name(items[k]) + " found");
        if (k) out += s.s;
        out += items[k].s;
        if (out.size() > kMaxValueBytes) throw JinjaError(JinjaErrorKind::kLimit, "string too large");
      }
      return Value::string(std::move(out));
    });
  }
  if (n == "format") {
    return method(self, q, [](const Value& s, CallArgs& a, Evaluator&) { return Value::string(str_format(s.s, a)); });
  }
  if (n == "isdigit" || n == "isalpha" || n == "isalnum" || n == "isspace" || n == "islower" || n == "isupper" ||
      n == "isnumeric" || n == "isdecimal") {
    return method(self, q, [n](const Value& s, CallArgs&, Evaluator&) {
      if (n == "islower") return Value::boolean(py_islower(s.s));
      if (n == "isupper") return Value::boolean(py_isupper(s.s));
      auto cps = utf8_decode(s.s);
      if (cps.empty()) return Value::boolean(false);
      for (char32_t c : cps) {
        bool ok = n == "isalpha" ? py_isalpha(c) : n == "isspace" ? py_isspace(c)
                : n == "isalnum" ? (py_isalpha(c) || py_isdigit(c)) : py_isdigit(c);
        if (!ok) return Value::boolean(false);
      }
      return Value::boolean(true);
    });
  }
  if (n == "zfill") {
    return method(self, q, [](const Value& s, CallArgs& a, Evaluator&) {
      Bound b("str.zfill", a, {"width"});
      int64_t w = std::min<int64_t>(need_int(b.need(0), "width"), 1 << 20);
      std::string body = s.s, sign;
      if (!body.empty() && (body[0] == '+' || body[0] == '-')) {
        sign = body.substr(0, 1);
        body.erase(0, 1);
      }
      int64_t len = static_cast<int64_t>(utf8_length(s.s));
      if (w <= len) return s;
      return Value::string(sign + std::string(static_cast<size_t>(w - len), '0') + body);
    });
  }
  if (n == "center" || n == "ljust" || n == "rjust") {
    int where = n == "center" ? 0 : n == "ljust" ? -1 : 1;
    return method(self, q, [where, q](const Value& s, CallArgs& a, Evaluator&) {
      Bound b(q.c_str(), a, {"width", "fillchar"});
      int64_t w = std::min<int64_t>(need_int(b.need(0), "width"), 1 << 20);
      std::string fill = b.has(1) ? need_str(b.need(1), "fillchar") : " ";
      if (utf8_length(fill) != 1) throw_runtime("TypeError: The fill character must be exactly one character long");
      return Value::string(py_pad(s.s, w, fill, where));
    });
  }
  if (n == "removeprefix" || n == "removesuffix") {
    bool suffix = n == "removesuffix";
    return method(self, q, [suffix, q](const Value& s, CallArgs& a, Evaluator&) {
      Bound b(q.c_str(), a, {"affix"});
      const std::string& x = need_str(b.need(0), "affix");
      if (!x.empty() && starts_or_ends(s.s, Value::string(x), suffix))
        return Value::string(suffix ? s.s.substr(0, s.s.size() - x.size()) : s.s.substr(x.size()));
      return s;
    });
  }
  if (n == "partition" || n == "rpartition") {
    bool right = n == "rpartition";
    return method(self, q, [right, q](const Value& s, CallArgs& a, Evaluator&) {
      Bound b(q.c_str(), a, {"sep"});
      const std::string& sep = need_str(b.need(0), "separator");
      if (sep.empty()) throw_runtime("ValueError: empty separator");
      size_t f = right ? s.s.rfind(sep) : s.s.find(sep);
      if (f == std::string::npos)
        return right ? Value::make_tuple({Value::string(""), Value::string(""), s})
                     : Value::make_tuple({s, Value::string(""), Value::string("")});
      return Value::make_tuple({Value::string(s.s.substr(0, f)), Value::string(sep), Value::string(s.s.substr(f + sep.size()))});
    });
  }
  return Value::undefined();
}

Value dict_method(const Value& self, const std::string& n) {
  if (n == "get") {
    return method(self, "dict.get", [](const Value& d, CallArgs& a, Evaluator&) {
      Bound b("dict.get", a, {"key", "default"});
      const Value& k = b.need(0);
      if (k.kind == Value::Kind::kList || k.kind == Value::Kind::kDict)
        throw_runtime("TypeError: unhashable type: '" + type_name(k) + "'");
      if (const Value* v = d.dict->find(k)) return *v;
      return b.get(1, Value::none());
    });
  }
  if (n == "items" || n == "keys" || n == "values") {
    return method(self, "dict." + n, [n](const Value& d, CallArgs& a, Evaluator&) {
      Bound b(("dict." + n).c_str(), a, {});
      List out;
      for (const auto& kv : d.dict->items)
        out.push_back(n == "items" ? Value::make_tuple({kv.first, kv.second}) : n == "keys" ? kv.first : kv.second);
      return Value::make_list(std::move(out));
    });
  }
  if (n == "copy") {
    return method(self, "dict.copy", [](const Value& d, CallArgs&, Evaluator&) {
      Value c = Value::make_dict();
      c.dict->items = d.dict->items;
      return c;
    });
  }
  if (n == "pop" || n == "popitem" || n == "setdefault" || n == "update" || n == "clear") return unsafe(self, n);
  return Value::undefined();
}

Value list_method(const Value& self, const std::string& n) {
  if (n == "index" || n == "count") {
    return method(self, "list." + n, [n](const Value& l, CallArgs& a, Evaluator&) {
      Bound b(("list." + n).c_str(), a, {"value"});
      const Value& x = b.need(0);
      int64_t count = 0;
      for (size_t k = 0; k < l.list->size(); ++k) {
        if (!py_equal((*l.list)[k], x)) continue;
        if (n == "index") return Value::integer(static_cast<int64_t>(k));
        ++count;
      }
      if (n == "index") throw_runtime("ValueError: " + py_repr(x) + " is not in list");
      return Value::integer(count);
    });
  }
  if (n == "copy" && self.kind == Value::Kind::kList)
    return method(self, "list.copy", [](const Value& l, CallArgs&, Evaluator&) { return Value::make_list(*l.list); });
  if (self.kind == Value::Kind::kList &&
      (n == "append" || n == "extend" || n == "insert" || n == "pop" || n == "remove" || n == "reverse" || n == "sort" ||
       n == "clear"))
    return unsafe(self, n);
  return Value::undefined();
}

}  // namespace

Value bound_method(const Value& self, const std::string& name) {
  if (self.is_string()) return str_method(self, name);
  if (self.kind == Value::Kind::kDict) return dict_method(self, name);
  if (self.is_list_like()) return list_method(self, name);
  return Value::undefined();
}

namespace {

// dict(*args, **kwargs) / namespace(*args, **kwargs) initialisation.
void fill_mapping(Value& d, CallArgs& a, const char* fname) {
  if (a.pos.size() > 1) throw_runtime(std::string("TypeError: ") + fname + " expected at most 1 argument, got " + std::to_string(a.pos.size()));
  if (!a.pos.empty()) {
    const Value& src = a.pos[0];
    if (src.kind == Value::Kind::kDict || src.kind == Value::Kind::kNamespace) {
      for (const auto& kv : src.dict->items) d.dict->set(kv.first, kv.second);
    } else {
      for (const auto& item : py_iterate(src)) {
        List pair = py_iterate(item);
        if (pair.size() != 2)
          throw_runtime("ValueError: dictionary update sequence element has length " + std::to_string(pair.size()) + "; 2 is required");
        d.dict->set(pair[0], pair[1]);
      }
    }
  }
  for (const auto& kv : a.kw) d.dict->set(Value::string(kv.first), kv.second);
}

}  // namespace

ScopePtr make_builtin_scope() {
  auto g = std::make_shared<Scope>();
  g->vars["range"] = Value::callable("range", [](CallArgs& a, Evaluator& ev) -> Value {
    if (!a.kw.empty()) throw_runtime("TypeError: range() takes no keyword arguments");
    if (a.pos.empty() || a.pos.size() > 3) throw_runtime("TypeError: range expected 1 to 3 arguments");
    int64_t start = 0, stop, step = 1;
    if (a.pos.size() == 1) {
      stop = need_int(a.pos[0], "range");
    } else {
      start = need_int(a.pos[0], "range");
      stop = need_int(a.pos[1], "range");
      if (a.pos.size() == 3) step = need_int(a.pos[2], "range");
    }
    if (step == 0) throw_runtime("ValueError: range() arg 3 must not be zero");
    // The sandbox refuses ranges longer than MAX_RANGE (100000), as jinja2's safe_range does.
    long double len = step > 0 ? (static_cast<long double>(stop) - start + step - 1) / step
                               : (static_cast<long double>(start) - stop - step - 1) / -step;
    if (len > 100000)
      throw_runtime("OverflowError: Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).");
    List out;
    for (int64_t k = start; step > 0 ? k < stop : k > stop; k += step) {
      ev.step();
      out.push_back(Value::integer(k));
    }
    return Value::make_list(std::move(out));
  });
  g->vars["namespace"] = Value::callable("namespace", [](CallArgs& a, Evaluator&) {
    Value ns = Value::make_namespace();
    fill_mapping(ns, a, "namespace");
    return ns;
  });
  g->vars["dict"] = Value::callable("dict", [](CallArgs& a, Evaluator&) {
    Value d = Value::make_dict();
    fill_mapping(d, a, "dict");
    return d;
  });
  g->vars["joiner"] = Value::callable("joiner", [](CallArgs& a, Evaluator&) {
    Bound b("joiner", a, {"sep"});
    std::string sep = py_str(b.get(0, Value::string(", ")));
    auto used = std::make_shared<bool>(false);
    return Value::callable("joiner", [sep, used](CallArgs&, Evaluator&) {
      if (!*used) {
        *used = true;
        return Value::string("");
      }
      return Value::string(sep);
    });
  });
  g->vars["raise_exception"] = Value::callable("raise_exception", [](CallArgs& a, Evaluator&) -> Value {
    Bound b("raise_exception", a, {"message"});
    throw JinjaError(JinjaErrorKind::kRaised, py_str(b.need(0)));
  });
  g->vars["strftime_now"] = Value::callable("strftime_now", [](CallArgs& a, Evaluator&) -> Value {
    Bound b("strftime_now", a, {"format"});
    const std::string& fmt = need_str(b.need(0), "format");
    if (fmt.empty()) return Value::string("");
    std::time_t t = std::time(nullptr);
    std::tm tm{};
    localtime_r(&t, &tm);
    std::string buf(256 + fmt.size() * 8, '\0');
    size_t n = std::strftime(buf.data(), buf.size(), fmt.c_str(), &tm);
    buf.resize(n);
    return Value::string(std::move(buf));
  });
  return g;
}

}  // namespace cyllm::jinja
