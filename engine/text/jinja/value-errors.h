// Errors raised by the Jinja value operations (value.cpp, value-ops.cpp), as Python would raise
// them, and the size guard every growing operation applies. Internal to engine/text/jinja.
#pragma once

#include <string>

#include "text/jinja/error.h"
#include "text/jinja/value.h"

namespace cyllm::jinja {

[[noreturn]] inline void type_error(std::string msg) { throw_runtime("TypeError: " + std::move(msg)); }

[[noreturn]] inline void unsupported_operands(const char* op, const Value& a, const Value& b) {
  type_error(std::string("unsupported operand type(s) for ") + op + ": '" + type_name(a) + "' and '" + type_name(b) +
             "'");
}

inline void check_size(size_t n) {
  if (n > kMaxValueBytes) throw JinjaError(JinjaErrorKind::kLimit, "value too large (over 64 MiB)");
}

}  // namespace cyllm::jinja
