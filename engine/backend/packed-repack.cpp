// Builds the row-interleaved weight copies of backend/packed.h (plain C++, any CPU) and the
// per-block activation scales the packed kernels read. The kernels themselves are in
// packed-avx512-vnni.cpp.
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <sys/mman.h>
#include <thread>
#include <vector>

#include "backend/packed.h"
#include "backend/quant-impl.h"
#include "model/weights.h"

namespace cyllm::cpu {

namespace {

uint32_t load_u32(const void* p) { uint32_t v; std::memcpy(&v, p, 4); return v; }
void store_u32(void* p, uint32_t v) { std::memcpy(p, &v, 4); }

size_t scale_bytes_per_block(GgmlType t) { return t == GgmlType::Q4_1 ? 64 : 32; }
size_t quant_bytes_per_block(GgmlType t) { return t == GgmlType::Q4_1 ? 256 : 512; }

// Shape of the packed copy (no storage yet); null if the weight cannot be packed.
std::shared_ptr<PackedWeight> plan_packed(GgmlType t, int64_t n, int64_t nrows) {
  if (!packed_type_supported(t) || n <= 0 || n % 32 != 0 || nrows <= 0) return nullptr;
  auto pw = std::make_shared<PackedWeight>();
  pw->type = t;
  pw->ne0 = n;
  pw->ne1 = nrows;
  pw->nb = n / 32;
  pw->ngroups = (nrows + kPackRows - 1) / kPackRows;
  pw->scale_bytes = (static_cast<size_t>(pw->nb) * scale_bytes_per_block(t) + 63) / 64 * 64;
  pw->group_bytes = pw->scale_bytes + static_cast<size_t>(pw->nb) * quant_bytes_per_block(t);
  return pw;
}

// At least `bytes`, 64-byte aligned: from 2 MiB up one anonymous 2 MiB-aligned mapping with
// MADV_HUGEPAGE (THP in "madvise" mode), else (or if mmap fails) aligned_alloc.
std::shared_ptr<void> alloc_arena(size_t bytes) {
  constexpr size_t kHuge = size_t{2} << 20;
  const size_t len = (bytes + kHuge - 1) / kHuge * kHuge;
  void* p = bytes < kHuge ? MAP_FAILED  // small (tests): the heap
                          : mmap(nullptr, len + kHuge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p != MAP_FAILED) {
    auto* raw = static_cast<uint8_t*>(p);
    auto* aligned = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(raw) + kHuge - 1) & ~(kHuge - 1));
    madvise(aligned, len, MADV_HUGEPAGE);
    const size_t total = len + kHuge;
    return std::shared_ptr<void>(aligned, [raw, total](void*) { munmap(raw, total); });
  }
  void* q = std::aligned_alloc(64, (bytes + 63) / 64 * 64);
  if (q == nullptr) return nullptr;
  return std::shared_ptr<void>(q, std::free);
}

// Gives every planned weight its place in one new arena. False if allocation failed.
bool place(std::span<const std::shared_ptr<PackedWeight>> pws) {
  size_t total = 0;
  for (const auto& pw : pws)
    if (pw) total += pw->bytes();
  if (total == 0) return true;
  auto arena = alloc_arena(total);
  if (!arena) return false;
  size_t off = 0;
  for (const auto& pw : pws) {
    if (!pw) continue;
    pw->storage = arena;
    pw->data = static_cast<uint8_t*>(arena.get()) + off;
    off += pw->bytes();  // a multiple of 64
  }
  return true;
}

// Fills groups [g0, g1) of pw from the row-major source.
void fill_groups(PackedWeight& pw, const uint8_t* rows, size_t row_stride, int64_t g0, int64_t g1) {
  const bool q41 = pw.type == GgmlType::Q4_1;
  const size_t sbb = scale_bytes_per_block(pw.type), qbb = quant_bytes_per_block(pw.type);
  for (int64_t g = g0; g < g1; ++g) {
    uint8_t* dst = pw.data + static_cast<size_t>(g) * pw.group_bytes;
    uint8_t* qdst = dst + pw.scale_bytes;
    if (g * kPackRows + kPackRows > pw.ne1) {  // padding rows: zero scales, weight 0
      std::memset(dst, 0, pw.scale_bytes);
      std::memset(qdst, q41 ? 0 : 0x80, static_cast<size_t>(pw.nb) * qbb);
    } else {
      std::memset(dst + static_cast<size_t>(pw.nb) * sbb, 0, pw.scale_bytes - static_cast<size_t>(pw.nb) * sbb);
    }
    for (int j = 0; j < kPackRows; ++j) {
      const int64_t r = g * kPackRows + j;
      if (r >= pw.ne1) break;
      const uint8_t* src = rows + static_cast<size_t>(r) * row_stride;
      for (int64_t b = 0; b < pw.nb; ++b) {
        uint8_t* sc = dst + static_cast<size_t>(b) * sbb;
        uint8_t* q = qdst + static_cast<size_t>(b) * qbb;
        if (q41) {
          const auto* blk = reinterpret_cast<const BlockQ4_1*>(src) + b;
          std::memcpy(sc + 2 * j, &blk->d, 2);
          std::memcpy(sc + 32 + 2 * j, &blk->m, 2);
          // Quad i of the output holds elements 8i..8i+3 (low nibbles) and 8i+4..8i+7 (high);
          // element e is the low nibble of qs[e] for e < 16, else the high nibble of qs[e - 16].
          for (int i = 0; i < 4; ++i) {
            const int o = (8 * i) % 16, sh = i < 2 ? 0 : 4;
            const uint32_t lo = (load_u32(blk->qs + o) >> sh) & 0x0F0F0F0Fu;
            const uint32_t hi = (load_u32(blk->qs + o + 4) >> sh) & 0x0F0F0F0Fu;
            store_u32(q + 64 * i + 4 * j, lo | (hi << 4));
          }
        } else {
          const auto* blk = reinterpret_cast<const BlockQ8_0*>(src) + b;
          std::memcpy(sc + 2 * j, &blk->d, 2);
          for (int k = 0; k < 8; ++k) store_u32(q + 64 * k + 4 * j, load_u32(blk->qs + 4 * k) ^ 0x80808080u);
        }
      }
    }
  }
}

}  // namespace

