#include "model/gguf-reader.h"

#include <algorithm>
#include <cstring>
#include <limits>

namespace cyllm {

namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" little-endian
constexpr int kMaxArrayDepth = 8;
constexpr uint64_t kMaxKeyBytes = 65535;
constexpr uint64_t kMaxTensorNameBytes = 64;

std::string hex_offset(uint64_t off) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(off));
  return buf;
}

// Smallest encoding of one value of a type; bounds element counts against the remaining bytes.
uint64_t min_value_bytes(GgufValueType t) {
  switch (t) {
    case GgufValueType::U8: case GgufValueType::I8: case GgufValueType::BOOL: return 1;
    case GgufValueType::U16: case GgufValueType::I16: return 2;
    case GgufValueType::U32: case GgufValueType::I32: case GgufValueType::F32: return 4;
    case GgufValueType::U64: case GgufValueType::I64: case GgufValueType::F64: return 8;
    case GgufValueType::STRING: return 8;
    case GgufValueType::ARRAY: return 12;
  }
  return 1;
}

bool valid_value_type(uint32_t t) { return t <= 12; }

}  // namespace

std::string_view gguf_value_type_name(GgufValueType t) {
  static constexpr std::string_view names[] = {"u8", "i8", "u16", "i16", "u32", "i32", "f32",
                                               "bool", "string", "array", "u64", "i64", "f64"};
  auto i = static_cast<uint32_t>(t);
  return i < 13 ? names[i] : "unknown";
}

bool GgufValue::is_integer() const {
  switch (type) {
    case GgufValueType::U8: case GgufValueType::I8: case GgufValueType::U16: case GgufValueType::I16:
    case GgufValueType::U32: case GgufValueType::I32: case GgufValueType::U64: case GgufValueType::I64:
      return true;
    default:
      return false;
  }
}

std::optional<int64_t> GgufValue::as_int() const {
  if (const auto* u = std::get_if<uint64_t>(&v)) {
    if (*u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
    return static_cast<int64_t>(*u);
  }
  if (const auto* i = std::get_if<int64_t>(&v)) return *i;
  return std::nullopt;
}

std::optional<double> GgufValue::as_float() const {
  if (const auto* d = std::get_if<double>(&v)) return *d;
  if (const auto* u = std::get_if<uint64_t>(&v)) return static_cast<double>(*u);
  if (const auto* i = std::get_if<int64_t>(&v)) return static_cast<double>(*i);
  return std::nullopt;
}

std::optional<bool> GgufValue::as_bool() const {
  if (const auto* b = std::get_if<bool>(&v)) return *b;
  return std::nullopt;
}

const std::string* GgufValue::as_string() const { return std::get_if<std::string>(&v); }

const GgufArray* GgufValue::as_array() const {
  if (const auto* a = std::get_if<std::shared_ptr<GgufArray>>(&v)) return a->get();
  return nullptr;
}

std::string GgufValue::to_display(size_t max_items) const {
  if (const auto* s = as_string()) {
    std::string out = "\"";
    for (char c : s->substr(0, 120)) out += (c == '\n') ? std::string("\\n") : std::string(1, c);
    if (s->size() > 120) out += "...";
    return out + "\"";
  }
  if (const auto* a = as_array()) {
    std::string out = "[" + std::string(gguf_value_type_name(a->elem_type)) + " x " +
                      std::to_string(a->items.size());
    if (!a->items.empty()) out += ":";
    for (size_t i = 0; i < a->items.size() && i < max_items; ++i) out += " " + a->items[i].to_display(2);
    if (a->items.size() > max_items) out += " ...";
    return out + "]";
  }
  if (const auto* b = std::get_if<bool>(&v)) return *b ? "true" : "false";
  if (const auto* d = std::get_if<double>(&v)) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%g", *d);
    return buf;
  }
  if (const auto* u = std::get_if<uint64_t>(&v)) return std::to_string(*u);
  if (const auto* i = std::get_if<int64_t>(&v)) return std::to_string(*i);
  return "?";
}

// Bounds-checked cursor over the file; every read says where it failed.
class GgufParser {
 public:
  GgufParser(const uint8_t* data, size_t size, std::string name) : p_(data), size_(size), name_(std::move(name)) {}

