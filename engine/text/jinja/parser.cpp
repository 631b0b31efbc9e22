// Jinja parser (see parser.h). Recursive descent following jinja2's Parser: statements first, then
// expressions from conditional expressions down to primaries, postfix operators, filters and tests.
#include "text/jinja/parser.h"

#include <initializer_list>

#include "text/jinja/error.h"

namespace cyllm::jinja {

namespace {

constexpr int kMaxDepth = 200;  // nesting limit for expressions and blocks (keeps the stack bounded)

class Parser {
 public:
  explicit Parser(std::vector<Token> toks) : t_(std::move(toks)) {}

  Template parse() {
    Template tpl;
    std::string end;
    tpl.body = parse_body({}, &end, "", 0, 0);
    return tpl;
  }

 private:
  std::vector<Token> t_;
  size_t p_ = 0;
  int depth_ = 0;
  int loop_depth_ = 0;

  struct DepthGuard {
    Parser* p;
    explicit DepthGuard(Parser* pp) : p(pp) {
      if (++p->depth_ > kMaxDepth)
        throw JinjaError(JinjaErrorKind::kLimit, "template nested too deeply (limit " + std::to_string(kMaxDepth) + ")",
                         p->cur().line, p->cur().col);
    }
    ~DepthGuard() { --p->depth_; }
  };

  const Token& cur() const { return t_[p_]; }
  const Token& peek(size_t k = 1) const { return t_[std::min(p_ + k, t_.size() - 1)]; }
  const Token& next() {
    const Token& t = t_[p_];
    if (p_ + 1 < t_.size()) ++p_;
    return t;
  }
  bool is_op(const char* op) const { return cur().type == Tok::kOp && cur().text == op; }
  bool is_name(const char* n) const { return cur().type == Tok::kName && cur().text == n; }

  std::string describe(const Token& t) const {
    switch (t.type) {
      case Tok::kOp: return "'" + t.text + "'";
      case Tok::kName: return "'" + t.text + "'";
      case Tok::kString: return "string";
      case Tok::kInt:
      case Tok::kFloat: return "number " + t.text;
      default: return tok_name(t.type);
    }
  }

  [[noreturn]] void fail(const Token& t, const std::string& msg, JinjaErrorKind kind = JinjaErrorKind::kSyntax) const {
    throw JinjaError(kind, (kind == JinjaErrorKind::kSyntax ? "syntax error: " : "") + msg, t.line, t.col);
  }
  [[noreturn]] void unsupported(const Token& t, const std::string& what) const {
    fail(t, "unsupported construct: " + what, JinjaErrorKind::kUnsupported);
  }

  void expect_op(const char* op) {
    if (!is_op(op)) fail(cur(), std::string("expected '") + op + "', got " + describe(cur()));
    next();
  }
  std::string expect_name() {
    if (cur().type != Tok::kName) fail(cur(), "expected a name, got " + describe(cur()));
    return next().text;
  }
  void expect(Tok type) {
    if (cur().type != type) fail(cur(), std::string("expected ") + tok_name(type) + ", got " + describe(cur()));
    next();
  }

  ExprPtr node(ExprKind k, const Token& at) {
    auto e = std::make_unique<Expr>();
    e->kind = k;
    e->line = at.line;
    e->col = at.col;
    return e;
  }

  // ---- statements ----------------------------------------------------------------------------

