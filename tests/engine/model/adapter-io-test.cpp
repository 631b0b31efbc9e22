// LoRA adapter files: PEFT and GGUF round trips, the Q/K row permutation (checked against RoPE:
// HF layout + rotate-half equals GGUF layout + adjacent pairs), llama.cpp's GGUF LoRA conventions,
// validation errors that name the offending tensor, and malformed files.
#include "model/adapter-io.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/sha256.h"
#include "model/gguf-reader.h"
#include "model/safetensors.h"
#include "support/test-paths.h"

namespace cyllm {
namespace {

namespace fs = std::filesystem;

ModelConfig tiny_config(const std::string& arch = "llama") {
  ModelConfig c;
  c.arch = arch;
  c.name = "tiny";
  c.n_layer = 3;
  c.n_embd = 64;
  c.n_ff = 96;
  c.n_head = 4;
  c.n_head_kv = 2;
  c.head_dim = 16;
  c.rope_dim = 16;
  c.n_vocab = 100;
  return c;
}

struct TempDir {
  fs::path path;
  TempDir() {
    static int n = 0;
    path = fs::temp_directory_path() / ("cyllm-adapter-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string operator/(const std::string& s) const { return (path / s).string(); }
};

AdapterMeta sample_meta() {
  AdapterMeta m;
  m.alpha = 16;
  m.base_model = "HuggingFaceTB/SmolLM2-135M-Instruct";
  m.provenance = make_adapter_provenance("{{ messages }}", 2, "<|im_end|>");
  return m;
}

std::string read_file(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void expect_same(const LoraAdapter& a, const LoraAdapter& b, float tol) {
  ASSERT_EQ(a.layers.size(), b.layers.size());
  EXPECT_NEAR(a.scale, b.scale, 1e-6f * std::fabs(a.scale));
  for (size_t l = 0; l < a.layers.size(); ++l)
    for (int t = 0; t < kLoraTargets; ++t) {
      const LoraMatrix& x = a.layers[l][static_cast<size_t>(t)];
      const LoraMatrix& y = b.layers[l][static_cast<size_t>(t)];
      ASSERT_EQ(x.rank, y.rank) << l << "/" << t;
      ASSERT_EQ(x.in, y.in);
      ASSERT_EQ(x.out, y.out);
      ASSERT_EQ(x.a.size(), y.a.size());
      ASSERT_EQ(x.b.size(), y.b.size());
      for (size_t i = 0; i < x.a.size(); ++i) ASSERT_NEAR(x.a[i], y.a[i], tol * (1 + std::fabs(x.a[i]))) << "a " << l << "/" << t << "/" << i;
      for (size_t i = 0; i < x.b.size(); ++i) ASSERT_NEAR(x.b[i], y.b[i], tol * (1 + std::fabs(x.b[i]))) << "b " << l << "/" << t << "/" << i;
    }
}

// ---- permutation ----------------------------------------------------------------------------

TEST(AdapterLayout, PermutationMatchesTheConverterFormula) {
  // 2 heads of 4 rows, 1 column: HF rows per head are [x0 x1 | y0 y1] (rotate-half halves);
  // GGUF interleaves them as x0 y0 x1 y1.
  const std::vector<float> hf = {0, 1, 2, 3, 10, 11, 12, 13};
  EXPECT_EQ(permute_rows_hf_to_gguf(hf, 8, 1, 2), (std::vector<float>{0, 2, 1, 3, 10, 12, 11, 13}));
  EXPECT_EQ(permute_rows_gguf_to_hf(permute_rows_hf_to_gguf(hf, 8, 1, 2), 8, 1, 2), hf);
  EXPECT_TRUE(gguf_permutes_qk("llama"));
  EXPECT_FALSE(gguf_permutes_qk("qwen2"));
}

RC_GTEST_PROP(AdapterLayout, PermutationRoundTrips, ()) {
  const int heads = *rc::gen::inRange(1, 5), hd = 2 * *rc::gen::inRange(1, 5), cols = *rc::gen::inRange(1, 4);
  const int rows = heads * hd;
  const auto m = *rc::gen::container<std::vector<float>>(static_cast<size_t>(rows * cols), rc::gen::map(rc::gen::inRange(-1000, 1000), [](int v) { return v * 0.5f; }));
  const auto g = permute_rows_hf_to_gguf(m, rows, cols, heads);
  RC_ASSERT(permute_rows_gguf_to_hf(g, rows, cols, heads) == m);
  RC_ASSERT(permute_rows_hf_to_gguf(permute_rows_gguf_to_hf(m, rows, cols, heads), rows, cols, heads) == m);
}

// The reason for the permutation: q from HF-layout weights with HF's rotate-half RoPE equals,
// after permuting its rows, q from GGUF-layout weights (the engine's, LoRA B loaded from PEFT)
// with adjacent-pair RoPE. Checks that the loader permutes in the right direction.
TEST(AdapterLayout, PeftBRotatesLikeTheBaseUnderRope) {
  const ModelConfig c = tiny_config();
  TempDir dir;
  LoraAdapter ad = LoraAdapter::random(c, 4, 8.0f, 11, 1u << static_cast<int>(LoraTarget::kQ));
  ASSERT_TRUE(save_peft_adapter(dir / "p", ad, {}, c).ok());
  auto st = SafetensorsFile::open(dir / "p/adapter_model.safetensors");
  ASSERT_TRUE(st.ok());
  const auto b_hf = *safetensors_to_f32(*st->find("base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight"));
  const auto a = *safetensors_to_f32(*st->find("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"));
  auto loaded = load_peft_adapter(dir / "p", c);
  ASSERT_TRUE(loaded.ok()) << loaded.error().to_string();
  const LoraMatrix& m = loaded->adapter.layers[0][0];

  std::mt19937 rng(3);
  std::normal_distribution<float> nd;
  const int D = c.n_embd, QD = c.q_dim(), HD = c.head_dim, R = 4;
  std::vector<float> x(static_cast<size_t>(D));
  for (auto& v : x) v = nd(rng);
  auto delta = [&](const std::vector<float>& B, const std::vector<float>& A) {
    std::vector<float> ax(R, 0), y(static_cast<size_t>(QD), 0);
    for (int r = 0; r < R; ++r)
      for (int i = 0; i < D; ++i) ax[r] += A[static_cast<size_t>(r * D + i)] * x[static_cast<size_t>(i)];
    for (int o = 0; o < QD; ++o)
      for (int r = 0; r < R; ++r) y[static_cast<size_t>(o)] += B[static_cast<size_t>(o * R + r)] * ax[r];
    return y;
  };
  const int pos = 5;
  auto theta = [&](int i) { return pos * std::pow(10000.0, -2.0 * i / HD); };
  std::vector<float> q_hf = delta(b_hf, a), q_gg = delta(m.b, m.a);
  for (int h = 0; h < c.n_head; ++h) {
    float* p = q_hf.data() + h * HD;
    for (int i = 0; i < HD / 2; ++i) {  // rotate-half: pairs (i, i + hd/2)
      const double cs = std::cos(theta(i)), sn = std::sin(theta(i));
      const float u = p[i], v = p[i + HD / 2];
      p[i] = static_cast<float>(u * cs - v * sn);
      p[i + HD / 2] = static_cast<float>(u * sn + v * cs);
    }
    float* g = q_gg.data() + h * HD;
    for (int i = 0; i < HD / 2; ++i) {  // adjacent pairs (2i, 2i + 1)
      const double cs = std::cos(theta(i)), sn = std::sin(theta(i));
      const float u = g[2 * i], v = g[2 * i + 1];
      g[2 * i] = static_cast<float>(u * cs - v * sn);
      g[2 * i + 1] = static_cast<float>(u * sn + v * cs);
    }
  }
  const auto q_hf_as_gguf = permute_rows_hf_to_gguf(q_hf, QD, 1, c.n_head);
  for (int i = 0; i < QD; ++i) EXPECT_NEAR(q_hf_as_gguf[static_cast<size_t>(i)], q_gg[static_cast<size_t>(i)], 1e-4f) << i;
}

// ---- PEFT ----------------------------------------------------------------------------------

TEST(PeftAdapter, RoundTripIsExactInF32) {
  const ModelConfig c = tiny_config();
  TempDir dir;
  const LoraAdapter ad = LoraAdapter::random(c, 8, 16.0f, 1);
  const AdapterMeta meta = sample_meta();
  ASSERT_TRUE(save_peft_adapter(dir / "ad", ad, meta, c).ok());
  EXPECT_TRUE(fs::exists(dir / "ad/adapter_config.json"));
  auto back = load_peft_adapter(dir / "ad", c);
  ASSERT_TRUE(back.ok()) << back.error().to_string();
  EXPECT_EQ(back->format, AdapterFormat::kPeft);
  EXPECT_EQ(back->adapter.name, "ad");
  EXPECT_EQ(back->adapter.scale, ad.scale);
  expect_same(ad, back->adapter, 0);
  EXPECT_EQ(back->meta.alpha, 16.0f);
  EXPECT_EQ(back->meta.arch, "llama");
  EXPECT_EQ(back->meta.n_layer, 3);
  EXPECT_EQ(back->meta.base_model, meta.base_model);
  EXPECT_EQ(back->meta.provenance, meta.provenance);
  EXPECT_EQ(back->meta.provenance.chat_template_sha256, sha256_hex("{{ messages }}"));
  EXPECT_EQ(back->meta.target_modules,
            (std::vector<std::string>{"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}));
  // The same adapter loads through the sniffing entry point, from the directory or either file.
  for (const std::string p : {dir / "ad", dir / "ad/adapter_config.json", dir / "ad/adapter_model.safetensors"}) {
    auto again = load_adapter(p, c);
    ASSERT_TRUE(again.ok()) << p << ": " << again.error().to_string();
    expect_same(ad, again->adapter, 0);
  }
}

TEST(PeftAdapter, FileHoldsHfLayoutAndPeftConfig) {
  const ModelConfig c = tiny_config();
  TempDir dir;
  const LoraAdapter ad = LoraAdapter::random(c, 4, 8.0f, 2);
  ASSERT_TRUE(save_peft_adapter(dir / "ad", ad, sample_meta(), c).ok());
  auto st = SafetensorsFile::open(dir / "ad/adapter_model.safetensors");
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->tensors().size(), 3u * 7 * 2);
  EXPECT_EQ(st->metadata().at("format"), "pt");
  EXPECT_EQ(st->metadata().at("cyllm.eos_token_id"), "2");
  EXPECT_EQ(st->metadata().at("cyllm.chat_template_sha256"), sha256_hex("{{ messages }}"));
  const auto& q = ad.layers[1][static_cast<int>(LoraTarget::kQ)];
  const auto& k = ad.layers[1][static_cast<int>(LoraTarget::kK)];
  const auto& v = ad.layers[1][static_cast<int>(LoraTarget::kV)];
  const auto* qb = st->find("base_model.model.model.layers.1.self_attn.q_proj.lora_B.weight");
  const auto* kb = st->find("base_model.model.model.layers.1.self_attn.k_proj.lora_B.weight");
  const auto* vb = st->find("base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight");
  const auto* qa = st->find("base_model.model.model.layers.1.self_attn.q_proj.lora_A.weight");
  ASSERT_TRUE(qb && kb && vb && qa);
  EXPECT_EQ(qb->shape, (std::vector<int64_t>{64, 4}));
  EXPECT_EQ(qa->shape, (std::vector<int64_t>{4, 64}));
  EXPECT_EQ(kb->shape, (std::vector<int64_t>{32, 4}));
  EXPECT_EQ(*safetensors_to_f32(*qb), permute_rows_gguf_to_hf(q.b, 64, 4, c.n_head));
  EXPECT_EQ(*safetensors_to_f32(*kb), permute_rows_gguf_to_hf(k.b, 32, 4, c.n_head_kv));
  EXPECT_NE(*safetensors_to_f32(*qb), q.b);
  EXPECT_EQ(*safetensors_to_f32(*vb), v.b);
  EXPECT_EQ(*safetensors_to_f32(*qa), q.a);
  const auto cfg = nlohmann::json::parse(read_file(dir / "ad/adapter_config.json"));
  EXPECT_EQ(cfg["peft_type"], "LORA");
  EXPECT_EQ(cfg["r"], 4);
  EXPECT_EQ(cfg["lora_alpha"], 8);
  EXPECT_EQ(cfg["use_rslora"], false);
  EXPECT_EQ(cfg["base_model_name_or_path"], "HuggingFaceTB/SmolLM2-135M-Instruct");
  EXPECT_TRUE(cfg["layers_to_transform"].is_null());
  EXPECT_EQ(cfg["cyllm"]["eos_token"], "<|im_end|>");
  EXPECT_EQ(cfg["cyllm"]["chat_template_sha256"], sha256_hex("{{ messages }}"));
}

TEST(PeftAdapter, Qwen2KeepsHfOrder) {
  const ModelConfig c = tiny_config("qwen2");
  TempDir dir;
  const LoraAdapter ad = LoraAdapter::random(c, 4, 8.0f, 3, 1u);
  ASSERT_TRUE(save_peft_adapter(dir / "ad", ad, {}, c).ok());
  auto st = SafetensorsFile::open(dir / "ad/adapter_model.safetensors");
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(*safetensors_to_f32(*st->find("base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight")), ad.layers[0][0].b);
  auto back = load_peft_adapter(dir / "ad", c);
  ASSERT_TRUE(back.ok());
  expect_same(ad, back->adapter, 0);
}

TEST(PeftAdapter, SubsetsRsloraAndHalfPrecision) {
  const ModelConfig c = tiny_config();
  TempDir dir;
  LoraAdapter ad = LoraAdapter::random(c, 8, 4.0f, 4, 0x05);  // q and v
  for (auto& m : ad.layers[2]) m = LoraMatrix{};                // nothing in layer 2
  AdapterMeta meta;
  meta.use_rslora = true;
  ad.scale = 4.0f / std::sqrt(8.0f);
  ASSERT_TRUE(save_peft_adapter(dir / "ad", ad, meta, c, AdapterDtype::kBF16).ok());
  const auto cfg = nlohmann::json::parse(read_file(dir / "ad/adapter_config.json"));
  EXPECT_EQ(cfg["target_modules"], nlohmann::json({"q_proj", "v_proj"}));
  EXPECT_EQ(cfg["layers_to_transform"], nlohmann::json({0, 1}));
  EXPECT_EQ(cfg["use_rslora"], true);
  EXPECT_NEAR(cfg["lora_alpha"].get<double>(), 4.0, 1e-5);
  auto back = load_peft_adapter(dir / "ad", c);
  ASSERT_TRUE(back.ok()) << back.error().to_string();
  EXPECT_TRUE(back->meta.use_rslora);
  expect_same(ad, back->adapter, 1.0f / 128);  // bf16 keeps 8 bits of mantissa
  EXPECT_FALSE(back->adapter.layers[2][0].present());
}

TEST(PeftAdapter, MixedRanksUseRankAndAlphaPatterns) {
  const ModelConfig c = tiny_config();
  TempDir dir;
  LoraAdapter ad = LoraAdapter::random(c, 8, 16.0f, 5, 0x03);
  const LoraAdapter small = LoraAdapter::random(c, 2, 16.0f, 6, 0x03);
  ad.layers[1][1] = small.layers[1][1];  // layer 1 k_proj has rank 2
  ASSERT_TRUE(save_peft_adapter(dir / "ad", ad, {}, c).ok());
  const auto cfg = nlohmann::json::parse(read_file(dir / "ad/adapter_config.json"));
  EXPECT_EQ(cfg["r"], 8);
  EXPECT_EQ(cfg["rank_pattern"]["model.layers.1.self_attn.k_proj"], 2);
  EXPECT_NEAR(cfg["alpha_pattern"]["model.layers.1.self_attn.k_proj"].get<double>(), 4.0, 1e-5);  // same scale 2
  auto back = load_peft_adapter(dir / "ad", c);
  ASSERT_TRUE(back.ok()) << back.error().to_string();
  expect_same(ad, back->adapter, 1e-6f);
}

TEST(PeftAdapter, PatternScaleFoldsIntoB) {
  const ModelConfig c = tiny_config();
  TempDir dir;
  const LoraAdapter ad = LoraAdapter::random(c, 4, 8.0f, 7, 0x04);  // v only, scale 2
  ASSERT_TRUE(save_peft_adapter(dir / "ad", ad, {}, c).ok());
  auto cfg = nlohmann::json::parse(read_file(dir / "ad/adapter_config.json"));
  cfg["alpha_pattern"] = {{"layers.0.self_attn.v_proj", 16}};  // layer 0 gets scale 4, twice the rest
  std::ofstream(dir / "ad/adapter_config.json") << cfg.dump();
  auto back = load_peft_adapter(dir / "ad", c);
  ASSERT_TRUE(back.ok()) << back.error().to_string();
  EXPECT_EQ(back->adapter.scale, 2.0f);
  for (size_t i = 0; i < ad.layers[0][2].b.size(); ++i) EXPECT_FLOAT_EQ(back->adapter.layers[0][2].b[i], 2 * ad.layers[0][2].b[i]);
  EXPECT_EQ(back->adapter.layers[1][2].b, ad.layers[1][2].b);
}

// ---- GGUF ----------------------------------------------------------------------------------

TEST(GgufAdapter, RoundTripAndLlamaCppConventions) {
  const ModelConfig c = tiny_config();
  TempDir dir;
  const LoraAdapter ad = LoraAdapter::random(c, 8, 16.0f, 8);
  const AdapterMeta meta = sample_meta();
  ASSERT_TRUE(save_gguf_adapter(dir / "ad.gguf", ad, meta, c).ok());
  auto g = GgufFile::open(dir / "ad.gguf");
  ASSERT_TRUE(g.ok()) << g.error().to_string();
  EXPECT_EQ(g->get_string("general.type"), "adapter");
  EXPECT_EQ(g->get_string("adapter.type"), "lora");
  EXPECT_EQ(g->get_string("general.architecture"), "llama");
  EXPECT_FLOAT_EQ(static_cast<float>(*g->get_float("adapter.lora.alpha")), 16.0f);
  EXPECT_EQ(g->get_string("cyllm.chat_template_sha256"), sha256_hex("{{ messages }}"));
  EXPECT_EQ(g->get_int("cyllm.eos_token_id"), 2);
  const GgufTensorInfo* qa = g->find_tensor("blk.0.attn_q.weight.lora_a");
  const GgufTensorInfo* qb = g->find_tensor("blk.0.attn_q.weight.lora_b");
  const GgufTensorInfo* db = g->find_tensor("blk.2.ffn_down.weight.lora_b");
  ASSERT_TRUE(qa && qb && db);
  EXPECT_EQ(qa->ne[0], 64);  // [n_in, r]
  EXPECT_EQ(qa->ne[1], 8);
  EXPECT_EQ(qb->ne[0], 8);   // [r, n_out]
  EXPECT_EQ(qb->ne[1], 64);
  EXPECT_EQ(db->ne[1], 64);
  EXPECT_EQ(g->find_tensor("blk.2.ffn_down.weight.lora_a")->ne[0], 96);
  // B stays in GGUF (engine) row order, as convert_lora_to_gguf.py writes it.
  std::vector<float> b(ad.layers[0][0].b.size());
  std::memcpy(b.data(), qb->data, b.size() * 4);
  EXPECT_EQ(b, ad.layers[0][0].b);

  auto back = load_gguf_adapter(dir / "ad.gguf", c);
  ASSERT_TRUE(back.ok()) << back.error().to_string();
  EXPECT_EQ(back->format, AdapterFormat::kGguf);
  EXPECT_EQ(back->adapter.name, "ad");
  expect_same(ad, back->adapter, 0);
  EXPECT_EQ(back->meta.provenance, meta.provenance);
  EXPECT_EQ(back->meta.alpha, 16.0f);
  EXPECT_EQ(back->meta.base_model, meta.base_model);
  auto sniffed = load_adapter(dir / "ad.gguf", c);
  ASSERT_TRUE(sniffed.ok());
  EXPECT_EQ(sniffed->format, AdapterFormat::kGguf);
}

TEST(GgufAdapter, HalfPrecisionMixedRanksAndRslora) {
  const ModelConfig c = tiny_config();
  TempDir dir;
  LoraAdapter ad = LoraAdapter::random(c, 8, 16.0f, 9, 0x7f);
  ad.layers[2][6] = LoraAdapter::random(c, 4, 16.0f, 10, 0x40).layers[2][6];
  AdapterMeta meta;
  meta.use_rslora = true;
  meta.alpha = 0;
  ASSERT_TRUE(save_gguf_adapter(dir / "ad.gguf", ad, meta, c, AdapterDtype::kF16).ok());
  auto back = load_gguf_adapter(dir / "ad.gguf", c);
  ASSERT_TRUE(back.ok()) << back.error().to_string();
  expect_same(ad, back->adapter, 1.0f / 1024);
  EXPECT_TRUE(back->meta.use_rslora);
  EXPECT_NEAR(back->meta.alpha, ad.scale * std::sqrt(8.0f), 1e-5f);
  ASSERT_TRUE(save_gguf_adapter(dir / "bf.gguf", ad, meta, c, AdapterDtype::kBF16).ok());
  auto g = GgufFile::open(dir / "bf.gguf");
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->find_tensor("blk.0.attn_q.weight.lora_a")->type(), GgmlType::BF16);
  auto bf = load_gguf_adapter(dir / "bf.gguf", c);
  ASSERT_TRUE(bf.ok()) << bf.error().to_string();
  expect_same(ad, bf->adapter, 1.0f / 128);
}

TEST(GgufAdapter, PeftToGgufToPeftKeepsTheFileBytesOfB) {
  const ModelConfig c = tiny_config();
  TempDir dir;
  const LoraAdapter ad = LoraAdapter::random(c, 4, 8.0f, 12);
  ASSERT_TRUE(save_peft_adapter(dir / "p1", ad, sample_meta(), c).ok());
  auto p = load_peft_adapter(dir / "p1", c);
  ASSERT_TRUE(p.ok());
  ASSERT_TRUE(save_gguf_adapter(dir / "g.gguf", p->adapter, p->meta, c).ok());
  auto g = load_gguf_adapter(dir / "g.gguf", c);
  ASSERT_TRUE(g.ok());
  ASSERT_TRUE(save_peft_adapter(dir / "p2", g->adapter, g->meta, c).ok());
  auto s1 = SafetensorsFile::open(dir / "p1/adapter_model.safetensors");
  auto s2 = SafetensorsFile::open(dir / "p2/adapter_model.safetensors");
  ASSERT_TRUE(s1.ok() && s2.ok());
  ASSERT_EQ(s1->tensors().size(), s2->tensors().size());
  for (const auto& t : s1->tensors()) {
    const auto* u = s2->find(t.name);
    ASSERT_NE(u, nullptr) << t.name;
    EXPECT_EQ(*safetensors_to_f32(t), *safetensors_to_f32(*u)) << t.name;
  }
  EXPECT_EQ(g->meta.provenance, sample_meta().provenance);
}

// ---- validation against the base ----------------------------------------------------------

void expect_error(const Result<LoadedAdapter>& r, ErrorCode code, const std::string& needle) {
  ASSERT_FALSE(r.ok()) << "accepted; expected: " << needle;
  EXPECT_EQ(r.error().code, code) << r.error().to_string();
  EXPECT_NE(r.error().message.find(needle), std::string::npos) << r.error().message;
}

TEST(AdapterValidation, PeftMismatchNamesTheFirstOffendingTensor) {
  const ModelConfig c = tiny_config();
  TempDir dir;
  ASSERT_TRUE(save_peft_adapter(dir / "ad", LoraAdapter::random(c, 4, 8.0f, 13), {}, c).ok());
  ModelConfig wider = c;
  wider.n_embd = 128;
  // The first tensor checked (layer 0, q_proj) has the wrong input width.
  expect_error(load_peft_adapter(dir / "ad", wider), ErrorCode::kInvalidArgument,
               "tensor 'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight' has shape [4, 64]; the base's q_proj takes 128 inputs");
  ModelConfig fewer = c;
  fewer.n_layer = 2;
  expect_error(load_peft_adapter(dir / "ad", fewer), ErrorCode::kInvalidArgument, "3 layers; this base has 2");
  ModelConfig other = c;
  other.arch = "qwen2";
  expect_error(load_peft_adapter(dir / "ad", other), ErrorCode::kInvalidArgument, "architecture 'llama'");
  // Without the recorded cyllm block, the layer check falls to the tensor of layer 2.
  auto cfg = nlohmann::json::parse(read_file(dir / "ad/adapter_config.json"));
  cfg.erase("cyllm");
  std::ofstream(dir / "ad/adapter_config.json") << cfg.dump();
  // (the safetensors __metadata__ records n_layer too: rewrite the tensors without it)
  {
    SafetensorsWriter w;
    {
      auto st = SafetensorsFile::open(dir / "ad/adapter_model.safetensors");
      ASSERT_TRUE(st.ok());
      for (const auto& t : st->tensors()) ASSERT_TRUE(w.add(t.name, t.shape, *safetensors_to_f32(t)).ok());
    }
    ASSERT_TRUE(w.write(dir / "ad/adapter_model.safetensors").ok());
  }
  expect_error(load_peft_adapter(dir / "ad", fewer), ErrorCode::kInvalidArgument,
               "tensor 'base_model.model.model.layers.2.mlp.down_proj.lora_A.weight' is for layer 2, but the base model has 2 layers");
}

TEST(AdapterValidation, PeftConfigAndTensorProblems) {
  const ModelConfig c = tiny_config();
  SafetensorsWriter w;
  std::vector<float> a(4 * 64, 0.01f), b(64 * 4, 0.02f);
  ASSERT_TRUE(w.add("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight", {4, 64}, a).ok());
  const std::string only_a = w.bytes();
  ASSERT_TRUE(w.add("base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight", {64, 4}, b).ok());
  const std::string good = w.bytes();
  const std::string cfg = R"({"peft_type":"LORA","r":4,"lora_alpha":8,"target_modules":["q_proj"]})";
  auto parse = [&](const std::string& config, const std::string& st) {
    return parse_peft_adapter(config, reinterpret_cast<const uint8_t*>(st.data()), st.size(), c, "mem");
  };
  auto ok = parse(cfg, good);
  ASSERT_TRUE(ok.ok()) << ok.error().to_string();
  EXPECT_FLOAT_EQ(ok->adapter.scale, 2.0f);
  EXPECT_TRUE(ok->meta.provenance.empty());
  expect_error(parse(cfg, only_a), ErrorCode::kMalformedFile,
               "tensor 'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight' has no matching lora_B");
  expect_error(parse(R"({"peft_type":"LORA","r":4,"lora_alpha":8,"target_modules":["v_proj"]})", good), ErrorCode::kMalformedFile,
               "which target_modules does not list");
  expect_error(parse(R"({"peft_type":"LORA","r":4,"lora_alpha":8,"target_modules":["q_proj","lm_head"]})", good),
               ErrorCode::kUnsupported, "target module 'lm_head'");
  expect_error(parse(R"({"peft_type":"LORA","r":8,"lora_alpha":8})", good), ErrorCode::kMalformedFile, "has rank 4 but adapter_config.json gives r = 8");
  expect_error(parse(R"({"peft_type":"LORA","r":4,"lora_alpha":8,"use_dora":true})", good), ErrorCode::kUnsupported, "DoRA");
  expect_error(parse(R"({"peft_type":"LORA","r":4,"lora_alpha":8,"bias":"all"})", good), ErrorCode::kUnsupported, "bias");
  expect_error(parse(R"({"peft_type":"IA3","r":4,"lora_alpha":8})", good), ErrorCode::kUnsupported, "IA3");
  expect_error(parse(R"({"peft_type":"LORA","lora_alpha":8})", good), ErrorCode::kMalformedFile, "r is missing");
  expect_error(parse(R"({"peft_type":"LORA","r":4})", good), ErrorCode::kMalformedFile, "lora_alpha");
  expect_error(parse(R"({"peft_type":"LORA","r":4,"lora_alpha":8,"cyllm":{"eos_token_id":"x"}})", good), ErrorCode::kMalformedFile, "eos_token_id");
  expect_error(parse("{\"peft_type\":", good), ErrorCode::kMalformedFile, "not valid JSON");
  expect_error(parse(std::string(100, '[') + std::string(100, ']'), good), ErrorCode::kMalformedFile, "nests too deeply");
  {
    SafetensorsWriter w2;
    ASSERT_TRUE(w2.add("base_model.model.model.layers.0.self_attn.q_proj.lora_A.default.weight", {4, 64}, a).ok());
    expect_error(parse(cfg, w2.bytes()), ErrorCode::kMalformedFile, "unexpected tensor 'base_model.model.model.layers.0.self_attn.q_proj.lora_A.default.weight'");
  }
  {
    SafetensorsWriter w2;
    ASSERT_TRUE(w2.add("base_model.model.lm_head.lora_A.weight", {4, 64}, a).ok());
    expect_error(parse(R"({"peft_type":"LORA","r":4,"lora_alpha":8})", w2.bytes()), ErrorCode::kUnsupported, "output head");
  }
  {
    SafetensorsWriter w2;
    ASSERT_TRUE(w2.add("base_model.model.model.layers.0.mlp.q_proj.lora_A.weight", {4, 64}, a).ok());
    expect_error(parse(R"({"peft_type":"LORA","r":4,"lora_alpha":8})", w2.bytes()), ErrorCode::kMalformedFile, "belongs under self_attn");
  }
  {
    SafetensorsWriter w2;  // B for k_proj sized like q_proj's
    ASSERT_TRUE(w2.add("base_model.model.model.layers.0.self_attn.k_proj.lora_A.weight", {4, 64}, a).ok());
    ASSERT_TRUE(w2.add("base_model.model.model.layers.0.self_attn.k_proj.lora_B.weight", {64, 4}, b).ok());
    expect_error(parse(R"({"peft_type":"LORA","r":4,"lora_alpha":8})", w2.bytes()), ErrorCode::kInvalidArgument,
                 "tensor 'base_model.model.model.layers.0.self_attn.k_proj.lora_B.weight' has shape [64, 4]; expected [32, 4]");
  }
  {
    SafetensorsWriter w2;
    std::vector<float> bad = b;
    bad[7] = std::nanf("");
    ASSERT_TRUE(w2.add("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight", {4, 64}, a).ok());
    ASSERT_TRUE(w2.add("base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight", {64, 4}, bad).ok());
    expect_error(parse(cfg, w2.bytes()), ErrorCode::kMalformedFile, "lora_B.weight' has a non-finite value at 7");
  }
}

TEST(AdapterValidation, GgufMismatchesNameTheTensor) {
  const ModelConfig c = tiny_config();
  TempDir dir;
  ASSERT_TRUE(save_gguf_adapter(dir / "ad.gguf", LoraAdapter::random(c, 4, 8.0f, 14), {}, c).ok());
  ModelConfig wider = c;
  wider.n_embd = 128;
  expect_error(load_gguf_adapter(dir / "ad.gguf", wider), ErrorCode::kInvalidArgument, "tensor 'blk.0.attn_q.weight.lora_a' has ne [64, 4]");
  ModelConfig other = c;
  other.arch = "qwen2";
  expect_error(load_gguf_adapter(dir / "ad.gguf", other), ErrorCode::kInvalidArgument, "architecture 'llama'");
  ModelConfig fewer = c;
  fewer.n_layer = 2;
  expect_error(load_gguf_adapter(dir / "ad.gguf", fewer), ErrorCode::kInvalidArgument, "3 layers; this base has 2");
}

TEST(AdapterValidation, ModelFileIsNotAnAdapter) {
  CYLLM_REQUIRE_DEFAULT_MODEL(model);
  auto g = GgufFile::open(model);
  ASSERT_TRUE(g.ok());
  auto c = ModelConfig::from_gguf(*g);
  ASSERT_TRUE(c.ok());
  expect_error(load_adapter(model, *c), ErrorCode::kInvalidArgument, "not 'adapter'");
}

TEST(AdapterValidation, InMemoryAdapter) {
  const ModelConfig c = tiny_config();
  LoraAdapter ad = LoraAdapter::random(c, 4, 8.0f, 15);
  EXPECT_TRUE(validate_adapter(ad, c).ok());
  LoraAdapter bad = ad;
  bad.layers[1][1].out = 64;
  auto st = validate_adapter(bad, c);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("tensor 'blk.1.attn_k.weight.lora_b' gives 64 outputs; the base tensor gives 32"), std::string::npos)
      << st.error().message;
  bad = ad;
  bad.layers[2][6].a.pop_back();
  st = validate_adapter(bad, c);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("'blk.2.ffn_down.weight.lora_a'"), std::string::npos) << st.error().message;
  bad = ad;
  bad.layers.pop_back();
  EXPECT_FALSE(validate_adapter(bad, c).ok());
  bad = ad;
  bad.layers[0][3].b[5] = INFINITY;
  st = validate_adapter(bad, c);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("'blk.0.attn_output.weight.lora_b' has a non-finite value at 5"), std::string::npos);
  TempDir dir;
  EXPECT_FALSE(save_peft_adapter(dir / "x", bad, {}, c).ok());
  EXPECT_FALSE(fs::exists(dir / "x/adapter_config.json"));
}

// ---- malformed files ------------------------------------------------------------------------

TEST(AdapterMalformed, TruncatedFilesNeverLoad) {
  const ModelConfig c = tiny_config();
  TempDir dir;
  const LoraAdapter ad = LoraAdapter::random(c, 2, 4.0f, 16, 0x11);
  ASSERT_TRUE(save_peft_adapter(dir / "p", ad, sample_meta(), c).ok());
  ASSERT_TRUE(save_gguf_adapter(dir / "g.gguf", ad, sample_meta(), c).ok());
  const std::string st = read_file(dir / "p/adapter_model.safetensors");
  const std::string cfg = read_file(dir / "p/adapter_config.json");
  const std::string gg = read_file(dir / "g.gguf");
  for (size_t n = 0; n < st.size(); n += 1 + n / 64) {
    auto r = parse_peft_adapter(cfg, reinterpret_cast<const uint8_t*>(st.data()), n, c);
    ASSERT_FALSE(r.ok()) << n;
    EXPECT_EQ(r.error().code, ErrorCode::kMalformedFile) << n << ": " << r.error().to_string();
  }
  for (size_t n = 0; n < cfg.size(); n += 7) {
    auto r = parse_peft_adapter(cfg.substr(0, n), reinterpret_cast<const uint8_t*>(st.data()), st.size(), c);
    ASSERT_FALSE(r.ok()) << n;
    EXPECT_EQ(r.error().code, ErrorCode::kMalformedFile) << n;
  }
  for (size_t n = 0; n < gg.size(); n += 1 + n / 64) {
    const std::string p = dir / "t.gguf";
    { std::ofstream(p, std::ios::binary) << gg.substr(0, n); }
    auto r = load_gguf_adapter(p, c);
    ASSERT_FALSE(r.ok()) << n;
    EXPECT_TRUE(r.error().code == ErrorCode::kMalformedFile || r.error().code == ErrorCode::kIoError) << n << ": " << r.error().to_string();
  }
  { std::ofstream(dir / "junk.bin") << "not an adapter"; }
  auto r = load_adapter(dir / "junk.bin", c);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kUnsupported);
  EXPECT_EQ(load_adapter(dir / "nothing-here", c).error().code, ErrorCode::kNotFound);
}

// The committed fuzz seeds (tests/fuzz/seeds/adapter_fuzz, from cyllm_adapter_tool fuzz-seed) are
// valid adapters for the fuzz target's base, so fuzzing starts from inputs that reach every check.
TEST(AdapterMalformed, FuzzSeedsAreValidAdapters) {
  ModelConfig c = tiny_config();
  c.n_layer = 2;
  c.n_embd = 32;
  c.n_ff = 48;
  c.n_head = 2;
  c.n_head_kv = 1;
  c.head_dim = 16;
  int n = 0;
  for (const auto& e : fs::directory_iterator(fs::path(CYLLM_SOURCE_DIR) / "tests/fuzz/seeds/adapter_fuzz")) {
    const std::string s = read_file(e.path().string());
    ASSERT_GE(s.size(), 2u);
    const size_t len = static_cast<uint8_t>(s[0]) | (static_cast<size_t>(static_cast<uint8_t>(s[1])) << 8);
    ASSERT_LE(len + 2, s.size());
    auto r = parse_peft_adapter(std::string_view(s).substr(2, len), reinterpret_cast<const uint8_t*>(s.data()) + 2 + len,
                                s.size() - 2 - len, c);
    EXPECT_TRUE(r.ok()) << e.path() << ": " << r.error().to_string();
    ++n;
  }
  EXPECT_GE(n, 3);
}

// ---- the real model ------------------------------------------------------------------------

TEST(AdapterRealModel, RoundTripsOnSmolLM2Shapes) {
  CYLLM_REQUIRE_DEFAULT_MODEL(model);
  auto g = GgufFile::open(model);
  ASSERT_TRUE(g.ok());
  auto c = ModelConfig::from_gguf(*g);
  ASSERT_TRUE(c.ok());
  TempDir dir;
  const LoraAdapter ad = LoraAdapter::random(*c, 4, 8.0f, 17, 0x0f);
  ASSERT_TRUE(save_peft_adapter(dir / "p", ad, sample_meta(), *c).ok());
  ASSERT_TRUE(save_gguf_adapter(dir / "g.gguf", ad, sample_meta(), *c).ok());
  auto p = load_adapter(dir / "p", *c);
  ASSERT_TRUE(p.ok()) << p.error().to_string();
  expect_same(ad, p->adapter, 0);
  auto q = load_adapter(dir / "g.gguf", *c);
  ASSERT_TRUE(q.ok()) << q.error().to_string();
  expect_same(ad, q->adapter, 0);
}

}  // namespace
}  // namespace cyllm
