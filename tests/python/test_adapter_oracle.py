"""Oracle for the LoRA adapter files the engine writes (engine/model/adapter-io.h).

cyllm_adapter_tool writes a random adapter as PEFT (adapter_config.json + adapter_model.safetensors)
and as GGUF LoRA, plus the engine-layout values it came from. Independent readers check them:
`safetensors.numpy` (Hugging Face's reader) for the PEFT file, `gguf.GGUFReader` for the GGUF file,
and numpy for the Q/K row permutation, using convert_hf_to_gguf.py's formula
(reshape(n_head, 2, hd/2, ...).swapaxes(1, 2)): the engine keeps GGUF (permuted) rows, PEFT holds
HF rows, so applying the PEFT delta B @ A to an HF-layout weight and permuting must give the
engine's delta applied to the permuted weight."""
import hashlib
import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from safetensors import safe_open
from safetensors.numpy import load_file

gguf = pytest.importorskip("gguf")

TARGETS = [("q_proj", "self_attn", "attn_q"), ("k_proj", "self_attn", "attn_k"), ("v_proj", "self_attn", "attn_v"),
           ("o_proj", "self_attn", "attn_output"), ("gate_proj", "mlp", "ffn_gate"), ("up_proj", "mlp", "ffn_up"),
           ("down_proj", "mlp", "ffn_down")]


def _tool() -> str:
    build = os.environ.get("CYLLM_BUILD_DIR") or str(Path(__file__).resolve().parents[2] / "build")
    p = Path(build) / "tests" / "engine" / "model" / "cyllm_adapter_tool"
    if not p.exists():
        pytest.fail(f"{p} not built")
    return str(p)


