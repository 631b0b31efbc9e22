#include "model/safetensors.h"

#include <algorithm>
#include <cstring>
#include <set>
#include <utility>

#include <nlohmann/json.hpp>

#include "core/atomic-file.h"
#include "model/tensor-types.h"

namespace cyllm {

namespace {

struct DtypeInfo {
  SafetensorsDtype type;
  std::string_view name;
  size_t size;
};
constexpr DtypeInfo kDtypes[] = {
    {SafetensorsDtype::kBool, "BOOL", 1},     {SafetensorsDtype::kU8, "U8", 1},
    {SafetensorsDtype::kI8, "I8", 1},         {SafetensorsDtype::kF8E4M3, "F8_E4M3", 1},
    {SafetensorsDtype::kF8E5M2, "F8_E5M2", 1}, {SafetensorsDtype::kI16, "I16", 2},
    {SafetensorsDtype::kU16, "U16", 2},       {SafetensorsDtype::kF16, "F16", 2},
    {SafetensorsDtype::kBF16, "BF16", 2},     {SafetensorsDtype::kI32, "I32", 4},
    {SafetensorsDtype::kU32, "U32", 4},       {SafetensorsDtype::kF32, "F32", 4},
    {SafetensorsDtype::kF64, "F64", 8},       {SafetensorsDtype::kI64, "I64", 8},
    {SafetensorsDtype::kU64, "U64", 8},
};

const DtypeInfo& info(SafetensorsDtype t) {
  for (const auto& d : kDtypes)
    if (d.type == t) return d;
  return kDtypes[0];
}

// Deepest bracket nesting of a JSON text, strings skipped; stops counting past `limit`.
int json_depth(std::string_view s, int limit) {
  int depth = 0, max_depth = 0;
  bool in_str = false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (in_str) {
      if (c == '\\') ++i;
      else if (c == '"') in_str = false;
      continue;
    }
    if (c == '"') in_str = true;
    else if (c == '{' || c == '[') {
      max_depth = std::max(max_depth, ++depth);
      if (max_depth > limit) return max_depth;
    } else if (c == '}' || c == ']') --depth;
  }
  return max_depth;
}

// A non-negative integer JSON value as uint64_t.
std::optional<uint64_t> as_u64(const nlohmann::json& v) {
  if (v.is_number_unsigned()) return v.get<uint64_t>();
  if (v.is_number_integer() && v.get<int64_t>() >= 0) return static_cast<uint64_t>(v.get<int64_t>());
  return std::nullopt;
}

}  // namespace

std::string_view safetensors_dtype_name(SafetensorsDtype t) { return info(t).name; }
size_t safetensors_dtype_size(SafetensorsDtype t) { return info(t).size; }

std::optional<SafetensorsDtype> parse_safetensors_dtype(std::string_view name) {
  for (const auto& d : kDtypes)
    if (d.name == name) return d.type;
  return std::nullopt;
}

int64_t SafetensorsTensor::n_elements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

Result<SafetensorsFile> SafetensorsFile::open(const std::string& path) {
  auto map = MappedFile::open(path);
  if (!map) return map.error();
  auto f = parse(map->data(), map->size(), path);
  if (!f) return f.error();
  f->map_ = std::move(*map);  // the mapping's address does not change, so tensor pointers stay valid
  return f;
}

