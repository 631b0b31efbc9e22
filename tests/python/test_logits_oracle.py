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

# Tolerances.
# Exact mode (--exact: float32 activations everywhere) must reproduce the float64 reference up to
# float32 rounding: observed max |error| 1e-4 over all prompts, bound 1e-3; the smallest top-1
# margin in the reference over these prompts is 0.005, so top-1 must agree at every position.
# Default mode quantizes each activation row to 8 bits per block of 32 before every matrix product
# (as llama.cpp's CPU path does). That noise is amplified through 30 layers: emulating just that
# quantization in numpy moves the next-token distribution by KL up to 0.023 nats on these prompts,
# and our own scalar reference path of the same scheme reaches 0.066 at one position (different
# but equally valid rounding), while the mean over all positions stays near 0.005. So the default
# path is bounded by a mean KL under 0.01 nats over all positions, a per-position KL under 0.1, a
# mean-centred RMS logit error under 15% of the logits' spread (logits are defined up to a shift),
# and its top-1 token must be within 0.5 logits of the reference's best at every position.
# A real bug (RoPE pairing, GQA head mapping, a skipped norm or layer) gives KL above 1 nat.
EXACT_ABS = 1e-3
MAX_KL = 0.1
MEAN_KL = 0.01
RMS_REL = 0.15
TOP1_SLACK = 0.5


def _log_softmax(z):
    z = z - z.max()
    return z - np.log(np.exp(z).sum())


def _tool() -> str:
    build = os.environ.get("CYLLM_BUILD_DIR") or str(Path(__file__).resolve().parents[2] / "build")
    p = Path(build) / "tests" / "engine" / "model" / "cyllm_logits_tool"
    if not p.exists():
        pytest.fail(f"{p} not built")
    return str(p)


@pytest.fixture(scope="module")
def reference(default_model):
    return LlamaReference(str(default_model))


def _engine_logits(model: Path, ids: list[int], batch: int = 256, exact: bool = False) -> np.ndarray:
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "logits.bin"
        flags = ["--exact"] if exact else []
        subprocess.run([_tool(), str(model), str(out), "--batch", str(batch), *flags, *map(str, ids)], check=True, timeout=300)
        return np.fromfile(out, dtype=np.float32).reshape(len(ids), -1)


def _tokenize(cyllm_bin, model, text):
    out = run_cyllm(cyllm_bin, "tokenize", "-m", str(model), text).stdout.decode()
    return [int(x) for x in out.split()]


@pytest.fixture(scope="module")
def cases(cyllm_bin, default_model, reference):
    """(prompt, ids, reference logits) for every prompt, computed once."""
    out = []
    for prompt in PROMPTS:
        ids = _tokenize(cyllm_bin, default_model, prompt)
        assert ids, f"tokenizer returned nothing for {prompt!r}"
        out.append((prompt, ids, reference.logits(ids)))
    return out


def test_exact_logits_match_reference(default_model, cases):
    for prompt, ids, ref in cases:
        ours = _engine_logits(default_model, ids, exact=True)
        assert ours.shape == ref.shape
        assert np.isfinite(ours).all()
        err = np.abs(ours - ref).max()
        assert err < EXACT_ABS, f"{prompt!r}: max |error| {err:.2e}"
        top_ours, top_ref = ours.argmax(axis=1), ref.argmax(axis=1)
        assert (top_ours == top_ref).all(), f"{prompt!r}: top-1 differs at positions {np.nonzero(top_ours != top_ref)[0]}"


def test_default_logits_close_to_reference(default_model, cases):
    kls = []
    for prompt, ids, ref in cases:
        ours = _engine_logits(default_model, ids)
        assert ours.shape == ref.shape
        assert np.isfinite(ours).all()
        for t in range(len(ids)):
            lp_ref, lp_ours = _log_softmax(ref[t]), _log_softmax(ours[t])
            kl = float(np.sum(np.exp(lp_ref) * (lp_ref - lp_ours)))
            kls.append(kl)
            assert kl < MAX_KL, f"{prompt!r} position {t}: KL(reference || engine) = {kl:.4f}"
            err = (ours[t] - ours[t].mean()) - (ref[t] - ref[t].mean())
            rms = float(np.sqrt(np.mean(err**2)))
            assert rms < RMS_REL * ref[t].std(), f"{prompt!r} position {t}: centred rms error {rms:.3f}"
            pick = int(np.argmax(ours[t]))
            assert ref[t][pick] >= ref[t].max() - TOP1_SLACK, f"{prompt!r} position {t}: engine picks a clearly worse token"
    assert float(np.mean(kls)) < MEAN_KL, f"mean KL over {len(kls)} positions is {np.mean(kls):.4f}"


def test_chunked_prefill_equals_single_batch(default_model):
    """A prompt fed in chunks of 3 gives the same logits as one chunk (same kernels, different split)."""
    ids = [504, 3575, 282, 4649, 314, 19556, 28, 392, 416, 722, 198]
    a = _engine_logits(default_model, ids, batch=256)
    b = _engine_logits(default_model, ids, batch=3)
    # Same arithmetic per token except the attention and matmul tiling over columns: allow float
    # reassociation noise only.
    np.testing.assert_allclose(a, b, rtol=0, atol=2e-3 * float(np.abs(a).max()))
