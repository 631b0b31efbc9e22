#include "serve/adapter-registry.h"

#include <atomic>
#include <cmath>
#include <cstring>

namespace cyllm {

namespace {

std::atomic<uint64_t> g_next_id{1};  // process-wide, so ids from two registries never collide

uint64_t next_id() { return g_next_id.fetch_add(1); }

// FNV-1a 64 over the adapter's shapes and values: tells whether a reload gave the same weights.
uint64_t fingerprint(const LoraAdapter& a) {
  uint64_t h = 0xcbf29ce484222325ull;
  auto bytes = [&](const void* p, size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    for (size_t i = 0; i < n; ++i) {
      h ^= b[i];
      h *= 0x100000001b3ull;
    }
  };
  bytes(&a.scale, sizeof a.scale);
  for (const auto& layer : a.layers)
    for (const auto& m : layer) {
      const int dims[3] = {m.rank, m.in, m.out};
      bytes(dims, sizeof dims);
      bytes(m.a.data(), m.a.size() * sizeof(float));
      bytes(m.b.data(), m.b.size() * sizeof(float));
    }
  return h;
}

std::string eos_str(const AdapterProvenance& p) {
  std::string s;
  if (p.eos_token_id) s = std::to_string(*p.eos_token_id);
  if (p.eos_token) s += (s.empty() ? "'" : " '") + *p.eos_token + "'";
  return s.empty() ? "(unrecorded)" : s;
}

std::string hash_str(const std::string& h) { return h.empty() ? "(unrecorded)" : "sha256:" + h; }

}  // namespace

std::string adapter_provenance_mismatch(const std::string& adapter_name, const AdapterProvenance& adapter,
                                        const AdapterProvenance& server) {
  const bool tpl = !adapter.chat_template_sha256.empty() && !server.chat_template_sha256.empty() &&
                   adapter.chat_template_sha256 != server.chat_template_sha256;
  const bool eos_id = adapter.eos_token_id && server.eos_token_id && *adapter.eos_token_id != *server.eos_token_id;
  const bool eos_text = adapter.eos_token && server.eos_token && *adapter.eos_token != *server.eos_token;
  if (!tpl && !eos_id && !eos_text) return {};
  std::string what = tpl ? (eos_id || eos_text ? "chat template and EOS token" : "chat template") : "EOS token";
  return "adapter '" + adapter_name + "' was trained with a different " + what + " than the server uses: adapter chat template " +
         hash_str(adapter.chat_template_sha256) + ", EOS " + eos_str(adapter) + "; server chat template " +
         hash_str(server.chat_template_sha256) + ", EOS " + eos_str(server) +
         ". Its outputs may not stop or format as trained.";
}

struct AdapterRegistry::Entry {
  std::string name, path;
  std::string format;  // "peft", "gguf", "memory"
  bool memory = false;
  float scale = 1.0f;
  uint64_t id = 0;
  uint64_t print = 0;  // fingerprint of the registered weights
  std::shared_ptr<const LoraAdapter> resident;
  bool loading = false, removed = false;
  uint64_t last_use = 0;
  std::vector<std::string> warnings;
};

AdapterRegistry::AdapterRegistry(ModelConfig base, AdapterRegistryOptions opts, AdapterLoader loader)
    : base_(std::move(base)), opts_(std::move(opts)), loader_(std::move(loader)), max_resident_(std::max(1, opts_.max_resident)) {}

Status AdapterRegistry::check_name(const std::string& name) const {
  bool ok = !name.empty() && name.size() <= 128;
  for (unsigned char c : name) ok = ok && c > 0x20 && c != 0x7f && c != ':';
  if (!ok)
    return make_error(ErrorCode::kInvalidArgument, "'" + name + "' is not a valid adapter name",
                      "Use 1 to 128 visible characters without ':' (requests name adapters as base:adapter).");
  return {};
}

// Provenance check, the registered scale applied, and the fingerprint. Pure: no lock needed.
Result<std::shared_ptr<const LoraAdapter>> AdapterRegistry::finish_load(Entry& e, LoadedAdapter loaded,
                                                                         std::vector<std::string>* warnings) {
  if (std::string msg = adapter_provenance_mismatch(e.name, loaded.meta.provenance, opts_.server); !msg.empty()) {
    if (opts_.provenance == ProvenancePolicy::kRefuse)
      return make_error(ErrorCode::kInvalidArgument, msg,
                        "Serve it with the chat template it was trained with, or set the provenance policy to warn.");
    warnings->push_back(msg);
  }
  for (auto& n : loaded.notes) warnings->push_back("adapter '" + e.name + "': " + n);
  LoraAdapter a = std::move(loaded.adapter);
  a.name = e.name;
  const uint64_t print = fingerprint(a);
  if (e.print != 0 && print != e.print) {
    warnings->push_back("adapter '" + e.name + "' changed on disk since it was registered; it gets a new adapter_id");
    e.id = next_id();
  }
  e.print = print;
  a.scale *= e.scale;
  return std::shared_ptr<const LoraAdapter>(std::make_shared<LoraAdapter>(std::move(a)));
}

int AdapterRegistry::resident_locked() const {
  int n = 0;
  for (const auto& [name, e] : entries_) n += !e->memory && e->resident ? 1 : 0;
  return n;
}

bool AdapterRegistry::make_room(const Entry* keep, int slots_needed) {
  while (resident_locked() > max_resident_ - slots_needed) {
    Entry* victim = nullptr;
    for (const auto& [name, e] : entries_) {
      if (e.get() == keep || e->memory || !e->resident || e->resident.use_count() != 1) continue;
      if (!victim || e->last_use < victim->last_use) victim = e.get();
    }
    if (!victim) return false;
    victim->resident.reset();
  }
  return true;
}

void AdapterRegistry::report_warnings(const std::vector<std::string>& warnings) const {
  if (opts_.on_warning)
    for (const auto& w : warnings) opts_.on_warning(w);
}

static Error full_error(int max) {
  return make_error(ErrorCode::kOutOfMemory,
                    "all " + std::to_string(max) + " resident LoRA adapters are in use by running requests",
                    "Retry when a request finishes, or raise the resident-adapter limit (--max-loras).");
}

Status AdapterRegistry::register_file(const AdapterSpec& spec) {
  if (auto st = check_name(spec.name); !st) return st;
  if (!std::isfinite(spec.scale)) return make_error(ErrorCode::kInvalidArgument, "adapter '" + spec.name + "': scale must be finite");
  {
    std::lock_guard lk(mu_);
    if (!spec.replace && entries_.count(spec.name))
      return make_error(ErrorCode::kInvalidArgument, "an adapter named '" + spec.name + "' is already registered",
                        "Unload it first, or ask to replace it.");
  }
  auto loaded = loader_(spec.path, base_);
  if (!loaded) return loaded.error();
  auto e = std::make_shared<Entry>();
  e->name = spec.name;
  e->path = spec.path;
  e->format = std::string(adapter_format_name(loaded->format));
  e->scale = spec.scale;
  std::vector<std::string> warnings;
  auto ptr = finish_load(*e, std::move(*loaded), &warnings);
  if (!ptr) return ptr.error();
  e->id = next_id();
  e->warnings = warnings;
  {
    std::lock_guard lk(mu_);
    auto it = entries_.find(spec.name);
    if (it != entries_.end()) {
      if (!spec.replace)
        return make_error(ErrorCode::kInvalidArgument, "an adapter named '" + spec.name + "' is already registered");
      it->second->removed = true;
      entries_.erase(it);
      loaded_cv_.notify_all();
    }
    if (spec.preload) {
      if (!make_room(nullptr)) return full_error(max_resident_);
      e->resident = std::move(*ptr);
    } else if (resident_locked() < max_resident_) {
      e->resident = std::move(*ptr);
    }
    if (e->resident) e->last_use = ++tick_;
    entries_[spec.name] = e;
  }
  report_warnings(warnings);
  return {};
}

Status AdapterRegistry::register_memory(const std::string& name, LoraAdapter adapter, AdapterMeta meta, float scale, bool replace) {
  if (auto st = check_name(name); !st) return st;
  if (!std::isfinite(scale)) return make_error(ErrorCode::kInvalidArgument, "adapter '" + name + "': scale must be finite");
  if (auto st = validate_adapter(adapter, base_); !st) return st;
  auto e = std::make_shared<Entry>();
  e->name = name;
  e->format = "memory";
  e->memory = true;
  e->scale = scale;
  LoadedAdapter loaded;
  loaded.adapter = std::move(adapter);
  loaded.meta = std::move(meta);
  std::vector<std::string> warnings;
  auto ptr = finish_load(*e, std::move(loaded), &warnings);
  if (!ptr) return ptr.error();
  e->id = next_id();
  e->warnings = warnings;
  e->resident = std::move(*ptr);
  {
    std::lock_guard lk(mu_);
    auto it = entries_.find(name);
    if (it != entries_.end()) {
      if (!replace) return make_error(ErrorCode::kInvalidArgument, "an adapter named '" + name + "' is already registered");
      it->second->removed = true;
      entries_.erase(it);
      loaded_cv_.notify_all();
    }
    e->last_use = ++tick_;
    entries_[name] = e;
  }
  report_warnings(warnings);
  return {};
}

Result<AdapterLease> AdapterRegistry::acquire(const std::string& name) {
  std::vector<std::string> warnings;
  struct Emit {
    const AdapterRegistry* r;
    std::vector<std::string>* w;
    ~Emit() { r->report_warnings(*w); }
  } emit_on_exit{this, &warnings};
  std::unique_lock lk(mu_);
  for (;;) {
    auto it = entries_.find(name);
    if (it == entries_.end()) {
      std::string known;
      for (const auto& [n, e] : entries_) known += (known.empty() ? "" : ", ") + n;
      return make_error(ErrorCode::kNotFound, "no LoRA adapter named '" + name + "' is registered",
                        known.empty() ? "No adapters are registered." : "Registered adapters: " + known + ".");
    }
    std::shared_ptr<Entry> e = it->second;
    if (e->resident) {
      e->last_use = ++tick_;
      return AdapterLease{e->resident, e->id, e->name};
    }
    if (e->loading) {
      loaded_cv_.wait(lk, [&] { return !e->loading || e->removed; });
      continue;
    }
    e->loading = true;
    const std::string path = e->path;
    lk.unlock();
    auto loaded = loader_(path, base_);
    lk.lock();
    e->loading = false;
    loaded_cv_.notify_all();
    if (e->removed) continue;  // unloaded or replaced meanwhile: look the name up again
    if (!loaded) return loaded.error();
    auto ptr = finish_load(*e, std::move(*loaded), &warnings);  // cheap next to the file read
    if (!ptr) return ptr.error();
    for (const auto& w : warnings) e->warnings.push_back(w);
    if (!make_room(e.get())) return full_error(max_resident_);
    e->resident = std::move(*ptr);
  }
}

Status AdapterRegistry::set_max_resident(int n) {
  if (n < 1) return make_error(ErrorCode::kInvalidArgument, "the resident-adapter limit must be at least 1");
  std::lock_guard lk(mu_);
  max_resident_ = n;
  make_room(nullptr, 0);  // idle ones beyond the new limit go now; ones in use when they finish
  return {};
}

int AdapterRegistry::max_resident() const {
  std::lock_guard lk(mu_);
  return max_resident_;
}

Status AdapterRegistry::preload(const std::string& name) {
  auto lease = acquire(name);
  return lease ? Status{} : Status(lease.error());
}

Status AdapterRegistry::unload(const std::string& name) {
  std::lock_guard lk(mu_);
  auto it = entries_.find(name);
  if (it == entries_.end()) return make_error(ErrorCode::kNotFound, "no LoRA adapter named '" + name + "' is registered");
  it->second->removed = true;
  entries_.erase(it);
  loaded_cv_.notify_all();
  return {};
}

std::optional<std::string> AdapterRegistry::adapter_for_model(std::string_view model) const {
  std::lock_guard lk(mu_);
  std::string_view name = model;
  if (const size_t colon = model.rfind(':'); colon != std::string_view::npos) {
    if (!opts_.base_name.empty() && model.substr(0, colon) != opts_.base_name) return std::nullopt;
    name = model.substr(colon + 1);
  }
  if (entries_.count(std::string(name))) return std::string(name);
  return std::nullopt;
}

std::vector<AdapterInfo> AdapterRegistry::list() const {
  std::lock_guard lk(mu_);
  std::vector<AdapterInfo> out;
  for (const auto& [name, e] : entries_) {
    AdapterInfo i;
    i.name = name;
    i.base = opts_.base_name;
    i.path = e->path;
    i.format = e->format;
    i.adapter_id = e->id;
    i.scale = e->scale;
    i.resident = e->resident != nullptr;
    i.in_use = e->resident ? static_cast<int>(e->resident.use_count()) - 1 : 0;
    i.warnings = e->warnings;
    out.push_back(std::move(i));
  }
  return out;
}

bool AdapterRegistry::contains(const std::string& name) const {
  std::lock_guard lk(mu_);
  return entries_.count(name) > 0;
}

int AdapterRegistry::resident_count() const {
  std::lock_guard lk(mu_);
  return resident_locked();
}

}  // namespace cyllm
