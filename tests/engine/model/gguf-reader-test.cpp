#include "model/gguf-reader.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>

#include "gguf-writer.h"
#include "support/test-paths.h"

namespace cyllm {
namespace {

std::vector<uint8_t> small_file() {
  test::GgufWriter w;
  w.add_string("general.architecture", "llama");
  w.add_u32("llama.block_count", 2);
  w.add_f32("llama.rope.freq_base", 10000.0f);
  w.add_string_array("tokenizer.ggml.tokens", {"a", "b", "\xe4\xb8\xad"});
  w.add_i32_array("tokenizer.ggml.token_type", {1, 1, 3});
  std::vector<uint8_t> f32(4 * 8 * 4, 0);
  w.add_tensor("w0", {8, 4}, 0, f32);
  std::vector<uint8_t> q(34 * 2, 0);  // two Q8_0 blocks: one row of 64
  w.add_tensor("w1", {64}, 8, q);
  return w.bytes();
}

TEST(GgufReader, ParsesMetadataAndTensors) {
  auto bytes = small_file();
  auto f = GgufFile::parse(bytes.data(), bytes.size());
  ASSERT_TRUE(f.ok()) << f.error().to_string();
  EXPECT_EQ(f->version(), 3u);
  EXPECT_EQ(f->get_string("general.architecture"), "llama");
  EXPECT_EQ(f->get_int("llama.block_count"), 2);
  EXPECT_DOUBLE_EQ(*f->get_float("llama.rope.freq_base"), 10000.0);
  const GgufArray* toks = f->get_array("tokenizer.ggml.tokens");
  ASSERT_NE(toks, nullptr);
  ASSERT_EQ(toks->items.size(), 3u);
  EXPECT_EQ(*toks->items[2].as_string(), "\xe4\xb8\xad");
  ASSERT_EQ(f->tensors().size(), 2u);
  const auto* w1 = f->find_tensor("w1");
  ASSERT_NE(w1, nullptr);
  EXPECT_EQ(w1->nbytes, 68u);
  EXPECT_EQ(w1->ne[0], 64);
  EXPECT_EQ(f->data_offset() % 32, 0u);
  EXPECT_EQ(w1->data, bytes.data() + f->data_offset() + w1->offset);
}

// Every way of breaking a file gives a malformed_file error, never a crash.
TEST(GgufReader, RejectsTruncationAtEveryByte) {
  auto bytes = small_file();
  auto whole = GgufFile::parse(bytes.data(), bytes.size());
  ASSERT_TRUE(whole.ok());
  size_t data_end = 0;  // trailing alignment padding after the last tensor may go without loss
  for (const auto& t : whole->tensors()) data_end = std::max<size_t>(data_end, whole->data_offset() + t.offset + t.nbytes);
  for (size_t n = 0; n < data_end; ++n) {
    std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + static_cast<long>(n));
    auto f = GgufFile::parse(cut.data(), cut.size());
    ASSERT_FALSE(f.ok()) << "truncated to " << n << " bytes was accepted";
    EXPECT_EQ(f.error().code, ErrorCode::kMalformedFile);
  }
}

TEST(GgufReader, RejectsBadMagicAndVersion) {
  auto bytes = small_file();
  auto bad = bytes;
  bad[0] = 'X';
  auto f = GgufFile::parse(bad.data(), bad.size());
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.error().message.find("magic"), std::string::npos);
  bad = bytes;
  bad[4] = 9;
  f = GgufFile::parse(bad.data(), bad.size());
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.error().message.find("version"), std::string::npos);
}

TEST(GgufReader, RejectsHugeCountsWithoutAllocating) {
  auto bytes = small_file();
  uint64_t huge = ~uint64_t{0} / 2;
  std::memcpy(bytes.data() + 16, &huge, 8);  // metadata_kv_count
  auto f = GgufFile::parse(bytes.data(), bytes.size());
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.error().message.find("cannot fit"), std::string::npos);
}

