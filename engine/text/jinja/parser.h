// Jinja parser: turns the lexer's tokens into the syntax tree of ast.h, with jinja2's grammar and
// operator precedence. Unknown tags, filters and tests are rejected at parse time (as jinja2 does
// at compile time); valid Jinja this interpreter does not implement (include, extends, blocks,
// recursive loops, ...) fails with a message naming the construct and its line and column.
#pragma once

#include <string_view>

#include "text/jinja/ast.h"
#include "text/jinja/lexer.h"

namespace cyllm::jinja {

// Throws JinjaError (kSyntax or kUnsupported) with the position of the offending token.
Template parse_template(std::string_view source, const LexOptions& opt = {});

// Filter/test registries the parser checks names against (implemented in filters.cpp).
bool is_known_filter(std::string_view name);
bool is_known_test(std::string_view name);
// Names jinja2 knows but this interpreter does not implement (message says "unsupported").
bool is_unsupported_filter(std::string_view name);

}  // namespace cyllm::jinja
