// The tiny llama base that adapter tests, the adapter tool and the adapter fuzz seeds share: an
// adapter written for it by one of them loads in the others. Header-only, so the fuzz targets
// (which do not link the GoogleTest support library) can use it too.
#pragma once

#include "model/model-config.h"

namespace cyllm::test {

inline ModelConfig tiny_adapter_base() {
  ModelConfig c;
  c.arch = "llama";
  c.name = "tiny";
  c.n_layer = 2;
  c.n_embd = 32;
  c.n_ff = 48;
  c.n_head = 2;
  c.n_head_kv = 1;
  c.head_dim = 16;
  c.rope_dim = 16;
  return c;
}

}  // namespace cyllm::test
