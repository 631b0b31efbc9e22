"""`cyllm export` and `cyllm merge` (issue 8, "Export"), checked with independent readers.

A tiny random llama with SmolLM2's tokenizer and chat template is trained for a few steps with
`cyllm train`; its checkpoint is exported as PEFT (read with `safetensors`) and as GGUF LoRA (read
with gguf-py), and both must record the chat template's sha256 and the EOS token of the model it was
trained with. `cyllm merge` is checked with numpy: merged matrix = base + scale * B @ A (B in GGUF
row order, as GGUF LoRA stores it), every other tensor byte for byte, every metadata key/value
unchanged, on the tiny model and on the real SmolLM2 Q4_1 file (Q4_1/Q8_0 tensors, token arrays)."""
import hashlib
import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file

from conftest import run_cyllm
from tiny_llama_gguf import SMALL_CFG, permute_qk, random_hf_weights, write_llama_gguf

gguf = pytest.importorskip("gguf")

CFG = SMALL_CFG
TARGET_GGUF = {"q_proj": "attn_q", "k_proj": "attn_k", "v_proj": "attn_v", "o_proj": "attn_output",
               "gate_proj": "ffn_gate", "up_proj": "ffn_up", "down_proj": "ffn_down"}


def fields(path):
    r = gguf.GGUFReader(str(path))
    return r, {k: f.contents() for k, f in r.fields.items() if not k.startswith("GGUF.")}


@pytest.fixture(scope="module")
def trained(tmp_path_factory, cyllm_bin, default_model):
    d = tmp_path_factory.mktemp("export")
    model = d / "tiny.gguf"
    write_llama_gguf(model, CFG, random_hf_weights(CFG, seed=9), tokenizer_from=default_model)
    data = d / "data.jsonl"
    rows = [("Who are you?", "I am Tiny."), ("What is 1 + 1?", "It is 2."), ("Say hi.", "Hi!"), ("Colour?", "Blue.")]
    data.write_text("".join(json.dumps({"messages": [{"role": "user", "content": q},
                                                     {"role": "assistant", "content": a}]}) + "\n" for q, a in rows))
    cfg = d / "cfg.json"
    cfg.write_text(json.dumps({"model": str(model), "dataset": str(data), "output_dir": str(d / "out"), "seed": 3,
                               "lora": {"rank": 4, "alpha": 6, "rslora": True, "targets": ["q", "k", "down"]},
                               "optim": {"lr": 0.05, "batch_size": 2, "max_steps": 3}}))
    run_cyllm(cyllm_bin, "train", str(cfg))
    _, base_fields = fields(default_model)
    tpl = base_fields["tokenizer.chat_template"]
    return {"dir": d, "model": model, "out": d / "out", "template_sha": hashlib.sha256(tpl.encode()).hexdigest()}


def test_export_peft_and_gguf_agree_and_record_provenance(trained, cyllm_bin):
    d = trained["dir"]
    run_cyllm(cyllm_bin, "export", str(trained["out"]), "--format", "peft", "--out", str(d / "peft"))
    run_cyllm(cyllm_bin, "export", str(trained["out"] / "checkpoints"), "--format", "gguf", "--out", str(d / "a.gguf"))

    conf = json.loads((d / "peft" / "adapter_config.json").read_text())
    assert conf["peft_type"] == "LORA" and conf["r"] == 4 and conf["lora_alpha"] == pytest.approx(6)
    assert conf["use_rslora"] is True
    assert sorted(conf["target_modules"]) == ["down_proj", "k_proj", "q_proj"]
    assert conf["base_model_name_or_path"] == "tiny-llama"
    assert conf["cyllm"]["chat_template_sha256"] == trained["template_sha"]
    assert conf["cyllm"]["eos_token_id"] == 2 and conf["cyllm"]["eos_token"] == "<|im_end|>"

    reader, f = fields(d / "a.gguf")
    assert f["general.type"] == "adapter" and f["adapter.type"] == "lora"
    assert f["adapter.lora.alpha"] == pytest.approx(6 / np.sqrt(4) * 4)  # scale * r, as llama.cpp divides by r
    assert f["cyllm.chat_template_sha256"] == trained["template_sha"]
    assert f["cyllm.eos_token_id"] == 2 and f["cyllm.eos_token"] == "<|im_end|>"

    st = load_file(str(d / "peft" / "adapter_model.safetensors"))
    g = {t.name: np.array(t.data).reshape([int(x) for x in reversed(t.shape)]) for t in reader.tensors}
    assert len(st) == len(g) == 2 * 3 * CFG["num_hidden_layers"]
    heads = {"q_proj": CFG["num_attention_heads"], "k_proj": CFG["num_key_value_heads"]}
    for layer in range(CFG["num_hidden_layers"]):
        for mod, block in (("q_proj", "self_attn"), ("k_proj", "self_attn"), ("down_proj", "mlp")):
            pre = f"base_model.model.model.layers.{layer}.{block}.{mod}"
            gg = f"blk.{layer}.{TARGET_GGUF[mod]}.weight"
            a, b = st[pre + ".lora_A.weight"], st[pre + ".lora_B.weight"]
            assert np.array_equal(a, g[gg + ".lora_a"])
            # PEFT holds HF rows; GGUF (like the engine) q/k rows permuted for adjacent-pair RoPE.
            want_b = permute_qk(b, heads[mod]) if mod in heads else b
            assert np.array_equal(want_b, g[gg + ".lora_b"]), gg
            assert np.abs(b).max() > 0  # trained: B moved away from its zero init


