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
  // Reference: earliest position of any stop string.
  size_t cut = std::string::npos;
  for (const auto& s : stops) {
    size_t at = text.find(s);
    if (at != std::string::npos && (cut == std::string::npos || at < cut)) cut = at;
  }
  const std::string expect = cut == std::string::npos ? text : text.substr(0, cut);

  StopMatcher m(stops);
  std::string out;
  size_t pos = 0;
  while (pos < text.size() && !m.stopped()) {
    const size_t n = *rc::gen::inRange<size_t>(1, 6);
    std::string piece = text.substr(pos, n);
    pos += piece.size();
    std::string emitted = m.push(piece);
    out += emitted;
    RC_ASSERT(expect.compare(0, out.size(), out) == 0);  // never emits beyond the answer
  }
  out += m.flush();
  RC_ASSERT(out == expect);
  RC_ASSERT(m.stopped() == (cut != std::string::npos));
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
