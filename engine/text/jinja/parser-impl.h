// The jinja Parser class (parser.h), shared by its two source files: parser.cpp (token helpers,
// statements, parse_template) and parser-expr.cpp (expressions, filters and tests). Recursive
// descent following jinja2's Parser.
#pragma once

#include <initializer_list>
#include <string>
#include <vector>

#include "text/jinja/error.h"
#include "text/jinja/parser.h"

namespace cyllm::jinja::detail {


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

  // statements (parser.cpp)
  // Parses until one of `ends` is found as a block tag (the end tag name is consumed, the rest of
  // that tag is left for the caller). At top level (ends empty) parses to the end of input.
  Body parse_body(std::initializer_list<const char*> ends, std::string* found, const char* opener, int oline, int ocol);
  void end_tag(const char* name);
  StmtPtr parse_statement();
  StmtPtr parse_for(StmtPtr s);
  StmtPtr parse_if(StmtPtr s);
  StmtPtr parse_set(StmtPtr s);
  void parse_params(std::vector<MacroParam>* params);
  StmtPtr parse_macro(StmtPtr s);
  StmtPtr parse_call_block(StmtPtr s);
  StmtPtr parse_filter_block(StmtPtr s);
  StmtPtr parse_with(StmtPtr s);
  // name | name.attr (with_namespace) | a, b, ...
  Target parse_assign_target(bool with_namespace, std::initializer_list<const char*> extra_end);

  // expressions (parser-expr.cpp)
  ExprPtr parse_expression(bool with_condexpr);
  bool tuple_end(std::initializer_list<const char*> extra_end) const;
  ExprPtr parse_tuple(bool simplified, bool with_condexpr, std::initializer_list<const char*> extra_end,
                      bool explicit_parens);
  ExprPtr parse_condexpr();
  ExprPtr binary(const char* op, const Token& at, ExprPtr l, ExprPtr r);
  ExprPtr parse_or();
  ExprPtr parse_and();
  ExprPtr parse_not();
  ExprPtr parse_compare();
  ExprPtr parse_math1();
  ExprPtr parse_concat();
  ExprPtr parse_math2();
  ExprPtr parse_pow();
  ExprPtr parse_unary(bool with_filter);
  ExprPtr parse_primary();
  ExprPtr parse_postfix(ExprPtr e);
  ExprPtr parse_subscribed();
  // Parses "(args)" into e->args (after any already present) and e->kwargs.
  void parse_call_args(Expr* e);
  ExprPtr parse_call(ExprPtr fn);
  std::string dotted_name();
  // At '|': parses one filter application on `subject` (nullptr for filter blocks).
  ExprPtr parse_one_filter(ExprPtr subject);
  ExprPtr parse_one_filter_name_first(ExprPtr subject = nullptr);
  ExprPtr parse_filter_expr(ExprPtr e);
  ExprPtr parse_test(ExprPtr subject);
};

}  // namespace cyllm::jinja::detail
