"""Killed training runs (issue 8, Property 7): `cyllm train` is sent SIGKILL at random moments,
again and again, including while it writes a checkpoint (one every step), and restarted each time.

Checked after every kill and at the end:
- every checkpoint directory that verifies (manifest parses, every blob has its size and CRC-32:
  what the engine's loader accepts) is bitwise the uninterrupted run's checkpoint of that step:
  nothing broken ever looks valid;
- a restart resumes from the newest checkpoint that verifies (its "resumed" event names it and its
  first step is the next one);
- every step loss any run reports is bitwise the uninterrupted run's loss for that step, and the
  final adapter is bitwise the uninterrupted run's: nothing is lost.

The model is a tiny random llama (2 layers, width 32) with SmolLM2's tokenizer and chat template, so
steps take milliseconds and checkpoint writes (fsync'ed) are a large share of the run."""
import json
import os
import random
import select
import signal
import subprocess
import time
import zlib
from pathlib import Path

import pytest

from tiny_llama_gguf import QA_ROWS, SMALL_CFG, random_hf_weights, write_llama_gguf

CFG = SMALL_CFG
STEPS = 40
ROWS = QA_ROWS


def write_config(path: Path, model: Path, data: Path, out: Path, keep: int):
    path.write_text(json.dumps({
        "model": str(model), "dataset": str(data), "output_dir": str(out), "seed": 7, "threads": 1,
        "lora": {"rank": 4, "alpha": 8, "dropout": 0.1},
        "optim": {"lr": 0.01, "batch_size": 2, "grad_accum": 2, "max_steps": STEPS, "warmup_steps": 3,
                  "weight_decay": 0.01},
        "eval": {"split": 0.2, "every": 5},
        "checkpoint": {"every": 1, "keep": keep},
        "gradient_checkpointing": True,
    }))


def verify(ckpt: Path):
    """The blobs of a checkpoint directory if it verifies as the engine's loader checks it, else None."""
    try:
        m = json.loads((ckpt / "manifest.json").read_text())
        blobs = {}
        for name, info in m["blobs"].items():
            data = (ckpt / name).read_bytes()
            if len(data) != info["size"] or zlib.crc32(data) != info["crc32"]:
                return None
            blobs[name] = data
        return m["state"]["step"], blobs
    except (OSError, ValueError, KeyError, TypeError):
        return None


def checkpoints(root: Path):
    """(valid {step: blobs}, names of directories that do not verify, temporary leftovers)."""
    valid, broken, tmp = {}, [], []
    if root.exists():
        for d in sorted(root.iterdir()):
            if ".tmp-" in d.name:
                tmp.append(d.name)
            elif d.name.startswith("ckpt-"):
                v = verify(d)
                if v is None:
                    broken.append(d.name)
                else:
                    assert d.name == f"ckpt-{v[0]:010d}", f"{d.name} holds step {v[0]}"
                    valid[v[0]] = v[1]
    return valid, broken, tmp


def events(text: str):
    out = []
    for line in text.splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            pass  # the line the kill cut short
    return out


@pytest.fixture(scope="module")
def setup(tmp_path_factory, cyllm_bin, default_model):
    d = tmp_path_factory.mktemp("kill")
    model = d / "tiny.gguf"
    write_llama_gguf(model, CFG, random_hf_weights(CFG, seed=3), tokenizer_from=default_model)
    data = d / "data.jsonl"
    data.write_text("".join(json.dumps({"messages": [{"role": "user", "content": q},
                                                     {"role": "assistant", "content": a}]}) + "\n" for q, a in ROWS))
    ref_out = d / "ref"
    cfg = d / "ref.json"
    write_config(cfg, model, data, ref_out, keep=1000)
    t0 = time.monotonic()
    p = subprocess.run([cyllm_bin, "train", str(cfg), "--json-progress"], capture_output=True, timeout=300)
    wall = time.monotonic() - t0
    assert p.returncode == 0, p.stderr.decode(errors="replace")
    losses = {e["step"]: e["loss"] for e in events(p.stdout.decode()) if e["event"] == "step"}
    assert sorted(losses) == list(range(1, STEPS + 1))
    ref, broken, tmp = checkpoints(ref_out / "checkpoints")
    assert sorted(ref) == list(range(1, STEPS + 1)) and not broken and not tmp
    return {"dir": d, "model": model, "data": data, "losses": losses, "ckpts": ref, "wall": wall}


