// Jinja parser (see parser.h), expressions: from conditional expressions down to primaries,
// postfix operators (attributes, subscripts, slices, calls), filters and tests, following
// jinja2's precedence. Statements are in parser.cpp; the Parser class is in parser-impl.h.
#include <initializer_list>

#include "text/jinja/parser-impl.h"

namespace cyllm::jinja::detail {

ExprPtr Parser::parse_expression(bool with_condexpr) {
  return with_condexpr ? parse_condexpr() : parse_or();
}

bool Parser::tuple_end(std::initializer_list<const char*> extra_end) const {
  const Token& t = cur();
  if (t.type == Tok::kVarEnd || t.type == Tok::kBlockEnd || t.type == Tok::kEof) return true;
  if (t.type == Tok::kOp && t.text == ")") return true;
  if (t.type == Tok::kName)
    for (const char* e : extra_end)
      if (t.text == e) return true;
  return false;
}

ExprPtr Parser::parse_tuple(bool simplified, bool with_condexpr, std::initializer_list<const char*> extra_end,
                            bool explicit_parens) {
  const Token& at = cur();
  std::vector<ExprPtr> items;
  bool is_tuple = false;
  while (true) {
    if (!items.empty()) expect_op(",");
    if (tuple_end(extra_end)) break;
    items.push_back(simplified ? parse_primary() : parse_expression(with_condexpr));
    if (is_op(","))
      is_tuple = true;
    else
      break;
  }
  if (!is_tuple) {
    if (!items.empty()) return std::move(items[0]);
    if (!explicit_parens) fail(cur(), "expected an expression, got " + describe(cur()));
  }
  auto e = node(ExprKind::kTuple, at);
  e->args = std::move(items);
  return e;
}

ExprPtr Parser::parse_condexpr() {
  DepthGuard g(this);
  ExprPtr e1 = parse_or();
  while (is_name("if")) {
    const Token& at = next();
    ExprPtr cond = parse_or();
    ExprPtr e3;
    if (is_name("else")) {
      next();
      e3 = parse_condexpr();
    }
    auto c = node(ExprKind::kCondExpr, at);
    c->args.push_back(std::move(cond));
    c->args.push_back(std::move(e1));
    c->args.push_back(std::move(e3));
    e1 = std::move(c);
  }
  return e1;
}

ExprPtr Parser::binary(const char* op, const Token& at, ExprPtr l, ExprPtr r) {
  auto e = node(ExprKind::kBinary, at);
  e->name = op;
  e->args.push_back(std::move(l));
  e->args.push_back(std::move(r));
  return e;
}

ExprPtr Parser::parse_or() {
  ExprPtr l = parse_and();
  while (is_name("or")) {
    const Token& at = next();
    l = binary("or", at, std::move(l), parse_and());
  }
  return l;
}

ExprPtr Parser::parse_and() {
  ExprPtr l = parse_not();
  while (is_name("and")) {
    const Token& at = next();
    l = binary("and", at, std::move(l), parse_not());
  }
  return l;
}

ExprPtr Parser::parse_not() {
  DepthGuard g(this);
  if (is_name("not")) {
    const Token& at = next();
    auto e = node(ExprKind::kUnary, at);
    e->name = "not";
    e->args.push_back(parse_not());
    return e;
  }
  return parse_compare();
}

ExprPtr Parser::parse_compare() {
  const Token& at = cur();
  ExprPtr first = parse_math1();
  std::vector<std::string> ops;
  std::vector<ExprPtr> rest;
  while (true) {
    const Token& t = cur();
    if (t.type == Tok::kOp && (t.text == "==" || t.text == "!=" || t.text == "<" || t.text == "<=" || t.text == ">" || t.text == ">=")) {
      ops.push_back(next().text);
    } else if (is_name("in")) {
      next();
      ops.push_back("in");
    } else if (is_name("not") && peek().type == Tok::kName && peek().text == "in") {
      next();
      next();
      ops.push_back("notin");
    } else {
      break;
    }
    rest.push_back(parse_math1());
  }
  if (ops.empty()) return first;
  auto e = node(ExprKind::kCompare, at);
  e->args.push_back(std::move(first));
  for (auto& r : rest) e->args.push_back(std::move(r));
  e->ops = std::move(ops);
  return e;
}

ExprPtr Parser::parse_math1() {
  ExprPtr l = parse_concat();
  while (is_op("+") || is_op("-")) {
    const Token& at = next();
    l = binary(at.text == "+" ? "+" : "-", at, std::move(l), parse_concat());
  }
  return l;
}

ExprPtr Parser::parse_concat() {
  ExprPtr l = parse_math2();
  while (is_op("~")) {
    const Token& at = next();
    l = binary("~", at, std::move(l), parse_math2());
  }
  return l;
}

ExprPtr Parser::parse_math2() {
  ExprPtr l = parse_pow();
  while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
    const Token& at = next();
    std::string op = at.text;
    l = binary(op == "*" ? "*" : op == "/" ? "/" : op == "//" ? "//" : "%", at, std::move(l), parse_pow());
  }
  return l;
}

