// The adapter registry: registration from files and memory, leases and adapter ids, LRU eviction
// of idle adapters, pinning of adapters in use, unload while in use, provenance warnings and
// refusals, model-name lookup, thread safety, and a RapidCheck property against a simple model
// of the residency rules.
#include "serve/adapter-registry.h"
#include "support/tiny-adapter-config.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <random>
#include <thread>

namespace cyllm {
namespace {

namespace fs = std::filesystem;

ModelConfig tiny_config() { return test::tiny_adapter_base(); }

// Loads made-up adapters by path; counts loads; `version[path]` changes the content.
struct FakeFiles {
  std::mutex mu;
  std::map<std::string, int> version;
  std::map<std::string, AdapterProvenance> provenance;
  std::atomic<int> loads{0};
  AdapterLoader loader() {
    return [this](const std::string& path, const ModelConfig& c) -> Result<LoadedAdapter> {
      ++loads;
      std::lock_guard lk(mu);
      if (path.find("missing") != std::string::npos) return make_error(ErrorCode::kNotFound, "no file '" + path + "'");
      LoadedAdapter l;
      l.adapter = LoraAdapter::random(c, 2, 4.0f, std::hash<std::string>()(path) + static_cast<uint64_t>(version[path]), 0x01);
      l.path = path;
      l.format = AdapterFormat::kPeft;
      l.meta.provenance = provenance[path];
      return l;
    };
  }
};

AdapterRegistryOptions opts(int max) {
  AdapterRegistryOptions o;
  o.max_resident = max;
  o.base_name = "smol";
  return o;
}

const AdapterInfo* info(const std::vector<AdapterInfo>& v, const std::string& name) {
  for (const auto& i : v)
    if (i.name == name) return &i;
  return nullptr;
}

TEST(AdapterRegistry, RealFilesLeasesAndUnload) {
  const ModelConfig c = tiny_config();
  const fs::path dir = fs::temp_directory_path() / ("cyllm-registry-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  const LoraAdapter ad = LoraAdapter::random(c, 4, 8.0f, 1);  // scale 2
  ASSERT_TRUE(save_peft_adapter((dir / "peft").string(), ad, {}, c).ok());
  ASSERT_TRUE(save_gguf_adapter((dir / "g.gguf").string(), ad, {}, c).ok());
  AdapterRegistry reg(c, opts(4));
  ASSERT_TRUE(reg.register_file({"p", (dir / "peft").string(), 0.5f}).ok());
  ASSERT_TRUE(reg.register_file({"g", (dir / "g.gguf").string(), 1.0f}).ok());
  auto l = reg.list();
  ASSERT_EQ(l.size(), 2u);
  EXPECT_EQ(l[0].name, "g");
  EXPECT_EQ(l[0].format, "gguf");
  EXPECT_EQ(l[1].format, "peft");
  EXPECT_EQ(l[1].base, "smol");
  EXPECT_EQ(l[1].path, (dir / "peft").string());
  EXPECT_FLOAT_EQ(l[1].scale, 0.5f);
  EXPECT_TRUE(l[1].resident);
  EXPECT_EQ(l[1].in_use, 0);
  EXPECT_NE(l[0].adapter_id, l[1].adapter_id);

  auto lease = reg.acquire("p");
  ASSERT_TRUE(lease.ok()) << lease.error().to_string();
  EXPECT_FLOAT_EQ(lease->adapter->scale, 1.0f);  // 2 x 0.5
  EXPECT_EQ(lease->adapter->name, "p");
  EXPECT_EQ(lease->adapter->layers[1][3].b, ad.layers[1][3].b);
  EXPECT_EQ(lease->adapter_id, l[1].adapter_id);
  EXPECT_NE(lease->adapter_id, 0u);
  auto lease2 = reg.acquire("p");
  ASSERT_TRUE(lease2.ok());
  EXPECT_EQ(lease2->adapter.get(), lease->adapter.get());
  EXPECT_EQ(info(reg.list(), "p")->in_use, 2);
  lease2 = make_error(ErrorCode::kCancelled, "dropped");
  EXPECT_EQ(info(reg.list(), "p")->in_use, 1);

  ASSERT_TRUE(reg.unload("p").ok());
  EXPECT_FALSE(reg.contains("p"));
  EXPECT_EQ(lease->adapter->layers[1][3].b, ad.layers[1][3].b);  // the running request keeps it
  auto gone = reg.acquire("p");
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.error().code, ErrorCode::kNotFound);
  EXPECT_NE(gone.error().suggestion.find("g"), std::string::npos);
  EXPECT_EQ(reg.unload("p").error().code, ErrorCode::kNotFound);

  auto bad = reg.register_file({"bad", (dir / "nope").string()});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::kNotFound);
  EXPECT_FALSE(reg.contains("bad"));
  fs::remove_all(dir);
}

TEST(AdapterRegistry, NamesDuplicatesAndReplace) {
  FakeFiles files;
  AdapterRegistry reg(tiny_config(), opts(2), files.loader());
  for (const std::string& n : std::vector<std::string>{"", "a:b", "has space", std::string(129, 'x'), "ctl\x01"})
    EXPECT_EQ(reg.register_file({n, "f"}).error().code, ErrorCode::kInvalidArgument) << n;
  ASSERT_TRUE(reg.register_file({"a", "f1"}).ok());
  const uint64_t id = reg.list()[0].adapter_id;
  auto dup = reg.register_file({"a", "f2"});
  ASSERT_FALSE(dup.ok());
  EXPECT_NE(dup.error().message.find("already registered"), std::string::npos);
  auto held = reg.acquire("a");
  ASSERT_TRUE(held.ok());
  AdapterSpec s{"a", "f2"};
  s.replace = true;
  ASSERT_TRUE(reg.register_file(s).ok());
  EXPECT_NE(reg.list()[0].adapter_id, id);
  EXPECT_EQ(reg.list()[0].path, "f2");
  EXPECT_EQ(held->adapter_id, id);  // the old lease is untouched
  EXPECT_EQ(reg.register_file({"m", "missing"}).error().code, ErrorCode::kNotFound);
}

TEST(AdapterRegistry, LruEvictionPinningAndStableIds) {
  FakeFiles files;
  AdapterRegistry reg(tiny_config(), opts(2), files.loader());
  ASSERT_TRUE(reg.register_file({"a", "fa"}).ok());
  ASSERT_TRUE(reg.register_file({"b", "fb"}).ok());
  ASSERT_TRUE(reg.register_file({"c", "fc"}).ok());  // no free slot: registered, not resident
  EXPECT_EQ(files.loads, 3);
  EXPECT_TRUE(info(reg.list(), "a")->resident);
  EXPECT_TRUE(info(reg.list(), "b")->resident);
  EXPECT_FALSE(info(reg.list(), "c")->resident);
  const uint64_t id_a = info(reg.list(), "a")->adapter_id;

  ASSERT_TRUE(reg.acquire("a").ok());  // a is now more recent than b
  { auto c = reg.acquire("c"); ASSERT_TRUE(c.ok()); }
  EXPECT_EQ(files.loads, 4);
  EXPECT_FALSE(info(reg.list(), "b")->resident) << "b was the least recently used";
  EXPECT_TRUE(info(reg.list(), "a")->resident);
  EXPECT_EQ(reg.resident_count(), 2);

  // Both resident adapters in use: a third cannot come in.
  auto la = reg.acquire("a");
  auto lc = reg.acquire("c");
  ASSERT_TRUE(la.ok() && lc.ok());
  auto lb = reg.acquire("b");
  ASSERT_FALSE(lb.ok());
  EXPECT_EQ(lb.error().code, ErrorCode::kOutOfMemory);
  EXPECT_EQ(reg.preload("b").error().code, ErrorCode::kOutOfMemory);
  AdapterSpec pre{"d", "fd"};
  pre.preload = true;
  EXPECT_EQ(reg.register_file(pre).error().code, ErrorCode::kOutOfMemory);
  EXPECT_FALSE(reg.contains("d"));
  // The request using a finishes: a is evicted for b; a's id survives eviction and reload.
  la = make_error(ErrorCode::kCancelled, "done");
  ASSERT_TRUE(reg.acquire("b").ok());
  EXPECT_FALSE(info(reg.list(), "a")->resident);
  EXPECT_TRUE(info(reg.list(), "c")->resident);
  lc = make_error(ErrorCode::kCancelled, "done");
  auto again = reg.acquire("a");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->adapter_id, id_a);
  EXPECT_TRUE(info(reg.list(), "a")->warnings.empty());
}

