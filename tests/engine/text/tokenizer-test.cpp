// Tokenizer tests: llama.cpp's vocab test vectors (gpt-2, starcoder, llama-spm, phi-3), SmolLM2
// id vectors checked against HF tokenizers, special-token matching, end-of-generation ids,
// decode round trips (including a RapidCheck property) and the streaming UTF-8 decoder.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <atomic>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "model/gguf-reader.h"
#include "support/test-paths.h"
#include "text/pretokenize.h"
#include "text/tokenizer.h"
#include "text/utf8-stream.h"

#include "../model/gguf-writer.h"

using cyllm::GgufFile;
using cyllm::Tokenizer;

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Loads a tokenizer once per path for the whole test program. The GgufFile is closed right away:
// the tokenizer must not depend on it (ASan runs would catch a dangling reference).
const Tokenizer* load(const std::string& path) {
  static std::map<std::string, std::unique_ptr<Tokenizer>> cache;
  auto it = cache.find(path);
  if (it == cache.end()) {
    auto f = GgufFile::open(path);
    if (!f.ok()) {
      ADD_FAILURE() << path << ": " << f.error().to_string();
      return nullptr;
    }
    auto t = Tokenizer::from_gguf(f.value());
    if (!t.ok()) {
      ADD_FAILURE() << path << ": " << t.error().to_string();
      return nullptr;
    }
    it = cache.emplace(path, std::move(t.value())).first;
  }
  return it->second.get();
}

std::string ids_str(const std::vector<int32_t>& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? " " : "") + std::to_string(v[i]);
  return s;
}