def test_sigkill_at_random_moments_never_loses_or_corrupts_anything(setup, cyllm_bin):
    d, ref_losses, ref_ckpts = setup["dir"], setup["losses"], setup["ckpts"]
    out = d / "killed"
    cfg = d / "killed.json"
    write_config(cfg, setup["model"], setup["data"], out, keep=3)  # cleanup runs (and is killed) too
    root = out / "checkpoints"
    rng = random.Random(int(os.environ.get("CYLLM_KILL_SEED", "12345")))
    kills = kills_mid_write = resumes = 0
    seen_steps = set()
    deadline = time.monotonic() + 90
    finished = False
    while time.monotonic() < deadline:
        valid, broken, tmp = checkpoints(root)
        for step, blobs in valid.items():
            assert blobs == ref_ckpts[step], f"ckpt-{step} verifies but differs from the uninterrupted run's"
        newest = max(valid) if valid else None
        proc = subprocess.Popen([cyllm_bin, "train", str(cfg), "--json-progress"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        # Half the kills at a random time, half right after a step event, i.e. while that step's
        # checkpoint is being written (fsyncs) or the old ones cleaned up.
        after_step = rng.random() < 0.5
        if kills >= 30:
            mode_deadline = None  # enough: let it finish
        elif after_step:
            mode_deadline = time.monotonic() + 30
        else:
            # A random moment within the first sixth of a whole run: start-up, data loading, steps.
            mode_deadline = time.monotonic() + rng.uniform(0.0, setup["wall"] / 6)
        buf = b""
        killed = False
        while True:
            if mode_deadline is not None and time.monotonic() >= mode_deadline:
                proc.send_signal(signal.SIGKILL)
                killed = True
                break
            wait = 0.05 if mode_deadline is None else max(0.0, min(0.05, mode_deadline - time.monotonic()))
            r, _, _ = select.select([proc.stdout], [], [], wait)
            if r:
                chunk = os.read(proc.stdout.fileno(), 65536)
                if not chunk:
                    break
                buf += chunk
                if after_step and b'"event":"step"' in chunk:
                    time.sleep(rng.uniform(0, 0.004))
                    proc.send_signal(signal.SIGKILL)
                    killed = True
                    break
        rest, err = proc.communicate(timeout=120)
        buf += rest
        evs = events(buf.decode(errors="replace"))
        if not killed:
            assert proc.returncode == 0, err.decode(errors="replace")
        else:
            kills += 1
            assert proc.returncode == -signal.SIGKILL or proc.returncode == 0, (proc.returncode, err.decode(errors="replace"))
        # The restart resumed from the newest checkpoint that verified before it started.
        resumed = [e for e in evs if e["event"] == "resumed"]
        steps = [e for e in evs if e["event"] == "step"]
        if newest is not None and (resumed or steps):
            assert resumed and f"ckpt-{newest:010d}" in resumed[0]["message"], (newest, resumed)
            resumes += 1
        if steps:
            assert steps[0]["step"] == (newest or 0) + 1, (newest, steps[0]["step"])
        for e in steps:
            assert e["loss"] == ref_losses[e["step"]], f"step {e['step']}: {e['loss']!r} != {ref_losses[e['step']]!r}"
            seen_steps.add(e["step"])
        _, _, tmp_after = checkpoints(root)
        kills_mid_write += bool(killed and tmp_after)
        if not killed:
            finished = True
            break
    assert finished, f"the run did not finish within the time limit ({kills} kills)"
    valid, broken, tmp = checkpoints(root)
    assert STEPS in valid and valid[STEPS] == ref_ckpts[STEPS], "the final checkpoint must equal the uninterrupted run's"
    assert seen_steps == set(range(1, STEPS + 1)), sorted(set(range(1, STEPS + 1)) - seen_steps)
    assert kills >= 10, f"only {kills} kills"
    # Some kills must have landed inside a checkpoint write (a temporary directory was left).
    assert kills_mid_write >= 1, f"{kills} kills, none during a checkpoint write"
    assert resumes >= 5
    print(f"reference run {setup['wall']:.2f} s; {kills} kills ({kills_mid_write} during a checkpoint write), {resumes} resumes")
