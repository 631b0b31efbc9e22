"""qwen2 logits against an independent numpy oracle (tests/python/llama_reference.py), on tiny random
models written here with the `gguf` package from PyPI (not our writer).

Facts the test encodes (llama.cpp src/llama-model.cpp llama_model_rope_type(); convert_hf_to_gguf.py;
transformers models/qwen2/modeling_qwen2.py):
- qwen2 GGUF files keep HF's Q/K row order (Qwen2Model does not apply LlamaModel.permute), and
  llama.cpp runs them with NEOX RoPE: pairs (x[i], x[i + rope_dim/2]), HF's rotate_half.
- qwen2 has q/k/v biases (o_proj has none).
- llama GGUF files have Q/K rows (and biases) permuted by the converter, and NORM RoPE: adjacent
  pairs. So the same HF weights written both ways must give the same logits.
The models are random (2 layers, GQA 4/2 heads, head_dim 16, tied embeddings); RoPE theta 10000 so
the first pairs turn by a radian per position and a wrong pairing changes logits at once."""
import os
import subprocess
import tempfile
from pathlib import Path

import gguf
import numpy as np
import pytest

from llama_reference import LlamaReference

N_LAYER, N_EMBD, N_HEAD, N_HEAD_KV, HEAD_DIM, N_FF, N_VOCAB = 2, 64, 4, 2, 16, 96, 80
IDS = [3, 77, 15, 42, 8, 8, 61, 0, 23, 11, 54, 79, 30, 2, 19, 66]

# Tolerances. The random models have logits of magnitude up to ~30 (std ~8; tied embeddings of
# std 1), so the exact bound is relative to the largest reference logit.
# Exact mode (--exact, float32 activations) with F32 or Q8_0 weights (the reference dequantizes
# the same Q8_0 blocks): the engine differs from the float64 reference only by float32 rounding.
# Observed max |error| 3.8e-5 with logits up to 29.7 (1.3e-6 relative); bound 1e-5 relative.
# A wrong RoPE pairing moves logits by 1.6 to 40 from position 1 on (the negative control below
# requires a gap of at least WRONG_MIN, 10x the largest exact bound).
EXACT_REL = 1e-5
WRONG_MIN = 0.1
# Default mode with Q8_0 weights: the engine also quantizes each activation row to 8 bits per
# 32-block before every product. On these sharp random models that noise alone is large:
# emulating just that quantization in numpy (seeds 7-11) moves logits by up to 2.4 and gives a
# per-position KL(reference || emulation) up to 0.27 nats and a mean over positions up to 0.04;
# the engine on seed 7 gives max 0.079, mean 0.010. Bounds: max 0.5, mean 0.05. The engine's old
# adjacent pairing on qwen2 gave KL 4 to 40 nats at most positions (mean ~10).
Q8_MAX_KL = 0.5
Q8_MEAN_KL = 0.05


def _exact_bound(ref: np.ndarray) -> float:
    return EXACT_REL * float(np.abs(ref).max())


def _tool() -> str:
    build = os.environ.get("CYLLM_BUILD_DIR") or str(Path(__file__).resolve().parents[2] / "build")
    p = Path(build) / "tests" / "engine" / "model" / "cyllm_logits_tool"
    if not p.exists():
        pytest.fail(f"{p} not built")
    return str(p)


def _engine_logits(model: Path, ids: list[int], exact: bool, batch: int = 256) -> np.ndarray:
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "logits.bin"
        flags = ["--exact"] if exact else []
        subprocess.run([_tool(), str(model), str(out), "--batch", str(batch), *flags, *map(str, ids)],
                       check=True, timeout=120)
        return np.fromfile(out, dtype=np.float32).reshape(len(ids), -1)


