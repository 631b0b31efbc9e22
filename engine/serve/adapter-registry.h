// The LoRA adapters a server can apply, by name: registered from files (PEFT or GGUF LoRA, see
// model/adapter-io.h) or from memory, each with a user scale, loaded on demand and kept resident
// up to a limit. Requests take a lease: a shared_ptr to the immutable adapter (its scale already
// multiplied by the registered scale) and a stable adapter_id for the prefix-cache key
// (ServeRequest::adapter_id / lora in serve/scheduler.h).
//
// Residency. At most `max_resident` file-backed adapters are held in memory. Loading one more
// evicts the least recently used idle one; an adapter that a lease (and so a running request)
// still holds is never evicted — "in use" is the adapter's shared_ptr count, so a request keeps
// its adapter for as long as the scheduler keeps its ServeRequest, with no release call. When
// every resident adapter is in use, the load fails with `out_of_memory` (HTTP 503) rather than
// exceeding the limit. In-memory adapters have no file to reload from: they are always resident
// and do not count against the limit. unload() forgets a name at once; requests already holding
// it finish with it, and the memory goes with the last lease.
//
// adapter_id is fixed per registration (it survives eviction and reload) and never 0; a new
// registration of the same name gets a new id, and so does a reload whose content differs from
// what was registered (the file changed on disk), so cached KV blocks are never reused across
// different weights.
//
// Provenance. Each adapter's recorded chat template hash and EOS token are compared with the
// server's when it is registered and whenever it is loaded: a difference is a warning (kept in
// list() and passed to on_warning) or, with ProvenancePolicy::kRefuse, an error. Either message
// names both template hashes. Adapters without recorded provenance are not checked.
//
// Thread-safe: every method may be called from any thread. Files are read outside the lock;
// concurrent acquires of one adapter share one load.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "model/adapter-io.h"
#include "model/lora.h"
#include "model/model-config.h"

namespace cyllm {

enum class ProvenancePolicy { kWarn, kRefuse };

struct AdapterRegistryOptions {
  int max_resident = 4;               // file-backed adapters in memory at once (>= 1)
  ProvenancePolicy provenance = ProvenancePolicy::kWarn;
  AdapterProvenance server;           // what the server renders with; empty: no check
  std::string base_name;              // the base model's name, for list() and "base:adapter"
  std::function<void(const std::string&)> on_warning;  // called outside the lock; may be empty
};

struct AdapterSpec {
  std::string name;                   // non-empty, at most 128 bytes, no ':' / whitespace / control
  std::string path;                   // PEFT directory (or its files) or GGUF LoRA file
  float scale = 1.0f;                 // multiplies the adapter's own alpha/r scale
  bool preload = false;               // keep it resident now, evicting an idle one if needed
  bool replace = false;               // an existing registration of `name` is replaced
};

struct AdapterInfo {                  // one row of /v1/models and GET /v1/adapters
  std::string name;
  std::string base;
  std::string path;                   // "" for in-memory adapters
  std::string format;                 // "peft", "gguf" or "memory"
  uint64_t adapter_id = 0;
  float scale = 1.0f;                 // the registered (user) scale
  bool resident = false;
  int in_use = 0;                     // leases (running requests) holding it now
  std::vector<std::string> warnings;  // provenance warnings, notes from loading
};

struct AdapterLease {
  std::shared_ptr<const LoraAdapter> adapter;  // scale = adapter scale x registered scale
  uint64_t adapter_id = 0;
  std::string name;
};

using AdapterLoader = std::function<Result<LoadedAdapter>(const std::string& path, const ModelConfig& base)>;

// Empty when the two agree or either side recorded nothing; otherwise a sentence naming both
// template hashes (and both EOS tokens when they differ).
std::string adapter_provenance_mismatch(const std::string& adapter_name, const AdapterProvenance& adapter,
                                        const AdapterProvenance& server);

class AdapterRegistry {
 public:
  explicit AdapterRegistry(ModelConfig base, AdapterRegistryOptions opts = {}, AdapterLoader loader = load_adapter);
  AdapterRegistry(const AdapterRegistry&) = delete;
  AdapterRegistry& operator=(const AdapterRegistry&) = delete;

  // Reads and checks the file now (against the base and the provenance policy). The adapter
  // stays resident when spec.preload (evicting an idle one; fails if none is idle) or when a slot
  // is free. A taken name is an error unless spec.replace.
  Status register_file(const AdapterSpec& spec);
  // An adapter built in memory (tests, a trainer handing over its result). Checked against the
  // base; always resident.
  Status register_memory(const std::string& name, LoraAdapter adapter, AdapterMeta meta = {}, float scale = 1.0f,
                         bool replace = false);
  // Changes the resident limit (>= 1) at run time. Idle adapters beyond it are evicted now (LRU);
  // adapters in use stay until a later load needs their slot.
  Status set_max_resident(int n);
  int max_resident() const;
  // Makes a registered adapter resident now.
  Status preload(const std::string& name);
  // Forgets `name`. Leases already handed out stay valid.
  Status unload(const std::string& name);
  // The adapter for a request: loads it if needed. not_found for unknown names, out_of_memory
  // when every resident slot is in use, or the load's error.
  Result<AdapterLease> acquire(const std::string& name);

  // Which adapter a request's "model" names: "<base>:<adapter>" or a registered adapter name.
  // nullopt when it names no adapter (the base model, or something unknown).
  std::optional<std::string> adapter_for_model(std::string_view model) const;

  std::vector<AdapterInfo> list() const;  // sorted by name
  bool contains(const std::string& name) const;
  int resident_count() const;             // file-backed adapters in memory
  const AdapterRegistryOptions& options() const { return opts_; }
  const ModelConfig& base() const { return base_; }

 private:
  struct Entry;
  Status check_name(const std::string& name) const;
  Result<std::shared_ptr<const LoraAdapter>> finish_load(Entry& e, LoadedAdapter loaded, std::vector<std::string>* warnings);
  // Under mu_: evicts LRU idle file-backed adapters until `slots_needed` more fit under the limit;
  // false when the ones left are all in use.
  bool make_room(const Entry* keep, int slots_needed = 1);
  int resident_locked() const;
  void report_warnings(const std::vector<std::string>& warnings) const;

  const ModelConfig base_;
  const AdapterRegistryOptions opts_;
  const AdapterLoader loader_;
  mutable std::mutex mu_;
  std::condition_variable loaded_cv_;
  std::map<std::string, std::shared_ptr<Entry>> entries_;
  uint64_t tick_ = 0;
  int max_resident_;                      // guarded by mu_
};

}  // namespace cyllm
