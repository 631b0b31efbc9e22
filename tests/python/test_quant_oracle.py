"""Oracle: our dequantization (engine/backend/quant*) against the `gguf` package's
gguf.quants.dequantize, an independent implementation, for every computable weight type, on random
blocks (random bytes, fp16 scale fields forced finite). Runs tests/engine/backend/cyllm_dequant_tool
from $CYLLM_BUILD_DIR: the scalar reference, and each SIMD ISA (the tool's dispatcher falls back to
the best supported one, so on any CPU every case is meaningful)."""
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

gguf = pytest.importorskip("gguf")
from gguf import GGMLQuantizationType as Q  # noqa: E402
from gguf.quants import dequantize  # noqa: E402

from conftest import ROOT, _missing  # noqa: E402

# type name -> (gguf type, block elements, block bytes, byte offsets of fp16 scale fields)
TYPES = {
    "F32": (Q.F32, 1, 4, []),
    "F16": (Q.F16, 1, 2, [0]),
    "BF16": (Q.BF16, 1, 2, []),
    "Q4_0": (Q.Q4_0, 32, 18, [0]),
    "Q4_1": (Q.Q4_1, 32, 20, [0, 2]),
    "Q5_0": (Q.Q5_0, 32, 22, [0]),
    "Q5_1": (Q.Q5_1, 32, 24, [0, 2]),
    "Q8_0": (Q.Q8_0, 32, 34, [0]),
    "Q4_K": (Q.Q4_K, 256, 144, [0, 2]),
    "Q5_K": (Q.Q5_K, 256, 176, [0, 2]),
    "Q6_K": (Q.Q6_K, 256, 210, [208]),
}


# Largest term of a block, as multiples of (|d|, |m or dmin|).
TERM_BOUND = {"Q4_1": (15, 1), "Q5_1": (31, 1), "Q4_K": (63 * 15, 63), "Q5_K": (63 * 31, 63)}


@pytest.fixture(scope="session")
def dequant_tool() -> str:
    build = Path(os.environ.get("CYLLM_BUILD_DIR") or ROOT / "build")
    tool = build / "tests" / "engine" / "backend" / "cyllm_dequant_tool"
    if not tool.exists():
        _missing(f"dequant tool {tool}; build target cyllm_dequant_tool")
    return str(tool)


def random_blocks(name: str, nblocks: int, rng: np.random.Generator) -> bytes:
    _, bs, bb, f16 = TYPES[name]
    if name == "F32":  # finite floats of varied magnitude
        return (rng.standard_normal(nblocks) * 10.0 ** rng.integers(-3, 4, nblocks)).astype("<f4").tobytes()
    if name == "BF16":  # finite bf16: random bits with a non-maximal exponent
        bits = rng.integers(0, 1 << 16, nblocks, dtype=np.uint32).astype(np.uint16)
        bits[(bits & 0x7F80) == 0x7F80] &= 0xBFFF
        return bits.astype("<u2").tobytes()
    raw = rng.integers(0, 256, nblocks * bb, dtype=np.uint16).astype(np.uint8).reshape(nblocks, bb)
    for off in f16:  # finite fp16: clear an exponent bit of inf/NaN patterns
        h = raw[:, off:off + 2].copy().view("<u2").reshape(-1)
        bad = (h & 0x7C00) == 0x7C00
        h[bad] &= 0xBFFF
        raw[:, off:off + 2] = h.astype("<u2").view(np.uint8).reshape(nblocks, 2)
    return raw.tobytes()


def run_tool(tool: str, name: str, data: bytes, n: int, isa: str, tmp_path: Path) -> np.ndarray:
    src, dst = tmp_path / f"{name}-{isa}.bin", tmp_path / f"{name}-{isa}.f32"
    src.write_bytes(data)
    subprocess.run([tool, name, str(src), str(n), str(dst), isa], check=True, capture_output=True, timeout=60)
    return np.fromfile(dst, dtype="<f4")


@pytest.mark.parametrize("isa", ["scalar", "avx2", "avx512"])
@pytest.mark.parametrize("name", list(TYPES))
def test_dequant_matches_gguf(dequant_tool, tmp_path, name, isa):
    qtype, bs, bb, _ = TYPES[name]
    rng = np.random.default_rng(abs(hash((name, isa))) % (1 << 32))
    for trial in range(5):
        nblocks = int(rng.integers(1, 40)) * (16 if bs == 1 else 1)
        data = random_blocks(name, nblocks, rng)
        n = nblocks * bs
        ours = run_tool(dequant_tool, name, data, n, isa, tmp_path)
        ref = dequantize(np.frombuffer(data, dtype=np.uint8), qtype).reshape(-1).astype(np.float32)
        assert ours.shape == ref.shape == (n,)
        assert np.all(np.isfinite(ref)), "generator must produce finite blocks"
        # gguf computes in float32 (numpy), as we do, but may associate d*q + m (Q4_1/Q5_1) or
        # d*sc*q - dmin*m (K-quants) differently: allow a few float32 ulps of the block's largest
        # term (|d| times the largest level/scale, plus the min term); every other type is a single
        # product or an exact conversion and must match exactly.
        if name in TERM_BOUND:
            blocks = np.frombuffer(data, dtype=np.uint8).reshape(nblocks, bb)
            d = np.abs(blocks[:, 0:2].copy().view("<f2").astype(np.float64).reshape(-1))
            m = np.abs(blocks[:, 2:4].copy().view("<f2").astype(np.float64).reshape(-1))
            kd, km = TERM_BOUND[name]
            tol = np.repeat(4 * np.finfo(np.float32).eps * (kd * d + km * m), bs)
            bad = np.abs(ours.astype(np.float64) - ref) > tol
        else:
            bad = ours != ref
        assert not bad.any(), (
            f"{name}/{isa} trial {trial}: {bad.sum()} mismatches, first at {np.argmax(bad)}: "
            f"ours {ours[np.argmax(bad)]!r} gguf {ref[np.argmax(bad)]!r}")
