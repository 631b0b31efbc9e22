// Shared pieces of the CUDA tests: skipping without a device, device buffers from host vectors,
// and the comparison metric (normalised MSE with NaN/Inf checks).
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "cuda-ops.h"

namespace cyllm::test {

// Skips the calling test, with the reason, when this machine has no usable CUDA device.
#define CYLLM_REQUIRE_CUDA()                                                             \
  do {                                                                                   \
    const std::string cyllm_why_ = ::cyllm::cuda::no_device_reason();                    \
    if (!cyllm_why_.empty()) GTEST_SKIP() << "no CUDA device (" << cyllm_why_ << ")";    \
  } while (0)

// A test fixture that owns a context on device 0 (skips without a device).
class CudaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CYLLM_REQUIRE_CUDA();
    auto c = cuda::create_context(0);
    ASSERT_TRUE(c.ok()) << c.error().message;
    ctx_ = std::move(c.value());
  }
  cuda::Context& ctx() { return *ctx_; }

  // A device copy of v (with `extra` zero bytes after it, e.g. kWeightPadBytes).
  template <class T>
  cuda::DeviceBuffer upload(const std::vector<T>& v, size_t extra = 0) {
    const size_t bytes = v.size() * sizeof(T);
    auto b = cuda::DeviceBuffer::allocate(bytes + extra + 1, "test buffer");
    EXPECT_TRUE(b.ok()) << (b.ok() ? "" : b.error().message);
    if (!b.ok()) return {};
    EXPECT_TRUE(cuda::memset_device(ctx(), b->data(), 0, bytes + extra + 1).ok());
    const Status st = cuda::copy_to_device(ctx(), b->data(), v.data(), bytes);
    EXPECT_TRUE(st.ok()) << st.error().message;
    return std::move(b.value());
  }
  template <class T>
  cuda::DeviceBuffer zeros(size_t count) {
    return upload(std::vector<T>(count));
  }
  template <class T>
  std::vector<T> download(const cuda::DeviceBuffer& b, size_t count) {
    std::vector<T> out(count);
    const Status st = cuda::copy_to_host(ctx(), out.data(), b.data(), count * sizeof(T));
    EXPECT_TRUE(st.ok()) << st.error().message;
    return out;
  }

 private:
  cuda::ContextPtr ctx_;
};

// sum (ref - got)^2 / sum ref^2 (or the plain sum when ref is all zero).
inline double nmse(const std::vector<float>& ref, const std::vector<float>& got) {
  double num = 0.0, den = 0.0;
  for (size_t i = 0; i < ref.size() && i < got.size(); ++i) {
    const double d = static_cast<double>(ref[i]) - got[i];
    num += d * d;
    den += static_cast<double>(ref[i]) * ref[i];
  }
  return den > 0.0 ? num / den : num;
}

inline size_t count_non_finite(const std::vector<float>& v) {
  size_t n = 0;
  for (float x : v) n += std::isfinite(x) ? 0 : 1;
  return n;
}

// Both finite everywhere, same size, and nmse(ref, got) <= tol.
#define EXPECT_CLOSE_NMSE(ref, got, tol)                                                            \
  do {                                                                                              \
    ASSERT_EQ((ref).size(), (got).size());                                                          \
    EXPECT_EQ(::cyllm::test::count_non_finite(ref), 0u) << "reference has NaN/Inf";                \
    EXPECT_EQ(::cyllm::test::count_non_finite(got), 0u) << "CUDA result has NaN/Inf";               \
    const double cyllm_e_ = ::cyllm::test::nmse((ref), (got));                                      \
    EXPECT_LE(cyllm_e_, (tol)) << "normalised MSE " << cyllm_e_ << " above " << (tol);              \
  } while (0)

}  // namespace cyllm::test
