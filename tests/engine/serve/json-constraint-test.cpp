// The token mask of the JSON constraint is exactly the set of tokens a brute-force check allows
// (feed each token's bytes into a copy of the state), on random small vocabularies and on the
// default model's real one; plus the mask's cost per step on the real vocabulary.
#include "serve/json-constraint.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdio>

#include "json-test-util.h"
#include "support/default-model.h"
#include "support/test-paths.h"
#include "text/tokenizer.h"

namespace cyllm {
namespace {

// The definition the fast mask must match.
bool brute_allowed(const JsonVocab& v, const JsonState& s, int32_t id) {
  switch (v.kind(id)) {
    case JsonTokenKind::kText: {
      if (s.complete() || v.bytes(id).empty()) return false;
      JsonState copy = s;
      return copy.feed(v.bytes(id));
    }
    case JsonTokenKind::kEog:
      return s.complete();
    default:
      return false;
  }
}

// Compares the cached and uncached masks with the brute force; returns the allowed ids.
std::vector<int32_t> check_mask(const JsonVocab& v, const JsonState& s) {
  const TokenMask fresh = v.compute_allowed(s);
  const auto cached = v.allowed(s);
  std::vector<int32_t> ids;
  for (int32_t id = 0; id < v.n_vocab(); ++id) {
    const bool want = brute_allowed(v, s, id);
    RC_ASSERT(fresh.test(id) == want);
    RC_ASSERT(cached->test(id) == want);
    if (want) ids.push_back(id);
  }
  RC_ASSERT(fresh.count == static_cast<int>(ids.size()));
  RC_ASSERT(cached->count == static_cast<int>(ids.size()));
  return ids;
}

// A small random vocabulary: every interesting single byte, structural pieces real tokenizers
// have, random strings over the interesting bytes, duplicates, an empty token, two EOG tokens,
// and control tokens (one whose text is "{", which must still never be allowed).
std::shared_ptr<const JsonVocab> random_vocab() {
  std::vector<std::string> bytes;
  std::vector<JsonTokenKind> kinds;
  auto add = [&](std::string b, JsonTokenKind k) {
    bytes.push_back(std::move(b));
    kinds.push_back(k);
  };
  for (char c : test::interesting_bytes()) add(std::string(1, c), JsonTokenKind::kText);
  for (const char* p : {"{\"", "\":", "\": \"", "\",", "\"}", "}}", "]}", "},{", "}\n", " true", "null", "false,",
                        "\\u", "D83D", "\\uDE00", "\\n", "\xF0\x9F", "\x98\x80", "\xC3\xA9", "  ", "\n  ", "1.5e", "-0",
                        "00", "[[", "]]", "[{", "\"a\"", "abc", " {"})
    add(p, JsonTokenKind::kText);
  const std::string& alpha = test::interesting_bytes();
  const int n_random = *rc::gen::inRange(0, 120);
  for (int i = 0; i < n_random; ++i) {
    const auto idx = *rc::gen::container<std::vector<size_t>>(static_cast<size_t>(*rc::gen::inRange(2, 7)),
                                                              rc::gen::inRange<size_t>(0, alpha.size()));
    std::string s;
    for (size_t k : idx) s += alpha[k];
    add(s, JsonTokenKind::kText);
  }
  add(bytes[5], JsonTokenKind::kText);  // the same bytes under two ids
  add(bytes[bytes.size() - 2], JsonTokenKind::kText);
  add("", JsonTokenKind::kText);  // an empty piece: never allowed
  add("<|end|>", JsonTokenKind::kEog);
  add("", JsonTokenKind::kEog);
  add("<|im_start|>", JsonTokenKind::kNever);
  add("{", JsonTokenKind::kNever);
  // Shuffle ids so trie order and id order differ.
  const auto perm = *rc::gen::arbitrary<std::vector<uint32_t>>();
  for (size_t i = 0; i + 1 < bytes.size() && i < perm.size(); ++i) {
    const size_t j = i + perm[i] % (bytes.size() - i);
    std::swap(bytes[i], bytes[j]);
    std::swap(kinds[i], kinds[j]);
  }
  return std::make_shared<const JsonVocab>(std::move(bytes), std::move(kinds));
}

RC_GTEST_PROP(JsonConstraint, MaskEqualsBruteForceAlongValidDocuments, ()) {
  const auto vocab = random_vocab();
  const std::string doc = test::random_document();
  JsonState s;
  check_mask(*vocab, s);
  for (char c : doc) {
    RC_ASSERT(s.feed_byte(static_cast<unsigned char>(c)));
    check_mask(*vocab, s);
  }
  RC_ASSERT(s.complete());
}

// Random walks: each step samples one allowed token and feeds it, through JsonConstraint, under
// a small depth limit so that the limit is reached.
RC_GTEST_PROP(JsonConstraint, MaskEqualsBruteForceOnRandomWalks, ()) {
  const auto vocab = random_vocab();
  const int max_depth = *rc::gen::inRange(1, 5);
  JsonConstraint c(vocab, max_depth);
  const int steps = *rc::gen::inRange(1, 80);
  for (int i = 0; i < steps; ++i) {
    const auto ids = check_mask(*vocab, c.state());
    if (ids.empty()) break;
    const int32_t pick = ids[*rc::gen::inRange<size_t>(0, ids.size())];
    if (c.complete()) {
      RC_ASSERT(vocab->kind(pick) == JsonTokenKind::kEog);
      RC_ASSERT(c.accept(pick));
      break;
    }
    RC_ASSERT(c.accept(pick));
    RC_ASSERT(c.state().depth() <= max_depth);
  }
  RC_CLASSIFY(c.complete(), "completed");
  RC_CLASSIFY(c.state().depth() == max_depth, "at the depth limit");
  // mask_logits sets exactly the disallowed logits to -inf.
  std::vector<float> logits(static_cast<size_t>(vocab->n_vocab()), 1.0f);
  const int allowed = c.mask_logits(logits);
  int finite = 0;
  for (int32_t id = 0; id < vocab->n_vocab(); ++id) {
    const bool ok = std::isfinite(logits[static_cast<size_t>(id)]);
    RC_ASSERT(ok == brute_allowed(*vocab, c.state(), id));
    finite += ok;
  }
  RC_ASSERT(finite == allowed);
}

TEST(JsonConstraint, DisallowedTokenFailsTheState) {
  auto vocab = std::make_shared<const JsonVocab>(std::vector<std::string>{"{", "}", "x", "<eos>"},
                                                 std::vector<JsonTokenKind>{JsonTokenKind::kText, JsonTokenKind::kText,
                                                                            JsonTokenKind::kText, JsonTokenKind::kEog});
  JsonConstraint c(vocab);
  EXPECT_FALSE(c.accept(3)) << "EOG before the object is complete";
  EXPECT_TRUE(c.state().failed());
  JsonConstraint d(vocab);
  EXPECT_TRUE(d.accept(0));
  EXPECT_TRUE(d.accept(1));
  EXPECT_TRUE(d.complete());
  EXPECT_FALSE(JsonConstraint(d).accept(0)) << "after completion only EOG";
  EXPECT_TRUE(d.accept(3));
}

#define REQUIRE_MODEL()                     \
  CYLLM_REQUIRE_DEFAULT_MODEL(model_path_); \
  test::DefaultModel& L = test::default_model();

// On the real vocabulary: special tokens are classified, and the mask equals the brute force at
// every byte of a document with strings, escapes, numbers, literals and nesting.
TEST(JsonConstraintRealVocab, MaskEqualsBruteForce) {
  REQUIRE_MODEL();
  const auto t0 = std::chrono::steady_clock::now();
  const auto vocab = JsonVocab::from_tokenizer(*L.tok, L.model->config().n_vocab);
  const double build_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  std::printf("vocab %d tokens, trie %zu nodes, built in %.1f ms\n", vocab->n_vocab(), vocab->trie_nodes(), build_ms);
  for (int32_t id : L.tok->eog_ids()) EXPECT_EQ(vocab->kind(id), JsonTokenKind::kEog) << id;
  if (auto im_start = L.tok->find_token("<|im_start|>")) EXPECT_EQ(vocab->kind(*im_start), JsonTokenKind::kNever);

  const std::string doc = " {\"name\": \"Tom \\u00e9\\n\xC3\xA9\", \"age\": -3.5e+2, \"ok\": [true, false, null, {}],\n \"o\": {\"a\": [[0]]}}";
  JsonState s;
  for (size_t i = 0; i <= doc.size(); ++i) {
    const TokenMask m = vocab->compute_allowed(s);
    int count = 0;
    for (int32_t id = 0; id < vocab->n_vocab(); ++id) {
      const bool want = brute_allowed(*vocab, s, id);
      count += want;
      if (m.test(id) != want) {
        ADD_FAILURE() << "token " << id << " '" << test::escaped(vocab->bytes(id)) << "' after '" << test::escaped(doc.substr(0, i)) << "'";
        return;
      }
    }
    EXPECT_EQ(m.count, count);
    EXPECT_GT(count, 0) << "a dead end after '" << doc.substr(0, i) << "'";
    if (i < doc.size()) ASSERT_TRUE(s.feed_byte(static_cast<unsigned char>(doc[i])));
  }
  ASSERT_TRUE(s.complete());
  EXPECT_EQ(vocab->compute_allowed(s).count, static_cast<int>(L.tok->eog_ids().size()));
}

// The cost of a mask on the real vocabulary: computed (a cache miss) and looked up, over the
// states of a typical document. Prints the numbers; asserts only that the cache gives the same
// masks (timings on a shared machine are not pass/fail material).
TEST(JsonConstraintRealVocab, MaskCost) {
  REQUIRE_MODEL();
  const auto vocab = JsonVocab::from_tokenizer(*L.tok, L.model->config().n_vocab);
  const std::string doc = "{\"name\": \"Whiskers\", \"age\": 3, \"color\": \"gray and white\", \"tags\": [\"cute\", \"lazy\"], \"owner\": {\"id\": 12}}";
  std::vector<JsonState> states;
  JsonState s;
  for (char c : doc) {
    states.push_back(s);
    ASSERT_TRUE(s.feed_byte(static_cast<unsigned char>(c)));
  }
  using clock = std::chrono::steady_clock;
  double miss_ms = 0, worst_ms = 0;
  for (const auto& st : states) {
    const auto t = clock::now();
    const TokenMask m = vocab->compute_allowed(st);
    const double ms = std::chrono::duration<double, std::milli>(clock::now() - t).count();
    miss_ms += ms;
    worst_ms = std::max(worst_ms, ms);
    ASSERT_EQ(vocab->allowed(st)->bits, m.bits);
  }
  std::vector<float> logits(static_cast<size_t>(vocab->n_vocab()));
  const auto t = clock::now();
  const int reps = 20;
  for (int r = 0; r < reps; ++r)
    for (const auto& st : states) {
      JsonConstraint c(vocab, st);
      c.mask_logits(logits);
    }
  const double hit_ms = std::chrono::duration<double, std::milli>(clock::now() - t).count() / (reps * states.size());
  std::printf("mask over %zu states: computed %.3f ms mean, %.3f ms worst; cached lookup + applying to logits %.4f ms\n",
              states.size(), miss_ms / states.size(), worst_ms, hit_ms);
  const JsonMaskStats st = vocab->stats();
  EXPECT_GT(st.hits, 0u);
}

}  // namespace
}  // namespace cyllm