def _hf_weights(seed: int) -> dict[str, np.ndarray]:
    """Random weights in HF layout ([out, in] matrices, q/k rows in HF order), float32."""
    rng = np.random.default_rng(seed)
    q_dim, kv_dim = N_HEAD * HEAD_DIM, N_HEAD_KV * HEAD_DIM

    def mat(rows, cols, scale):
        return (rng.standard_normal((rows, cols)) * scale).astype(np.float32)

    def vec(n, scale, mean=0.0):
        return (mean + rng.standard_normal(n) * scale).astype(np.float32)

    w = {"token_embd.weight": mat(N_VOCAB, N_EMBD, 1.0), "output_norm.weight": vec(N_EMBD, 0.1, 1.0)}
    for i in range(N_LAYER):
        p = f"blk.{i}."
        w[p + "attn_norm.weight"] = vec(N_EMBD, 0.1, 1.0)
        w[p + "attn_q.weight"] = mat(q_dim, N_EMBD, 0.3)
        w[p + "attn_k.weight"] = mat(kv_dim, N_EMBD, 0.3)
        w[p + "attn_v.weight"] = mat(kv_dim, N_EMBD, 0.3)
        w[p + "attn_q.bias"] = vec(q_dim, 0.5)
        w[p + "attn_k.bias"] = vec(kv_dim, 0.5)
        w[p + "attn_v.bias"] = vec(kv_dim, 0.5)
        w[p + "attn_output.weight"] = mat(N_EMBD, q_dim, 0.2)
        w[p + "ffn_norm.weight"] = vec(N_EMBD, 0.1, 1.0)
        w[p + "ffn_gate.weight"] = mat(N_FF, N_EMBD, 0.2)
        w[p + "ffn_up.weight"] = mat(N_FF, N_EMBD, 0.2)
        w[p + "ffn_down.weight"] = mat(N_EMBD, N_FF, 0.2)
    return w


