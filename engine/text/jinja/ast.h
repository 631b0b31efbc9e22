// The Jinja syntax tree the parser builds and the evaluator walks. Expressions and statements are
// plain tagged structs (one kind field, a few generic slots) so the tree is easy to print and
// cheap to build; each node keeps the line/column of the token it started at.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "text/jinja/value.h"

namespace cyllm::jinja {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

enum class ExprKind {
  kConst,     // value
  kName,      // name
  kList,      // args: items
  kTuple,     // args: items
  kDict,      // args: k0, v0, k1, v1, ...
  kGetAttr,   // args[0].name
  kGetItem,   // args[0][args[1]]
  kSlice,     // args: start, stop, step (nullptr where omitted)
  kCall,      // args[0](args[1..], kwargs)
  kFilter,    // args[0] | name(args[1..], kwargs)
  kTest,      // args[0] is [not] name(args[1..], kwargs); negated
  kUnary,     // name: "-", "+", "not"; args[0]
  kBinary,    // name: "+", "-", "*", "/", "//", "%", "**", "~", "and", "or", "in", "notin"; args[0], args[1]
  kCompare,   // args[0] (ops[k] args[k+1])...  (chained comparisons)
  kCondExpr,  // args[1] if args[0] else args[2] (args[2] may be nullptr)
};

struct Expr {
  ExprKind kind = ExprKind::kConst;
  int line = 0;
  int col = 0;
  Value value;
  std::string name;
  std::vector<ExprPtr> args;
  std::vector<std::pair<std::string, ExprPtr>> kwargs;
  std::vector<std::string> ops;  // kCompare
  bool negated = false;          // kTest
};

struct Stmt;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

// Assignment targets: a name, a tuple of names (unpacking), or namespace.attr.
struct Target {
  std::vector<std::string> names;  // one name, or several for unpacking
  bool is_tuple = false;
  std::string attr;                // non-empty: names[0].attr (namespace attribute)
};

struct MacroParam {
  std::string name;
  ExprPtr default_value;  // may be nullptr
};

enum class StmtKind {
  kText,       // text
  kOutput,     // {{ expr }}
  kIf,         // conds[k] -> bodies[k]; else_body
  kFor,        // for target in expr [if cond] ... else ...
  kSet,        // set target = expr
  kSetBlock,   // set target %}body{% endset (filters applied via expr chain, see filter_chain)
  kMacro,      // macro name(params) body
  kCallBlock,  // call(params) expr body
  kFilterBlock,// filter chain body
  kWith,       // with a=x, b=y body
  kBreak,
  kContinue,
};

struct Stmt {
  StmtKind kind = StmtKind::kText;
  int line = 0;
  int col = 0;
  std::string text;                 // kText; kMacro: the name
  ExprPtr expr;                     // kOutput value, kFor iterable, kSet value, kCallBlock call
  ExprPtr cond;                     // kFor loop filter
  Target target;                    // kFor, kSet, kSetBlock
  std::vector<ExprPtr> conds;       // kIf
  std::vector<Body> bodies;         // kIf
  Body body;                        // kFor, kSetBlock, kMacro, kCallBlock, kFilterBlock, kWith
  Body else_body;                   // kIf, kFor
  std::vector<MacroParam> params;   // kMacro, kCallBlock (caller's parameters)
  // kFilterBlock / kSetBlock: filters to apply to the rendered body. Each is a kFilter Expr whose
  // args[0] is nullptr (the body text is substituted).
  std::vector<ExprPtr> filters;
  // kWith: assignments in order
  std::vector<std::pair<Target, ExprPtr>> assigns;
};

struct Template {
  Body body;
};

}  // namespace cyllm::jinja
