#include "model/merge-lora.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <random>

#include "backend/quant.h"
#include "model/adapter-io.h"
#include "model/gguf-bytes.h"
#include "model/model-config.h"

namespace cyllm {

namespace fs = std::filesystem;

const char* merge_type_name(MergeType t) {
  switch (t) {
    case MergeType::kF16: return "f16";
    case MergeType::kF32: return "f32";
    case MergeType::kBF16: return "bf16";
    case MergeType::kBase: return "base";
  }
  return "?";
}

bool parse_merge_type(const std::string& s, MergeType* out) {
  for (MergeType t : {MergeType::kF16, MergeType::kF32, MergeType::kBF16, MergeType::kBase})
    if (s == merge_type_name(t)) {
      *out = t;
      return true;
    }
  return false;
}

namespace {

using gguf_bytes::put;
using gguf_bytes::put_str;

// The payload of a value of type t (without the type tag), as the GGUF spec lays it out.
void put_value(std::string& out, GgufValueType t, const GgufValue& v) {
  auto u = [&] { return std::holds_alternative<uint64_t>(v.v) ? std::get<uint64_t>(v.v) : static_cast<uint64_t>(std::get<int64_t>(v.v)); };
  auto i = [&] { return std::holds_alternative<int64_t>(v.v) ? std::get<int64_t>(v.v) : static_cast<int64_t>(std::get<uint64_t>(v.v)); };
  switch (t) {
    case GgufValueType::U8: put<uint8_t>(out, static_cast<uint8_t>(u())); break;
    case GgufValueType::I8: put<int8_t>(out, static_cast<int8_t>(i())); break;
    case GgufValueType::U16: put<uint16_t>(out, static_cast<uint16_t>(u())); break;
    case GgufValueType::I16: put<int16_t>(out, static_cast<int16_t>(i())); break;
    case GgufValueType::U32: put<uint32_t>(out, static_cast<uint32_t>(u())); break;
    case GgufValueType::I32: put<int32_t>(out, static_cast<int32_t>(i())); break;
    case GgufValueType::U64: put<uint64_t>(out, u()); break;
    case GgufValueType::I64: put<int64_t>(out, i()); break;
    case GgufValueType::F32: put<float>(out, static_cast<float>(std::get<double>(v.v))); break;
    case GgufValueType::F64: put<double>(out, std::get<double>(v.v)); break;
    case GgufValueType::BOOL: put<uint8_t>(out, std::get<bool>(v.v) ? 1 : 0); break;
    case GgufValueType::STRING: put_str(out, std::get<std::string>(v.v)); break;
    case GgufValueType::ARRAY: {
      const GgufArray& a = *std::get<std::shared_ptr<GgufArray>>(v.v);
      put<uint32_t>(out, static_cast<uint32_t>(a.elem_type));
      put<uint64_t>(out, a.items.size());
      for (const auto& item : a.items) put_value(out, a.elem_type, item);
      break;
    }
  }
}

Error io_error(const std::string& what) {
  return make_error(ErrorCode::kIoError, "merge: " + what + ": " + std::strerror(errno),
                    "Check free disk space and permissions of the output directory.");
}

class OutFile {
 public:
  ~OutFile() {
    if (fd_ >= 0) ::close(fd_);
  }
  Status open(const fs::path& p) {
    fd_ = ::open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    return fd_ < 0 ? Status(io_error("cannot create " + p.string())) : Status{};
  }
  Status write(const void* data, size_t n) {
    const char* p = static_cast<const char*>(data);
    while (n > 0) {
      const ssize_t w = ::write(fd_, p, n);
      if (w < 0) {
        if (errno == EINTR) continue;
        return io_error("cannot write");
      }
      p += w;
      n -= static_cast<size_t>(w);
      written_ += static_cast<uint64_t>(w);
    }
    return {};
  }
  Status pad_to(uint64_t align) {
    static const char zeros[256] = {};
    uint64_t n = (align - written_ % align) % align;
    while (n > 0) {
      const size_t k = static_cast<size_t>(std::min<uint64_t>(n, sizeof zeros));
      if (auto st = write(zeros, k); !st) return st;
      n -= k;
    }
    return {};
  }
  Status sync_close() {
    if (::fsync(fd_) != 0) return io_error("cannot sync");
    const int rc = ::close(fd_);
    fd_ = -1;
    return rc == 0 ? Status{} : io_error("cannot close");
  }
  uint64_t written() const { return written_; }