Result<SafetensorsFile> SafetensorsFile::parse(const uint8_t* data, size_t size, std::string name) {
  auto bad = [&](const std::string& why) {
    return make_error(ErrorCode::kMalformedFile, "'" + name + "' is not a valid safetensors file: " + why,
                      "The file is truncated or corrupt; export or download it again.");
  };
  if (size < 8) return bad("it has " + std::to_string(size) + " bytes, fewer than the 8-byte header length");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | data[i];
  if (n < 2) return bad("the header length is " + std::to_string(n));
  if (n > kMaxHeaderBytes)
    return bad("the header length " + std::to_string(n) + " is over the limit of " + std::to_string(kMaxHeaderBytes) + " bytes");
  if (n > size - 8)
    return bad("the header length " + std::to_string(n) + " runs past the end of the file (" + std::to_string(size) + " bytes)");
  const std::string_view text(reinterpret_cast<const char*>(data + 8), static_cast<size_t>(n));
  if (json_depth(text, kMaxJsonDepth) > kMaxJsonDepth)
    return bad("the header JSON nests deeper than " + std::to_string(kMaxJsonDepth) + " levels");

  // Duplicate keys are an error (nlohmann would keep the last one silently).
  std::vector<std::set<std::string>> keys;
  std::string duplicate;
  auto cb = [&](int /*depth*/, nlohmann::json::parse_event_t ev, nlohmann::json& parsed) {
    using E = nlohmann::json::parse_event_t;
    if (ev == E::object_start) keys.emplace_back();
    else if (ev == E::object_end && !keys.empty()) keys.pop_back();
    else if (ev == E::key && !keys.empty() && parsed.is_string()) {
      if (!keys.back().insert(parsed.get<std::string>()).second && duplicate.empty()) duplicate = parsed.get<std::string>();
    }
    return true;
  };
  nlohmann::json h;
  try {
    h = nlohmann::json::parse(text.begin(), text.end(), cb);
  } catch (const nlohmann::json::exception& e) {
    return bad(std::string("the header is not valid JSON (") + e.what() + ")");
  }
  if (!duplicate.empty()) return bad("the header has the key '" + duplicate + "' twice");
  if (!h.is_object()) return bad("the header is not a JSON object");

  SafetensorsFile f;
  f.name_ = name;
  const uint8_t* base = data + 8 + n;
  const uint64_t data_size = size - 8 - n;
  for (auto it = h.begin(); it != h.end(); ++it) {
    const std::string& key = it.key();
    const nlohmann::json& v = it.value();
    if (key == "__metadata__") {
      if (!v.is_object()) return bad("__metadata__ is not an object");
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (!m.value().is_string()) return bad("__metadata__ value '" + m.key() + "' is not a string");
        f.metadata_[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    auto bad_t = [&](const std::string& why) { return bad("tensor '" + key + "': " + why); };
    if (!v.is_object()) return bad_t("its entry is not an object");
    SafetensorsTensor t;
    t.name = key;
    auto dt = v.find("dtype");
    if (dt == v.end() || !dt->is_string()) return bad_t("no dtype string");
    auto dtype = parse_safetensors_dtype(dt->get<std::string>());
    if (!dtype) return bad_t("unknown dtype '" + dt->get<std::string>() + "'");
    t.dtype = *dtype;
    auto sh = v.find("shape");
    if (sh == v.end() || !sh->is_array()) return bad_t("no shape array");
    uint64_t elems = 1;
    bool overflow = false;
    for (const auto& d : *sh) {
      auto dim = as_u64(d);
      if (!dim || *dim > static_cast<uint64_t>(INT64_MAX)) return bad_t("a shape entry is not a non-negative integer");
      t.shape.push_back(static_cast<int64_t>(*dim));
      if (*dim != 0 && elems > UINT64_MAX / *dim) overflow = true;
      else elems *= *dim;
    }
    if (std::find(t.shape.begin(), t.shape.end(), 0) != t.shape.end()) elems = 0, overflow = false;
    const uint64_t esize = safetensors_dtype_size(t.dtype);
    if (overflow || (esize > 1 && elems > UINT64_MAX / esize)) return bad_t("its shape has too many elements");
    auto off = v.find("data_offsets");
    if (off == v.end() || !off->is_array() || off->size() != 2) return bad_t("data_offsets is not a [begin, end] pair");
    auto b = as_u64((*off)[0]), e = as_u64((*off)[1]);
    if (!b || !e) return bad_t("data_offsets are not non-negative integers");
    if (*b > *e) return bad_t("data_offsets begin " + std::to_string(*b) + " is after end " + std::to_string(*e));
    if (*e > data_size)
      return bad_t("data_offsets end " + std::to_string(*e) + " is past the data section (" + std::to_string(data_size) + " bytes)");
    if (elems * esize != *e - *b)
      return bad_t("shape and dtype " + std::string(safetensors_dtype_name(t.dtype)) + " need " + std::to_string(elems * esize) +
                   " bytes but data_offsets span " + std::to_string(*e - *b));
    t.begin = *b;
    t.end = *e;
    t.data = base + *b;
    f.tensors_.push_back(std::move(t));
  }

  // The tensors must tile the data section: sorted by offset, each starts where the last ended.
  std::vector<const SafetensorsTensor*> by_off;
  for (const auto& t : f.tensors_) by_off.push_back(&t);
  std::sort(by_off.begin(), by_off.end(), [](auto* a, auto* b) { return std::pair(a->begin, a->end) < std::pair(b->begin, b->end); });
  uint64_t pos = 0;
  for (const auto* t : by_off) {
    if (t->begin < pos) return bad("tensor '" + t->name + "' overlaps the tensor before it (data_offsets " + std::to_string(t->begin) + ")");
    if (t->begin > pos)
      return bad("tensor '" + t->name + "' starts at " + std::to_string(t->begin) + ", leaving a gap after byte " + std::to_string(pos));
    pos = t->end;
  }
  if (pos != data_size)
    return bad("the data section has " + std::to_string(data_size) + " bytes but the tensors cover " + std::to_string(pos));

  for (size_t i = 0; i < f.tensors_.size(); ++i) f.index_[f.tensors_[i].name] = i;
  return f;
}

const SafetensorsTensor* SafetensorsFile::find(std::string_view name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

Result<std::vector<float>> safetensors_to_f32(const SafetensorsTensor& t) {
  const size_t n = static_cast<size_t>(t.n_elements());
  std::vector<float> out(n);
  switch (t.dtype) {
    case SafetensorsDtype::kF32:
      if (n) std::memcpy(out.data(), t.data, n * 4);
      break;
    case SafetensorsDtype::kF16:
    case SafetensorsDtype::kBF16:
      for (size_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, t.data + 2 * i, 2);
        out[i] = t.dtype == SafetensorsDtype::kF16 ? fp16_to_fp32(h) : bf16_to_fp32(h);
      }
      break;
    default:
      return make_error(ErrorCode::kUnsupported,
                        "tensor '" + t.name + "' has dtype " + std::string(safetensors_dtype_name(t.dtype)) +
                            "; only F32, F16 and BF16 can be read as float",
                        "Export the adapter in float32, float16 or bfloat16.");
  }
  return out;
}

void SafetensorsWriter::set_metadata(const std::string& key, const std::string& value) { metadata_[key] = value; }

Status SafetensorsWriter::add(const std::string& name, std::vector<int64_t> shape, std::span<const float> values,
                              SafetensorsDtype dtype) {
  if (name == "__metadata__") return make_error(ErrorCode::kInvalidArgument, "'__metadata__' is not a tensor name");
  for (const auto& e : entries_)
    if (e.name == name) return make_error(ErrorCode::kInvalidArgument, "tensor '" + name + "' was added twice");
  uint64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) return make_error(ErrorCode::kInvalidArgument, "tensor '" + name + "' has a negative dimension");
    n *= static_cast<uint64_t>(d);
  }
  if (n != values.size())
    return make_error(ErrorCode::kInvalidArgument, "tensor '" + name + "': shape holds " + std::to_string(n) +
                                                       " elements but " + std::to_string(values.size()) + " values were given");
  Entry e{name, dtype, std::move(shape), {}};
  switch (dtype) {
    case SafetensorsDtype::kF32:
      e.data.assign(reinterpret_cast<const char*>(values.data()), values.size() * 4);
      break;
    case SafetensorsDtype::kF16:
    case SafetensorsDtype::kBF16:
      e.data.resize(values.size() * 2);
      for (size_t i = 0; i < values.size(); ++i) {
        const uint16_t h = dtype == SafetensorsDtype::kF16 ? fp32_to_fp16(values[i]) : fp32_to_bf16(values[i]);
        std::memcpy(e.data.data() + 2 * i, &h, 2);
      }
      break;
    default:
      return make_error(ErrorCode::kUnsupported, "tensor '" + name + "': only F32, F16 and BF16 can be written");
  }
  entries_.push_back(std::move(e));
  return {};
}

std::string SafetensorsWriter::bytes() const {
  nlohmann::ordered_json h = nlohmann::ordered_json::object();
  if (!metadata_.empty()) {
    nlohmann::ordered_json m = nlohmann::ordered_json::object();
    for (const auto& [k, v] : metadata_) m[k] = v;
    h["__metadata__"] = std::move(m);
  }
  uint64_t off = 0;
  for (const auto& e : entries_) {
    h[e.name] = {{"dtype", std::string(safetensors_dtype_name(e.dtype))},
                 {"shape", e.shape},
                 {"data_offsets", {off, off + e.data.size()}}};
    off += e.data.size();
  }
  std::string header = h.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  while ((8 + header.size()) % 8) header.push_back(' ');
  std::string out;
  out.reserve(8 + header.size() + off);
  const uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xFF));
  out += header;
  for (const auto& e : entries_) out += e.data;
  return out;
}

Status SafetensorsWriter::write(const std::string& path) const { return write_file_atomic(path, bytes()); }

}  // namespace cyllm
