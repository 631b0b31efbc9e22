// Reading and validating the fields of a JSON request object, shared by the OpenAI endpoints
// (openai-protocol.cpp) and the utility endpoints (utility-protocol.cpp). Private to app/server.
#pragma once

#include <cmath>
#include <cstdio>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "server/api-error.h"

namespace cyllm::server::detail {

using ojson = nlohmann::ordered_json;

// Reads the fields of one request object, validating each; the first problem is kept. Fields
// never read are reported as ignored.
class Reader {
 public:
  explicit Reader(const ojson& j) : j_(j) {}

  bool ok() const { return !err_.has_value(); }
  const ApiError& error() const { return *err_; }
  void fail(ApiError e) {
    if (!err_) err_ = std::move(e);
  }
  const ojson* get(const std::string& key) {
    used_.insert(key);
    auto it = j_.find(key);
    if (it == j_.end() || it->is_null()) return nullptr;
    return &*it;
  }
  std::optional<double> number(const std::string& key, double lo, double hi, bool lo_open = false) {
    const ojson* v = get(key);
    if (!v) return std::nullopt;
    if (!v->is_number()) {
      fail(invalid_param(key, "must be a number"));
      return std::nullopt;
    }
    const double x = v->get<double>();
    if (!std::isfinite(x) || x > hi || (lo_open ? x <= lo : x < lo)) {
      fail(invalid_param(key, "must be " + std::string(lo_open ? "greater than " : "at least ") + fmt(lo) +
                                  " and at most " + fmt(hi) + ", got " + fmt(x)));
      return std::nullopt;
    }
    return x;
  }
  std::optional<int64_t> integer(const std::string& key, int64_t lo, int64_t hi) {
    const ojson* v = get(key);
    if (!v) return std::nullopt;
    if (!v->is_number_integer()) {
      fail(invalid_param(key, "must be an integer"));
      return std::nullopt;
    }
    const int64_t x = v->is_number_unsigned() && v->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)
                          ? INT64_MAX
                          : v->get<int64_t>();
    if (x < lo || x > hi) {
      fail(invalid_param(key, "must be between " + std::to_string(lo) + " and " + std::to_string(hi) + ", got " +
                                  v->dump()));
      return std::nullopt;
    }
    return x;
  }
  std::optional<bool> boolean(const std::string& key) {
    const ojson* v = get(key);
    if (!v) return std::nullopt;
    if (!v->is_boolean()) {
      fail(invalid_param(key, "must be true or false"));
      return std::nullopt;
    }
    return v->get<bool>();
  }
  std::optional<std::string> string(const std::string& key) {
    const ojson* v = get(key);
    if (!v) return std::nullopt;
    if (!v->is_string()) {
      fail(invalid_param(key, "must be a string"));
      return std::nullopt;
    }
    return v->get<std::string>();
  }
  std::vector<std::string> unused() const {
    std::vector<std::string> out;
    for (auto it = j_.begin(); it != j_.end(); ++it)
      if (!used_.count(it.key())) out.push_back(it.key());
    return out;
  }
  static std::string fmt(double x) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", x);
    return buf;
  }

 private:
  const ojson& j_;
  std::set<std::string> used_;
  std::optional<ApiError> err_;
};

// A request body as a JSON object, or the 400 that says why it is not one.
std::optional<ojson> parse_object(std::string_view body, ApiError* err);

// The "messages" field: required, a non-empty list; roles system, developer, user, assistant,
// tool; content a string or a list of text parts (joined with "\n", as vLLM does); tool_calls on
// assistant messages; name and tool_call_id strings. Returns the normalised list.
ojson read_messages(Reader& r);

}  // namespace cyllm::server::detail
