#include "model/weights.h"

namespace cyllm {

namespace {

class Resolver {
 public:
  Resolver(const GgufFile& f) : f_(f) {}

  // Finds `name` and checks its shape is [ne0, ne1] (ne1 = 1 for vectors).
  Status get(const std::string& name, int64_t ne0, int64_t ne1, bool required, WeightRef& out) {
    const GgufTensorInfo* t = f_.find_tensor(name);
    if (t == nullptr) {
      if (!required) return {};
      return make_error(ErrorCode::kMalformedFile, "tensor '" + name + "' is missing from '" + f_.path() + "'");
    }
    if (t->ne[0] != ne0 || t->n_rows() != ne1)
      return make_error(ErrorCode::kMalformedFile,
                        "tensor '" + name + "' has shape [" + std::to_string(t->ne[0]) + ", " + std::to_string(t->n_rows()) +
                            "], expected [" + std::to_string(ne0) + ", " + std::to_string(ne1) + "]");
    const TypeTraits* tr = type_traits(t->type_id);
    if (tr == nullptr || !tr->computable)
      return make_error(ErrorCode::kUnsupported,
                        "tensor '" + name + "' has type " + std::string(type_name(t->type_id)) + ", which this engine cannot compute",
                        "Use a model quantized as F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K or Q6_K.");
    out.info = t;
    out.type = t->type();
    out.ne0 = t->ne[0];
    out.ne1 = t->n_rows();
    out.row_stride = *row_bytes(out.type, out.ne0);
    out.data = t->data;
    return {};
  }

 private:
  const GgufFile& f_;
};

}  // namespace

Result<ModelWeights> ModelWeights::resolve(const GgufFile& f, const ModelConfig& c) {
  ModelWeights w;
  Resolver r(f);
  const int64_t d = c.n_embd, q = c.q_dim(), kv = c.kv_dim(), ff = c.n_ff;
#define CYLLM_GET(name, ne0, ne1, req, out) \
  if (auto st = r.get(name, ne0, ne1, req, out); !st) return st.error()
  CYLLM_GET("token_embd.weight", d, c.n_vocab, true, w.token_embd);
  CYLLM_GET("output_norm.weight", d, 1, true, w.output_norm);
  CYLLM_GET("output.weight", d, c.n_vocab, false, w.output);
  if (!w.output.present()) w.output = w.token_embd;  // tied embeddings
  CYLLM_GET("rope_freqs.weight", c.rope_dim / 2, 1, false, w.rope_freqs);
  // Each layer has at least 9 tensors; a block_count the file cannot hold is corrupt metadata
  // (and must not drive an allocation).
  if (static_cast<size_t>(c.n_layer) > f.tensors().size() / 9)
    return make_error(ErrorCode::kMalformedFile, "block_count " + std::to_string(c.n_layer) + " needs at least " +
                                                     std::to_string(9ull * c.n_layer) + " tensors but '" + f.path() +
                                                     "' has " + std::to_string(f.tensors().size()));
  w.layers.resize(static_cast<size_t>(c.n_layer));
  for (int i = 0; i < c.n_layer; ++i) {
    const std::string p = "blk." + std::to_string(i) + ".";
    LayerWeights& l = w.layers[static_cast<size_t>(i)];
    CYLLM_GET(p + "attn_norm.weight", d, 1, true, l.attn_norm);
    CYLLM_GET(p + "attn_q.weight", d, q, true, l.wq);
    CYLLM_GET(p + "attn_k.weight", d, kv, true, l.wk);
    CYLLM_GET(p + "attn_v.weight", d, kv, true, l.wv);
    CYLLM_GET(p + "attn_output.weight", q, d, true, l.wo);
    CYLLM_GET(p + "attn_q.bias", q, 1, c.attn_bias, l.bq);
    CYLLM_GET(p + "attn_k.bias", kv, 1, c.attn_bias, l.bk);
    CYLLM_GET(p + "attn_v.bias", kv, 1, c.attn_bias, l.bv);
    CYLLM_GET(p + "ffn_norm.weight", d, 1, true, l.ffn_norm);
    CYLLM_GET(p + "ffn_gate.weight", d, ff, true, l.w_gate);
    CYLLM_GET(p + "ffn_up.weight", d, ff, true, l.w_up);
    CYLLM_GET(p + "ffn_down.weight", ff, d, true, l.w_down);
    for (const WeightRef* m : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down})
      w.weight_bytes += m->row_stride * static_cast<uint64_t>(m->ne1);
  }
#undef CYLLM_GET
  for (const WeightRef* v : {&w.output_norm, &w.rope_freqs})
    if (v->present() && v->type != GgmlType::F32)
      return make_error(ErrorCode::kUnsupported, "tensor '" + v->info->name + "' must be F32");
  for (const auto& l : w.layers)
    for (const WeightRef* v : {&l.attn_norm, &l.ffn_norm, &l.bq, &l.bk, &l.bv})
      if (v->present() && v->type != GgmlType::F32)
        return make_error(ErrorCode::kUnsupported, "tensor '" + v->info->name + "' must be F32");
  w.weight_bytes += w.output.row_stride * static_cast<uint64_t>(w.output.ne1);
  return w;
}

}  // namespace cyllm