TEST(AdapterRegistry, LoweringTheLimitEvictsIdleOnesOnly) {
  FakeFiles files;
  AdapterRegistry reg(tiny_config(), opts(3), files.loader());
  for (const char* n : {"a", "b", "c"}) ASSERT_TRUE(reg.register_file({n, std::string("f") + n}).ok());
  EXPECT_EQ(reg.resident_count(), 3);
  EXPECT_EQ(reg.set_max_resident(0).error().code, ErrorCode::kInvalidArgument);
  auto lc = reg.acquire("c");  // c is in use (and the most recent)
  ASSERT_TRUE(lc.ok());
  ASSERT_TRUE(reg.acquire("a").ok());  // a more recent than b
  ASSERT_TRUE(reg.set_max_resident(1).ok());
  EXPECT_EQ(reg.max_resident(), 1);
  // b and a were idle: gone, LRU first; c stays while its request runs.
  EXPECT_FALSE(info(reg.list(), "a")->resident);
  EXPECT_FALSE(info(reg.list(), "b")->resident);
  EXPECT_TRUE(info(reg.list(), "c")->resident);
  // Nothing else comes in while c is in use; once it is free, one slot is used again.
  EXPECT_EQ(reg.acquire("a").error().code, ErrorCode::kOutOfMemory);
  lc = make_error(ErrorCode::kCancelled, "done");
  ASSERT_TRUE(reg.acquire("a").ok());
  EXPECT_EQ(reg.resident_count(), 1);
  // Raising it lets more stay.
  ASSERT_TRUE(reg.set_max_resident(3).ok());
  ASSERT_TRUE(reg.preload("b").ok());
  EXPECT_EQ(reg.resident_count(), 2);
}

