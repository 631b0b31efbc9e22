"""Adapters in serving agree with peft (issue "LoRA adapters in serving"): a random transformers
llama is written to GGUF F32 (tiny_llama_gguf.py, with convert_hf_to_gguf's Q/K permutation), a
peft LoRA with random A and B on all seven projections is saved with save_pretrained, and the
engine (cyllm_logits_tool --lora, the same forward pass the scheduler runs) loads that PEFT
directory and must give peft's logits. The same adapter with rsLoRA scaling and on a subset of
the projections too. Oracles: torch + transformers + peft (tests/python/requirements-torch.txt)."""
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

try:
    import peft
    import torch
    import transformers
except ImportError as e:  # scripts/setup-deps.sh --tests installs them
    if os.environ.get("CI") == "true":
        raise
    pytest.skip(f"torch/transformers/peft not installed: {e}", allow_module_level=True)

from tiny_llama_gguf import TORCH_CFG, random_hf_weights, write_llama_gguf  # noqa: E402

torch.set_num_threads(1)

CFG = TORCH_CFG
ALL = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def _logits_tool() -> str:
    build = os.environ.get("CYLLM_BUILD_DIR") or str(Path(__file__).resolve().parents[2] / "build")
    p = Path(build) / "tests" / "engine" / "model" / "cyllm_logits_tool"
    if not p.exists():
        pytest.fail(f"{p} not built")
    return str(p)


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    d = tmp_path_factory.mktemp("peft-logits")
    weights = random_hf_weights(CFG, seed=11, std=0.3)
    path = d / "tiny.gguf"
    write_llama_gguf(path, CFG, weights)
    cfg = transformers.LlamaConfig(**CFG, hidden_act="silu", attention_bias=False, mlp_bias=False,
                                   attn_implementation="eager")
    model = transformers.LlamaForCausalLM(cfg)
    missing, unexpected = model.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()}, strict=False)
    assert not unexpected and all("rotary" in k for k in missing)
    return d, path, model.float().eval()


@pytest.mark.parametrize("targets,rslora", [(ALL, False), (["q_proj", "v_proj", "down_proj"], False), (ALL, True)])
def test_engine_logits_with_a_peft_adapter_match_peft(base, tmp_path, targets, rslora):
    d, gguf_path, model = base
    torch.manual_seed(3)
    config = peft.LoraConfig(r=4, lora_alpha=16, target_modules=targets, lora_dropout=0.0, bias="none",
                             use_rslora=rslora, init_lora_weights=False,  # random A and B: a real update
                             task_type="CAUSAL_LM")
    pm = peft.get_peft_model(model, config)
    pm.eval()
    adapter_dir = tmp_path / "adapter"
    pm.save_pretrained(adapter_dir)
    ids = np.random.default_rng(7).integers(0, CFG["vocab_size"], 20).tolist()
    with torch.no_grad():
        want = pm(input_ids=torch.tensor([ids])).logits[0].numpy()
        with pm.disable_adapter():
            base_logits = pm(input_ids=torch.tensor([ids])).logits[0].numpy()
    out = tmp_path / "logits.bin"
    subprocess.run([_logits_tool(), str(gguf_path), str(out), "--exact", "--lora", str(adapter_dir), *map(str, ids)],
                   check=True, capture_output=True)
    got = np.fromfile(out, dtype=np.float32).reshape(len(ids), CFG["vocab_size"])
    # The adapter really moves the logits (so agreement below is not agreement with the base)...
    assert np.abs(want - base_logits).max() > 0.1
    # ...and float32 on both sides, the same math in another order: 1e-4 of the logit scale.
    scale = np.abs(want).max()
    assert np.abs(got - want).max() < 1e-4 * scale, np.abs(got - want).max()
    pm.unload()  # the base model goes back to plain for the next case
