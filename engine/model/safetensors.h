// Safetensors files: an 8-byte little-endian header length N, N bytes of JSON
// ({name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {string: string}}), then the
// tensor bytes, little-endian, offsets relative to the end of the header.
//
// The reader maps the file and checks everything before a pointer is formed: header length
// bounds, JSON syntax and nesting, duplicate keys, field types, known dtypes, shape products
// without overflow, shape x dtype size == byte length, and offsets that tile the data section
// exactly (in range, no overlap, no gap, nothing left over — as the reference implementation
// requires). A malformed file gives a `malformed_file` Error naming the problem; never a crash.
// The writer lays tensors out in insertion order and writes the file atomically.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/mapped-file.h"
#include "core/status.h"

namespace cyllm {

enum class SafetensorsDtype { kBool, kU8, kI8, kF8E4M3, kF8E5M2, kI16, kU16, kF16, kBF16, kI32, kU32, kF32, kF64, kI64, kU64 };

std::string_view safetensors_dtype_name(SafetensorsDtype t);  // "F32", "BF16", ...
size_t safetensors_dtype_size(SafetensorsDtype t);
std::optional<SafetensorsDtype> parse_safetensors_dtype(std::string_view name);

struct SafetensorsTensor {
  std::string name;
  SafetensorsDtype dtype = SafetensorsDtype::kF32;
  std::vector<int64_t> shape;  // outermost first (row-major); empty for a scalar
  uint64_t begin = 0, end = 0; // byte range within the data section
  const uint8_t* data = nullptr;

  size_t nbytes() const { return static_cast<size_t>(end - begin); }
  int64_t n_elements() const;
};

class SafetensorsFile {
 public:
  static constexpr uint64_t kMaxHeaderBytes = 100'000'000;  // as the reference implementation
  static constexpr int kMaxJsonDepth = 16;

  // Maps and parses a file.
  static Result<SafetensorsFile> open(const std::string& path);
  // Parses a buffer that the caller keeps alive (fuzzing, tests).
  static Result<SafetensorsFile> parse(const uint8_t* data, size_t size, std::string name = "<buffer>");

  const std::string& path() const { return name_; }
  const std::vector<SafetensorsTensor>& tensors() const { return tensors_; }  // sorted by name
  const SafetensorsTensor* find(std::string_view name) const;
  const std::map<std::string, std::string, std::less<>>& metadata() const { return metadata_; }

 private:
  MappedFile map_;
  std::string name_;
  std::vector<SafetensorsTensor> tensors_;
  std::map<std::string, size_t, std::less<>> index_;
  std::map<std::string, std::string, std::less<>> metadata_;
};

// The elements of an F32, F16 or BF16 tensor as float32. Other dtypes: `unsupported`, naming the
// tensor.
Result<std::vector<float>> safetensors_to_f32(const SafetensorsTensor& t);

class SafetensorsWriter {
 public:
  void set_metadata(const std::string& key, const std::string& value);
  // A float tensor stored as `dtype` (F32, F16 or BF16; F16/BF16 round to nearest even). The
  // number of values must equal the product of `shape`; names must be unique and not
  // "__metadata__".
  Status add(const std::string& name, std::vector<int64_t> shape, std::span<const float> values,
             SafetensorsDtype dtype = SafetensorsDtype::kF32);
  // The whole file: header (space-padded to a multiple of 8 bytes) and data.
  std::string bytes() const;
  // Writes bytes() to `path` atomically (temporary file, fsync, rename).
  Status write(const std::string& path) const;

 private:
  struct Entry {
    std::string name;
    SafetensorsDtype dtype;
    std::vector<int64_t> shape;
    std::string data;
  };
  std::vector<Entry> entries_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace cyllm
