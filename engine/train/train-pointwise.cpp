// Vectorised element-wise training kernels (train-pointwise.h).
#include "train/train-pointwise.h"

#include <algorithm>
#include <cmath>

#include "train/vec-exp.h"

#define CYLLM_TRAIN_MULTIVERSION __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))

namespace cyllm::train::detail {

namespace {
typedef double v8d __attribute__((vector_size(64)));
}  // namespace

CYLLM_TRAIN_MULTIVERSION
void swiglu_fwd(const float* g, const float* u, float* a, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    v8f gv, uv;
    load8(gv, g + i);
    load8(uv, u + i);
    v8f e = -gv;
    exp8(e);
    store8(a + i, gv / (1.0f + e) * uv);
  }
  for (; i < n; ++i) a[i] = g[i] / (1.0f + std::exp(-g[i])) * u[i];
}

void swiglu_fwd(const double* g, const double* u, double* a, int64_t n) {
  for (int64_t i = 0; i < n; ++i) a[i] = g[i] / (1.0 + std::exp(-g[i])) * u[i];
}

CYLLM_TRAIN_MULTIVERSION
void swiglu_back(const float* da, const float* g, const float* u, float* dg, float* du, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    v8f dav, gv, uv;
    load8(dav, da + i);
    load8(gv, g + i);
    load8(uv, u + i);
    v8f e = -gv;
    exp8(e);
    const v8f sig = 1.0f / (1.0f + e);
    store8(dg + i, dav * uv * sig * (1.0f + gv * (1.0f - sig)));
    store8(du + i, dav * gv * sig);
  }
  for (; i < n; ++i) {
    const float sig = 1.0f / (1.0f + std::exp(-g[i]));
    dg[i] = da[i] * u[i] * sig * (1.0f + g[i] * (1.0f - sig));
    du[i] = da[i] * g[i] * sig;
  }
}

void swiglu_back(const double* da, const double* g, const double* u, double* dg, double* du, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const double sig = 1.0 / (1.0 + std::exp(-g[i]));
    dg[i] = da[i] * u[i] * sig * (1.0 + g[i] * (1.0 - sig));
    du[i] = da[i] * g[i] * sig;
  }
}

CYLLM_TRAIN_MULTIVERSION
double log_sum_exp(const float* x, int n) {
  float mx = x[0];
  for (int v = 1; v < n; ++v) mx = std::max(mx, x[v]);
  v8d acc{};
  int v = 0;
  for (; v + 8 <= n; v += 8) {
    v8f e;
    load8(e, x + v);
    e -= mx;
    exp8(e);
    acc += __builtin_convertvector(e, v8d);
  }
  double sum = 0;
  for (; v < n; ++v) sum += static_cast<double>(std::exp(x[v] - mx));
  for (int l = 0; l < 8; ++l) sum += acc[l];
  return static_cast<double>(mx) + std::log(sum);
}

double log_sum_exp(const double* x, int n) {
  double mx = x[0];
  for (int v = 1; v < n; ++v) mx = std::max(mx, x[v]);
  double sum = 0;
  for (int v = 0; v < n; ++v) sum += std::exp(x[v] - mx);
  return mx + std::log(sum);
}

CYLLM_TRAIN_MULTIVERSION
void exp_shift_scale(float* x, int n, float shift, float scale) {
  int v = 0;
  for (; v + 8 <= n; v += 8) {
    v8f e;
    load8(e, x + v);
    e -= shift;
    exp8(e);
    store8(x + v, e * scale);
  }
  for (; v < n; ++v) x[v] = std::exp(x[v] - shift) * scale;
}

void exp_shift_scale(double* x, int n, double shift, double scale) {
  for (int v = 0; v < n; ++v) x[v] = std::exp(x[v] - shift) * scale;
}

}  // namespace cyllm::train::detail
