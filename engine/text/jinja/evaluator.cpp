// Jinja evaluator: statements (output, if, for with loop variables and break/continue, set,
// namespaces, macros, call blocks, filter blocks, with) and expressions with Python semantics.
// Scoping follows jinja2: `for` bodies get a fresh scope per iteration, `if` does not scope,
// macros see their defining scope.
#include "text/jinja/evaluator.h"

#include <algorithm>

#include "text/jinja/error.h"
#include "text/jinja/unicode.h"

namespace cyllm::jinja {

namespace {

// Whether `name` is read anywhere in a body (jinja2 decides a macro's varargs/kwargs/caller
// support the same way: by whether the body references them).
bool expr_uses(const Expr* e, const std::string& name) {
  if (!e) return false;
  if (e->kind == ExprKind::kName && e->name == name) return true;
  for (const auto& a : e->args)
    if (expr_uses(a.get(), name)) return true;
  for (const auto& kv : e->kwargs)
    if (expr_uses(kv.second.get(), name)) return true;
  return false;
}

bool body_uses(const Body& body, const std::string& name);

bool stmt_uses(const Stmt& s, const std::string& name) {
  if (expr_uses(s.expr.get(), name) || expr_uses(s.cond.get(), name)) return true;
  for (const auto& c : s.conds)
    if (expr_uses(c.get(), name)) return true;
  for (const auto& b : s.bodies)
    if (body_uses(b, name)) return true;
  for (const auto& f : s.filters)
    if (expr_uses(f.get(), name)) return true;
  for (const auto& a : s.assigns)
    if (expr_uses(a.second.get(), name)) return true;
  for (const auto& p : s.params)
    if (expr_uses(p.default_value.get(), name)) return true;
  if (s.kind == StmtKind::kMacro) return false;  // a nested macro has its own varargs/caller
  return body_uses(s.body, name) || body_uses(s.else_body, name);
}

bool body_uses(const Body& body, const std::string& name) {
  for (const auto& s : body)
    if (stmt_uses(*s, name)) return true;
  return false;
}

std::string quoted(const std::string& s) { return py_repr_string(s); }

std::string object_desc(const Value& v) {
  if (v.is_none()) return "None";
  if (v.kind == Value::Kind::kNamespace) return "jinja2.utils.Namespace object";
  return type_name(v) + " object";
}

}  // namespace

void Evaluator::step() {
  if (++steps_ > limits_.max_steps)
    throw JinjaError(JinjaErrorKind::kLimit, "template did too much work (step limit " + std::to_string(limits_.max_steps) + ")");
}

void Evaluator::append(std::string& out, const std::string& s) {
  if (out.size() + s.size() > limits_.max_output_bytes)
    throw JinjaError(JinjaErrorKind::kLimit, "rendered output too large (limit " + std::to_string(limits_.max_output_bytes) + " bytes)");
  out += s;
}

std::string Evaluator::render(const Template& tpl, const ScopePtr& globals) {
  auto scope = std::make_shared<Scope>();
  scope->parent = globals;
  std::string out;
  exec_body(tpl.body, scope, out);
  return out;
}

Evaluator::Flow Evaluator::exec_body(const Body& body, const ScopePtr& scope, std::string& out) {
  for (const auto& s : body) {
    Flow f = exec(*s, scope, out);
    if (f != Flow::kNormal) return f;
  }
  return Flow::kNormal;
}

Evaluator::Flow Evaluator::exec(const Stmt& s, const ScopePtr& scope, std::string& out) {
  step();
  try {
    switch (s.kind) {
      case StmtKind::kText: append(out, s.text); return Flow::kNormal;
      case StmtKind::kOutput: append(out, py_str(eval(*s.expr, scope))); return Flow::kNormal;
      case StmtKind::kIf:
        for (size_t k = 0; k < s.conds.size(); ++k)
          if (truthy(eval(*s.conds[k], scope))) return exec_body(s.bodies[k], scope, out);
        return exec_body(s.else_body, scope, out);
      case StmtKind::kFor: exec_for(s, scope, out); return Flow::kNormal;
      case StmtKind::kSet: assign(s.target, eval(*s.expr, scope), scope); return Flow::kNormal;
      case StmtKind::kSetBlock:
      case StmtKind::kFilterBlock: {
        auto inner = std::make_shared<Scope>();
        inner->parent = scope;
        std::string text;
        exec_body(s.body, inner, text);
        Value v = Value::string(std::move(text));
        for (const auto& f : s.filters) {
          CallArgs args;
          eval_args(*f, 1, scope, &args);
          try {
            v = apply_filter(f->name, v, args);
          } catch (JinjaError& e) {
            if (!e.has_position()) e.set_position(f->line, f->col);
            throw;
          }
        }
        if (s.kind == StmtKind::kSetBlock)
          assign(s.target, v, scope);
        else
          append(out, py_str(v));
        return Flow::kNormal;
      }
      case StmtKind::kMacro:
        scope->vars[s.text] = make_macro(s, scope, s.text, s.body, s.params);
        return Flow::kNormal;
      case StmtKind::kCallBlock: {
        const Expr& call = *s.expr;
        Value fn = eval(*call.args[0], scope);
        CallArgs args;
        eval_args(call, 1, scope, &args);
        args.kw.emplace_back("caller", make_macro(s, scope, "caller", s.body, s.params));
        Value r;
        try {
          r = this->call(fn, args);
        } catch (JinjaError& e) {
          if (!e.has_position()) e.set_position(call.line, call.col);
          throw;
        }
        append(out, py_str(r));
        return Flow::kNormal;
      }
      case StmtKind::kWith: {
        std::vector<Value> vals;
        for (const auto& a : s.assigns) vals.push_back(eval(*a.second, scope));
        auto inner = std::make_shared<Scope>();
        inner->parent = scope;
        for (size_t k = 0; k < vals.size(); ++k) assign(s.assigns[k].first, vals[k], inner);
        return exec_body(s.body, inner, out);
      }
      case StmtKind::kBreak: return Flow::kBreak;
      case StmtKind::kContinue: return Flow::kContinue;
    }
  } catch (JinjaError& e) {
    if (!e.has_position()) e.set_position(s.line, s.col);
    throw;
  }
  return Flow::kNormal;
}

void Evaluator::assign(const Target& t, const Value& v, const ScopePtr& scope) {
  if (!t.attr.empty()) {
    const Value* ns = scope->lookup(t.names[0]);
    if (!ns || ns->kind != Value::Kind::kNamespace)
      throw_runtime("TemplateRuntimeError: cannot assign attribute on non-namespace object");
    ns->dict->set(Value::string(t.attr), v);
    return;
  }
  if (!t.is_tuple) {
    scope->vars[t.names[0]] = v;
    return;
  }
  List items = py_iterate(v);
  if (items.size() > t.names.size())
    throw_runtime("ValueError: too many values to unpack (expected " + std::to_string(t.names.size()) + ")");
  if (items.size() < t.names.size())
    throw_runtime("ValueError: not enough values to unpack (expected " + std::to_string(t.names.size()) + ", got " +
                  std::to_string(items.size()) + ")");
  for (size_t k = 0; k < items.size(); ++k) scope->vars[t.names[k]] = items[k];
}

void Evaluator::exec_for(const Stmt& s, const ScopePtr& scope, std::string& out) {
  Value seq = eval(*s.expr, scope);
  List items = py_iterate(seq);
  if (s.cond) {
    List kept;
    for (auto& it : items) {
      step();
      auto tmp = std::make_shared<Scope>();
      tmp->parent = scope;
      assign(s.target, it, tmp);
      if (truthy(eval(*s.cond, tmp))) kept.push_back(std::move(it));
    }
    items.swap(kept);
  }
  const int64_t n = static_cast<int64_t>(items.size());
  // One loop object per loop, updated in place each iteration (as jinja2's LoopContext is).
  const bool uses_loop = body_uses(s.body, "loop");
  Value loop;
  auto index = std::make_shared<int64_t>(0);
  if (uses_loop) {
    loop = Value::make_namespace();
    auto& d = *loop.dict;
    for (const char* k : {"index", "index0", "revindex", "revindex0", "first", "last", "length", "depth", "depth0",
                          "previtem", "nextitem"})
      d.items.emplace_back(Value::string(k), Value::none());
    auto last_changed = std::make_shared<std::optional<List>>();
    d.set(Value::string("cycle"), Value::callable("loop.cycle", [index](CallArgs& a, Evaluator&) -> Value {
            if (a.pos.empty()) throw_runtime("TypeError: no items for cycling given");
            return a.pos[static_cast<size_t>(*index) % a.pos.size()];
          }));
    d.set(Value::string("changed"), Value::callable("loop.changed", [last_changed](CallArgs& a, Evaluator&) -> Value {
            bool same = last_changed->has_value() && py_equal(Value::make_tuple(**last_changed), Value::make_tuple(a.pos));
            if (same) return Value::boolean(false);
            *last_changed = a.pos;
            return Value::boolean(true);
          }));
  }
  bool completed = false;
  for (int64_t k = 0; k < n; ++k) {
    step();
    auto inner = std::make_shared<Scope>();
    inner->parent = scope;
    assign(s.target, items[k], inner);
    if (uses_loop) {
      *index = k;
      auto& it = loop.dict->items;
      it[0].second = Value::integer(k + 1);
      it[1].second = Value::integer(k);
      it[2].second = Value::integer(n - k);
      it[3].second = Value::integer(n - k - 1);
      it[4].second = Value::boolean(k == 0);
      it[5].second = Value::boolean(k == n - 1);
      it[6].second = Value::integer(n);
      it[7].second = Value::integer(1);
      it[8].second = Value::integer(0);
      it[9].second = k > 0 ? items[k - 1] : Value::undefined("there is no previous item");
      it[10].second = k + 1 < n ? items[k + 1] : Value::undefined("there is no next item");
      inner->vars["loop"] = loop;
    }
    Flow f = exec_body(s.body, inner, out);
    if (f == Flow::kNormal) completed = true;
    if (f == Flow::kBreak) break;
  }
  // jinja2 runs the else block unless some iteration reached the end of the body (so a loop whose
  // iterations all `continue`, or that breaks in its first iteration, also runs it).
  if (!completed && !s.else_body.empty()) {
    auto inner = std::make_shared<Scope>();
    inner->parent = scope;
    exec_body(s.else_body, inner, out);
  }
}

Value Evaluator::make_macro(const Stmt& s, const ScopePtr& scope, const std::string& name, const Body& body,
                            const std::vector<MacroParam>& params) {
  const bool use_varargs = body_uses(body, "varargs");
  const bool use_kwargs = body_uses(body, "kwargs");
  const bool use_caller = body_uses(body, "caller");
  std::weak_ptr<Scope> weak = scope;  // a macro stored in its own scope must not keep it alive
  const Stmt* stmt = &s;
  const Body* b = &body;
  const std::vector<MacroParam>* ps = &params;
  return Value::callable(name, [=](CallArgs& a, Evaluator& ev) -> Value {
    ScopePtr def = weak.lock();
    if (!def) throw_runtime("macro '" + name + "' called after its template finished");
    if (ev.call_depth_ >= ev.limits_.max_call_depth)
      throw JinjaError(JinjaErrorKind::kLimit, "RecursionError: maximum macro call depth (" +
                                                   std::to_string(ev.limits_.max_call_depth) + ") exceeded");
    auto inner = std::make_shared<Scope>();
    inner->parent = def;
    if (a.pos.size() > ps->size() && !use_varargs)
      throw_runtime("TypeError: macro '" + name + "' takes not more than " + std::to_string(ps->size()) +
                    " argument(s)");
    List extra;
    for (size_t k = ps->size(); k < a.pos.size(); ++k) extra.push_back(a.pos[k]);
    Value kwargs = Value::make_dict();
    std::vector<bool> given(ps->size(), false);
    for (size_t k = 0; k < ps->size() && k < a.pos.size(); ++k) {
      inner->vars[(*ps)[k].name] = a.pos[k];
      given[k] = true;
    }
    for (auto& kv : a.kw) {
      bool found = false;
      for (size_t k = 0; k < ps->size(); ++k)
        if ((*ps)[k].name == kv.first) {
          if (given[k]) throw_runtime("TypeError: macro '" + name + "' got multiple values for argument '" + kv.first + "'");
          inner->vars[kv.first] = kv.second;
          given[k] = true;
          found = true;
        }
      if (found) continue;
      if (kv.first == "caller" && use_caller) {
        inner->vars["caller"] = kv.second;
      } else if (use_kwargs) {
        kwargs.dict->set(Value::string(kv.first), kv.second);
      } else {
        throw_runtime("TypeError: macro '" + name + "' takes no keyword argument '" + kv.first + "'");
      }
    }
    if (use_varargs) inner->vars["varargs"] = Value::make_tuple(std::move(extra));
    if (use_kwargs) inner->vars["kwargs"] = kwargs;
    if (use_caller && !inner->vars.count("caller"))
      inner->vars["caller"] = Value::undefined("No caller defined");
    ++ev.call_depth_;
    struct Dec {
      int* d;
      ~Dec() { --*d; }
    } dec{&ev.call_depth_};
    for (size_t k = 0; k < ps->size(); ++k) {
      if (given[k]) continue;
      const MacroParam& p = (*ps)[k];
      inner->vars[p.name] = p.default_value ? ev.eval(*p.default_value, inner)
                                            : Value::undefined("parameter " + quoted(p.name) + " was not provided");
    }
    std::string out;
    ev.exec_body(*b, inner, out);
    (void)stmt;
    return Value::string(std::move(out));
  });
}

Value Evaluator::call(const Value& fn, CallArgs& args) {
  step();
  if (fn.is_undefined()) fail_undefined(fn);
  if (fn.kind != Value::Kind::kCallable) throw_runtime("TypeError: '" + type_name(fn) + "' object is not callable");
  return fn.fn->fn(args, *this);
}

Value Evaluator::getattr(const Value& obj, const std::string& name) {
  using K = Value::Kind;
  if (obj.is_undefined()) fail_undefined(obj);
  if (!name.empty() && name[0] == '_') {
    // The sandbox refuses private attributes; reading one gives an undefined value.
    return Value::undefined(quoted(object_desc(obj)) + " has no attribute " + quoted(name));
  }
  if (obj.kind == K::kDict || obj.kind == K::kString || obj.is_list_like()) {
    Value m = bound_method(obj, name);
    if (!m.is_undefined()) return m;
  }
  if (obj.kind == K::kDict || obj.kind == K::kNamespace) {
    if (const Value* v = obj.dict->find(std::string_view(name))) return *v;
  }
  return Value::undefined(quoted(object_desc(obj)) + " has no attribute " + quoted(name));
}

namespace {

// Python slice semantics: the indices selected by [start:stop:step] on a sequence of length n.
std::vector<int64_t> slice_indices(int64_t n, const Value& start, const Value& stop, const Value& stepv) {
  auto as_index = [](const Value& v) -> std::optional<int64_t> {
    if (v.is_none() || v.is_undefined()) return std::nullopt;
    if (!v.is_int()) throw_runtime("TypeError: slice indices must be integers or None");
    return v.as_int();
  };
  int64_t step = 1;
  if (auto s = as_index(stepv)) step = *s;
  if (step == 0) throw_runtime("ValueError: slice step cannot be zero");
  auto clamp = [&](std::optional<int64_t> v, int64_t dflt) {
    if (!v) return dflt;
    int64_t x = *v;
    if (x < 0) {
      x += n;
      if (x < 0) x = step < 0 ? -1 : 0;
    } else if (x >= n) {
      x = step < 0 ? n - 1 : n;
    }
    return x;
  };
  int64_t b = clamp(as_index(start), step < 0 ? n - 1 : 0);
  int64_t e = clamp(as_index(stop), step < 0 ? -1 : n);
  std::vector<int64_t> idx;
  if (step > 0)
    for (int64_t k = b; k < e; k += step) idx.push_back(k);
  else
    for (int64_t k = b; k > e; k += step) idx.push_back(k);
  return idx;
}

}  // namespace

Value Evaluator::getitem(const Value& obj, const Value& key) {
  using K = Value::Kind;
  if (obj.is_undefined()) fail_undefined(obj);
  auto missing = [&]() {
    std::string k = key.is_string() ? quoted(key.s) : py_repr(key);
    return Value::undefined(quoted(object_desc(obj)) + " has no attribute " + k);
  };
  switch (obj.kind) {
    case K::kDict: {
      if (key.kind != K::kList && key.kind != K::kDict)
        if (const Value* v = obj.dict->find(key)) return *v;
      break;
    }
    case K::kList:
    case K::kTuple:
    case K::kString: {
      const bool str = obj.kind == K::kString;
      std::vector<char32_t> cps;
      if (str) cps = utf8_decode(obj.s);
      const int64_t n = str ? static_cast<int64_t>(cps.size()) : static_cast<int64_t>(obj.list->size());
      if (key.is_int()) {
        int64_t k = key.as_int();
        if (k < 0) k += n;
        if (k < 0 || k >= n) return missing();
        if (str) return Value::string(utf8_encode(&cps[static_cast<size_t>(k)], &cps[static_cast<size_t>(k)] + 1));
        return (*obj.list)[static_cast<size_t>(k)];
      }
      break;
    }
    default: break;
  }
  if (key.is_string()) return getattr(obj, key.s);
  return missing();
}

void Evaluator::eval_args(const Expr& e, size_t first, const ScopePtr& scope, CallArgs* out) {
  for (size_t k = first; k < e.args.size(); ++k) out->pos.push_back(eval(*e.args[k], scope));
  for (const auto& kv : e.kwargs) out->kw.emplace_back(kv.first, eval(*kv.second, scope));
}

Value Evaluator::eval(const Expr& e, const ScopePtr& scope) {
  try {
    return eval_inner(e, scope);
  } catch (JinjaError& err) {
    if (!err.has_position()) err.set_position(e.line, e.col);
    throw;
  }
}

Value Evaluator::eval_inner(const Expr& e, const ScopePtr& scope) {
  switch (e.kind) {
    case ExprKind::kConst: return e.value;
    case ExprKind::kName: {
      if (const Value* v = scope->lookup(e.name)) return *v;
      return Value::undefined(quoted(e.name) + " is undefined");
    }
    case ExprKind::kList:
    case ExprKind::kTuple: {
      List items;
      for (const auto& a : e.args) items.push_back(eval(*a, scope));
      return e.kind == ExprKind::kList ? Value::make_list(std::move(items)) : Value::make_tuple(std::move(items));
    }
    case ExprKind::kDict: {
      Value d = Value::make_dict();
      for (size_t k = 0; k + 1 < e.args.size(); k += 2) {
        Value key = eval(*e.args[k], scope);
        if (key.kind == Value::Kind::kList || key.kind == Value::Kind::kDict)
          throw_runtime("TypeError: unhashable type: '" + type_name(key) + "'");
        d.dict->set(key, eval(*e.args[k + 1], scope));
      }
      return d;
    }
    case ExprKind::kGetAttr: return getattr(eval(*e.args[0], scope), e.name);
    case ExprKind::kGetItem: {
      Value obj = eval(*e.args[0], scope);
      const Expr& k = *e.args[1];
      if (k.kind == ExprKind::kSlice) {
        if (obj.is_undefined()) fail_undefined(obj);
        Value a = k.args[0] ? eval(*k.args[0], scope) : Value::none();
        Value b = k.args[1] ? eval(*k.args[1], scope) : Value::none();
        Value c = k.args[2] ? eval(*k.args[2], scope) : Value::none();
        if (obj.kind == Value::Kind::kString) {
          auto cps = utf8_decode(obj.s);
          std::string out;
          for (int64_t i : slice_indices(static_cast<int64_t>(cps.size()), a, b, c)) utf8_append(out, cps[static_cast<size_t>(i)]);
          return Value::string(std::move(out));
        }
        if (obj.is_list_like()) {
          List out;
          for (int64_t i : slice_indices(static_cast<int64_t>(obj.list->size()), a, b, c))
            out.push_back((*obj.list)[static_cast<size_t>(i)]);
          return obj.kind == Value::Kind::kTuple ? Value::make_tuple(std::move(out)) : Value::make_list(std::move(out));
        }
        return Value::undefined(quoted(object_desc(obj)) + " has no attribute 'slice'");
      }
      return getitem(obj, eval(k, scope));
    }
    case ExprKind::kSlice: throw_runtime("slice used outside of a subscript");
    case ExprKind::kCall: {
      Value fn = eval(*e.args[0], scope);
      CallArgs args;
      eval_args(e, 1, scope, &args);
      return call(fn, args);
    }
    case ExprKind::kFilter: {
      Value subject = eval(*e.args[0], scope);
      CallArgs args;
      eval_args(e, 1, scope, &args);
      return apply_filter(e.name, subject, args);
    }
    case ExprKind::kTest: {
      Value subject = eval(*e.args[0], scope);
      CallArgs args;
      eval_args(e, 1, scope, &args);
      bool r = apply_test(e.name, subject, args);
      return Value::boolean(e.negated ? !r : r);
    }
    case ExprKind::kUnary: {
      Value v = eval(*e.args[0], scope);
      if (e.name == "not") return Value::boolean(!truthy(v));
      return e.name == "-" ? py_neg(v) : py_pos(v);
    }
    case ExprKind::kBinary: {
      const std::string& op = e.name;
      if (op == "and") {
        Value l = eval(*e.args[0], scope);
        return truthy(l) ? eval(*e.args[1], scope) : l;
      }
      if (op == "or") {
        Value l = eval(*e.args[0], scope);
        return truthy(l) ? l : eval(*e.args[1], scope);
      }
      Value l = eval(*e.args[0], scope);
      Value r = eval(*e.args[1], scope);
      if (op == "~") {
        std::string s = py_str(l);
        s += py_str(r);
        if (s.size() > kMaxValueBytes) throw JinjaError(JinjaErrorKind::kLimit, "string too large");
        return Value::string(std::move(s));
      }
      if (op == "+") return py_add(l, r);
      if (op == "-") return py_sub(l, r);
      if (op == "*") return py_mul(l, r);
      if (op == "/") return py_truediv(l, r);
      if (op == "//") return py_floordiv(l, r);
      if (op == "%") return py_mod(l, r);
      if (op == "**") return py_pow(l, r);
      throw_runtime("unknown operator " + op);
    }
    case ExprKind::kCompare: {
      Value l = eval(*e.args[0], scope);
      for (size_t k = 0; k < e.ops.size(); ++k) {
        Value r = eval(*e.args[k + 1], scope);
        const std::string& op = e.ops[k];
        bool ok;
        if (op == "==") ok = py_equal(l, r);
        else if (op == "!=") ok = !py_equal(l, r);
        else if (op == "in") ok = py_contains(r, l);
        else if (op == "notin") ok = !py_contains(r, l);
        else {
          int c = py_compare(l, r, op.c_str());
          ok = op == "<" ? c < 0 : op == "<=" ? c <= 0 : op == ">" ? c > 0 : c >= 0;
        }
        if (!ok) return Value::boolean(false);
        l = std::move(r);
      }
      return Value::boolean(true);
    }
    case ExprKind::kCondExpr: {
      if (truthy(eval(*e.args[0], scope))) return eval(*e.args[1], scope);
      if (e.args[2]) return eval(*e.args[2], scope);
      return Value::undefined("the inline if-expression on line " + std::to_string(e.line) +
                              " evaluated to false and no else section was defined.");
    }
  }
  return Value::undefined();
}

}  // namespace cyllm::jinja
