#include "gguf-writer.h"

#include <cstring>

namespace cyllm::test {

namespace {
template <class T>
void put(std::vector<uint8_t>& out, T v) {
  uint8_t b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  out.insert(out.end(), b, b + sizeof(T));
}
void put_str(std::vector<uint8_t>& out, const std::string& s) {
  put<uint64_t>(out, s.size());
  out.insert(out.end(), s.begin(), s.end());
}
}  // namespace

void GgufWriter::add_u32(const std::string& key, uint32_t v) {
  Kv kv{key, 4, {}};
  put(kv.payload, v);
  kvs_.push_back(std::move(kv));
}
void GgufWriter::add_f32(const std::string& key, float v) {
  Kv kv{key, 6, {}};
  put(kv.payload, v);
  kvs_.push_back(std::move(kv));
}
void GgufWriter::add_string(const std::string& key, const std::string& v) {
  Kv kv{key, 8, {}};
  put_str(kv.payload, v);
  kvs_.push_back(std::move(kv));
}
void GgufWriter::add_string_array(const std::string& key, const std::vector<std::string>& v) {
  Kv kv{key, 9, {}};
  put<uint32_t>(kv.payload, 8);
  put<uint64_t>(kv.payload, v.size());
  for (const auto& s : v) put_str(kv.payload, s);
  kvs_.push_back(std::move(kv));
}
void GgufWriter::add_i32_array(const std::string& key, const std::vector<int32_t>& v) {
  Kv kv{key, 9, {}};
  put<uint32_t>(kv.payload, 5);
  put<uint64_t>(kv.payload, v.size());
  for (int32_t x : v) put(kv.payload, x);
  kvs_.push_back(std::move(kv));
}
void GgufWriter::add_tensor(const std::string& name, std::vector<uint64_t> ne, uint32_t type_id,
                            std::vector<uint8_t> data) {
  tensors_.push_back({name, std::move(ne), type_id, std::move(data)});
}

std::vector<uint8_t> GgufWriter::bytes(uint32_t alignment) const {
  std::vector<uint8_t> out;
  put<uint32_t>(out, 0x46554747);
  put<uint32_t>(out, 3);
  put<uint64_t>(out, tensors_.size());
  put<uint64_t>(out, kvs_.size());
  for (const auto& kv : kvs_) {
    put_str(out, kv.key);
    put<uint32_t>(out, kv.type);
    out.insert(out.end(), kv.payload.begin(), kv.payload.end());
  }
  uint64_t offset = 0;
  for (const auto& t : tensors_) {
    put_str(out, t.name);
    put<uint32_t>(out, static_cast<uint32_t>(t.ne.size()));
    for (uint64_t n : t.ne) put(out, n);
    put<uint32_t>(out, t.type);
    put<uint64_t>(out, offset);
    offset += (t.data.size() + alignment - 1) / alignment * alignment;
  }
  while (out.size() % alignment) out.push_back(0);
  for (const auto& t : tensors_) {
    out.insert(out.end(), t.data.begin(), t.data.end());
    while (out.size() % alignment) out.push_back(0);
  }
  return out;
}

}  // namespace cyllm::test
