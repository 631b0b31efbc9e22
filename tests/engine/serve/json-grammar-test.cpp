// The incremental JSON checker against nlohmann::json as the oracle: every prefix of a valid
// object is accepted (in any split), the end is complete, and for mutated or random bytes the
// checker's verdict (all fed and complete) equals nlohmann's.
#include "serve/json-grammar.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>

#include "json-test-util.h"

namespace cyllm {
namespace {

bool checker_accepts(const std::string& s, int max_depth = JsonState::kDefaultMaxDepth) {
  JsonState st(max_depth);
  return st.feed(s) && st.complete();
}

RC_GTEST_PROP(JsonGrammar, ValidObjectsAreAcceptedAtEveryPrefix, ()) {
  const std::string doc = test::random_document();
  RC_PRE(test::oracle_is_object(doc));  // the generator only makes objects; this documents it
  // Byte by byte: never rejected, complete exactly at the end (dump writes no trailing space).
  JsonState st;
  for (size_t i = 0; i < doc.size(); ++i) {
    RC_ASSERT(!st.complete());
    RC_ASSERT(st.feed_byte(static_cast<unsigned char>(doc[i])));
  }
  RC_ASSERT(st.complete());
  // In random chunks through feed().
  auto cuts = *rc::gen::container<std::vector<size_t>>(rc::gen::inRange<size_t>(0, doc.size() + 1));
  cuts.push_back(doc.size());
  std::sort(cuts.begin(), cuts.end());
  JsonState chunked;
  size_t at = 0;
  for (size_t c : cuts) {
    RC_ASSERT(chunked.feed(doc.substr(at, c - at)));
    at = c;
    RC_ASSERT(chunked.complete() == (at == doc.size()));
  }
  RC_ASSERT(chunked == st);
  // Trailing whitespace keeps it complete; anything else after the object does not.
  RC_ASSERT(chunked.feed(" \n\t\r"));
  RC_ASSERT(chunked.complete());
  RC_ASSERT(!chunked.feed("x"));
}

RC_GTEST_PROP(JsonGrammar, MutationsAgreeWithTheOracle, ()) {
  const std::string doc = test::mutate(test::random_document());
  RC_LOG() << test::escaped(doc) << "\n";
  const auto verdict = test::oracle_verdict(doc);
  RC_PRE(verdict.has_value());  // number overflow: see oracle_verdict
  RC_TAG(*verdict ? "valid" : "invalid");
  RC_ASSERT(checker_accepts(doc) == *verdict);
}

RC_GTEST_PROP(JsonGrammar, RandomBytesAgreeWithTheOracle, ()) {
  const std::string& alpha = test::interesting_bytes();
  const auto idx = *rc::gen::container<std::vector<size_t>>(rc::gen::inRange<size_t>(0, alpha.size()));
  std::string s = "{\"k\":";  // start inside an object, so the random tail is tested further than '{'
  for (size_t i : idx) s += alpha[i];
  RC_LOG() << test::escaped(s) << "\n";
  const auto verdict = test::oracle_verdict(s);
  RC_PRE(verdict.has_value());
  RC_ASSERT(checker_accepts(s) == *verdict);
}

// A failed feed is final.
RC_GTEST_PROP(JsonGrammar, FailureIsSticky, ()) {
  const std::string doc = test::mutate(test::random_document());
  JsonState st;
  if (st.feed(doc)) return;
  RC_ASSERT(st.failed());
  RC_ASSERT(!st.feed(" "));
  RC_ASSERT(!st.feed("{}"));
  RC_ASSERT(!st.complete());
}

TEST(JsonGrammar, Examples) {
  struct Case {
    const char* text;
    bool valid;
  };
  const Case cases[] = {
      {"{}", true},
      {"  \n{ }\n ", true},
      {"[]", false},                       // the top-level value must be an object
      {"\"x\"", false},
      {"{\"a\":1,}", false},
      {"{\"a\" 1}", false},
      {"{\"a\":-0.5e+10}", true},
      {"{\"a\":[0,-0,0.0e-0,1E+2]}", true},
      {"{\"a\":01}", false},
      {"{\"a\":1.}", false},
      {"{\"a\":.5}", false},
      {"{\"a\":-}", false},
      {"{\"a\":1e}", false},
      {"{\"a\":[true,false,null]}", true},
      {"{\"a\":tru}", false},
      {"{\"a\":\"\\uD83D\\uDE00\"}", true},  // a surrogate pair
      {"{\"a\":\"\\uD83D\"}", false},        // a lone high surrogate
      {"{\"a\":\"\\uDE00\"}", false},        // a lone low surrogate
      {"{\"a\":\"\\uD83D\\u0041\"}", false},
      {"{\"a\":\"\\u00e9\\/\\b\\f\\n\\r\\t\"}", true},
      {"{\"a\":\"\\x\"}", false},
      {"{\"a\":\"tab\there\"}", false},      // raw control characters are not allowed in strings
      {"{\"a\":\"\xC3\xA9\"}", true},
      {"{\"a\":\"\xC0\xAF\"}", false},       // overlong
      {"{\"a\":\"\xED\xA0\x80\"}", false},   // a UTF-8-encoded surrogate
      {"{\"a\":\"\xF4\x90\x80\x80\"}", false},  // above U+10FFFF
      {"{\"a\":\"\xF0\x9F\x98\x80\"}", true},
      {"{} {}", false},
      {"\xEF\xBB\xBF{}", false},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(checker_accepts(c.text), c.valid) << c.text;
    EXPECT_EQ(test::oracle_is_object(c.text), c.valid) << "oracle disagrees with the table: " << c.text;
  }
}

// Numbers are checked by syntax only (RFC 8259 leaves ranges to implementations): 1e999 is
// accepted, though nlohmann::json refuses to parse it (Python's json reads inf).
TEST(JsonGrammar, NumberRangeIsNotChecked) {
  EXPECT_TRUE(checker_accepts("{\"a\":1e999}"));
  EXPECT_FALSE(test::oracle_verdict("{\"a\":1e999}").has_value());
}

TEST(JsonGrammar, DepthLimit) {
  EXPECT_TRUE(checker_accepts("{\"a\":[{}]}", 3));
  EXPECT_FALSE(checker_accepts("{\"a\":[[{}]]}", 3));
  JsonState st(2);
  EXPECT_TRUE(st.feed("{\"a\":["));
  EXPECT_EQ(st.depth(), 2);
  EXPECT_FALSE(st.feed("["));
  EXPECT_FALSE(checker_accepts("{\"a\":" + std::string(64, '[') + std::string(64, ']') + "}", 64))
      << "65 levels exceed the 64-level limit";
  EXPECT_TRUE(checker_accepts("{\"a\":" + std::string(63, '[') + std::string(63, ']') + "}", 64));
}

TEST(JsonGrammar, EqualStatesCompareAndHashEqual) {
  JsonState a, b;
  ASSERT_TRUE(a.feed("{\"x\":\"\\u00e9"));
  ASSERT_TRUE(b.feed("{ \"yy\" : \"ab"));
  EXPECT_EQ(a, b);  // both inside a value string at depth 1
  EXPECT_EQ(a.hash(), b.hash());
  ASSERT_TRUE(a.feed("\",\"k\":[1"));
  ASSERT_TRUE(b.feed("\",\"k\":[1,2]"));
  EXPECT_FALSE(a == b);
}

}  // namespace
}  // namespace cyllm