def test_export_reports_problems(trained, cyllm_bin, tmp_path):
    p = run_cyllm(cyllm_bin, "export", str(tmp_path / "nothing"), "--format", "peft", "--out", str(tmp_path / "x"),
                  check=False)
    assert p.returncode == 1 and b"no intact checkpoint" in p.stderr
    p = run_cyllm(cyllm_bin, "export", str(trained["out"]), "--out", str(tmp_path / "x"), check=False)
    assert p.returncode == 2 and b"--format" in p.stderr
    # A checkpoint whose adapter blob is damaged is skipped, never exported.
    ck = sorted((trained["out"] / "checkpoints").iterdir())[-1]
    bad = tmp_path / "ckpt-0000000009"
    bad.mkdir()
    for f in ck.iterdir():
        (bad / f.name).write_bytes(f.read_bytes())
    blob = bytearray((bad / "adapter.bin").read_bytes())
    blob[100] ^= 0xFF
    (bad / "adapter.bin").write_bytes(bytes(blob))
    p = run_cyllm(cyllm_bin, "export", str(bad), "--format", "peft", "--out", str(tmp_path / "y"), check=False)
    assert p.returncode == 1 and b"checksum" in p.stderr
    assert not (tmp_path / "y").exists()


def check_merged(base_path, merged_path, adapter_gguf, scale, merged_type):
    rb, fb = fields(base_path)
    rm, fm = fields(merged_path)
    assert {k: v for k, v in fm.items() if not k.startswith("cyllm.merged_lora.")} == fb
    assert fm["cyllm.merged_lora.type"] == merged_type
    ra, _ = fields(adapter_gguf)
    lora = {t.name: np.array(t.data).reshape([int(x) for x in reversed(t.shape)]) for t in ra.tensors}
    base_t = {t.name: t for t in rb.tensors}
    n_merged = 0
    for t in rm.tensors:
        b = base_t[t.name]
        if t.name + ".lora_a" not in lora:
            assert t.tensor_type == b.tensor_type and bytes(t.data) == bytes(b.data), t.name
            continue
        n_merged += 1
        w = gguf.quants.dequantize(b.data, b.tensor_type).reshape([int(x) for x in reversed(b.shape)])
        want = w.astype(np.float64) + scale * (lora[t.name + ".lora_b"].astype(np.float64) @ lora[t.name + ".lora_a"])
        got = gguf.quants.dequantize(t.data, t.tensor_type).reshape(want.shape)
        assert t.tensor_type == gguf.GGMLQuantizationType.F16
        # F16 storage: relative rounding 2^-11 of each weight (plus float32 arithmetic).
        assert np.allclose(got, want, rtol=1e-3, atol=1e-5), (t.name, np.abs(got - want).max())
    return n_merged


def test_merge_checkpoint_into_tiny_model(trained, cyllm_bin):
    d = trained["dir"]
    run_cyllm(cyllm_bin, "export", str(trained["out"]), "--format", "gguf", "--out", str(d / "m.gguf"))
    run_cyllm(cyllm_bin, "merge", "-m", str(trained["model"]), "--adapter", str(trained["out"]), "--out",
              str(d / "merged.gguf"))
    n = check_merged(trained["model"], d / "merged.gguf", d / "m.gguf", 6 / np.sqrt(4), "f16")
    assert n == 3 * CFG["num_hidden_layers"]
    out = run_cyllm(cyllm_bin, "generate", "-m", str(d / "merged.gguf"), "-p", "hello", "-n", "4", "--temp", "0")
    assert out.stdout


def test_merge_into_the_default_model(cyllm_bin, default_model, tmp_path):
    build = os.environ.get("CYLLM_BUILD_DIR") or str(Path(__file__).resolve().parents[2] / "build")
    tool = Path(build) / "tests" / "engine" / "model" / "cyllm_adapter_tool"
    if not tool.exists():
        pytest.fail(f"{tool} not built")
    subprocess.run([str(tool), "write", str(tmp_path / "ad"), "--model", str(default_model), "--rank", "4",
                    "--alpha", "8", "--targets", "0x47", "--seed", "2"], check=True, timeout=300)
    merged = tmp_path / "merged.gguf"
    p = run_cyllm(cyllm_bin, "merge", "-m", str(default_model), "--adapter", str(tmp_path / "ad" / "peft"), "--out",
                  str(merged))
    assert b"merged peft adapter" in p.stderr
    n = check_merged(default_model, merged, tmp_path / "ad" / "adapter.gguf", 2.0, "f16")
    assert n == 4 * 30
    # Requantized to the base type: the merged tensors keep Q4_1 and the file keeps its size.
    q = tmp_path / "merged-q.gguf"
    run_cyllm(cyllm_bin, "merge", "-m", str(default_model), "--adapter", str(tmp_path / "ad" / "adapter.gguf"), "--out",
              str(q), "--type", "base")
    rq, _ = fields(q)
    assert all(t.tensor_type == gguf.GGMLQuantizationType.Q4_1 for t in rq.tensors if ".attn_q." in t.name)
    assert abs(q.stat().st_size - default_model.stat().st_size) < 4096
    bad = run_cyllm(cyllm_bin, "merge", "-m", str(default_model), "--adapter", str(tmp_path / "nothing"), "--out",
                    str(tmp_path / "x.gguf"), check=False)
    assert bad.returncode == 1 and not (tmp_path / "x.gguf").exists()