  // Parses until one of `ends` is found as a block tag (the end tag name is consumed, the rest of
  // that tag is left for the caller). At top level (ends empty) parses to the end of input.
  Body parse_body(std::initializer_list<const char*> ends, std::string* found, const char* opener, int oline, int ocol) {
    DepthGuard g(this);
    Body body;
    while (true) {
      const Token& t = cur();
      if (t.type == Tok::kEof) {
        if (ends.size() == 0) return body;
        std::string want;
        for (const char* e : ends) want += (want.empty() ? "'" : " or '") + std::string(e) + "'";
        throw JinjaError(JinjaErrorKind::kSyntax,
                         "syntax error: unexpected end of template; looking for " + want + " to close the '" + opener +
                             "' block opened at line " + std::to_string(oline) + ", column " + std::to_string(ocol),
                         t.line, t.col);
      }
      if (t.type == Tok::kData) {
        auto s = std::make_unique<Stmt>();
        s->kind = StmtKind::kText;
        s->line = t.line;
        s->col = t.col;
        s->text = t.text;
        body.push_back(std::move(s));
        next();
        continue;
      }
      if (t.type == Tok::kVarBegin) {
        auto s = std::make_unique<Stmt>();
        s->kind = StmtKind::kOutput;
        s->line = t.line;
        s->col = t.col;
        next();
        s->expr = parse_tuple(false, true, {}, false);
        expect(Tok::kVarEnd);
        body.push_back(std::move(s));
        continue;
      }
      if (t.type == Tok::kBlockBegin) {
        const Token& name = peek();
        if (name.type == Tok::kName)
          for (const char* e : ends)
            if (name.text == e) {
              next();
              *found = next().text;
              return body;
            }
        body.push_back(parse_statement());
        continue;
      }
      fail(t, "unexpected " + describe(t));
    }
  }

  void end_tag(const char* name) {
    // after parse_body returned the end tag name: the tag must close right away
    if (cur().type != Tok::kBlockEnd) fail(cur(), std::string("expected end of statement block after '") + name + "', got " + describe(cur()));
    next();
  }

  StmtPtr parse_statement() {
    const Token& begin = next();  // {%
    const Token& t = cur();
    if (t.type != Tok::kName) fail(t, "tag name expected, got " + describe(t));
    const std::string tag = t.text;
    auto s = std::make_unique<Stmt>();
    s->line = t.line;
    s->col = t.col;
    (void)begin;
    if (tag == "for") return parse_for(std::move(s));
    if (tag == "if") return parse_if(std::move(s));
    if (tag == "set") return parse_set(std::move(s));
    if (tag == "macro") return parse_macro(std::move(s));
    if (tag == "call") return parse_call_block(std::move(s));
    if (tag == "filter") return parse_filter_block(std::move(s));
    if (tag == "with") return parse_with(std::move(s));
    if (tag == "break" || tag == "continue") {
      if (loop_depth_ == 0) fail(t, "'" + tag + "' outside of a for loop");
      next();
      s->kind = tag == "break" ? StmtKind::kBreak : StmtKind::kContinue;
      expect(Tok::kBlockEnd);
      return s;
    }
    static const char* const kUnsupportedTags[] = {"include", "extends", "import", "from", "block", "autoescape",
                                                   "trans", "pluralize", "endtrans"};
    for (const char* u : kUnsupportedTags)
      if (tag == u) unsupported(t, "'{% " + tag + " %}' tag");
    fail(t, "encountered unknown tag '" + tag + "'");
  }

  StmtPtr parse_for(StmtPtr s) {
    const Token& kw = next();  // for
    s->kind = StmtKind::kFor;
    s->target = parse_assign_target(false, {"in"});
    if (!is_name("in")) fail(cur(), "expected 'in' in for loop, got " + describe(cur()));
    next();
    s->expr = parse_tuple(false, false, {"recursive"}, false);
    if (is_name("if")) {
      next();
      s->cond = parse_expression(true);
    }
    if (is_name("recursive")) unsupported(cur(), "recursive for loops ('recursive' modifier)");
    expect(Tok::kBlockEnd);
    std::string found;
    ++loop_depth_;
    s->body = parse_body({"endfor", "else"}, &found, "for", kw.line, kw.col);
    --loop_depth_;
    if (found == "else") {
      end_tag("else");
      s->else_body = parse_body({"endfor"}, &found, "for", kw.line, kw.col);
    }
    end_tag("endfor");
    return s;
  }

  StmtPtr parse_if(StmtPtr s) {
    const Token& kw = next();  // if
    s->kind = StmtKind::kIf;
    while (true) {
      s->conds.push_back(parse_tuple(false, false, {}, false));
      expect(Tok::kBlockEnd);
      std::string found;
      s->bodies.push_back(parse_body({"elif", "else", "endif"}, &found, "if", kw.line, kw.col));
      if (found == "elif") continue;
      if (found == "else") {
        end_tag("else");
        s->else_body = parse_body({"endif"}, &found, "if", kw.line, kw.col);
      }
      end_tag("endif");
      return s;
    }
  }

