// The small generated model the CUDA forward tests compare against the CPU pass: two layers,
// 256 wide (4 query / 2 KV heads), FFN 512, vocabulary 300, every matrix in type `t`.
#pragma once

#include "tiny-train-model.h"

namespace cyllm::test {

inline TinyTrainSpec cuda_test_spec(const char* arch, GgmlType t) {
  TinyTrainSpec spec;
  spec.arch = arch;
  spec.n_layer = 2;
  spec.n_embd = 256;
  spec.n_head = 4;
  spec.n_head_kv = 2;
  spec.n_ff = 512;
  spec.n_vocab = 300;
  spec.matrix_type = t;
  return spec;
}

}  // namespace cyllm::test
