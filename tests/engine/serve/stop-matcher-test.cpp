// StopMatcher: whatever the chunking, the emitted text is exactly the text before the first stop
// string (or all of it), and nothing of a stop string is ever emitted.
#include "serve/stop-matcher.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

namespace cyllm {
namespace {

// Small alphabet so stop strings actually occur.
rc::Gen<std::string> small_text(int max_len) {
  return rc::gen::container<std::string>(rc::gen::element('a', 'b', 'c', '\n'));
}

RC_GTEST_PROP(StopMatcher, OutputIsTextBeforeFirstStop, ()) {
  const std::string text = *small_text(40);
  auto stops = *rc::gen::container<std::vector<std::string>>(rc::gen::nonEmpty(small_text(4)));
  // The chunks (tokens) the text arrives in.
  std::vector<std::string> chunks;
  for (size_t pos = 0; pos < text.size();) {
    const size_t n = *rc::gen::inRange<size_t>(1, 6);
    chunks.push_back(text.substr(pos, n));
    pos += chunks.back().size();
  }
  // Reference, from the definition: generation stops after the first chunk at which the text so
  // far contains a stop string; the output is the text before the earliest occurrence in it.
  std::string expect = text;
  bool stopped = false;
  std::string so_far;
  for (const auto& c : chunks) {
    so_far += c;
    size_t cut = std::string::npos;
    for (const auto& st : stops) cut = std::min(cut, so_far.find(st));
    if (cut != std::string::npos) {
      expect = so_far.substr(0, cut);
      stopped = true;
      break;
    }
  }

  StopMatcher m(stops);
  std::string out;
  for (const auto& c : chunks) {
    if (m.stopped()) break;
    out += m.push(c);
    RC_ASSERT(expect.compare(0, out.size(), out) == 0);  // never emits beyond the answer
  }
  out += m.flush();
  RC_ASSERT(out == expect);
  RC_ASSERT(m.stopped() == stopped);
}

TEST(StopMatcher, HoldsBackAPossibleStopPrefix) {
  StopMatcher m({"</end>"});
  EXPECT_EQ(m.push("hello </"), "hello ");
  EXPECT_EQ(m.push("en"), "");
  EXPECT_EQ(m.push("x"), "</enx");
  EXPECT_EQ(m.push(" bye </end> more"), " bye ");
  EXPECT_TRUE(m.stopped());
  EXPECT_EQ(m.matched(), "</end>");
  EXPECT_EQ(m.flush(), "");
}

}  // namespace
}  // namespace cyllm
