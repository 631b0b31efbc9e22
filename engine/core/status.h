// One error type for the whole project: a code from one catalog, a message that says what went
// wrong, and a suggestion that says what to do next. Errors travel as values (Result<T>), never as
// exceptions across threads.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace cyllm {

enum class ErrorCode {
  kInvalidArgument,   // a caller passed something malformed
  kNotFound,          // a file, key, tensor or id does not exist
  kIoError,           // the OS refused a read/write/map
  kMalformedFile,     // a model/dataset/config file is corrupt or not what it claims
  kUnsupported,       // valid input we do not handle (yet)
  kOutOfRange,        // a value outside its allowed range (context length, token id, ...)
  kOutOfMemory,       // an allocation failed
  kTimeout,
  kCancelled,
  kInternal,
};

// Stable catalog name of a code, e.g. "malformed_file".
std::string_view error_code_name(ErrorCode code);
// Generic advice for a code; specific errors supply their own suggestion instead.
std::string_view error_code_default_suggestion(ErrorCode code);

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
  std::string suggestion;  // empty: use error_code_default_suggestion(code)

  // "message (suggestion)" for terminals and logs.
  std::string to_string() const;
};

inline Error make_error(ErrorCode code, std::string message, std::string suggestion = {}) {
  return Error{code, std::move(message), std::move(suggestion)};
}

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}            // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}        // NOLINT(google-explicit-constructor)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &std::get<0>(v_); }
  const T* operator->() const { return &std::get<0>(v_); }
  T& operator*() & { return std::get<0>(v_); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

// Result<void>: success or an Error.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error error) : err_(std::move(error)), has_err_(true) {}  // NOLINT
  static Status Ok() { return {}; }
  bool ok() const { return !has_err_; }
  explicit operator bool() const { return ok(); }
  const Error& error() const { return err_; }

 private:
  Error err_;
  bool has_err_ = false;
};

}  // namespace cyllm