  StmtPtr parse_set(StmtPtr s) {
    const Token& kw = next();  // set
    s->target = parse_assign_target(true, {});
    if (is_op("=")) {
      next();
      s->kind = StmtKind::kSet;
      s->expr = parse_tuple(false, true, {}, false);
      expect(Tok::kBlockEnd);
      return s;
    }
    s->kind = StmtKind::kSetBlock;
    while (is_op("|")) s->filters.push_back(parse_one_filter(nullptr));
    expect(Tok::kBlockEnd);
    std::string found;
    s->body = parse_body({"endset"}, &found, "set", kw.line, kw.col);
    end_tag("endset");
    return s;
  }

  void parse_params(std::vector<MacroParam>* params) {
    expect_op("(");
    while (!is_op(")")) {
      if (!params->empty()) expect_op(",");
      if (is_op(")")) break;
      MacroParam mp;
      const Token& at = cur();
      mp.name = expect_name();
      if (is_op("=")) {
        next();
        mp.default_value = parse_expression(true);
      } else if (!params->empty() && params->back().default_value) {
        fail(at, "non-default argument follows default argument");
      }
      params->push_back(std::move(mp));
    }
    next();
  }

  StmtPtr parse_macro(StmtPtr s) {
    const Token& kw = next();  // macro
    s->kind = StmtKind::kMacro;
    s->text = expect_name();
    parse_params(&s->params);
    expect(Tok::kBlockEnd);
    std::string found;
    int saved = loop_depth_;
    loop_depth_ = 0;
    s->body = parse_body({"endmacro"}, &found, "macro", kw.line, kw.col);
    loop_depth_ = saved;
    end_tag("endmacro");
    return s;
  }

  StmtPtr parse_call_block(StmtPtr s) {
    const Token& kw = next();  // call
    s->kind = StmtKind::kCallBlock;
    if (is_op("(")) parse_params(&s->params);
    const Token& at = cur();
    s->expr = parse_expression(true);
    if (s->expr->kind != ExprKind::kCall) fail(at, "expected a call expression after 'call'");
    expect(Tok::kBlockEnd);
    std::string found;
    s->body = parse_body({"endcall"}, &found, "call", kw.line, kw.col);
    end_tag("endcall");
    return s;
  }

  StmtPtr parse_filter_block(StmtPtr s) {
    const Token& kw = next();  // filter
    s->kind = StmtKind::kFilterBlock;
    s->filters.push_back(parse_one_filter_name_first());
    while (is_op("|")) s->filters.push_back(parse_one_filter(nullptr));
    expect(Tok::kBlockEnd);
    std::string found;
    s->body = parse_body({"endfilter"}, &found, "filter", kw.line, kw.col);
    end_tag("endfilter");
    return s;
  }

  StmtPtr parse_with(StmtPtr s) {
    const Token& kw = next();  // with
    s->kind = StmtKind::kWith;
    while (cur().type != Tok::kBlockEnd) {
      if (!s->assigns.empty()) expect_op(",");
      Target tg = parse_assign_target(false, {});
      expect_op("=");
      s->assigns.emplace_back(std::move(tg), parse_expression(true));
    }
    next();
    std::string found;
    s->body = parse_body({"endwith"}, &found, "with", kw.line, kw.col);
    end_tag("endwith");
    return s;
  }

  // name | name.attr (with_namespace) | a, b, ...
  Target parse_assign_target(bool with_namespace, std::initializer_list<const char*> extra_end) {
    Target tg;
    const Token& at = cur();
    if (with_namespace && at.type == Tok::kName && peek().type == Tok::kOp && peek().text == ".") {
      tg.names.push_back(next().text);
      next();
      tg.attr = expect_name();
      return tg;
    }
    bool parens = false;
    if (is_op("(")) {
      parens = true;
      next();
    }
    while (true) {
      if (cur().type != Tok::kName) fail(cur(), "can't assign to " + describe(cur()));
      std::string n = next().text;
      if (n == "true" || n == "false" || n == "none" || n == "True" || n == "False" || n == "None")
        fail(at, "can't assign to constant '" + n + "'");
      tg.names.push_back(std::move(n));
      if (!is_op(",")) break;
      tg.is_tuple = true;
      next();
      bool end = cur().type == Tok::kBlockEnd || is_op("=") || is_op(")");
      for (const char* e : extra_end) end = end || is_name(e);
      if (end) break;
    }
    if (parens) {
      expect_op(")");
      tg.is_tuple = true;
    }
    return tg;
  }

