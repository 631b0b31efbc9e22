"""Writes small llama models as GGUF F32 files for trainer tests, the way convert_hf_to_gguf.py
lays them out: HF tensor names mapped to GGUF names, q_proj/k_proj rows permuted for
adjacent-pair RoPE (reshape(n_head, 2, hd/2, ...).swapaxes(1, 2)), numpy [out, in] arrays stored
as ne = [in, out]. Optionally the tokenizer and chat template are copied from another GGUF (so
`cyllm train` can render a dataset with them)."""
from pathlib import Path

import numpy as np
import gguf


def permute_qk(w: np.ndarray, n_head: int) -> np.ndarray:
    """convert_hf_to_gguf.py's LlamaModel.permute on the rows of an HF q/k weight."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


GGUF_NAMES = {"self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
              "self_attn.o_proj": "attn_output", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
              "mlp.down_proj": "ffn_down", "input_layernorm": "attn_norm", "post_attention_layernorm": "ffn_norm"}


def random_hf_weights(cfg: dict, seed: int = 0, std: float = 0.2) -> dict:
    """HF-named float32 weights of a llama model (model.layers.N.self_attn.q_proj.weight, ...)."""
    rng = np.random.default_rng(seed)
    d, ff, V = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    hd = d // cfg["num_attention_heads"]
    kv = hd * cfg["num_key_value_heads"]
    w = {"model.embed_tokens.weight": rng.normal(0, 1.0, (V, d)), "model.norm.weight": 1 + 0.1 * rng.normal(size=d)}
    if not cfg.get("tie_word_embeddings", False):
        w["lm_head.weight"] = rng.normal(0, std, (V, d))
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        shapes = {"self_attn.q_proj": (d, d), "self_attn.k_proj": (kv, d), "self_attn.v_proj": (kv, d),
                  "self_attn.o_proj": (d, d), "mlp.gate_proj": (ff, d), "mlp.up_proj": (ff, d), "mlp.down_proj": (d, ff)}
        for name, shape in shapes.items():
            w[p + name + ".weight"] = rng.normal(0, std, shape) / np.sqrt(shape[1] / 16)
        w[p + "input_layernorm.weight"] = 1 + 0.1 * rng.normal(size=d)
        w[p + "post_attention_layernorm.weight"] = 1 + 0.1 * rng.normal(size=d)
    return {k: v.astype(np.float32) for k, v in w.items()}


def _copy_field(writer: gguf.GGUFWriter, reader: gguf.GGUFReader, key: str):
    f = reader.fields[key]
    t = gguf.GGUFValueType(f.types[0])
    if t == gguf.GGUFValueType.ARRAY:
        et = gguf.GGUFValueType(f.types[1])
        if et == gguf.GGUFValueType.STRING:
            vals = [bytes(f.parts[i]).decode("utf-8") for i in f.data]
        else:
            vals = [f.parts[i].tolist()[0] for i in f.data]
        writer.add_array(key, vals)
    elif t == gguf.GGUFValueType.STRING:
        writer.add_string(key, bytes(f.parts[f.data[0]]).decode("utf-8"))
    else:
        writer.add_key_value(key, f.parts[f.data[0]].tolist()[0], t)


def write_llama_gguf(path: Path, cfg: dict, weights: dict, tokenizer_from: Path | None = None,
                     name: str = "tiny-llama") -> None:
    """cfg uses HF LlamaConfig names (hidden_size, intermediate_size, num_hidden_layers,
    num_attention_heads, num_key_value_heads, vocab_size, rope_theta, rms_norm_eps,
    max_position_embeddings, tie_word_embeddings)."""
    w = gguf.GGUFWriter(str(path), "llama")
    n_head, n_kv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    w.add_name(name)
    w.add_block_count(cfg["num_hidden_layers"])
    w.add_context_length(cfg.get("max_position_embeddings", 2048))
    w.add_embedding_length(cfg["hidden_size"])
    w.add_feed_forward_length(cfg["intermediate_size"])
    w.add_head_count(n_head)
    w.add_head_count_kv(n_kv)
    w.add_rope_freq_base(float(cfg.get("rope_theta", 10000.0)))
    w.add_layer_norm_rms_eps(float(cfg.get("rms_norm_eps", 1e-5)))
    w.add_vocab_size(cfg["vocab_size"])
    w.add_rope_dimension_count(cfg["hidden_size"] // n_head)
    if tokenizer_from is not None:
        r = gguf.GGUFReader(str(tokenizer_from))
        for key in r.fields:
            if key.startswith("tokenizer."):
                _copy_field(w, r, key)
    w.add_tensor("token_embd.weight", weights["model.embed_tokens.weight"])
    w.add_tensor("output_norm.weight", weights["model.norm.weight"])
    if "lm_head.weight" in weights:
        w.add_tensor("output.weight", weights["lm_head.weight"])
    for i in range(cfg["num_hidden_layers"]):
        for hf, gg in GGUF_NAMES.items():
            t = weights[f"model.layers.{i}.{hf}.weight"]
            if hf == "self_attn.q_proj":
                t = permute_qk(t, n_head)
            elif hf == "self_attn.k_proj":
                t = permute_qk(t, n_kv)
            w.add_tensor(f"blk.{i}.{gg}.weight", np.ascontiguousarray(t, dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


# Shapes the Python tests share. SMALL_CFG: a tiny llama with SmolLM2's vocabulary (its tokenizer is
# copied in), for `cyllm train` runs; TORCH_CFG: a tiny llama with its own small vocabulary, for the
# transformers/peft oracles.
SMALL_CFG = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                 vocab_size=49152)
TORCH_CFG = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                 vocab_size=320, rope_theta=10000.0, rms_norm_eps=1e-5, max_position_embeddings=128,
                 tie_word_embeddings=False)
# Ten question/answer rows for short training runs.
QA_ROWS = [
    ("What is the capital of France?", "Paris is the capital of France."),
    ("Name a primary colour.", "Red is a primary colour."),
    ("How many legs does a spider have?", "A spider has eight legs."),
    ("What do bees make?", "Bees make honey and wax."),
    ("Which planet is red?", "Mars is often called the red planet."),
    ("What is 2 + 2?", "2 + 2 equals 4."),
    ("Say hello.", "Hello there!"),
    ("What colour is the sky?", "On a clear day the sky is blue."),
    ("Who wrote Hamlet?", "William Shakespeare wrote Hamlet."),
    ("What is ice?", "Ice is frozen water."),
]
