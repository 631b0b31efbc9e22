"""Shared fixtures: where the cyllm binary, shared data and the default model are.

Outside CI a missing model or data folder skips with a clear message; under CI=true it fails."""
import contextlib
import os
import re
import signal
import socket
import subprocess
import time
import urllib.request
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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def cyllm_server(cyllm_bin, model, log_dir: Path, *extra: str, data_dir: Path | None = None):
    """Runs `cyllm serve` on a free loopback port until the block ends; yields
    {"base", "port", "model", "proc", "stderr", "data"}. Keys and the audit log live in data_dir
    (default: log_dir/data), never in the user's home. Skips when the binary has no `serve` command
    (no Qt). A clean shutdown (SIGTERM) must exit 0."""
    probe = subprocess.run([cyllm_bin, "serve", "--help"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("this cyllm was built without Qt HttpServer: no `serve` command")
    port = free_port()
    data = Path(data_dir) if data_dir else log_dir / "data"
    data.mkdir(parents=True, exist_ok=True)
    err_path = log_dir / "stderr.txt"
    err = open(err_path, "wb")
    env = dict(os.environ, CYLLM_DATA_DIR=str(data))
    proc = subprocess.Popen([cyllm_bin, "serve", "-m", str(model), "--port", str(port), *extra],
                            stdout=subprocess.DEVNULL, stderr=err, env=env)
    base = f"http://127.0.0.1:{port}"
    stopped_by_us = False
    try:
        deadline = time.time() + 60
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"cyllm serve exited {proc.returncode}: {err_path.read_text(errors='replace')}")
            try:
                with urllib.request.urlopen(base + "/health", timeout=2) as r:  # /health needs no key
                    if r.status == 200:
                        break
            except OSError:
                pass
            assert time.time() < deadline, "server did not become healthy"
            time.sleep(0.1)
        yield {"base": base, "port": port, "model": Path(model).stem, "proc": proc, "stderr": err_path, "data": data}
        stopped_by_us = True
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        err.close()
    # Under ASan a clean exit also means no leak or memory error was reported.
    assert not stopped_by_us or proc.returncode == 0, err_path.read_text(errors="replace")[-4000:]
    # Every server the suite runs is grepped: no API key and no Authorization value in its logs.
    log = err_path.read_text(errors="replace")
    assert not re.search(r"cyk-[A-Za-z0-9]{8,}", log), "an API key reached the log"
    assert not re.search(r"Bearer\s+(?!\[REDACTED\])\S", log), "an Authorization value reached the log"
