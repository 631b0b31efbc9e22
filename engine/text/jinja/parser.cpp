// Jinja parser (see parser.h), statements: the token helpers' users for block tags ({% for %},
// {% if %}, {% set %}, {% macro %}, {% call %}, {% filter %}, {% with %}) and parse_template.
// Expressions are in parser-expr.cpp; the Parser class is declared in parser-impl.h.
#include <initializer_list>

#include "text/jinja/parser-impl.h"

namespace cyllm::jinja {

namespace detail {

// Parses until one of `ends` is found as a block tag (the end tag name is consumed, the rest of
// that tag is left for the caller). At top level (ends empty) parses to the end of input.
Body Parser::parse_body(std::initializer_list<const char*> ends, std::string* found, const char* opener, int oline,
                        int ocol) {
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

void Parser::end_tag(const char* name) {
  // after parse_body returned the end tag name: the tag must close right away
  if (cur().type != Tok::kBlockEnd) fail(cur(), std::string("expected end of statement block after '") + name + "', got " + describe(cur()));
  next();
}

StmtPtr Parser::parse_statement() {
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

StmtPtr Parser::parse_for(StmtPtr s) {
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

StmtPtr Parser::parse_if(StmtPtr s) {
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

StmtPtr Parser::parse_set(StmtPtr s) {
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

void Parser::parse_params(std::vector<MacroParam>* params) {
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

StmtPtr Parser::parse_macro(StmtPtr s) {
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

StmtPtr Parser::parse_call_block(StmtPtr s) {
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

StmtPtr Parser::parse_filter_block(StmtPtr s) {
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

StmtPtr Parser::parse_with(StmtPtr s) {
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
Target Parser::parse_assign_target(bool with_namespace, std::initializer_list<const char*> extra_end) {
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

}  // namespace detail

Template parse_template(std::string_view source, const LexOptions& opt) {
  detail::Parser p(tokenize(source, opt));
  return p.parse();
}

}  // namespace cyllm::jinja
