// One error type for the whole project: a code from one catalog, a message that says what went
// wrong, and a suggestion that says what to do next. Errors travel as values (Result<T>), never as
// exceptions across threads.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <optional>

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

// Holds a T or an Error. (Not std::variant: clang 14 with libstdc++ 12 under UBSan reports a false
// "unreachable" inside variant's destructor for some payloads, which would break the fuzz build.)
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}       // NOLINT(google-explicit-constructor)
  Result(Error error) : error_(std::move(error)) {}   // NOLINT(google-explicit-constructor)

  bool ok() const { return value_.has_value(); }
  explicit operator bool() const { return ok(); }
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() & { return *value_; }
  const T& operator*() const& { return *value_; }
  T&& operator*() && { return std::move(*value_); }
  const Error& error() const { return error_; }

 private:
  std::optional<T> value_;
  Error error_;
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
