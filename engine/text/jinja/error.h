// The exception the Jinja interpreter uses internally: a message plus the template line and
// column it concerns. It never leaves engine/text: chat-template.cpp turns it into a cyllm::Error.
#pragma once

#include <stdexcept>
#include <string>

namespace cyllm::jinja {

enum class JinjaErrorKind {
  kSyntax,       // the template does not parse (like jinja2.TemplateSyntaxError)
  kUnsupported,  // valid Jinja that this interpreter does not implement
  kRuntime,      // an error while rendering (type errors, undefined values, ...)
  kRaised,       // the template called raise_exception(message)
  kLimit,        // a resource limit (output size, recursion depth, iterations) was hit
};

class JinjaError : public std::runtime_error {
 public:
  JinjaError(JinjaErrorKind kind, std::string message, int line = 0, int col = 0)
      : std::runtime_error(message), kind_(kind), message_(std::move(message)), line_(line), col_(col) {}
  JinjaErrorKind kind() const { return kind_; }
  const std::string& message() const { return message_; }
  int line() const { return line_; }
  int col() const { return col_; }
  bool has_position() const { return line_ > 0; }
  void set_position(int line, int col) {
    line_ = line;
    col_ = col;
  }
  // "message (line L, column C)" or just the message when the position is unknown.
  std::string describe() const {
    if (line_ <= 0) return message_;
    return message_ + " (template line " + std::to_string(line_) + ", column " + std::to_string(col_) + ")";
  }

 private:
  JinjaErrorKind kind_;
  std::string message_;
  int line_;
  int col_;
};

[[noreturn]] inline void throw_runtime(std::string message) {
  throw JinjaError(JinjaErrorKind::kRuntime, std::move(message));
}

}  // namespace cyllm::jinja