TEST(AdapterRegistry, ReloadOfChangedFileGetsNewId) {
  FakeFiles files;
  std::vector<std::string> warned;
  auto o = opts(1);
  o.on_warning = [&](const std::string& w) { warned.push_back(w); };
  AdapterRegistry reg(tiny_config(), o, files.loader());
  ASSERT_TRUE(reg.register_file({"a", "fa"}).ok());
  ASSERT_TRUE(reg.register_file({"b", "fb"}).ok());
  const uint64_t id = info(reg.list(), "a")->adapter_id;
  ASSERT_TRUE(reg.preload("b").ok());  // evicts a
  files.version["fa"] = 1;             // the file changes on disk
  auto l = reg.acquire("a");
  ASSERT_TRUE(l.ok());
  EXPECT_NE(l->adapter_id, id);
  ASSERT_EQ(warned.size(), 1u);
  EXPECT_NE(warned[0].find("changed on disk"), std::string::npos);
}

TEST(AdapterRegistry, ProvenanceWarnsOrRefusesNamingBothHashes) {
  FakeFiles files;
  const AdapterProvenance trained = make_adapter_provenance("template A", 2, "<|im_end|>");
  const AdapterProvenance server = make_adapter_provenance("template B", 2, "<|im_end|>");
  files.provenance["trained"] = trained;
  files.provenance["same"] = server;
  std::vector<std::string> warned;
  auto o = opts(4);
  o.server = server;
  o.on_warning = [&](const std::string& w) { warned.push_back(w); };
  {
    AdapterRegistry reg(tiny_config(), o, files.loader());
    ASSERT_TRUE(reg.register_file({"x", "trained"}).ok());
    ASSERT_TRUE(reg.register_file({"y", "same"}).ok());
    ASSERT_TRUE(reg.register_file({"z", "unrecorded"}).ok());
    ASSERT_EQ(warned.size(), 1u);
    EXPECT_NE(warned[0].find("sha256:" + trained.chat_template_sha256), std::string::npos) << warned[0];
    EXPECT_NE(warned[0].find("sha256:" + server.chat_template_sha256), std::string::npos) << warned[0];
    EXPECT_EQ(info(reg.list(), "x")->warnings, warned);
    EXPECT_TRUE(info(reg.list(), "y")->warnings.empty());
    EXPECT_TRUE(info(reg.list(), "z")->warnings.empty());
  }
  o.provenance = ProvenancePolicy::kRefuse;
  AdapterRegistry strict(tiny_config(), o, files.loader());
  auto st = strict.register_file({"x", "trained"});
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(st.error().message.find(trained.chat_template_sha256), std::string::npos);
  EXPECT_NE(st.error().message.find(server.chat_template_sha256), std::string::npos);
  EXPECT_FALSE(strict.contains("x"));
  EXPECT_TRUE(strict.register_file({"y", "same"}).ok());
  // An EOS difference alone is reported too, still naming both template hashes.
  const std::string eos = adapter_provenance_mismatch("e", make_adapter_provenance("template B", 0, "<|endoftext|>"), server);
  EXPECT_NE(eos.find("EOS token"), std::string::npos);
  EXPECT_NE(eos.find("0 '<|endoftext|>'"), std::string::npos);
  EXPECT_NE(eos.find("2 '<|im_end|>'"), std::string::npos);
  EXPECT_NE(eos.find(server.chat_template_sha256), std::string::npos);
  EXPECT_TRUE(adapter_provenance_mismatch("e", {}, server).empty());
}