def _to_adjacent_order(a: np.ndarray, n_heads: int) -> np.ndarray:
    """The converter's llama Q/K row permutation: within each head, HF row j*hd/2 + i (j = 0, 1:
    first or second half) becomes row 2i + j, so HF's (i, i + hd/2) pairs become adjacent."""
    hd = a.shape[0] // n_heads
    src = [h * hd + j * (hd // 2) + i for h in range(n_heads) for i in range(hd // 2) for j in range(2)]
    return a[np.array(src)]


def _write(path: Path, arch: str, w: dict[str, np.ndarray], quant: bool = False, rope_dim: int = HEAD_DIM):
    wr = gguf.GGUFWriter(str(path), arch)
    wr.add_block_count(N_LAYER)
    wr.add_context_length(256)
    wr.add_embedding_length(N_EMBD)
    wr.add_feed_forward_length(N_FF)
    wr.add_head_count(N_HEAD)
    wr.add_head_count_kv(N_HEAD_KV)
    wr.add_rope_freq_base(10000.0)
    wr.add_rope_dimension_count(rope_dim)
    wr.add_layer_norm_rms_eps(1e-6)
    if quant:
        wr.add_quantization_version(gguf.GGML_QUANT_VERSION)
    for name, a in w.items():
        if quant and a.ndim == 2:
            q = gguf.quants.quantize(a, gguf.GGMLQuantizationType.Q8_0)
            wr.add_tensor(name, q, raw_dtype=gguf.GGMLQuantizationType.Q8_0)  # q: [rows, bytes]
        else:
            wr.add_tensor(name, a)
    wr.write_header_to_file()
    wr.write_kv_data_to_file()
    wr.write_tensors_to_file()
    wr.close()


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("qwen2")
    w = _hf_weights(7)
    llama_w = dict(w)
    for i in range(N_LAYER):
        for t, n in (("attn_q", N_HEAD), ("attn_k", N_HEAD_KV)):
            for kind in ("weight", "bias"):
                key = f"blk.{i}.{t}.{kind}"
                llama_w[key] = _to_adjacent_order(w[key], n)
    paths = {
        "qwen2": d / "qwen2-f32.gguf",
        "qwen2_q8": d / "qwen2-q8_0.gguf",
        "qwen2_partial": d / "qwen2-rope8.gguf",
        "llama": d / "llama-permuted-f32.gguf",
    }
    _write(paths["qwen2"], "qwen2", w)
    _write(paths["qwen2_q8"], "qwen2", w, quant=True)
    _write(paths["qwen2_partial"], "qwen2", w, rope_dim=HEAD_DIM // 2)
    _write(paths["llama"], "llama", llama_w)
    return paths


def _log_softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def test_reference_reads_qwen2_as_neox(models):
    ref = LlamaReference(str(models["qwen2"]))
    assert ref.rope_style == "neox"
    assert "blk.0.attn_q.bias" in ref.w
    assert LlamaReference(str(models["llama"])).rope_style == "normal"


@pytest.mark.parametrize("which", ["qwen2", "qwen2_partial"])
def test_qwen2_exact_logits_match_reference(models, which):
    ref = LlamaReference(str(models[which])).logits(IDS)
    ours = _engine_logits(models[which], IDS, exact=True)
    assert ours.shape == ref.shape == (len(IDS), N_VOCAB)
    assert np.isfinite(ours).all()
    err = np.abs(ours - ref).max()
    assert err < _exact_bound(ref), f"{which}: max |engine - reference| = {err:.2e} (logits up to {np.abs(ref).max():.2f})"
    assert (ours.argmax(axis=1) == ref.argmax(axis=1)).all()


def test_wrong_rope_pairing_is_detected(models):
    """Negative control: the reference with adjacent pairs on the qwen2 file (the engine's old
    behaviour) is far from the engine, so the test above can tell the pairings apart."""
    wrong = LlamaReference(str(models["qwen2"]), rope_style="normal").logits(IDS)
    right = LlamaReference(str(models["qwen2"])).logits(IDS)
    ours = _engine_logits(models["qwen2"], IDS, exact=True)
    assert np.abs(wrong - right).max() > WRONG_MIN
    assert np.abs(ours - wrong).max() > WRONG_MIN, "the engine pairs qwen2 RoPE dimensions like llama"
    # Position 0 has no rotation: both pairings agree there, so any difference is RoPE's.
    np.testing.assert_allclose(wrong[0], right[0], rtol=0, atol=1e-12)


def test_llama_permuted_rows_equal_qwen2_unpermuted(models):
    """The same HF weights as a llama file (Q/K rows and biases permuted as the converter does,
    adjacent-pair RoPE) and as a qwen2 file (HF order, half-offset RoPE) are the same model."""
    ref_q = LlamaReference(str(models["qwen2"])).logits(IDS)
    ref_l = LlamaReference(str(models["llama"])).logits(IDS)
    np.testing.assert_allclose(ref_l, ref_q, rtol=0, atol=1e-9)
    ours_q = _engine_logits(models["qwen2"], IDS, exact=True)
    ours_l = _engine_logits(models["llama"], IDS, exact=True)
    err = np.abs(ours_l - ref_q).max()
    assert err < _exact_bound(ref_q), f"llama file: max |engine - reference| = {err:.2e}"
    # Same products on the same values in another row order: float reassociation at most.
    np.testing.assert_allclose(ours_l, ours_q, rtol=0, atol=_exact_bound(ref_q))


def test_qwen2_q8_default_mode_close_to_reference(models):
    ref = LlamaReference(str(models["qwen2_q8"])).logits(IDS)
    ours = _engine_logits(models["qwen2_q8"], IDS, exact=False)
    assert ours.shape == ref.shape
    assert np.isfinite(ours).all()
    lp_ref, lp_ours = _log_softmax(ref), _log_softmax(ours)
    kl = np.sum(np.exp(lp_ref) * (lp_ref - lp_ours), axis=1)
    assert kl.max() < Q8_MAX_KL, f"max KL {kl.max():.2e} at position {int(kl.argmax())}"
    assert kl.mean() < Q8_MEAN_KL, f"mean KL {kl.mean():.2e}"
    # Exact mode on the same Q8_0 file isolates the weights: it must match as tightly as F32.
    exact = _engine_logits(models["qwen2_q8"], IDS, exact=True)
    assert np.abs(exact - ref).max() < _exact_bound(ref)


def test_qwen2_chunked_prefill_equals_single_batch(models):
    """Positions carried across chunks (the KV cache holds rotated keys) give the same logits."""
    a = _engine_logits(models["qwen2"], IDS, exact=True, batch=256)
    b = _engine_logits(models["qwen2"], IDS, exact=True, batch=3)
    np.testing.assert_allclose(a, b, rtol=0, atol=_exact_bound(a))
