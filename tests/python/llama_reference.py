"""An independent llama/qwen2 forward pass in numpy, used as the oracle for the engine's logits.

Weights are dequantized by the `gguf` package from PyPI (not by our code) and every layer runs in
float64, so the only approximation left on our side is the engine's own (8-bit activation
quantization, float32 accumulation).

RoPE follows each architecture as stored in GGUF (llama.cpp's llama_model_rope_type(): llama is
NORM, qwen2 is NEOX):
- llama: convert_hf_to_gguf.py permutes the Q/K rows (LlamaModel.permute), so RoPE rotates
  adjacent pairs (x[2i], x[2i+1]).
- qwen2: the converter keeps HF's row order, so this is HF transformers' Qwen2 as written
  (modeling_qwen2.py): q/k/v projections with biases, o_proj without, and
  q*cos + rotate_half(q)*sin with cos/sin = cat(freqs, freqs), i.e. pairs (x[i], x[i + d/2]).
Only the first rope.dimension_count dimensions of a head rotate (the rest pass through)."""
from __future__ import annotations

import numpy as np
import gguf


# general.architecture -> how RoPE pairs a head's dimensions.
ROPE_STYLE = {"llama": "normal", "qwen2": "neox"}


class LlamaReference:
    def __init__(self, path: str, rope_style: str | None = None):
        """rope_style overrides the architecture's pairing ("normal" / "neox"); tests use it only
        as a negative control."""
        r = gguf.GGUFReader(path)
        self.kv = {}
        for k, f in r.fields.items():
            try:
                self.kv[k] = f.contents()
            except Exception:  # noqa: BLE001 - fields the package cannot decode are not needed
                pass
        arch = self.kv["general.architecture"]
        self.n_layer = int(self.kv[f"{arch}.block_count"])
        self.n_embd = int(self.kv[f"{arch}.embedding_length"])
        self.n_head = int(self.kv[f"{arch}.attention.head_count"])
        self.n_head_kv = int(self.kv.get(f"{arch}.attention.head_count_kv", self.n_head))
        self.head_dim = int(self.kv.get(f"{arch}.attention.key_length", self.n_embd // self.n_head))
        self.rope_dim = int(self.kv.get(f"{arch}.rope.dimension_count", self.head_dim))
        self.rope_style = rope_style or ROPE_STYLE[arch]
        self.theta = float(self.kv.get(f"{arch}.rope.freq_base", 10000.0))
        self.eps = float(self.kv[f"{arch}.attention.layer_norm_rms_epsilon"])
        self.w = {}
        for t in r.tensors:
            a = gguf.quants.dequantize(t.data, t.tensor_type)
            self.w[t.name] = np.asarray(a, dtype=np.float64).reshape(list(reversed([int(x) for x in t.shape])))
        self.out = self.w.get("output.weight", self.w["token_embd.weight"])

    def _rms(self, x, w):
        return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + self.eps) * w

    def _angles(self, pos):
        # [T, rope_dim/2]: pos * theta^(-2i/rope_dim)
        inv = self.theta ** (-np.arange(0, self.rope_dim, 2, dtype=np.float64) / self.rope_dim)
        return pos[:, None] * inv[None, :]

    def _rope_normal(self, x, pos):
        # x: [T, heads, rope_dim]; rotate adjacent pairs (GGUF-permuted llama rows).
        ang = self._angles(pos)
        c, s = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]
        a, b = x[..., 0::2], x[..., 1::2]
        out = np.empty_like(x)
        out[..., 0::2] = a * c - b * s
        out[..., 1::2] = a * s + b * c
        return out

    def _rope_neox(self, x, pos):
        # x: [T, heads, rope_dim]; HF's apply_rotary_pos_emb with rotate_half.
        ang = self._angles(pos)
        emb = np.concatenate([ang, ang], axis=-1)[:, None, :]
        half = x.shape[-1] // 2
        rotated = np.concatenate([-x[..., half:], x[..., :half]], axis=-1)
        return x * np.cos(emb) + rotated * np.sin(emb)

    def _rope(self, x, pos):
        # x: [T, heads, head_dim]; only the first rope_dim dimensions rotate.
        r = self.rope_dim
        f = self._rope_neox if self.rope_style == "neox" else self._rope_normal
        return np.concatenate([f(x[..., :r], pos), x[..., r:]], axis=-1)

    def logits(self, ids: list[int]) -> np.ndarray:
        """All positions' logits, [T, n_vocab]."""
        T = len(ids)
        x = self.w["token_embd.weight"][ids]
        pos = np.arange(T, dtype=np.float64)
        hd, H, KV = self.head_dim, self.n_head, self.n_head_kv
        mask = np.triu(np.full((T, T), -np.inf), k=1)
        for i in range(self.n_layer):
            p = f"blk.{i}."
            h = self._rms(x, self.w[p + "attn_norm.weight"])
            q = h @ self.w[p + "attn_q.weight"].T
            k = h @ self.w[p + "attn_k.weight"].T
            v = h @ self.w[p + "attn_v.weight"].T
            if p + "attn_q.bias" in self.w:
                q, k, v = q + self.w[p + "attn_q.bias"], k + self.w[p + "attn_k.bias"], v + self.w[p + "attn_v.bias"]
            q = self._rope(q.reshape(T, H, hd), pos)
            k = self._rope(k.reshape(T, KV, hd), pos)
            v = v.reshape(T, KV, hd)
            rep = H // KV
            k = np.repeat(k, rep, axis=1)
            v = np.repeat(v, rep, axis=1)
            att = np.einsum("thd,shd->hts", q, k) / np.sqrt(hd) + mask[None]
            att = np.exp(att - att.max(-1, keepdims=True))
            att /= att.sum(-1, keepdims=True)
            o = np.einsum("hts,shd->thd", att, v).reshape(T, H * hd)
            x = x + o @ self.w[p + "attn_output.weight"].T
            h = self._rms(x, self.w[p + "ffn_norm.weight"])
            g = h @ self.w[p + "ffn_gate.weight"].T
            u = h @ self.w[p + "ffn_up.weight"].T
            x = x + ((g / (1.0 + np.exp(-g))) * u) @ self.w[p + "ffn_down.weight"].T
        x = self._rms(x, self.w["output_norm.weight"])
        return x @ self.out.T