ExprPtr Parser::parse_pow() {
  ExprPtr l = parse_unary(true);
  while (is_op("**")) {
    const Token& at = next();
    l = binary("**", at, std::move(l), parse_unary(true));
  }
  return l;
}

ExprPtr Parser::parse_unary(bool with_filter) {
  DepthGuard g(this);
  ExprPtr e;
  if (is_op("-") || is_op("+")) {
    const Token& at = next();
    e = node(ExprKind::kUnary, at);
    e->name = at.text;
    e->args.push_back(parse_unary(false));
  } else {
    e = parse_primary();
  }
  e = parse_postfix(std::move(e));
  if (with_filter) e = parse_filter_expr(std::move(e));
  return e;
}

ExprPtr Parser::parse_primary() {
  DepthGuard g(this);
  const Token& t = cur();
  switch (t.type) {
    case Tok::kName: {
      next();
      auto e = node(ExprKind::kConst, t);
      if (t.text == "true" || t.text == "True") e->value = Value::boolean(true);
      else if (t.text == "false" || t.text == "False") e->value = Value::boolean(false);
      else if (t.text == "none" || t.text == "None") e->value = Value::none();
      else {
        e->kind = ExprKind::kName;
        e->name = t.text;
      }
      return e;
    }
    case Tok::kString: {
      std::string s;
      while (cur().type == Tok::kString) s += next().text;
      auto e = node(ExprKind::kConst, t);
      e->value = Value::string(std::move(s));
      return e;
    }
    case Tok::kInt: {
      next();
      auto e = node(ExprKind::kConst, t);
      e->value = Value::integer(t.ival);
      return e;
    }
    case Tok::kFloat: {
      next();
      auto e = node(ExprKind::kConst, t);
      e->value = Value::number(t.fval);
      return e;
    }
    case Tok::kOp:
      if (t.text == "(") {
        next();
        ExprPtr e = parse_tuple(false, true, {}, true);
        expect_op(")");
        return e;
      }
      if (t.text == "[") {
        next();
        auto e = node(ExprKind::kList, t);
        while (!is_op("]")) {
          if (!e->args.empty()) expect_op(",");
          if (is_op("]")) break;
          e->args.push_back(parse_expression(true));
        }
        next();
        return e;
      }
      if (t.text == "{") {
        next();
        auto e = node(ExprKind::kDict, t);
        while (!is_op("}")) {
          if (!e->args.empty()) expect_op(",");
          if (is_op("}")) break;
          e->args.push_back(parse_expression(true));
          expect_op(":");
          e->args.push_back(parse_expression(true));
        }
        next();
        return e;
      }
      break;
    default: break;
  }
  fail(t, "unexpected " + describe(t));
}

ExprPtr Parser::parse_postfix(ExprPtr e) {
  while (true) {
    const Token& t = cur();
    if (is_op(".")) {
      next();
      const Token& a = cur();
      if (a.type == Tok::kName) {
        next();
        auto g = node(ExprKind::kGetAttr, t);
        g->name = a.text;
        g->args.push_back(std::move(e));
        e = std::move(g);
      } else if (a.type == Tok::kInt) {
        next();
        auto g = node(ExprKind::kGetItem, t);
        auto k = node(ExprKind::kConst, a);
        k->value = Value::integer(a.ival);
        g->args.push_back(std::move(e));
        g->args.push_back(std::move(k));
        e = std::move(g);
      } else {
        fail(a, "expected name or number after '.', got " + describe(a));
      }
    } else if (is_op("[")) {
      next();
      std::vector<ExprPtr> subs;
      while (!is_op("]")) {
        if (!subs.empty()) expect_op(",");
        if (is_op("]")) break;
        subs.push_back(parse_subscribed());
      }
      next();
      if (subs.empty()) fail(t, "expected a subscript inside '[]'");
      auto g = node(ExprKind::kGetItem, t);
      g->args.push_back(std::move(e));
      if (subs.size() == 1) {
        g->args.push_back(std::move(subs[0]));
      } else {
        auto tup = node(ExprKind::kTuple, t);
        tup->args = std::move(subs);
        g->args.push_back(std::move(tup));
      }
      e = std::move(g);
    } else if (is_op("(")) {
      e = parse_call(std::move(e));
    } else {
      return e;
    }
  }
}