  Status parse(GgufFile& f);

 private:
  Error fail(const std::string& what) const {
    return make_error(ErrorCode::kMalformedFile,
                      "malformed GGUF '" + name_ + "' at byte " + hex_offset(pos_) + ": " + what);
  }
  bool need(uint64_t n) const { return n <= size_ - pos_; }
  template <class T>
  bool read(T& out) {
    if (!need(sizeof(T))) return false;
    std::memcpy(&out, p_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return true;
  }
  Status read_string(std::string& out, uint64_t max_len, const char* what);
  Status read_value(GgufValueType type, GgufValue& out, int depth);

  const uint8_t* p_;
  size_t size_;
  size_t pos_ = 0;
  std::string name_;
};

Status GgufParser::read_string(std::string& out, uint64_t max_len, const char* what) {
  uint64_t len = 0;
  if (!read(len)) return fail(std::string("file ends inside the length of ") + what);
  if (len > max_len) return fail(std::string(what) + " is " + std::to_string(len) + " bytes, over the limit of " + std::to_string(max_len));
  if (!need(len)) return fail(std::string(what) + " of " + std::to_string(len) + " bytes runs past the end of the file");
  out.assign(reinterpret_cast<const char*>(p_ + pos_), static_cast<size_t>(len));
  pos_ += len;
  return {};
}

Status GgufParser::read_value(GgufValueType type, GgufValue& out, int depth) {
  out.type = type;
  auto trunc = [&] { return fail("file ends inside a " + std::string(gguf_value_type_name(type)) + " value"); };
  switch (type) {
    case GgufValueType::U8: { uint8_t x; if (!read(x)) return trunc(); out.v = uint64_t{x}; return {}; }
    case GgufValueType::I8: { int8_t x; if (!read(x)) return trunc(); out.v = int64_t{x}; return {}; }
    case GgufValueType::U16: { uint16_t x; if (!read(x)) return trunc(); out.v = uint64_t{x}; return {}; }
    case GgufValueType::I16: { int16_t x; if (!read(x)) return trunc(); out.v = int64_t{x}; return {}; }
    case GgufValueType::U32: { uint32_t x; if (!read(x)) return trunc(); out.v = uint64_t{x}; return {}; }
    case GgufValueType::I32: { int32_t x; if (!read(x)) return trunc(); out.v = int64_t{x}; return {}; }
    case GgufValueType::U64: { uint64_t x; if (!read(x)) return trunc(); out.v = x; return {}; }
    case GgufValueType::I64: { int64_t x; if (!read(x)) return trunc(); out.v = x; return {}; }
    case GgufValueType::F32: { float x; if (!read(x)) return trunc(); out.v = double{x}; return {}; }
    case GgufValueType::F64: { double x; if (!read(x)) return trunc(); out.v = x; return {}; }
    case GgufValueType::BOOL: {
      uint8_t x;
      if (!read(x)) return trunc();
      if (x > 1) return fail("bool value is " + std::to_string(x) + ", not 0 or 1");
      out.v = x != 0;
      return {};
    }
    case GgufValueType::STRING: {
      std::string s;
      if (auto st = read_string(s, std::numeric_limits<uint64_t>::max(), "a string value"); !st) return st;
      out.v = std::move(s);
      return {};
    }
    case GgufValueType::ARRAY: {
      if (depth >= kMaxArrayDepth) return fail("arrays nested deeper than " + std::to_string(kMaxArrayDepth));
      uint32_t et = 0;
      uint64_t count = 0;
      if (!read(et) || !read(count)) return fail("file ends inside an array header");
      if (!valid_value_type(et)) return fail("unknown array element type " + std::to_string(et));
      auto elem = static_cast<GgufValueType>(et);
      if (count > (size_ - pos_) / min_value_bytes(elem))
        return fail("array of " + std::to_string(count) + " " + std::string(gguf_value_type_name(elem)) +
                    " values cannot fit in the " + std::to_string(size_ - pos_) + " bytes left");
      auto arr = std::make_shared<GgufArray>();
      arr->elem_type = elem;
      arr->items.resize(static_cast<size_t>(count));
      for (auto& item : arr->items)
        if (auto st = read_value(elem, item, depth + 1); !st) return st;
      out.v = std::move(arr);
      return {};
    }
  }
  return fail("unknown value type");
}

Status GgufParser::parse(GgufFile& f) {
  uint32_t magic = 0;
  if (!read(magic)) return fail("file is too short to be GGUF (" + std::to_string(size_) + " bytes)");
  if (magic != kMagic) return fail("bad magic: this is not a GGUF file");
  if (!read(f.version_)) return fail("file ends inside the version");
  if (f.version_ < 2 || f.version_ > 3)
    return fail("unsupported GGUF version " + std::to_string(f.version_) + " (this reader handles 2 and 3)");
  uint64_t n_tensors = 0, n_kv = 0;
  if (!read(n_tensors) || !read(n_kv)) return fail("file ends inside the header counts");
  // A key/value pair needs at least 8 (key length) + 4 (type) + 1 bytes; a tensor info at least 8+4+8+4+8.
  if (n_kv > (size_ - pos_) / 13) return fail("metadata count " + std::to_string(n_kv) + " cannot fit in the file");
  if (n_tensors > (size_ - pos_) / 32) return fail("tensor count " + std::to_string(n_tensors) + " cannot fit in the file");

  f.kv_.reserve(static_cast<size_t>(n_kv));
  for (uint64_t i = 0; i < n_kv; ++i) {
    std::string key;
    if (auto st = read_string(key, kMaxKeyBytes, "a metadata key"); !st) return st;
    uint32_t t = 0;
    if (!read(t)) return fail("file ends inside the type of key '" + key + "'");
    if (!valid_value_type(t)) return fail("key '" + key + "' has unknown value type " + std::to_string(t));
    GgufValue value;
    if (auto st = read_value(static_cast<GgufValueType>(t), value, 0); !st) return st;
    if (f.kv_index_.count(key)) return fail("duplicate metadata key '" + key + "'");
    f.kv_index_.emplace(key, f.kv_.size());
    f.kv_.emplace_back(std::move(key), std::move(value));
  }

  if (const GgufValue* a = f.find("general.alignment")) {
    auto v = a->as_int();
    if (!v || *v <= 0 || *v > (1 << 20) || (*v % 8) != 0)
      return fail("general.alignment must be a positive multiple of 8, got " + a->to_display());
    f.alignment_ = static_cast<uint32_t>(*v);
  }

  f.tensors_.reserve(static_cast<size_t>(n_tensors));
  for (uint64_t i = 0; i < n_tensors; ++i) {
    GgufTensorInfo ti;
    if (auto st = read_string(ti.name, kMaxTensorNameBytes, "a tensor name"); !st) return st;
    if (!read(ti.n_dims)) return fail("file ends inside tensor '" + ti.name + "'");
    if (ti.n_dims == 0 || ti.n_dims > 4)
      return fail("tensor '" + ti.name + "' has " + std::to_string(ti.n_dims) + " dimensions (1 to 4 allowed)");
    uint64_t total = 1;
    for (uint32_t d = 0; d < ti.n_dims; ++d) {
      uint64_t ne = 0;
      if (!read(ne)) return fail("file ends inside the shape of tensor '" + ti.name + "'");
      if (ne == 0 || ne > (uint64_t{1} << 40))
        return fail("tensor '" + ti.name + "' has dimension " + std::to_string(d) + " = " + std::to_string(ne));
      if (total > std::numeric_limits<int64_t>::max() / ne)
        return fail("tensor '" + ti.name + "' has more elements than fit in 64 bits");
      total *= ne;
      ti.ne[d] = static_cast<int64_t>(ne);
    }
    if (!read(ti.type_id) || !read(ti.offset)) return fail("file ends inside tensor '" + ti.name + "'");
    const TypeTraits* tr = type_traits(ti.type_id);
    if (tr == nullptr)
      return fail("tensor '" + ti.name + "' has unknown type id " + std::to_string(ti.type_id));
    if (ti.ne[0] % tr->block_size != 0)
      return fail("tensor '" + ti.name + "' row of " + std::to_string(ti.ne[0]) + " is not a multiple of the " +
                  std::string(tr->name) + " block size " + std::to_string(tr->block_size));
    const uint64_t blocks = total / static_cast<uint64_t>(tr->block_size);
    if (blocks > std::numeric_limits<uint64_t>::max() / tr->block_bytes)
      return fail("tensor '" + ti.name + "' byte size overflows");
    ti.nbytes = blocks * tr->block_bytes;
    if (ti.offset % f.alignment_ != 0)
      return fail("tensor '" + ti.name + "' offset " + std::to_string(ti.offset) + " is not a multiple of the alignment " +
                  std::to_string(f.alignment_));
    if (f.tensor_index_.count(ti.name)) return fail("duplicate tensor name '" + ti.name + "'");
    f.tensor_index_.emplace(ti.name, f.tensors_.size());
    f.tensors_.push_back(std::move(ti));
  }

  const uint64_t align = f.alignment_;
  const uint64_t data_start = (pos_ + align - 1) / align * align;
  if (!f.tensors_.empty() && data_start > size_) return fail("the tensor data section starts past the end of the file");
  f.data_offset_ = data_start;
  const uint64_t data_size = size_ > data_start ? size_ - data_start : 0;

  std::vector<const GgufTensorInfo*> by_offset;
  by_offset.reserve(f.tensors_.size());
  for (auto& ti : f.tensors_) {
    if (ti.offset > data_size || ti.nbytes > data_size - ti.offset)
      return make_error(ErrorCode::kMalformedFile,
                        "malformed GGUF '" + name_ + "': tensor '" + ti.name + "' (" + std::to_string(ti.nbytes) +
                            " bytes at data offset " + std::to_string(ti.offset) + ") runs past the end of the file; "
                            "the file is probably truncated",
                        "Download the model again; its size should be larger than " + std::to_string(size_) + " bytes.");
    ti.data = p_ + data_start + ti.offset;
    by_offset.push_back(&ti);
  }
  std::sort(by_offset.begin(), by_offset.end(), [](auto* a, auto* b) { return a->offset < b->offset; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    const auto* prev = by_offset[i - 1];
    if (by_offset[i]->offset < prev->offset + prev->nbytes)
      return make_error(ErrorCode::kMalformedFile, "malformed GGUF '" + name_ + "': tensors '" + prev->name + "' and '" +
                                                       by_offset[i]->name + "' overlap");
  }
  return {};
}

Result<GgufFile> GgufFile::parse(const uint8_t* data, size_t size, std::string name) {
  GgufFile f;
  f.base_ = data;
  f.size_ = size;
  f.name_ = name;
  GgufParser parser(data, size, std::move(name));
  if (auto st = parser.parse(f); !st) return st.error();
  return f;
}

Result<GgufFile> GgufFile::open(const std::string& path) {
  auto map = MappedFile::open(path);
  if (!map) return map.error();
  auto parsed = parse(map->data(), map->size(), path);
  if (!parsed) return parsed.error();
  GgufFile f = std::move(parsed.value());
  f.map_ = std::move(map.value());  // the map's pages do not move, so tensor pointers stay valid
  return f;
}

const GgufValue* GgufFile::find(std::string_view key) const {
  auto it = kv_index_.find(key);
  return it == kv_index_.end() ? nullptr : &kv_[it->second].second;
}

std::optional<int64_t> GgufFile::get_int(std::string_view key) const {
  const GgufValue* v = find(key);
  return v ? v->as_int() : std::nullopt;
}
std::optional<double> GgufFile::get_float(std::string_view key) const {
  const GgufValue* v = find(key);
  return v ? v->as_float() : std::nullopt;
}
std::optional<bool> GgufFile::get_bool(std::string_view key) const {
  const GgufValue* v = find(key);
  return v ? v->as_bool() : std::nullopt;
}
std::optional<std::string> GgufFile::get_string(std::string_view key) const {
  const GgufValue* v = find(key);
  if (v == nullptr || v->as_string() == nullptr) return std::nullopt;
  return *v->as_string();
}
const GgufArray* GgufFile::get_array(std::string_view key) const {
  const GgufValue* v = find(key);
  return v ? v->as_array() : nullptr;
}

const GgufTensorInfo* GgufFile::find_tensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

}  // namespace cyllm
