// Little-endian byte appenders for writing GGUF files (the writer and the LoRA merge share them).
#pragma once

#include <cstdint>
#include <cstring>
#include <string>

namespace cyllm::gguf_bytes {

template <class T>
inline void put(std::string& out, T v) {
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  out.append(b, sizeof(T));
}

// A GGUF string: uint64 length, then the bytes.
inline void put_str(std::string& out, const std::string& s) {
  put<uint64_t>(out, s.size());
  out += s;
}

}  // namespace cyllm::gguf_bytes