ExprPtr Parser::parse_subscribed() {
  const Token& at = cur();
  ExprPtr start;
  if (!is_op(":")) {
    start = parse_expression(true);
    if (!is_op(":")) return start;
  }
  next();  // ':'
  auto s = node(ExprKind::kSlice, at);
  s->args.push_back(std::move(start));
  if (!is_op("]") && !is_op(",") && !is_op(":"))
    s->args.push_back(parse_expression(true));
  else
    s->args.push_back(nullptr);
  if (is_op(":")) {
    next();
    if (!is_op("]") && !is_op(","))
      s->args.push_back(parse_expression(true));
    else
      s->args.push_back(nullptr);
  } else {
    s->args.push_back(nullptr);
  }
  return s;
}

// Parses "(args)" into e->args (after any already present) and e->kwargs.
void Parser::parse_call_args(Expr* e) {
  const Token& open = cur();
  expect_op("(");
  bool first = true;
  while (!is_op(")")) {
    if (!first) expect_op(",");
    first = false;
    if (is_op(")")) break;
    if (is_op("*") || is_op("**")) unsupported(cur(), "'*args' / '**kwargs' in calls");
    if (cur().type == Tok::kName && peek().type == Tok::kOp && peek().text == "=") {
      std::string key = next().text;
      next();
      e->kwargs.emplace_back(std::move(key), parse_expression(true));
    } else {
      if (!e->kwargs.empty()) fail(cur(), "positional argument follows keyword argument");
      e->args.push_back(parse_expression(true));
    }
  }
  (void)open;
  next();
}

ExprPtr Parser::parse_call(ExprPtr fn) {
  auto e = node(ExprKind::kCall, cur());
  e->line = fn->line;
  e->col = fn->col;
  e->args.push_back(std::move(fn));
  parse_call_args(e.get());
  return e;
}

std::string Parser::dotted_name() {
  std::string n = expect_name();
  while (is_op(".") && peek().type == Tok::kName) {
    next();
    n += "." + next().text;
  }
  return n;
}

// At '|': parses one filter application on `subject` (nullptr for filter blocks).
ExprPtr Parser::parse_one_filter(ExprPtr subject) {
  next();  // '|'
  return parse_one_filter_name_first(std::move(subject));
}

ExprPtr Parser::parse_one_filter_name_first(ExprPtr subject) {
  const Token& at = cur();
  auto f = node(ExprKind::kFilter, at);
  f->name = dotted_name();
  if (!is_known_filter(f->name)) {
    if (is_unsupported_filter(f->name)) unsupported(at, "filter '" + f->name + "'");
    fail(at, "no filter named '" + f->name + "'");
  }
  f->args.push_back(std::move(subject));
  if (is_op("(")) parse_call_args(f.get());
  return f;
}

ExprPtr Parser::parse_filter_expr(ExprPtr e) {
  while (true) {
    if (is_op("|")) {
      e = parse_one_filter(std::move(e));
    } else if (is_name("is")) {
      e = parse_test(std::move(e));
    } else if (is_op("(")) {
      e = parse_call(std::move(e));
    } else {
      return e;
    }
  }
}

ExprPtr Parser::parse_test(ExprPtr subject) {
  const Token& at = next();  // is
  auto t = node(ExprKind::kTest, at);
  if (is_name("not")) {
    next();
    t->negated = true;
  }
  const Token& name_tok = cur();
  t->name = dotted_name();
  if (!is_known_test(t->name)) fail(name_tok, "no test named '" + t->name + "'");
  t->args.push_back(std::move(subject));
  const Token& c = cur();
  if (is_op("(")) {
    parse_call_args(t.get());
  } else if ((c.type == Tok::kName || c.type == Tok::kString || c.type == Tok::kInt || c.type == Tok::kFloat ||
              (c.type == Tok::kOp && (c.text == "[" || c.text == "{"))) &&
             !(c.type == Tok::kName && (c.text == "else" || c.text == "or" || c.text == "and"))) {
    if (is_name("is")) fail(c, "you cannot chain multiple tests with 'is'");
    ExprPtr arg = parse_primary();
    t->args.push_back(parse_postfix(std::move(arg)));
  }
  return t;
}

}  // namespace cyllm::jinja::detail