  // ---- expressions ---------------------------------------------------------------------------

  ExprPtr parse_expression(bool with_condexpr) { return with_condexpr ? parse_condexpr() : parse_or(); }

  bool tuple_end(std::initializer_list<const char*> extra_end) const {
    const Token& t = cur();
    if (t.type == Tok::kVarEnd || t.type == Tok::kBlockEnd || t.type == Tok::kEof) return true;
    if (t.type == Tok::kOp && t.text == ")") return true;
    if (t.type == Tok::kName)
      for (const char* e : extra_end)
        if (t.text == e) return true;
    return false;
  }

  ExprPtr parse_tuple(bool simplified, bool with_condexpr, std::initializer_list<const char*> extra_end,
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

  ExprPtr parse_condexpr() {
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

  ExprPtr binary(const char* op, const Token& at, ExprPtr l, ExprPtr r) {
    auto e = node(ExprKind::kBinary, at);
    e->name = op;
    e->args.push_back(std::move(l));
    e->args.push_back(std::move(r));
    return e;
  }

  ExprPtr parse_or() {
    ExprPtr l = parse_and();
    while (is_name("or")) {
      const Token& at = next();
      l = binary("or", at, std::move(l), parse_and());
    }
    return l;
  }

  ExprPtr parse_and() {
    ExprPtr l = parse_not();
    while (is_name("and")) {
      const Token& at = next();
      l = binary("and", at, std::move(l), parse_not());
    }
    return l;
  }

  ExprPtr parse_not() {
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

  ExprPtr parse_compare() {
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

  ExprPtr parse_math1() {
    ExprPtr l = parse_concat();
    while (is_op("+") || is_op("-")) {
      const Token& at = next();
      l = binary(at.text == "+" ? "+" : "-", at, std::move(l), parse_concat());
    }
    return l;
  }

  ExprPtr parse_concat() {
    ExprPtr l = parse_math2();
    while (is_op("~")) {
      const Token& at = next();
      l = binary("~", at, std::move(l), parse_math2());
    }
    return l;
  }

  ExprPtr parse_math2() {
    ExprPtr l = parse_pow();
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
      const Token& at = next();
      std::string op = at.text;
      l = binary(op == "*" ? "*" : op == "/" ? "/" : op == "//" ? "//" : "%", at, std::move(l), parse_pow());
    }
    return l;
  }

  ExprPtr parse_pow() {
    ExprPtr l = parse_unary(true);
    while (is_op("**")) {
      const Token& at = next();
      l = binary("**", at, std::move(l), parse_unary(true));
    }
    return l;
  }

  ExprPtr parse_unary(bool with_filter) {
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

  ExprPtr parse_primary() {
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

  ExprPtr parse_postfix(ExprPtr e) {
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

  ExprPtr parse_subscribed() {
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
  void parse_call_args(Expr* e) {
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

  ExprPtr parse_call(ExprPtr fn) {
    auto e = node(ExprKind::kCall, cur());
    e->line = fn->line;
    e->col = fn->col;
    e->args.push_back(std::move(fn));
    parse_call_args(e.get());
    return e;
  }

  std::string dotted_name() {
    std::string n = expect_name();
    while (is_op(".") && peek().type == Tok::kName) {
      next();
      n += "." + next().text;
    }
    return n;
  }

  // At '|': parses one filter application on `subject` (nullptr for filter blocks).
  ExprPtr parse_one_filter(ExprPtr subject) {
    next();  // '|'
    return parse_one_filter_name_first(std::move(subject));
  }

  ExprPtr parse_one_filter_name_first(ExprPtr subject = nullptr) {
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

  ExprPtr parse_filter_expr(ExprPtr e) {
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

  ExprPtr parse_test(ExprPtr subject) {
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
};

}  // namespace

Template parse_template(std::string_view source, const LexOptions& opt) {
  Parser p(tokenize(source, opt));
  return p.parse();
}

}  // namespace cyllm::jinja
