"""Engine logits on the real SmolLM2-135M-Instruct Q4_1 file against an independent numpy forward
pass (tests/python/llama_reference.py) over weights dequantized by the `gguf` package."""
import os
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest

from conftest import run_cyllm
from llama_reference import LlamaReference

PROMPTS = [
    "The capital of France is",
    "Once upon a time, in a small village,",
    "def fibonacci(n):\n    if n < 2:\n        return n\n",
    "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n",
    "The quick brown fox jumps over the lazy dog.",
    "1, 2, 3, 4, 5, 6,",
    "中国的首都是",
    "Emoji test: 🎉🚀 and more 🤖",
    "SELECT name, age FROM users WHERE age > 30 ORDER BY",
    "In 1492, Columbus sailed",
    "    \n\n\t  indented   whitespace   text",
    "Photosynthesis is the process by which",
    "The mitochondria is the powerhouse of the",
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nTell me a joke.<|im_end|>\n<|im_start|>assistant\n",
    "Translate to French: Good morning ->",
    "import numpy as np\nx = np.arange(10)\nprint(",
    "A" * 40,
    "Water boils at 100 degrees",
    "The best way to learn programming is",
    "Question: What color is the sky?\nAnswer:",
    "Paris, London, Berlin, Madrid,",
    "E = mc^2 is the equation for",
]

# Tolerance. The engine quantizes each activation row to 8 bits per block of 32 before every
# matrix product (as llama.cpp does), which perturbs logits by roughly 1% of their spread; the
# reference runs in float64 on the exact dequantized weights. We require the max absolute error to
# stay under 5% of the reference logits' standard deviation at every position, and the RMS error
# under 1.5%; a wrong layer, RoPE layout, GQA mapping or norm moves logits by more than the whole
# spread, so these bounds separate correct from broken by a wide margin.
MAX_REL = 0.05
RMS_REL = 0.015


def _tool() -> str:
    build = os.environ.get("CYLLM_BUILD_DIR") or str(Path(__file__).resolve().parents[2] / "build")
    p = Path(build) / "tests" / "engine" / "model" / "cyllm_logits_tool"
    if not p.exists():
        pytest.fail(f"{p} not built")
    return str(p)


@pytest.fixture(scope="module")
def reference(default_model):
    return LlamaReference(str(default_model))


def _engine_logits(model: Path, ids: list[int], batch: int = 256) -> np.ndarray:
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "logits.bin"
        subprocess.run([_tool(), str(model), str(out), "--batch", str(batch), *map(str, ids)], check=True, timeout=300)
        return np.fromfile(out, dtype=np.float32).reshape(len(ids), -1)


def _tokenize(cyllm_bin, model, text):
    out = run_cyllm(cyllm_bin, "tokenize", "-m", str(model), text).stdout.decode()
    return [int(x) for x in out.split()]


@pytest.mark.parametrize("prompt", PROMPTS)
def test_logits_match_reference(cyllm_bin, default_model, reference, prompt):
    ids = _tokenize(cyllm_bin, default_model, prompt)
    assert ids, "tokenizer returned nothing"
    ours = _engine_logits(default_model, ids)
    ref = reference.logits(ids)
    assert ours.shape == ref.shape
    assert np.isfinite(ours).all()
    for t in range(len(ids)):
        spread = ref[t].std()
        err = np.abs(ours[t] - ref[t])
        assert err.max() < MAX_REL * spread, f"position {t}: max error {err.max():.4f} vs spread {spread:.4f}"
        assert np.sqrt(np.mean(err**2)) < RMS_REL * spread, f"position {t}: rms error too large"
        assert int(np.argmax(ours[t])) == int(np.argmax(ref[t])), f"top-1 differs at position {t}"


def test_chunked_prefill_equals_single_batch(default_model):
    """A prompt fed in chunks of 3 gives the same logits as one chunk (same kernels, different split)."""
    ids = [504, 3575, 282, 4649, 314, 19556, 28, 392, 416, 722, 198]
    a = _engine_logits(default_model, ids, batch=256)
    b = _engine_logits(default_model, ids, batch=3)
    # Same arithmetic per token except the attention and matmul tiling over columns: allow float
    # reassociation noise only.
    np.testing.assert_allclose(a, b, rtol=0, atol=2e-3 * float(np.abs(a).max()))
