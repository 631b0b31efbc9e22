#include "model/gguf-file-writer.h"

#include <cstring>

#include "core/atomic-file.h"
#include "model/gguf-bytes.h"
#include "model/gguf-reader.h"

namespace cyllm {

namespace {

using gguf_bytes::put;
using gguf_bytes::put_str;

}  // namespace

void GgufFileWriter::add_u32(const std::string& key, uint32_t v) {
  Kv kv{key, static_cast<uint32_t>(GgufValueType::U32), {}};
  put(kv.payload, v);
  kvs_.push_back(std::move(kv));
}
void GgufFileWriter::add_i32(const std::string& key, int32_t v) {
  Kv kv{key, static_cast<uint32_t>(GgufValueType::I32), {}};
  put(kv.payload, v);
  kvs_.push_back(std::move(kv));
}
void GgufFileWriter::add_f32(const std::string& key, float v) {
  Kv kv{key, static_cast<uint32_t>(GgufValueType::F32), {}};
  put(kv.payload, v);
  kvs_.push_back(std::move(kv));
}
void GgufFileWriter::add_bool(const std::string& key, bool v) {
  Kv kv{key, static_cast<uint32_t>(GgufValueType::BOOL), {}};
  put<uint8_t>(kv.payload, v ? 1 : 0);
  kvs_.push_back(std::move(kv));
}
void GgufFileWriter::add_string(const std::string& key, const std::string& v) {
  Kv kv{key, static_cast<uint32_t>(GgufValueType::STRING), {}};
  put_str(kv.payload, v);
  kvs_.push_back(std::move(kv));
}

Status GgufFileWriter::add_tensor(const std::string& name, std::vector<uint64_t> ne, const std::vector<float>& values,
                                  GgmlType type) {
  if (ne.empty() || ne.size() > 4) return make_error(ErrorCode::kInvalidArgument, "tensor '" + name + "': 1 to 4 dimensions");
  uint64_t n = 1;
  for (uint64_t d : ne) n *= d;
  if (n != values.size())
    return make_error(ErrorCode::kInvalidArgument, "tensor '" + name + "': ne holds " + std::to_string(n) + " elements but " +
                                                       std::to_string(values.size()) + " values were given");
  Tensor t{name, std::move(ne), static_cast<uint32_t>(type), {}};
  switch (type) {
    case GgmlType::F32:
      t.data.assign(reinterpret_cast<const char*>(values.data()), values.size() * 4);
      break;
    case GgmlType::F16:
    case GgmlType::BF16:
      t.data.resize(values.size() * 2);
      for (size_t i = 0; i < values.size(); ++i) {
        const uint16_t h = type == GgmlType::F16 ? fp32_to_fp16(values[i]) : fp32_to_bf16(values[i]);
        std::memcpy(t.data.data() + 2 * i, &h, 2);
      }
      break;
    default:
      return make_error(ErrorCode::kUnsupported, "tensor '" + name + "': only F32, F16 and BF16 can be written");
  }
  tensors_.push_back(std::move(t));
  return {};
}

std::string GgufFileWriter::bytes() const {
  std::string out;
  put<uint32_t>(out, 0x46554747);  // "GGUF"
  put<uint32_t>(out, 3);
  put<uint64_t>(out, tensors_.size());
  put<uint64_t>(out, kvs_.size());
  for (const auto& kv : kvs_) {
    put_str(out, kv.key);
    put<uint32_t>(out, kv.type);
    out += kv.payload;
  }
  auto padded = [](uint64_t n) { return (n + kAlignment - 1) / kAlignment * kAlignment; };
  uint64_t offset = 0;
  for (const auto& t : tensors_) {
    put_str(out, t.name);
    put<uint32_t>(out, static_cast<uint32_t>(t.ne.size()));
    for (uint64_t d : t.ne) put(out, d);
    put<uint32_t>(out, t.type);
    put<uint64_t>(out, offset);
    offset += padded(t.data.size());
  }
  out.resize(padded(out.size()), '\0');
  for (const auto& t : tensors_) {
    out += t.data;
    out.resize(padded(out.size()), '\0');
  }
  return out;
}

Status GgufFileWriter::write(const std::string& path) const { return write_file_atomic(path, bytes()); }

}  // namespace cyllm
