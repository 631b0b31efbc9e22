#include "core/status.h"

namespace cyllm {

std::string_view error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return "invalid_argument";
    case ErrorCode::kNotFound: return "not_found";
    case ErrorCode::kIoError: return "io_error";
    case ErrorCode::kMalformedFile: return "malformed_file";
    case ErrorCode::kUnsupported: return "unsupported";
    case ErrorCode::kOutOfRange: return "out_of_range";
    case ErrorCode::kOutOfMemory: return "out_of_memory";
    case ErrorCode::kTimeout: return "timeout";
    case ErrorCode::kCancelled: return "cancelled";
    case ErrorCode::kInternal: return "internal";
  }
  return "internal";
}

std::string_view error_code_default_suggestion(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return "Check the arguments against `cyllm --help`.";
    case ErrorCode::kNotFound: return "Check the path or name; `scripts/fetch-model.sh` fetches the default model.";
    case ErrorCode::kIoError: return "Check that the file exists, is readable and that the disk is not full.";
    case ErrorCode::kMalformedFile: return "The file is damaged or not of the expected kind; download or export it again.";
    case ErrorCode::kUnsupported: return "Use a supported model architecture or tensor type (see `cyllm info`).";
    case ErrorCode::kOutOfRange: return "Use a value inside the allowed range.";
    case ErrorCode::kOutOfMemory: return "Use a smaller context or batch, or a more strongly quantized model.";
    case ErrorCode::kTimeout: return "Raise the timeout or send less work per request.";
    case ErrorCode::kCancelled: return "The work was cancelled; start it again if that was not intended.";
    case ErrorCode::kInternal: return "This is a bug; please report it with the command that triggered it.";
  }
  return {};
}

std::string Error::to_string() const {
  std::string out = message;
  std::string_view hint = suggestion.empty() ? error_code_default_suggestion(code) : std::string_view(suggestion);
  if (!hint.empty()) {
    out += " (";
    out += hint;
    out += ")";
  }
  return out;
}

}  // namespace cyllm