bool packed_type_supported(GgmlType t) { return t == GgmlType::Q4_1 || t == GgmlType::Q8_0; }

bool packed_available() {
  static const bool ok = [] {
    const char* env = std::getenv("CYLLM_PACKED");  // CYLLM_PACKED=0 turns the packed path off
    if (env != nullptr && std::string_view(env) == "0") return false;
    return active_isa() == Isa::kAvx512 && __builtin_cpu_supports("avx512vnni") != 0;
  }();
  return ok;
}

std::shared_ptr<const PackedWeight> pack_weight(GgmlType t, int64_t n, int64_t nrows, const uint8_t* rows,
                                                size_t row_stride) {
  auto pw = plan_packed(t, n, nrows);
  if (!pw || !place({&pw, 1})) return nullptr;
  fill_groups(*pw, rows, row_stride, 0, pw->ngroups);
  return pw;
}

size_t pack_weights(std::span<WeightRef* const> ws, int n_threads) {
  if (!packed_available()) return 0;
  struct Task { PackedWeight* pw; const WeightRef* w; int64_t g0, g1; };
  std::vector<Task> tasks;
  std::vector<std::shared_ptr<PackedWeight>> made(ws.size());
  size_t total = 0;
  constexpr int64_t kGroupsPerTask = 64;
  for (size_t i = 0; i < ws.size(); ++i) {
    const WeightRef* w = ws[i];
    if (!w->present() || w->packed) continue;
    made[i] = plan_packed(w->type, w->ne0, w->ne1);
    if (!made[i]) continue;
    total += made[i]->bytes();
  }
  if (!place(made)) return 0;  // out of memory: the unpacked kernels still work
  for (size_t i = 0; i < ws.size(); ++i) {
    const WeightRef* w = ws[i];
    if (!made[i]) continue;
    for (int64_t g = 0; g < made[i]->ngroups; g += kGroupsPerTask)
      tasks.push_back({made[i].get(), w, g, std::min(g + kGroupsPerTask, made[i]->ngroups)});
  }
  if (n_threads <= 0) n_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  n_threads = static_cast<int>(std::min<size_t>(static_cast<size_t>(n_threads), std::max<size_t>(1, tasks.size())));
  std::atomic<size_t> next{0};
  auto body = [&] {
    for (size_t k; (k = next.fetch_add(1, std::memory_order_relaxed)) < tasks.size();)
      fill_groups(*tasks[k].pw, tasks[k].w->data, tasks[k].w->row_stride, tasks[k].g0, tasks[k].g1);
  };
  std::vector<std::thread> th;
  for (int i = 1; i < n_threads; ++i) th.emplace_back(body);
  body();
  for (auto& t : th) t.join();
  for (size_t i = 0; i < ws.size(); ++i)
    if (made[i]) ws[i]->packed = std::move(made[i]);
  return total;
}

void packed_act_scales(GgmlType act_type, const uint8_t* act_row, int64_t n, float* out) {
  const int64_t nb = n / 32;
  const bool q81 = act_type == GgmlType::Q8_1;
  const size_t bb = q81 ? sizeof(BlockQ8_1) : sizeof(BlockQ8_0);
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* blk = act_row + static_cast<size_t>(b) * bb;
    uint16_t dh;
    std::memcpy(&dh, blk, 2);
    const auto* qs = reinterpret_cast<const int8_t*>(blk + (q81 ? 4 : 2));
    int sum = 0;
    for (int i = 0; i < 32; ++i) sum += qs[i];
    const float d = h2f(dh);
    out[2 * b] = d;
    // Q8_1: d * sum(q) in float, as the scalar reference computes the Q4_1 min term.
    out[2 * b + 1] = q81 ? d * static_cast<float>(sum) : -128.0f * static_cast<float>(sum);
  }
}

}  // namespace cyllm::cpu
