// The safetensors reader and writer: round trips, every truncation, hand-made malformed headers
// (each must give malformed_file and say what is wrong), and random corruption (never a crash).
#include "model/safetensors.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <cstring>
#include <filesystem>

#include "model/tensor-types.h"

namespace cyllm {
namespace {

std::string sample_file() {
  SafetensorsWriter w;
  w.set_metadata("format", "pt");
  w.set_metadata("note", "héllo");
  const std::vector<float> a = {1.0f, -2.5f, 3.25f, 0.0f, 1e-3f, 65504.0f};
  const std::vector<float> b = {0.5f, -0.25f, 7.0f};
  EXPECT_TRUE(w.add("a", {2, 3}, a).ok());
  EXPECT_TRUE(w.add("b.f16", {3}, b, SafetensorsDtype::kF16).ok());
  EXPECT_TRUE(w.add("c.bf16", {1, 3}, b, SafetensorsDtype::kBF16).ok());
  EXPECT_TRUE(w.add("empty", {0, 4}, {}).ok());
  return w.bytes();
}

Result<SafetensorsFile> parse(const std::string& s) {
  return SafetensorsFile::parse(reinterpret_cast<const uint8_t*>(s.data()), s.size(), "test");
}

// A file from a header text and a data section.
std::string make(const std::string& header, const std::string& data) {
  std::string out(8, '\0');
  const uint64_t n = header.size();
  std::memcpy(out.data(), &n, 8);
  return out + header + data;
}

void expect_malformed(const std::string& file, const std::string& needle) {
  auto f = parse(file);
  ASSERT_FALSE(f.ok()) << "accepted; expected an error about: " << needle;
  EXPECT_EQ(f.error().code, ErrorCode::kMalformedFile);
  EXPECT_NE(f.error().message.find(needle), std::string::npos) << f.error().message;
}

TEST(Safetensors, RoundTrip) {
  const std::string s = sample_file();
  uint64_t n;
  std::memcpy(&n, s.data(), 8);
  EXPECT_EQ((8 + n) % 8, 0u) << "header is padded to 8 bytes";
  auto f = parse(s);
  ASSERT_TRUE(f.ok()) << f.error().to_string();
  ASSERT_EQ(f->tensors().size(), 4u);
  EXPECT_EQ(f->metadata().at("format"), "pt");
  EXPECT_EQ(f->metadata().at("note"), "héllo");
  const auto* a = f->find("a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->dtype, SafetensorsDtype::kF32);
  EXPECT_EQ(a->shape, (std::vector<int64_t>{2, 3}));
  auto av = safetensors_to_f32(*a);
  ASSERT_TRUE(av.ok());
  EXPECT_EQ(*av, (std::vector<float>{1.0f, -2.5f, 3.25f, 0.0f, 1e-3f, 65504.0f}));
  auto bv = safetensors_to_f32(*f->find("b.f16"));
  ASSERT_TRUE(bv.ok());
  EXPECT_EQ(*bv, (std::vector<float>{0.5f, -0.25f, 7.0f}));  // exact in half precision
  EXPECT_EQ(f->find("c.bf16")->dtype, SafetensorsDtype::kBF16);
  EXPECT_EQ(*safetensors_to_f32(*f->find("c.bf16")), (std::vector<float>{0.5f, -0.25f, 7.0f}));
  EXPECT_EQ(f->find("empty")->nbytes(), 0u);
  EXPECT_EQ(f->find("missing"), nullptr);
}

TEST(Safetensors, WriterRejectsBadInput) {
  SafetensorsWriter w;
  const std::vector<float> v = {1, 2, 3};
  EXPECT_FALSE(w.add("x", {2, 2}, v).ok());
  EXPECT_TRUE(w.add("x", {3}, v).ok());
  EXPECT_FALSE(w.add("x", {3}, v).ok());
  EXPECT_FALSE(w.add("__metadata__", {3}, v).ok());
  EXPECT_FALSE(w.add("y", {3}, v, SafetensorsDtype::kI32).ok());
}

TEST(Safetensors, WriteAndOpenMapped) {
  namespace fs = std::filesystem;
  const fs::path p = fs::temp_directory_path() / ("cyllm-st-" + std::to_string(::getpid()) + ".safetensors");
  SafetensorsWriter w;
  std::vector<float> v(1000);
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i) * 0.5f;
  ASSERT_TRUE(w.add("t", {10, 100}, v).ok());
  ASSERT_TRUE(w.write(p.string()).ok());
  auto f = SafetensorsFile::open(p.string());
  ASSERT_TRUE(f.ok()) << f.error().to_string();
  EXPECT_EQ(*safetensors_to_f32(*f->find("t")), v);
  fs::remove(p);
  auto missing = SafetensorsFile::open(p.string());
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
}

TEST(Safetensors, EveryTruncationIsMalformed) {
  const std::string s = sample_file();
  for (size_t n = 0; n < s.size(); ++n) {
    auto f = parse(s.substr(0, n));
    ASSERT_FALSE(f.ok()) << "prefix of " << n << " bytes accepted";
    EXPECT_EQ(f.error().code, ErrorCode::kMalformedFile) << n;
  }
}

TEST(Safetensors, MalformedHeaders) {
  const std::string t4 = R"("t":{"dtype":"F32","shape":[1],"data_offsets":[0,4]})";
  const std::string d4(4, '\0');
  EXPECT_TRUE(parse(make("{" + t4 + "}", d4)).ok());
  expect_malformed(std::string(5, '\0'), "fewer than the 8-byte header length");
  {
    std::string huge(16, '\0');
    const uint64_t n = SafetensorsFile::kMaxHeaderBytes + 1;
    std::memcpy(huge.data(), &n, 8);
    expect_malformed(huge, "over the limit");
  }
  {
    std::string f = make("{" + t4 + "}", d4);
    const uint64_t n = f.size();
    std::memcpy(f.data(), &n, 8);
    expect_malformed(f, "runs past the end");
  }
  expect_malformed(make("{" + t4, d4), "not valid JSON");
  expect_malformed(make("[1,2]", ""), "not a JSON object");
  expect_malformed(make(R"({"t":5})", ""), "tensor 't': its entry is not an object");
  expect_malformed(make(R"({"t":{"shape":[1],"data_offsets":[0,4]}})", d4), "no dtype");
  expect_malformed(make(R"({"t":{"dtype":"F33","shape":[1],"data_offsets":[0,4]}})", d4), "unknown dtype 'F33'");
  expect_malformed(make(R"({"t":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", d4), "shape entry");
  expect_malformed(make(R"({"t":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}})", d4), "shape entry");
  expect_malformed(make(R"({"t":{"dtype":"F32","data_offsets":[0,4]}})", d4), "no shape");
  expect_malformed(make(R"({"t":{"dtype":"F32","shape":[1],"data_offsets":[0]}})", d4), "[begin, end]");
  expect_malformed(make(R"({"t":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}})", d4), "is after end");
  expect_malformed(make(R"({"t":{"dtype":"F32","shape":[1],"data_offsets":[0,8]}})", d4), "past the data section");
  expect_malformed(make(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})", d4), "need 8 bytes but data_offsets span 4");
  expect_malformed(make(R"({"t":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,4]}})", d4),
                   "too many elements");
  expect_malformed(make(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", d4),
                   "overlaps");
  expect_malformed(make(R"({"t":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", std::string(8, '\0')), "gap");
  expect_malformed(make("{" + t4 + "}", std::string(8, '\0')), "the tensors cover 4");
  expect_malformed(make("{" + t4 + "," + t4 + "}", d4), "the key 't' twice");
  expect_malformed(make(R"({"__metadata__":{"k":1},)" + t4 + "}", d4), "__metadata__ value 'k'");
  expect_malformed(make(R"({"__metadata__":[],)" + t4 + "}", d4), "__metadata__ is not an object");
  expect_malformed(make(R"({"x":)" + std::string(100, '[') + std::string(100, ']') + "}", ""), "nests deeper");
  expect_malformed(make("{\"\xff\xfe\":1}", ""), "not valid JSON");
}

TEST(Safetensors, NonFloatDtypeIsUnsupportedWhenConverted) {
  auto f = parse(make(R"({"ids":{"dtype":"I32","shape":[2],"data_offsets":[0,8]}})", std::string(8, '\0')));
  ASSERT_TRUE(f.ok()) << f.error().to_string();
  auto v = safetensors_to_f32(*f->find("ids"));
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.error().code, ErrorCode::kUnsupported);
  EXPECT_NE(v.error().message.find("'ids'"), std::string::npos);
}

// Random byte corruption: never a crash; whatever parses keeps every tensor inside the buffer.
RC_GTEST_PROP(Safetensors, CorruptionNeverEscapesTheBuffer, ()) {
  std::string s = sample_file();
  const int flips = *rc::gen::inRange(1, 8);
  for (int i = 0; i < flips; ++i) {
    const size_t at = *rc::gen::inRange<size_t>(0, s.size());
    s[at] = *rc::gen::arbitrary<char>();
  }
  auto f = parse(s);
  if (!f.ok()) {
    RC_ASSERT(f.error().code == ErrorCode::kMalformedFile);
    return;
  }
  const auto* lo = reinterpret_cast<const uint8_t*>(s.data());
  for (const auto& t : f->tensors()) {
    RC_ASSERT(t.data >= lo);
    RC_ASSERT(t.data + t.nbytes() <= lo + s.size());
    RC_ASSERT(static_cast<uint64_t>(t.n_elements()) * safetensors_dtype_size(t.dtype) == t.nbytes());
  }
}

}  // namespace
}  // namespace cyllm
