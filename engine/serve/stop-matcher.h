// Stop strings over streamed text. Text is released only once it can no longer be the start of a
// stop string, so a client never sees part of a stop sequence. Generation ends after the first
// pushed chunk (token) at which the text so far contains a stop string; the output is the text
// before the earliest occurrence of any stop string in it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace cyllm {

class StopMatcher {
 public:
  explicit StopMatcher(std::vector<std::string> stops);

  // Adds newly decoded text; returns the text that is safe to emit now.
  std::string push(std::string_view text);
  // True once a stop string has been seen; everything from it on is dropped.
  bool stopped() const { return stopped_; }
  const std::string& matched() const { return matched_; }
  // Releases the held-back tail at the end of generation (no stop string followed).
  std::string flush();

 private:
  std::vector<std::string> stops_;
  std::string pending_;
  bool stopped_ = false;
  std::string matched_;
};

}  // namespace cyllm
