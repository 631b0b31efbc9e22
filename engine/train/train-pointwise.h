// Element-wise kernels of the training graph whose scalar loops spent their time in expf: SwiGLU
// forward and backward, and the cross-entropy's per-row log-sum-exp and softmax gradient. The
// float versions are vectorised (vec-exp.h, target_clones: one clone per process, so results are
// deterministic on a machine); the double versions (the gradient-check reference) use std::exp.
#pragma once

#include <cstdint>

namespace cyllm::train::detail {

// a = silu(g) * u
void swiglu_fwd(const float* g, const float* u, float* a, int64_t n);
void swiglu_fwd(const double* g, const double* u, double* a, int64_t n);
// dg = da * u * silu'(g), du = da * silu(g)
void swiglu_back(const float* da, const float* g, const float* u, float* dg, float* du, int64_t n);
void swiglu_back(const double* da, const double* g, const double* u, double* dg, double* du, int64_t n);
// log(sum_v e^x[v]) over n values; the exponentials are summed in double.
double log_sum_exp(const float* x, int n);
double log_sum_exp(const double* x, int n);
// x[v] = e^(x[v] - shift) * scale, in place.
void exp_shift_scale(float* x, int n, float shift, float scale);
void exp_shift_scale(double* x, int n, double shift, double scale);

}  // namespace cyllm::train::detail