def hf_to_gguf(w: np.ndarray, n_head: int) -> np.ndarray:
    """convert_hf_to_gguf.py's LlamaModel.permute on the rows of w."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def dims(cfg, module):
    d, ff, q, kv = cfg["n_embd"], cfg["n_ff"], cfg["n_head"] * cfg["head_dim"], cfg["n_head_kv"] * cfg["head_dim"]
    return {"q_proj": (d, q), "k_proj": (d, kv), "v_proj": (d, kv), "o_proj": (q, d),
            "gate_proj": (d, ff), "up_proj": (d, ff), "down_proj": (ff, d)}[module]


def write(tmp_path: Path, *args: str) -> tuple[Path, dict]:
    out = tmp_path / "out"
    subprocess.run([_tool(), "write", str(out), *args], check=True, timeout=300)
    return out, json.loads((out / "config.json").read_text())


CASES = {
    "all-f32": ["--rank", "4", "--alpha", "8", "--seed", "3"],
    "qv-rslora": ["--rank", "8", "--alpha", "16", "--seed", "4", "--targets", "0x5", "--rslora"],
    "mlp-f16": ["--rank", "2", "--alpha", "4", "--seed", "5", "--targets", "0x70", "--dtype", "f16"],
}


@pytest.mark.parametrize("case", CASES)
def test_peft_file_matches_engine_values(tmp_path, case):
    out, cfg = write(tmp_path, *CASES[case], "--template", "{% for m in messages %}{{ m.content }}{% endfor %}",
                     "--eos-id", "7", "--eos", "</s>")
    peft = out / "peft"
    conf = json.loads((peft / "adapter_config.json").read_text())
    assert conf["peft_type"] == "LORA" and conf["task_type"] == "CAUSAL_LM"
    assert conf["r"] == cfg["rank"]
    assert conf["lora_alpha"] == pytest.approx(cfg["alpha"])
    assert conf["use_rslora"] is cfg["rslora"]
    assert conf["bias"] == "none" and conf["use_dora"] is False and conf["fan_in_fan_out"] is False
    assert conf["base_model_name_or_path"] == cfg["name"]
    r = cfg["rank"]
    scale = conf["lora_alpha"] / (np.sqrt(r) if conf["use_rslora"] else r)
    assert scale == pytest.approx(cfg["scale"], rel=1e-6)
    tpl_hash = hashlib.sha256(cfg["template"].encode()).hexdigest()
    assert conf["cyllm"] == {"arch": "llama", "n_layer": cfg["n_layer"], "chat_template_sha256": tpl_hash,
                             "eos_token_id": 7, "eos_token": "</s>"}

    st_path = str(peft / "adapter_model.safetensors")
    with safe_open(st_path, framework="np") as f:
        meta = f.metadata()
    assert meta["format"] == "pt"
    assert meta["cyllm.chat_template_sha256"] == tpl_hash
    assert meta["cyllm.eos_token_id"] == "7" and meta["cyllm.eos_token"] == "</s>"

    tensors = load_file(st_path)
    engine = load_file(str(out / "engine.safetensors"))
    want_dtype = np.float16 if "--dtype" in CASES[case] else np.float32
    expected_keys = set()
    for name in engine:
        if not name.endswith(".a"):
            continue
        _, layer, module, _ = name.split(".")
        block = dict((t[0], t[1]) for t in TARGETS)[module]
        expected_keys |= {f"base_model.model.model.layers.{layer}.{block}.{module}.lora_A.weight",
                          f"base_model.model.model.layers.{layer}.{block}.{module}.lora_B.weight"}
    assert set(tensors) == expected_keys
    assert sorted(conf["target_modules"]) == sorted({k.split(".")[6] for k in expected_keys})

    rng = np.random.default_rng(0)
    for key in sorted(expected_keys):
        if ".lora_B." in key:
            continue
        layer, module = key.split(".")[4], key.split(".")[6]
        n_in, n_out = dims(cfg, module)
        a = tensors[key]
        b = tensors[key.replace("lora_A", "lora_B")]
        assert a.dtype == want_dtype and b.dtype == want_dtype, key
        assert a.shape == (r, n_in) and b.shape == (n_out, r), key
        ea, eb = engine[f"layers.{layer}.{module}.a"], engine[f"layers.{layer}.{module}.b"]
        tol = dict(rtol=1e-3, atol=1e-5) if want_dtype == np.float16 else dict(rtol=0, atol=0)
        np.testing.assert_allclose(a.astype(np.float32), ea, **tol)
        heads = {"q_proj": cfg["n_head"], "k_proj": cfg["n_head_kv"]}.get(module)
        if heads:
            # The engine's B is the HF B with GGUF's row permutation; never the same rows.
            np.testing.assert_allclose(hf_to_gguf(b.astype(np.float32), heads), eb, **tol)
            assert not np.allclose(b.astype(np.float32), eb)
        else:
            np.testing.assert_allclose(b.astype(np.float32), eb, **tol)
        # Applying the PEFT delta to an HF-layout weight, then converting that weight to GGUF,
        # equals converting the weight first and applying the engine's delta.
        w_hf = rng.standard_normal((n_out, n_in)).astype(np.float64)
        merged_hf = w_hf + scale * (b.astype(np.float64) @ a.astype(np.float64))
        w_gguf = hf_to_gguf(w_hf, heads) if heads else w_hf
        merged_engine = w_gguf + cfg["scale"] * (eb.astype(np.float64) @ ea.astype(np.float64))
        as_gguf = hf_to_gguf(merged_hf, heads) if heads else merged_hf
        np.testing.assert_allclose(as_gguf, merged_engine, rtol=1e-5, atol=1e-3 if want_dtype == np.float16 else 1e-6)


@pytest.mark.parametrize("case", CASES)
def test_gguf_lora_as_llama_cpp_reads_it(tmp_path, case):
    out, cfg = write(tmp_path, *CASES[case])
    reader = gguf.GGUFReader(str(out / "adapter.gguf"))
    fields = {name: f.contents() for name, f in reader.fields.items() if not name.startswith("GGUF.")}
    assert fields["general.type"] == "adapter"
    assert fields["adapter.type"] == "lora"
    assert fields["general.architecture"] == "llama"
    r = cfg["rank"]
    # llama.cpp scales by adapter.lora.alpha / r
    assert fields["adapter.lora.alpha"] / r == pytest.approx(cfg["scale"], rel=1e-6)
    assert fields["cyllm.chat_template_sha256"] == hashlib.sha256(cfg["template"].encode()).hexdigest()
    engine = load_file(str(out / "engine.safetensors"))
    by_name = {t.name: t for t in reader.tensors}
    want_type = gguf.GGMLQuantizationType.F16 if "--dtype" in CASES[case] else gguf.GGMLQuantizationType.F32
    names = set()
    for name, values in engine.items():
        _, layer, module, ab = name.split(".")
        gname = f"blk.{layer}.{dict((t[0], t[2]) for t in TARGETS)[module]}.weight.lora_{ab}"
        names.add(gname)
        t = by_name[gname]
        n_in, n_out = dims(cfg, module)
        assert t.tensor_type == want_type
        assert list(t.shape) == ([n_in, r] if ab == "a" else [r, n_out]), gname  # ggml ne order
        data = np.asarray(t.data, dtype=np.float32).reshape(values.shape)
        tol = dict(rtol=1e-3, atol=1e-5) if want_type == gguf.GGMLQuantizationType.F16 else dict(rtol=0, atol=0)
        np.testing.assert_allclose(data, values, **tol)  # B in GGUF (permuted) row order, as the converter writes
    assert names == set(by_name)


def test_real_model_shapes(tmp_path, default_model):
    out, cfg = write(tmp_path, "--model", str(default_model), "--rank", "2", "--targets", "0x3")
    assert (cfg["n_layer"], cfg["n_embd"], cfg["n_head"], cfg["n_head_kv"]) == (30, 576, 9, 3)
    tensors = load_file(str(out / "peft" / "adapter_model.safetensors"))
    engine = load_file(str(out / "engine.safetensors"))
    assert len(tensors) == 30 * 2 * 2
    for layer in (0, 29):
        b = tensors[f"base_model.model.model.layers.{layer}.self_attn.k_proj.lora_B.weight"]
        assert b.shape == (192, 2)
        np.testing.assert_array_equal(hf_to_gguf(b, 3), engine[f"layers.{layer}.k_proj.b"])
        b = tensors[f"base_model.model.model.layers.{layer}.self_attn.q_proj.lora_B.weight"]
        np.testing.assert_array_equal(hf_to_gguf(b, 9), engine[f"layers.{layer}.q_proj.b"])
