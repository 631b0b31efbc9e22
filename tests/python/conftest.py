"""Shared fixtures: where the cyllm binary, shared data and the default model are.

Outside CI a missing model or data folder skips with a clear message; under CI=true it fails."""
import os
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
IN_CI = os.environ.get("CI") == "true"


def _missing(what: str):
    if IN_CI:
        pytest.fail(f"{what} is missing under CI")
    pytest.skip(f"{what} not found")


@pytest.fixture(scope="session")
def cyllm_bin() -> str:
    b = os.environ.get("CYLLM_BIN") or str(ROOT / "build" / "app" / "cli" / "cyllm")
    if not Path(b).exists():
        _missing(f"cyllm binary ({b}); build it first")
    return b


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    d = Path(os.environ.get("CYLLM_SHARED_DIR") or ROOT.parent / "shared")
    if not d.is_dir():
        _missing(f"shared data folder {d}")
    return d


@pytest.fixture(scope="session")
def default_model() -> Path:
    d = Path(os.environ.get("CYLLM_MODELS_DIR") or ROOT / "models")
    p = Path(os.environ.get("CYLLM_TEST_MODEL") or d / "SmolLM2-135M-Instruct.Q4_1.gguf")
    if not p.exists():
        _missing(f"default model {p} (run scripts/fetch-model.sh)")
    return p


def run_cyllm(cyllm_bin: str, *args: str, input: bytes | None = None, check: bool = True, timeout: float = 600):
    """Runs cyllm and returns the CompletedProcess (bytes)."""
    proc = subprocess.run([cyllm_bin, *args], input=input, capture_output=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"cyllm {' '.join(args)} exited {proc.returncode}: {proc.stderr.decode(errors='replace')}")
    return proc