TEST(AdapterRegistry, ModelNamesAndMemoryAdapters) {
  FakeFiles files;
  const ModelConfig c = tiny_config();
  AdapterRegistry reg(c, opts(1), files.loader());
  ASSERT_TRUE(reg.register_file({"a", "fa"}).ok());
  ASSERT_TRUE(reg.register_memory("mem", LoraAdapter::random(c, 2, 2.0f, 5), {}, 3.0f).ok());
  EXPECT_EQ(reg.adapter_for_model("smol:a"), "a");
  EXPECT_EQ(reg.adapter_for_model("a"), "a");
  EXPECT_EQ(reg.adapter_for_model("smol:mem"), "mem");
  EXPECT_EQ(reg.adapter_for_model("smol"), std::nullopt);
  EXPECT_EQ(reg.adapter_for_model("other:a"), std::nullopt);
  EXPECT_EQ(reg.adapter_for_model("smol:zzz"), std::nullopt);
  // The memory adapter does not take the one file slot, and is never evicted.
  EXPECT_EQ(reg.resident_count(), 1);
  EXPECT_TRUE(info(reg.list(), "a")->resident);
  EXPECT_EQ(info(reg.list(), "mem")->format, "memory");
  auto m = reg.acquire("mem");
  ASSERT_TRUE(m.ok());
  EXPECT_FLOAT_EQ(m->adapter->scale, 3.0f);  // 2/2 x 3
  LoraAdapter wrong = LoraAdapter::random(c, 2, 2.0f, 6);
  wrong.layers[0][0].in = 7;
  auto st = reg.register_memory("w", wrong);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("blk.0.attn_q.weight.lora_a"), std::string::npos);
}

TEST(AdapterRegistry, ConcurrentAcquireAndRelease) {
  FakeFiles files;
  AdapterRegistry reg(tiny_config(), opts(2), files.loader());
  const std::vector<std::string> names = {"a", "b", "c", "d"};
  for (const auto& n : names) ASSERT_TRUE(reg.register_file({n, "f" + n}).ok());
  std::atomic<int> ok{0}, full{0}, wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      std::mt19937 rng(static_cast<unsigned>(t));
      for (int i = 0; i < 400; ++i) {
        const std::string& n = names[rng() % names.size()];
        auto l = reg.acquire(n);
        if (l.ok()) {
          ++ok;
          if (l->adapter->name != n) ++wrong;
          if (reg.resident_count() > 2) ++wrong;
        } else if (l.error().code == ErrorCode::kOutOfMemory) {
          ++full;
        } else {
          ++wrong;
        }
        if (i % 50 == 0 && t == 0) {  // hot swap under load
          AdapterSpec s{"d", "fd"};
          s.replace = true;
          if (!reg.register_file(s).ok()) ++wrong;
        }
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong, 0);
  EXPECT_GT(ok, 0);
  EXPECT_EQ(ok + full, 1600);
  EXPECT_LE(reg.resident_count(), 2);
  for (const auto& i : reg.list()) EXPECT_EQ(i.in_use, 0) << i.name;
}