#define LOAD_VOCAB(tok, name)                                                  \
  CYLLM_REQUIRE_SHARED_FILE(tok##_path, "data/vocab/ggml-vocab-" name ".gguf"); \
  const Tokenizer* tok = load(tok##_path);                                     \
  ASSERT_NE(tok, nullptr)

#define LOAD_DEFAULT_MODEL(tok)            \
  CYLLM_REQUIRE_DEFAULT_MODEL(tok##_path); \
  const Tokenizer* tok = load(tok##_path); \
  ASSERT_NE(tok, nullptr)

// ---- llama.cpp test vectors ------------------------------------------------------------------

// The .inp/.out pairs come from llama.cpp's convert_hf_to_gguf_update.py, which writes each case
// followed by "\n__ggml_vocab_test__\n" and the ids of HF `tokenizer.encode(text,
// add_special_tokens=False)`. llama.cpp's test-tokenizer-0 checks them with
// common_tokenize(ctx, text, add_special=false, parse_special=false): no BOS, special-token text
// left as plain text, and the case text used exactly as stored (nothing is prepended by the test;
// the SentencePiece vocabs add their own "▁" prefix, add_space_prefix, as HF does).
class VocabVectors : public ::testing::TestWithParam<const char*> {};

TEST_P(VocabVectors, EncodeMatchesReference) {
  std::string name = GetParam();
  CYLLM_REQUIRE_SHARED_FILE(path, "data/vocab/ggml-vocab-" + name + ".gguf");
  const Tokenizer* tok = load(path);
  ASSERT_NE(tok, nullptr);

  std::string raw = read_file(path + ".inp");
  std::vector<std::string> cases;
  const std::string sep = "\n__ggml_vocab_test__\n";
  for (size_t pos = 0; pos < raw.size();) {
    size_t next = raw.find(sep, pos);
    if (next == std::string::npos) {
      cases.push_back(raw.substr(pos));
      break;
    }
    cases.push_back(raw.substr(pos, next - pos));
    pos = next + sep.size();
  }
  std::vector<std::string> lines;
  std::istringstream out(read_file(path + ".out"));
  for (std::string line; std::getline(out, line);) lines.push_back(line);
  ASSERT_GE(cases.size(), 40u);
  ASSERT_EQ(cases.size(), lines.size());

  size_t passed = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    std::vector<int32_t> want;
    std::istringstream ls(lines[i]);
    for (int32_t id; ls >> id;) want.push_back(id);
    auto got = tok->encode(cases[i], /*add_bos=*/false, /*parse_special=*/false);
    if (got == want)
      ++passed;
    else
      ADD_FAILURE() << name << " case " << i << " '" << cases[i] << "'\n  want: " << ids_str(want)
                    << "\n  got:  " << ids_str(got);
  }
  std::printf("[ vectors  ] %s: %zu/%zu cases match\n", name.c_str(), passed, cases.size());
  EXPECT_EQ(passed, cases.size());

  // Every case decodes back to its text (the BPE vocabs byte for byte; SentencePiece too, as
  // its byte fallback covers characters the vocab lacks).
  for (size_t i = 0; i < cases.size(); ++i) {
    auto ids = tok->encode(cases[i], false, false);
    EXPECT_EQ(tok->decode(ids), cases[i]) << name << " case " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Vocabs, VocabVectors, ::testing::Values("gpt-2", "starcoder", "llama-spm", "phi-3"));

TEST(TokenizerMeta, KindsAndSpecialIds) {
  LOAD_VOCAB(gpt2, "gpt-2");
  EXPECT_EQ(gpt2->model_kind(), "gpt2");
  EXPECT_EQ(gpt2->pre_kind(), "gpt-2");
  EXPECT_EQ(gpt2->n_vocab(), 50257);
  EXPECT_EQ(gpt2->eos(), 50256);
  EXPECT_TRUE(gpt2->is_eog(50256));
  EXPECT_FALSE(gpt2->is_eog(198));
  EXPECT_FALSE(gpt2->add_bos_default());
  EXPECT_EQ(gpt2->token_text(50256), "<|endoftext|>");
  EXPECT_EQ(gpt2->find_token("Ġthe").value_or(-1), 262);
  EXPECT_FALSE(gpt2->find_token("no such token here").has_value());
  EXPECT_EQ(gpt2->token_piece(262), " the");
  EXPECT_EQ(gpt2->token_piece(198), "\n");
  EXPECT_EQ(gpt2->token_text(-1), "");
  EXPECT_EQ(gpt2->token_piece(gpt2->n_vocab()), "");

  LOAD_VOCAB(spm, "llama-spm");
  EXPECT_EQ(spm->model_kind(), "llama");
  EXPECT_TRUE(spm->add_bos_default());
  EXPECT_TRUE(spm->add_space_prefix());
  EXPECT_EQ(spm->bos(), 1);
  EXPECT_EQ(spm->eos(), 2);
  EXPECT_EQ(spm->unk(), 0);
  EXPECT_TRUE(spm->is_eog(2));
  EXPECT_TRUE(spm->is_control(1));
  EXPECT_EQ(spm->token_piece(15043), " Hello");
  EXPECT_EQ(spm->token_piece(13), "\n");  // <0x0A>
  auto ids = spm->encode("Hello world", /*add_bos=*/true, false);
  EXPECT_EQ(ids_str(ids), "1 15043 3186");
  EXPECT_EQ(spm->decode(ids, /*skip_special=*/true), "Hello world");
  EXPECT_EQ(spm->encode("", true, false), std::vector<int32_t>{1});
  EXPECT_TRUE(spm->encode("", false, false).empty());

  LOAD_VOCAB(phi3, "phi-3");
  EXPECT_EQ(phi3->eos(), 32000);
  EXPECT_TRUE(phi3->is_eog(32000));  // <|endoftext|>
  EXPECT_TRUE(phi3->is_eog(32007));  // <|end|>
  EXPECT_FALSE(phi3->is_eog(32010));  // <|user|>
  EXPECT_FALSE(phi3->chat_template().empty());
}

// ---- special tokens --------------------------------------------------------------------------

TEST(TokenizerSpecial, ParsedOnlyWhenAskedLongestFirst) {
  LOAD_VOCAB(sc, "starcoder");
  // <pr> (18) is a prefix of <pr_status> (19): the longer one must win.
  EXPECT_EQ(ids_str(sc->encode("<pr_status>", false, true)), "19");
  EXPECT_EQ(ids_str(sc->encode("<pr>", false, true)), "18");
  auto mixed = sc->encode("a<|endoftext|>b<fim_prefix>", false, true);
  ASSERT_EQ(mixed.size(), 4u);
  EXPECT_EQ(mixed[1], 0);
  EXPECT_EQ(mixed[3], 1);
  EXPECT_EQ(sc->decode(mixed), "a<|endoftext|>b<fim_prefix>");
  EXPECT_EQ(sc->decode(mixed, /*skip_special=*/true), "ab");

  // Without parse_special the same text is plain text: no control token may appear.
  auto plain = sc->encode("a<|endoftext|>b<fim_prefix><pr_status>", false, false);
  EXPECT_GT(plain.size(), 4u);
  for (int32_t id : plain) EXPECT_FALSE(sc->is_control(id)) << id;
  EXPECT_EQ(sc->decode(plain), "a<|endoftext|>b<fim_prefix><pr_status>");
}

TEST(TokenizerSpecial, SpmSpacePrefixAfterSpecial) {
  LOAD_VOCAB(phi3, "phi-3");
  // A special token restarts the text: the segment after it gets the "▁" prefix again.
  auto a = phi3->encode("<|user|>Hello<|end|>", false, true);
  EXPECT_EQ(ids_str(a), "32010 15043 32007");
  auto b = phi3->encode("<|user|>Hello<|end|>", false, false);
  for (int32_t id : b) EXPECT_FALSE(phi3->is_control(id)) << id;
}

// ---- a synthetic vocab: metadata handling and errors -----------------------------------------

std::vector<uint8_t> tiny_bpe(bool with_merges, const std::vector<int32_t>& types) {
  cyllm::test::GgufWriter w;
  w.add_string("general.architecture", "llama");
  w.add_string("tokenizer.ggml.model", "gpt2");
  w.add_string("tokenizer.ggml.pre", "gpt-2");
  w.add_string_array("tokenizer.ggml.tokens", {"a", "b", "ab", "Ġ", "Ġab", "<s>", "<x>"});
  w.add_i32_array("tokenizer.ggml.token_type", types);
  if (with_merges) w.add_string_array("tokenizer.ggml.merges", {"a b", "Ġ ab"});
  w.add_u32("tokenizer.ggml.bos_token_id", 5);
  return w.bytes();
}

TEST(TokenizerSynthetic, MergesUserDefinedAndBos) {
  auto bytes = tiny_bpe(true, {1, 1, 1, 1, 1, 3, 4});
  auto f = GgufFile::parse(bytes.data(), bytes.size());
  ASSERT_TRUE(f.ok()) << f.error().to_string();
  auto t = Tokenizer::from_gguf(f.value());
  ASSERT_TRUE(t.ok()) << t.error().to_string();
  const Tokenizer& tok = *t.value();
  EXPECT_EQ(ids_str(tok.encode("ab ab", false, false)), "2 4");
  EXPECT_EQ(ids_str(tok.encode("ab", true, false)), "5 2");
  // <x> is user-defined: matched even without parse_special; <s> is control: only with it.
  EXPECT_EQ(ids_str(tok.encode("<x>", false, false)), "6");
  EXPECT_EQ(ids_str(tok.encode("<s>", false, true)), "5");
  EXPECT_FALSE(tok.add_bos_default());
}

TEST(TokenizerSynthetic, Errors) {
  {
    auto bytes = tiny_bpe(false, {1, 1, 1, 1, 1, 3, 4});  // BPE without merges
    auto f = GgufFile::parse(bytes.data(), bytes.size());
    ASSERT_TRUE(f.ok());
    auto t = Tokenizer::from_gguf(f.value());
    ASSERT_FALSE(t.ok());
    EXPECT_EQ(t.error().code, cyllm::ErrorCode::kMalformedFile);
  }
  {
    auto bytes = tiny_bpe(true, {1, 1, 1});  // token_type shorter than tokens
    auto f = GgufFile::parse(bytes.data(), bytes.size());
    ASSERT_TRUE(f.ok());
    EXPECT_FALSE(Tokenizer::from_gguf(f.value()).ok());
  }
  {
    cyllm::test::GgufWriter w;  // no tokenizer at all
    w.add_string("general.architecture", "llama");
    auto bytes = w.bytes();
    auto f = GgufFile::parse(bytes.data(), bytes.size());
    ASSERT_TRUE(f.ok());
    auto t = Tokenizer::from_gguf(f.value());
    ASSERT_FALSE(t.ok());
    EXPECT_EQ(t.error().code, cyllm::ErrorCode::kNotFound);
  }
  {
    cyllm::test::GgufWriter w;
    w.add_string("tokenizer.ggml.model", "bert");
    w.add_string_array("tokenizer.ggml.tokens", {"a"});
    auto bytes = w.bytes();
    auto f = GgufFile::parse(bytes.data(), bytes.size());
    ASSERT_TRUE(f.ok());
    auto t = Tokenizer::from_gguf(f.value());
    ASSERT_FALSE(t.ok());
    EXPECT_EQ(t.error().code, cyllm::ErrorCode::kUnsupported);
  }
}

// ---- pre-tokenizer ---------------------------------------------------------------------------

std::string joined_split(cyllm::PreTokenizerKind kind, const std::string& text) {
  auto p = cyllm::PreTokenizer::create(kind);
  EXPECT_TRUE(p.ok());
  std::string s;
  for (auto piece : p.value().split(text)) s += "[" + std::string(piece) + "]";
  return s;
}

TEST(PreTokenizer, Regexes) {
  using K = cyllm::PreTokenizerKind;
  // \s+(?!\S): a space run before a word gives up its last space to the word.
  EXPECT_EQ(joined_split(K::kGpt2, "a   b  "), "[a][  ][ b][  ]");
  EXPECT_EQ(joined_split(K::kGpt2, "I'm 12345!"), "[I]['m][ 12345][!]");
  EXPECT_EQ(joined_split(K::kSmollm, "x 123"), "[x][ ][1][2][3]");
  EXPECT_EQ(joined_split(K::kLlama3, "I'M 12345\n\nok"), "[I]['M][ ][123][45][\n\n][ok]");
  EXPECT_EQ(joined_split(K::kQwen2, "ab 12"), "[ab][ ][1][2]");
  EXPECT_EQ(joined_split(K::kGpt2, "\xff\xfe ok"), "[\xff\xfe][ ok]");  // invalid UTF-8 survives
  bool known = true;
  EXPECT_EQ(cyllm::pre_tokenizer_kind_from_name("smollm", &known), K::kSmollm);
  EXPECT_TRUE(known);
  EXPECT_EQ(cyllm::pre_tokenizer_kind_from_name("something-new", &known), K::kGpt2);
  EXPECT_FALSE(known);
}

// ---- round trips -----------------------------------------------------------------------------

// Text made of pieces that stress the tokenizer: ASCII words, digits, whitespace runs, Chinese,
// emoji (4-byte and ZWJ sequences), accents, apostrophes.
rc::Gen<std::string> gen_text() {
  static const std::vector<std::string> atoms = {
      "a", "Z", "the", " ", "  ", "\n", "\t", "\r\n", "'s", "'", "123", "7", "中", "文字", "😀", "🦙",
      "👩‍💻", "é", "ñ", "Ω", "!", "?", ".", "<", ">", "|", "\u00a0", "\u3000", "ﬁ", "ß", "{", "}", "_", "-",
  };
  return rc::gen::map(rc::gen::container<std::vector<size_t>>(rc::gen::inRange<size_t>(0, atoms.size())),
                      [](const std::vector<size_t>& idx) {
                        std::string s;
                        for (size_t i : idx) s += atoms[i];
                        return s;
                      });
}

TEST(TokenizerRoundTrip, ByteLevelBpeProperty) {
  LOAD_VOCAB(sc, "starcoder");
  LOAD_VOCAB(gpt2, "gpt-2");
  bool ok = rc::check("decode(encode(x)) == x for byte-level BPE", [&] {
    std::string s = *gen_text();
    RC_ASSERT(sc->decode(sc->encode(s, false, false)) == s);
    RC_ASSERT(gpt2->decode(gpt2->encode(s, false, false)) == s);
  });
  EXPECT_TRUE(ok);
  // Any bytes at all, invalid UTF-8 included, with the GPT-2 vocab, which has all 256 byte
  // symbols (StarCoder's lacks a few never-valid bytes such as 0xC0 and 0xFF: those become unk).
  bool ok_bytes = rc::check("arbitrary bytes round-trip through byte-level BPE", [&] {
    std::string s = *rc::gen::arbitrary<std::string>();
    RC_ASSERT(gpt2->decode(gpt2->encode(s, false, false)) == s);
  });
  EXPECT_TRUE(ok_bytes);
  // The missing byte symbols of StarCoder's vocab map to its unk token (id 0).
  EXPECT_EQ(ids_str(sc->encode("\xFF", false, false)), "0");
}

// Tokenizer's const methods may run on several threads at once (the BPE word cache is shared).
TEST(TokenizerThreads, ConcurrentEncodeMatchesSerial) {
  LOAD_VOCAB(sc, "starcoder");
  std::vector<std::string> texts;
  for (int i = 0; i < 200; ++i)
    texts.push_back("word" + std::to_string(i * 7919) + " 中文 " + std::string(static_cast<size_t>(i % 7), ' ') + "x");
  std::vector<std::vector<int32_t>> want;
  for (const auto& t : texts) want.push_back(sc->encode(t, false, true));
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int k = 0; k < 4; ++k)
    threads.emplace_back([&, k] {
      for (int rep = 0; rep < 20; ++rep)
        for (size_t i = 0; i < texts.size(); ++i) {
          size_t j = (i * (k + 1) + rep) % texts.size();
          if (sc->encode(texts[j], false, true) != want[j]) ++mismatches;
        }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(mismatches.load(), 0);
}

// ---- streaming decode ------------------------------------------------------------------------

// Feeds ids one at a time; checks that every chunk is valid UTF-8 and the chunks add up to the
// text. Returns how many pushes returned nothing (held-back partial characters).
size_t stream_check(const Tokenizer& tok, const std::string& text) {
  auto ids = tok.encode(text, false, false);
  cyllm::StreamDecoder dec(tok);
  std::string all;
  size_t held = 0;
  for (int32_t id : ids) {
    std::string chunk = dec.push(id);
    EXPECT_TRUE(cyllm::is_valid_utf8(chunk)) << "chunk after id " << id;
    if (chunk.empty()) ++held;
    all += chunk;
  }
  EXPECT_EQ(dec.pending_bytes(), 0u);
  all += dec.flush();
  EXPECT_EQ(all, text);
  return held;
}

TEST(StreamDecoder, NeverEmitsPartialCharacters) {
  LOAD_VOCAB(gpt2, "gpt-2");
  LOAD_VOCAB(spm, "llama-spm");
  const std::string texts[] = {"我想在apple工作1314151天～", "🚀 (normal) 😶‍🌫️ ✅ done", "កាន់តែពិសេស", "plain ascii"};
  size_t held_gpt2 = 0;
  for (const auto& t : texts) {
    held_gpt2 += stream_check(*gpt2, t);
    stream_check(*spm, t);
  }
  // The GPT-2 vocab splits these characters across byte tokens, so some pushes must wait.
  EXPECT_GT(held_gpt2, 0u);

  // A character cut off at the end comes out as U+FFFD on flush, never as raw bytes.
  auto ids = gpt2->encode("😀", false, false);
  ASSERT_GE(ids.size(), 2u);
  cyllm::StreamDecoder dec(*gpt2);
  EXPECT_EQ(dec.push(ids[0]), "");
  EXPECT_GT(dec.pending_bytes(), 0u);
  EXPECT_EQ(dec.flush(), "\xEF\xBF\xBD");
  EXPECT_EQ(dec.pending_bytes(), 0u);
}

TEST(StreamDecoder, PropertyValidChunks) {
  LOAD_VOCAB(sc, "starcoder");
  bool ok = rc::check("stream chunks are valid UTF-8 and add up to the text", [&] {
    std::string s = *gen_text();
    auto ids = sc->encode(s, false, false);
    cyllm::StreamDecoder dec(*sc);
    std::string all;
    for (int32_t id : ids) {
      std::string c = dec.push(id);
      RC_ASSERT(cyllm::is_valid_utf8(c));
      all += c;
    }
    all += dec.flush();
    RC_ASSERT(all == s);
  });
  EXPECT_TRUE(ok);
}

TEST(Utf8, ValidateAndSanitize) {
  EXPECT_TRUE(cyllm::is_valid_utf8("héllo 中 😀"));
  EXPECT_FALSE(cyllm::is_valid_utf8("\xC0\xAF"));          // overlong
  EXPECT_FALSE(cyllm::is_valid_utf8("\xED\xA0\x80"));      // surrogate
  EXPECT_FALSE(cyllm::is_valid_utf8("\xF4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(cyllm::is_valid_utf8("\xE4\xB8"));          // cut short
  EXPECT_EQ(cyllm::sanitize_utf8("a\xE4\xB8z"), "a\xEF\xBF\xBDz");
  EXPECT_EQ(cyllm::sanitize_utf8("\xFF"), "\xEF\xBF\xBD");
  EXPECT_EQ(cyllm::sanitize_utf8("ok"), "ok");
}

// ---- SmolLM2 (the default model) -------------------------------------------------------------

// Ids checked against HF tokenizers built from this file's vocab and merges (Digits(individual)
// + ByteLevel pre-tokenizer, as transformers converts it).
TEST(SmolLM2, ReferenceIds) {
  LOAD_DEFAULT_MODEL(tok);
  EXPECT_EQ(tok->pre_kind(), "smollm");
  EXPECT_EQ(ids_str(tok->encode("The capital of France is", false, true)), "504 3575 282 4649 314");
  EXPECT_EQ(ids_str(tok->encode("Hello world! 123", false, true)), "19556 905 17 216 33 34 35");
  EXPECT_EQ(ids_str(tok->encode("Hello, we can use", false, true)), "19556 28 392 416 722");
  EXPECT_EQ(ids_str(tok->encode("\n", false, true)), "198");
  EXPECT_EQ(ids_str(tok->encode("<|im_start|>user\nhi<|im_end|>", false, true)), "1 4093 198 6004 2");
  EXPECT_FALSE(tok->add_bos_default());
  EXPECT_EQ(tok->bos(), 1);
  EXPECT_EQ(tok->eos(), 2);
  EXPECT_TRUE(tok->is_eog(2));  // <|im_end|>
  EXPECT_TRUE(tok->is_eog(0));  // <|endoftext|>
  EXPECT_FALSE(tok->is_eog(1));
}

}  // namespace
