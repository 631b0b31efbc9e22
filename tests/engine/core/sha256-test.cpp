// SHA-256 against the FIPS 180-4 example vectors, incremental updates against one-shot hashing,
// and the atomic file writer.
#include "core/sha256.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/atomic-file.h"

namespace cyllm {
namespace {

TEST(Sha256, FipsVectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(sha256_hex(std::string(1000000, 'a')), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

// Lengths around the 55/56/64-byte padding boundaries, in any split, hash as in one piece.
RC_GTEST_PROP(Sha256, IncrementalEqualsOneShot, ()) {
  const auto data = *rc::gen::container<std::string>(*rc::gen::inRange<size_t>(0, 200), rc::gen::arbitrary<char>());
  const size_t cut = *rc::gen::inRange<size_t>(0, data.size() + 1);
  Sha256 s;
  s.update(std::string_view(data).substr(0, cut));
  s.update(std::string_view(data).substr(cut));
  std::string hex;
  for (uint8_t b : s.finish()) {
    char buf[3];
    std::snprintf(buf, sizeof buf, "%02x", b);
    hex += buf;
  }
  RC_ASSERT(hex == sha256_hex(data));
}

TEST(AtomicFile, WritesReplacesAndLeavesNoTemporary) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("cyllm-atomic-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string p = (dir / "f.bin").string();
  ASSERT_TRUE(write_file_atomic(p, "first").ok());
  ASSERT_TRUE(write_file_atomic(p, std::string("second\0x", 8)).ok());
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_EQ(ss.str(), std::string("second\0x", 8));
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator()), 1);
  auto st = write_file_atomic((dir / "missing" / "f.bin").string(), "x");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, ErrorCode::kIoError);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace cyllm