 private:
  int fd_ = -1;
  uint64_t written_ = 0;
};

bool can_requantize(GgmlType t) {
  switch (t) {
    case GgmlType::F32: case GgmlType::F16: case GgmlType::BF16: case GgmlType::Q4_0: case GgmlType::Q4_1:
    case GgmlType::Q5_0: case GgmlType::Q5_1: case GgmlType::Q8_0: case GgmlType::Q4_K: case GgmlType::Q5_K:
    case GgmlType::Q6_K:
      return true;
    default:
      return false;
  }
}

struct Job {
  int layer = -1, target = -1;  // -1: copied as is
  GgmlType out_type{};
  uint64_t nbytes = 0;
};

}  // namespace

Result<MergeReport> merge_lora(const GgufFile& base, const LoraAdapter& adapter, const std::string& out_path,
                               const MergeOptions& opts, ThreadPool* pool) {
  auto cfg = ModelConfig::from_gguf(base);
  if (!cfg) return cfg.error();
  if (auto st = validate_adapter(adapter, *cfg); !st) return st.error();
  if (!std::isfinite(opts.scale)) return make_error(ErrorCode::kInvalidArgument, "merge: the scale must be finite");
  const float scale = adapter.scale * opts.scale;
  MergeReport report;

  // Which tensors change, and how they are stored.
  std::vector<Job> jobs(base.tensors().size());
  for (size_t l = 0; l < adapter.layers.size(); ++l)
    for (int t = 0; t < kLoraTargets; ++t) {
      const LoraMatrix& m = adapter.layers[l][static_cast<size_t>(t)];
      if (!m.present()) continue;
      const std::string name = gguf_lora_base_name(static_cast<int>(l), static_cast<LoraTarget>(t));
      const GgufTensorInfo* ti = base.find_tensor(name);
      if (!ti)
        return make_error(ErrorCode::kInvalidArgument, "merge: the base model has no tensor '" + name + "' for the adapter",
                          "Use the base model the adapter was trained for.");
      if (ti->n_dims != 2 || ti->ne[0] != m.in || ti->ne[1] != m.out)
        return make_error(ErrorCode::kInvalidArgument,
                          "merge: tensor '" + name + "' is " + std::to_string(ti->ne[0]) + " x " + std::to_string(ti->ne[1]) +
                              ", the adapter expects " + std::to_string(m.in) + " x " + std::to_string(m.out));
      const TypeTraits* tt = type_traits(ti->type_id);
      if (!tt || !tt->computable)
        return make_error(ErrorCode::kUnsupported, "merge: tensor '" + name + "' has type " +
                                                       std::string(type_name(ti->type_id)) + ", which cannot be dequantized");
      Job& j = jobs[static_cast<size_t>(ti - base.tensors().data())];
      j.layer = static_cast<int>(l);
      j.target = t;
      switch (opts.type) {
        case MergeType::kF16: j.out_type = GgmlType::F16; break;
        case MergeType::kF32: j.out_type = GgmlType::F32; break;
        case MergeType::kBF16: j.out_type = GgmlType::BF16; break;
        case MergeType::kBase:
          j.out_type = ti->type();
          if (!can_requantize(j.out_type)) {
            report.notes.push_back("'" + name + "' (" + std::string(type_name(ti->type_id)) +
                                   ") cannot be requantized here; written as F16");
            j.out_type = GgmlType::F16;
          }
          break;
      }
      j.nbytes = *row_bytes(j.out_type, m.in) * static_cast<uint64_t>(m.out);
    }
  for (size_t i = 0; i < jobs.size(); ++i)
    if (jobs[i].layer < 0) jobs[i].nbytes = base.tensors()[i].nbytes;

  // Header: every key/value of the base (but earlier merge records), then ours; tensor infos.
  const uint64_t align = base.alignment();
  std::string head;
  put<uint32_t>(head, 0x46554747);  // "GGUF"
  put<uint32_t>(head, 3);
  put<uint64_t>(head, base.tensors().size());
  std::string kvs;
  uint64_t n_kv = 0;
  for (const auto& [key, value] : base.metadata()) {
    if (key.rfind("cyllm.merged_lora.", 0) == 0) continue;
    put_str(kvs, key);
    put<uint32_t>(kvs, static_cast<uint32_t>(value.type));
    put_value(kvs, value.type, value);
    ++n_kv;
  }
  auto add_string = [&](const std::string& key, const std::string& v) {
    put_str(kvs, key);
    put<uint32_t>(kvs, static_cast<uint32_t>(GgufValueType::STRING));
    put_str(kvs, v);
    ++n_kv;
  };
  add_string("cyllm.merged_lora.name", opts.adapter_name.empty() ? adapter.name : opts.adapter_name);
  put_str(kvs, "cyllm.merged_lora.scale");
  put<uint32_t>(kvs, static_cast<uint32_t>(GgufValueType::F32));
  put<float>(kvs, scale);
  ++n_kv;
  add_string("cyllm.merged_lora.type", merge_type_name(opts.type));
  put<uint64_t>(head, n_kv);
  head += kvs;
  uint64_t offset = 0;
  for (size_t i = 0; i < jobs.size(); ++i) {
    const GgufTensorInfo& ti = base.tensors()[i];
    put_str(head, ti.name);
    put<uint32_t>(head, ti.n_dims);
    for (uint32_t d = 0; d < ti.n_dims; ++d) put<uint64_t>(head, static_cast<uint64_t>(ti.ne[d]));
    put<uint32_t>(head, jobs[i].layer >= 0 ? static_cast<uint32_t>(jobs[i].out_type) : ti.type_id);
    put<uint64_t>(head, offset);
    offset += (jobs[i].nbytes + align - 1) / align * align;
  }

  const fs::path out(out_path);
  std::random_device rd;
  const fs::path tmp = out.parent_path() / (out.filename().string() + ".tmp-" + std::to_string(rd()));
  OutFile f;
  if (auto st = f.open(tmp); !st) return st.error();
  auto fail = [&](Error e) -> Result<MergeReport> {
    std::error_code ec;
    fs::remove(tmp, ec);
    return e;
  };
  if (auto st = f.write(head.data(), head.size()); !st) return fail(st.error());
  if (auto st = f.pad_to(align); !st) return fail(st.error());
  const uint64_t data_start = f.written();

  std::vector<uint8_t> merged;
  double update2 = 0, rounding2 = 0;
  for (size_t i = 0; i < jobs.size(); ++i) {
    const GgufTensorInfo& ti = base.tensors()[i];
    const Job& j = jobs[i];
    if (auto st = f.pad_to(align); !st) return fail(st.error());
    if (f.written() - data_start > 0 && (f.written() - data_start) % align != 0) return fail(io_error("misaligned"));
    if (j.layer < 0) {
      if (auto st = f.write(ti.data, ti.nbytes); !st) return fail(st.error());
      ++report.copied;
      continue;
    }
    const LoraMatrix& m = adapter.layers[static_cast<size_t>(j.layer)][static_cast<size_t>(j.target)];
    const size_t in_row = *row_bytes(ti.type(), m.in), out_row = *row_bytes(j.out_type, m.in);
    merged.assign(static_cast<size_t>(j.nbytes), 0);
    std::vector<double> upd2(static_cast<size_t>(m.out)), err2(static_cast<size_t>(m.out));  // per row: fixed-order sums
    auto rows = [&](int64_t r0, int64_t r1) {
      std::vector<float> w(static_cast<size_t>(m.in)), d(static_cast<size_t>(m.in)), back(static_cast<size_t>(m.in));
      for (int64_t o = r0; o < r1; ++o) {
        cpu::dequantize_row(ti.type(), ti.data + static_cast<size_t>(o) * in_row, w.data(), m.in);
        std::fill(d.begin(), d.end(), 0.0f);
        for (int r = 0; r < m.rank; ++r) {
          const float b = m.b[static_cast<size_t>(o) * static_cast<size_t>(m.rank) + static_cast<size_t>(r)];
          const float* a = m.a.data() + static_cast<size_t>(r) * static_cast<size_t>(m.in);
          for (int k = 0; k < m.in; ++k) d[static_cast<size_t>(k)] += b * a[k];
        }
        double u2 = 0;
        for (int k = 0; k < m.in; ++k) {
          const float u = scale * d[static_cast<size_t>(k)];
          w[static_cast<size_t>(k)] += u;
          u2 += static_cast<double>(u) * u;
        }
        uint8_t* dst = merged.data() + static_cast<size_t>(o) * out_row;
        cpu::quantize_row_ref(j.out_type, w.data(), dst, m.in);
        cpu::dequantize_row(j.out_type, dst, back.data(), m.in);
        double e2 = 0;
        for (int k = 0; k < m.in; ++k) {
          const double e = static_cast<double>(back[static_cast<size_t>(k)]) - w[static_cast<size_t>(k)];
          e2 += e * e;
        }
        upd2[static_cast<size_t>(o)] = u2;
        err2[static_cast<size_t>(o)] = e2;
      }
    };
    if (pool) pool->parallel_for(m.out, 16, rows);
    else rows(0, m.out);
    if (auto st = f.write(merged.data(), merged.size()); !st) return fail(st.error());
    for (size_t o = 0; o < upd2.size(); ++o) {
      update2 += upd2[o];
      rounding2 += err2[o];
    }
    ++report.merged;
  }
  if (auto st = f.pad_to(align); !st) return fail(st.error());
  report.bytes = f.written();
  report.update_norm = std::sqrt(update2);
  report.rounding_norm = std::sqrt(rounding2);
  if (auto st = f.sync_close(); !st) return fail(st.error());
  std::error_code ec;
  fs::rename(tmp, out, ec);
  if (ec) return fail(make_error(ErrorCode::kIoError, "merge: cannot rename to " + out.string() + ": " + ec.message()));
  const fs::path dir = out.parent_path().empty() ? fs::path(".") : out.parent_path();
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return report;
}

}  // namespace cyllm
