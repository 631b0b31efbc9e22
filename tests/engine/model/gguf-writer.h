// A tiny GGUF writer for tests: builds well-formed files that tests then corrupt on purpose.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace cyllm::test {

class GgufWriter {
 public:
  void add_u32(const std::string& key, uint32_t v);
  void add_f32(const std::string& key, float v);
  void add_string(const std::string& key, const std::string& v);
  void add_string_array(const std::string& key, const std::vector<std::string>& v);
  void add_i32_array(const std::string& key, const std::vector<int32_t>& v);
  // Raw tensor: ne innermost first; data must have the right size for type_id.
  void add_tensor(const std::string& name, std::vector<uint64_t> ne, uint32_t type_id, std::vector<uint8_t> data);
  std::vector<uint8_t> bytes(uint32_t alignment = 32) const;

 private:
  struct Kv { std::string key; uint32_t type; std::vector<uint8_t> payload; };
  struct Tensor { std::string name; std::vector<uint64_t> ne; uint32_t type; std::vector<uint8_t> data; };
  std::vector<Kv> kvs_;
  std::vector<Tensor> tensors_;
};

}  // namespace cyllm::test