// ---- property: the registry follows a simple model of its rules ----------------------------

struct ModelEntry {
  bool resident = false;
  int held = 0;
  uint64_t last = 0;
  int gen = 0;
};

RC_GTEST_PROP(AdapterRegistry, FollowsTheResidencyModel, ()) {
  const int max = *rc::gen::inRange(1, 4);
  const auto ops = *rc::gen::container<std::vector<std::tuple<int, int, bool>>>(
      rc::gen::tuple(rc::gen::inRange(0, 5), rc::gen::inRange(0, 5), rc::gen::arbitrary<bool>()));
  FakeFiles files;
  AdapterRegistry reg(tiny_config(), opts(max), files.loader());
  std::map<std::string, ModelEntry> model;
  struct Held { std::string name; int gen; AdapterLease lease; };
  std::vector<Held> leases;
  uint64_t tick = 0;
  int loads = 0, gen = 0;
  auto resident = [&] { int n = 0; for (auto& [k, e] : model) n += e.resident; return n; };
  auto make_room = [&](const std::string& keep) {
    while (resident() >= max) {
      ModelEntry* victim = nullptr;
      for (auto& [k, e] : model)
        if (k != keep && e.resident && e.held == 0 && (!victim || e.last < victim->last)) victim = &e;
      if (!victim) return false;
      victim->resident = false;
    }
    return true;
  };
  auto take = [&](const std::string& n, bool hold) {  // acquire or preload, in the model
    auto& e = model[n];
    if (!e.resident) {
      ++loads;
      if (!make_room(n)) return false;
      e.resident = true;
    }
    e.last = ++tick;
    if (hold) ++e.held;
    return true;
  };
  for (const auto& [kind, idx, flag] : ops) {
    const std::string n(1, static_cast<char>('a' + idx));
    const bool known = model.count(n) > 0;
    switch (kind) {
      case 0: {  // register (preload = flag)
        AdapterSpec s{n, "f" + n};
        s.preload = flag;
        const Status st = reg.register_file(s);
        if (known) { RC_ASSERT(!st.ok()); break; }
        ++loads;
        ModelEntry e;
        e.gen = ++gen;
        bool ok = true;
        if (flag) ok = make_room(n), e.resident = ok;
        else e.resident = resident() < max;
        if (!ok) { RC_ASSERT(st.error().code == ErrorCode::kOutOfMemory); break; }
        RC_ASSERT(st.ok());
        if (e.resident) e.last = ++tick;
        model[n] = e;
        break;
      }
      case 1:  // acquire and hold
      case 4: {  // preload
        const bool hold = kind == 1;
        auto l = reg.acquire(n);
        if (!known) { RC_ASSERT(l.error().code == ErrorCode::kNotFound); break; }
        const bool ok = take(n, hold);
        RC_ASSERT(l.ok() == ok);
        if (!ok) { RC_ASSERT(l.error().code == ErrorCode::kOutOfMemory); break; }
        RC_ASSERT(l->adapter->name == n);
        if (hold) leases.push_back({n, model[n].gen, std::move(*l)});
        break;
      }
      case 2: {  // release a held lease
        if (leases.empty()) break;
        const size_t k = static_cast<size_t>(idx) % leases.size();
        auto it = model.find(leases[k].name);
        if (it != model.end() && it->second.gen == leases[k].gen) --it->second.held;
        leases.erase(leases.begin() + static_cast<long>(k));
        break;
      }
      case 3: {  // unload
        const Status st = reg.unload(n);
        RC_ASSERT(st.ok() == known);
        model.erase(n);
        break;
      }
    }
    RC_ASSERT(files.loads.load() == loads);
    RC_ASSERT(reg.resident_count() == resident());
    RC_ASSERT(reg.resident_count() <= max);
    const auto list = reg.list();
    RC_ASSERT(list.size() == model.size());
    for (const auto& i : list) {
      const auto& e = model.at(i.name);
      RC_ASSERT(i.resident == e.resident);
      RC_ASSERT(i.in_use == e.held);
      RC_ASSERT(e.held == 0 || e.resident);  // in use is never evicted
    }
  }
}

}  // namespace
}  // namespace cyllm