TEST(GgufReader, RejectsBadTensorInfos) {
  struct Case { const char* what; std::vector<uint64_t> ne; uint32_t type; size_t data; const char* expect; };
  const Case cases[] = {
      {"five dims", {1, 1, 1, 1, 1}, 0, 4, "dimensions"},
      {"unknown type", {32}, 99, 64, "unknown type"},
      {"partial block", {33}, 8, 68, "block size"},
      {"zero dim", {0}, 0, 0, "dimension 0"},
      {"size overflow", {1ull << 40, 1ull << 40}, 0, 4, "64 bits"},
  };
  for (const auto& c : cases) {
    test::GgufWriter w;
    w.add_string("general.architecture", "llama");
    w.add_tensor("t", c.ne, c.type, std::vector<uint8_t>(c.data, 0));
    auto bytes = w.bytes();
    auto f = GgufFile::parse(bytes.data(), bytes.size());
    ASSERT_FALSE(f.ok()) << c.what;
    EXPECT_NE(f.error().message.find(c.expect), std::string::npos) << c.what << ": " << f.error().message;
  }
}

TEST(GgufReader, RejectsOverlappingAndOutOfRangeTensors) {
  test::GgufWriter w;
  w.add_tensor("a", {64}, 0, std::vector<uint8_t>(256, 0));
  w.add_tensor("b", {64}, 0, std::vector<uint8_t>(256, 0));
  auto bytes = w.bytes();
  auto f = GgufFile::parse(bytes.data(), bytes.size());
  ASSERT_TRUE(f.ok()) << f.error().to_string();
  // Point b's offset at a's data: find b's offset field (the last u64 before the data section).
  size_t pos = 0;
  const uint64_t want = 256;
  for (size_t i = 0; i + 8 <= f->data_offset(); ++i) {
    uint64_t v;
    std::memcpy(&v, bytes.data() + i, 8);
    if (v == want) pos = i;
  }
  ASSERT_GT(pos, 0u);
  auto overlap = bytes;
  uint64_t off = 32;
  std::memcpy(overlap.data() + pos, &off, 8);
  f = GgufFile::parse(overlap.data(), overlap.size());
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.error().message.find("overlap"), std::string::npos) << f.error().message;
  auto past = bytes;
  off = 1 << 20;
  std::memcpy(past.data() + pos, &off, 8);
  f = GgufFile::parse(past.data(), past.size());
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.error().message.find("past the end"), std::string::npos) << f.error().message;
}

TEST(GgufReader, RejectsBadAlignment) {
  test::GgufWriter w;
  w.add_u32("general.alignment", 12);
  auto bytes = w.bytes();
  auto f = GgufFile::parse(bytes.data(), bytes.size());
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.error().message.find("alignment"), std::string::npos);
}

TEST(GgufReader, OpensTheDefaultModel) {
  CYLLM_REQUIRE_DEFAULT_MODEL(path);
  auto f = GgufFile::open(path);
  ASSERT_TRUE(f.ok()) << f.error().to_string();
  EXPECT_EQ(f->get_string("general.architecture"), "llama");
  EXPECT_EQ(f->tensors().size(), 272u);
  EXPECT_EQ(f->get_string("tokenizer.ggml.pre"), "smollm");
  const auto* emb = f->find_tensor("token_embd.weight");
  ASSERT_NE(emb, nullptr);
  EXPECT_EQ(emb->type(), GgmlType::Q8_0);
  EXPECT_EQ(emb->ne[0], 576);
  EXPECT_EQ(emb->ne[1], 49152);
  EXPECT_EQ(f->get_array("tokenizer.ggml.merges")->items.size(), 48900u);
}

TEST(GgufReader, MissingFileIsNotFound) {
  auto f = GgufFile::open("/nonexistent/model.gguf");
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.error().code, ErrorCode::kNotFound);
}

}  // namespace
}  // namespace cyllm
