// The Jinja evaluator: executes a parsed Template against variables and returns the rendered text.
// Statements and expressions live in evaluator.cpp; filters and tests in filters.cpp; the methods
// of str/dict/list and the global functions (range, namespace, raise_exception, strftime_now, ...)
// in methods.cpp. Errors are thrown as JinjaError carrying the line/column of the failing node.
#pragma once

#include <memory>
#include <string>
#include <unordered_map>

#include "text/jinja/ast.h"
#include "text/jinja/value.h"

namespace cyllm::jinja {

// A variable scope. Lookups walk up to the parent; assignments go to the innermost scope.
struct Scope {
  std::unordered_map<std::string, Value> vars;
  std::shared_ptr<Scope> parent;

  const Value* lookup(const std::string& name) const {
    for (const Scope* s = this; s; s = s->parent.get()) {
      auto it = s->vars.find(name);
      if (it != s->vars.end()) return &it->second;
    }
    return nullptr;
  }
};
using ScopePtr = std::shared_ptr<Scope>;

struct EvalLimits {
  size_t max_output_bytes = size_t{64} << 20;
  int max_call_depth = 200;             // nested macro calls (Python's recursion limit stops jinja2 too)
  uint64_t max_steps = 10'000'000;      // loop iterations + calls + statements, to bound run time
};

class Evaluator {
 public:
  explicit Evaluator(EvalLimits limits = {}) : limits_(limits) {}

  // Renders `tpl` with `globals` as the outermost scope (the template's own variables go into a
  // child scope, so globals are never modified). The template must outlive any macro values.
  std::string render(const Template& tpl, const ScopePtr& globals);

  // Building blocks shared with filters and methods.
  Value call(const Value& fn, CallArgs& args);
  Value getattr(const Value& obj, const std::string& name);
  Value getitem(const Value& obj, const Value& key);
  Value apply_filter(const std::string& name, const Value& subject, CallArgs& args);
  bool apply_test(const std::string& name, const Value& subject, CallArgs& args);
  void step();  // counts one unit of work against max_steps

 private:
  enum class Flow { kNormal, kBreak, kContinue };

  Flow exec_body(const Body& body, const ScopePtr& scope, std::string& out);
  Flow exec(const Stmt& s, const ScopePtr& scope, std::string& out);
  void exec_for(const Stmt& s, const ScopePtr& scope, std::string& out);
  void assign(const Target& t, const Value& v, const ScopePtr& scope);
  Value make_macro(const Stmt& s, const ScopePtr& scope, const std::string& name, const Body& body,
                   const std::vector<MacroParam>& params);
  Value eval(const Expr& e, const ScopePtr& scope);
  Value eval_inner(const Expr& e, const ScopePtr& scope);
  void eval_args(const Expr& e, size_t first, const ScopePtr& scope, CallArgs* out);
  void append(std::string& out, const std::string& s);

  EvalLimits limits_;
  int call_depth_ = 0;
  uint64_t steps_ = 0;
};

// Scope holding the globals HF's environment provides: range, namespace, dict, raise_exception,
// strftime_now (local time, like datetime.now().strftime).
ScopePtr make_builtin_scope();

// Bound method `name` of a str/dict/list value, or Undefined when the type has no such method.
Value bound_method(const Value& self, const std::string& name);

}  // namespace cyllm::jinja
