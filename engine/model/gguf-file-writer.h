// Writes GGUF v3 files (metadata and tensors in a stated type), for formats the engine exports,
// such as GGUF LoRA adapters. The layout follows the GGUF spec: header, key/values, tensor infos,
// data section aligned to 32 bytes (the default, so no general.alignment key is written), each
// tensor's data aligned to 32. The file is written atomically.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "model/tensor-types.h"

namespace cyllm {

class GgufFileWriter {
 public:
  void add_u32(const std::string& key, uint32_t v);
  void add_i32(const std::string& key, int32_t v);
  void add_f32(const std::string& key, float v);
  void add_bool(const std::string& key, bool v);
  void add_string(const std::string& key, const std::string& v);
  // A tensor from float32 values stored as `type` (F32, F16 or BF16). ne is innermost first
  // (ne[0] is the row length); values are row-major with ne[0] per row.
  Status add_tensor(const std::string& name, std::vector<uint64_t> ne, const std::vector<float>& values,
                    GgmlType type = GgmlType::F32);

  std::string bytes() const;
  Status write(const std::string& path) const;  // atomic

  static constexpr uint32_t kAlignment = 32;

 private:
  struct Kv {
    std::string key;
    uint32_t type;
    std::string payload;
  };
  struct Tensor {
    std::string name;
    std::vector<uint64_t> ne;
    uint32_t type;
    std::string data;
  };
  std::vector<Kv> kvs_;
  std::vector<Tensor> tensors_;
};

}  // namespace cyllm
