"""The training job queue through the real CLI (issue 8, "Job queue"; Property 8 end to end):
`cyllm jobs add` three jobs with priorities, a worker (`cyllm jobs run`) in the background, a pause
from another process, the worker killed with SIGKILL mid-job, a new worker, a resume.

Checked:
- `jobs add` validates up front: every problem of a bad config is reported, exit 2, nothing queued;
- the worker runs jobs by priority; a paused job stops with a checkpoint and is not run while
  paused; the job left "running" by the killed worker is taken over first by the next worker (even
  before a higher-priority job) and resumes from its last checkpoint; the resumed job continues
  from its pause checkpoint;
- every job ends "done", and its final adapter and every step loss the workers report are bitwise
  those of a straight `cyllm train` run of the same config; the progress series stored in the
  queue's SQLite file has every step once, with those losses.

The model is a tiny random llama with SmolLM2's tokenizer and chat template (as test_train_kill.py)."""
import json
import os
import select
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

from tiny_llama_gguf import QA_ROWS, SMALL_CFG, random_hf_weights, write_llama_gguf

CFG = SMALL_CFG
STEPS = 30
ROWS = QA_ROWS
# name -> (priority, seed)
JOBS = {"low": (0, 11), "high": (5, 12), "mid": (2, 13)}


def config(d: Path, out: str, seed: int) -> dict:
    return {"model": str(d / "tiny.gguf"), "dataset": str(d / "data.jsonl"), "output_dir": str(d / out), "seed": seed,
            "threads": 1, "lora": {"rank": 4, "alpha": 8, "dropout": 0.1},
            "optim": {"lr": 0.01, "batch_size": 2, "max_steps": STEPS, "warmup_steps": 3, "weight_decay": 0.01},
            "eval": {"split": 0.2, "every": 5}, "checkpoint": {"every": 1, "keep": 3}}


def final_adapter(output_dir: Path) -> bytes:
    return (output_dir / "checkpoints" / f"ckpt-{STEPS:010d}" / "adapter.bin").read_bytes()


class Worker:
    """`cyllm jobs run --json-progress ...` in the background; events read line by line."""

    def __init__(self, cyllm_bin, env, log: Path, *extra):
        self.err = open(log, "wb")
        self.proc = subprocess.Popen([cyllm_bin, "jobs", "run", "--json-progress", *extra], stdout=subprocess.PIPE,
                                     stderr=self.err, env=env)
        self.buf = b""
        self.events = []

    def next_event(self, deadline: float):
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            assert left > 0, f"no worker event in time; last: {self.events[-3:]}"
            r, _, _ = select.select([self.proc.stdout], [], [], min(left, 0.5))
            if r:
                chunk = os.read(self.proc.stdout.fileno(), 65536)
                assert chunk, f"the worker exited ({self.proc.poll()}); last events: {self.events[-3:]}"
                self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        e = json.loads(line)
        self.events.append(e)
        return e

    def wait_for(self, pred, timeout: float = 60):
        deadline = time.monotonic() + timeout
        while True:
            e = self.next_event(deadline)
            if pred(e):
                return e

    def finish(self, timeout: float = 120):
        out, _ = self.proc.communicate(timeout=timeout)
        self.buf += out
        for line in self.buf.decode().splitlines():
            if line.strip():
                self.events.append(json.loads(line))
        self.buf = b""
        self.err.close()
        return self.proc.returncode


def test_queue_pause_kill_restart_resume_ends_bitwise_as_straight_runs(tmp_path, cyllm_bin, default_model):
    t_start = time.monotonic()
    d = tmp_path
    write_llama_gguf(d / "tiny.gguf", CFG, random_hf_weights(CFG, seed=3), tokenizer_from=default_model)
    (d / "data.jsonl").write_text("".join(json.dumps({"messages": [{"role": "user", "content": q},
                                                                   {"role": "assistant", "content": a}]}) + "\n"
                                          for q, a in ROWS))
    env = dict(os.environ, CYLLM_DATA_DIR=str(d / "data"))  # the default queue: <data dir>/jobs.sqlite

    def cyllm(*args, check=True):
        p = subprocess.run([cyllm_bin, *args], capture_output=True, env=env, timeout=120)
        if check:
            assert p.returncode == 0, (args, p.returncode, p.stderr.decode(errors="replace"))
        return p

    def show(job_id):
        return json.loads(cyllm("jobs", "show", str(job_id), "--json").stdout)

    # Straight runs: the reference losses and final adapters.
    ref_losses, ref_adapters = {}, {}
    for name, (_, seed) in JOBS.items():
        cfg = d / f"ref-{name}.json"
        cfg.write_text(json.dumps(config(d, f"ref-{name}", seed)))
        p = cyllm("train", str(cfg), "--json-progress")
        evs = [json.loads(x) for x in p.stdout.decode().splitlines()]
        ref_losses[name] = {e["step"]: e["loss"] for e in evs if e["event"] == "step"}
        assert sorted(ref_losses[name]) == list(range(1, STEPS + 1))
        ref_adapters[name] = final_adapter(d / f"ref-{name}")
    assert len(set(ref_adapters.values())) == 3, "the three jobs must train different adapters"

    # A bad config: every problem reported, exit 2, nothing queued.
    bad = d / "bad.json"
    bad.write_text(json.dumps({"model": str(d / "missing.gguf"), "dataset": str(d / "data.jsonl"),
                               "lora": {"rank": 0}, "optim": {"lr": -1}}))
    p = cyllm("jobs", "add", str(bad), check=False)
    err = p.stderr.decode()
    assert p.returncode == 2, err
    for path in ("model", "output_dir", "lora.rank", "optim.lr"):
        assert f"{path}:" in err, (path, err)
    assert json.loads(cyllm("jobs", "list", "--json").stdout) == []

    ids = {}
    for name, (prio, seed) in JOBS.items():
        cfg = d / f"{name}.json"
        cfg.write_text(json.dumps(config(d, f"out-{name}", seed)))
        ids[name] = int(cyllm("jobs", "add", str(cfg), "--priority", str(prio), "--name", name).stdout)
    assert (d / "data" / "jobs.sqlite").exists()
    name_of = {v: k for k, v in ids.items()}
    # The same output_dir twice is refused.
    p = cyllm("jobs", "add", str(d / "low.json"), check=False)
    assert p.returncode == 2 and b"output_dir" in p.stderr

    # Worker 1: "high" starts first; paused from this process mid-run; then "mid" starts and the
    # worker is killed mid-"mid".
    w1 = Worker(cyllm_bin, env, d / "worker1.err")
    try:
        first = w1.wait_for(lambda e: e["event"] == "job_start")
        assert first["job"] == ids["high"] and not first["recovered"]
        w1.wait_for(lambda e: e.get("job") == ids["high"] and e["event"] == "step" and e["step"] >= 5)
        cyllm("jobs", "pause", str(ids["high"]))
        end = w1.wait_for(lambda e: e["event"] == "job_end")
        assert end["job"] == ids["high"] and end["state"] == "paused", end
        paused_at = show(ids["high"])
        assert paused_at["state"] == "paused"
        paused_step = paused_at["progress"]["step"]
        assert 5 <= paused_step < STEPS
        assert paused_at["checkpoint"].endswith(f"ckpt-{paused_step:010d}"), paused_at
        assert any(c["step"] == paused_step and c["intact"] for c in paused_at["checkpoints"])
        start = w1.wait_for(lambda e: e["event"] == "job_start")
        assert start["job"] == ids["mid"], (start, name_of)
        w1.wait_for(lambda e: e.get("job") == ids["mid"] and e["event"] == "step" and e["step"] >= 6)
    finally:
        w1.proc.send_signal(signal.SIGKILL)
    w1.finish()
    assert w1.proc.returncode == -signal.SIGKILL
    left = show(ids["mid"])
    assert left["state"] == "running" and left["worker_pid"] == w1.proc.pid, left
    killed_step = left["progress"]["step"]
    assert 6 <= killed_step < STEPS
    assert show(ids["low"])["state"] == "queued"
    assert show(ids["high"])["state"] == "paused"

    # Resume the paused job; worker 2 takes over the job left running first, then the queue.
    cyllm("jobs", "resume", str(ids["high"]))
    assert show(ids["high"])["state"] == "queued"
    w2 = Worker(cyllm_bin, env, d / "worker2.err", "--once")
    assert w2.finish() == 0, (d / "worker2.err").read_text()
    starts = [(e["job"], e["recovered"]) for e in w2.events if e["event"] == "job_start"]
    assert starts == [(ids["mid"], True), (ids["high"], False), (ids["low"], False)], (starts, name_of)
    resumed = {e["job"]: e for e in w2.events if e["event"] == "resumed"}
    assert f"ckpt-{paused_step:010d}" in resumed[ids["high"]]["message"]
    assert killed_step - 1 <= resumed[ids["mid"]]["step"] <= killed_step  # its newest verified checkpoint
    assert ids["low"] not in resumed
    ends = {e["job"]: e["state"] for e in w2.events if e["event"] == "job_end"}
    assert ends == {i: "done" for i in ids.values()}

    # Every loss any worker reported is the straight run's, bitwise; nothing missing.
    seen = {name: set() for name in JOBS}
    for e in w1.events + w2.events:
        if e["event"] == "step":
            name = name_of[e["job"]]
            assert e["loss"] == ref_losses[name][e["step"]], (name, e["step"], e["loss"])
            seen[name].add(e["step"])
    for name in JOBS:
        assert seen[name] == set(range(1, STEPS + 1)), (name, sorted(seen[name]))

    jobs = {j["id"]: j for j in json.loads(cyllm("jobs", "list", "--json").stdout)}
    db = sqlite3.connect(d / "data" / "jobs.sqlite")
    try:
        for name, job_id in ids.items():
            j = jobs[job_id]
            assert j["state"] == "done" and j["error"] is None and j["worker_pid"] is None, j
            assert j["progress"]["step"] == STEPS and j["progress"]["loss"] == ref_losses[name][STEPS]
            assert final_adapter(d / f"out-{name}") == ref_adapters[name], f"{name}: adapter differs from a straight run"
            rows = db.execute("SELECT step, loss FROM job_progress WHERE job_id = ? AND kind = 0 ORDER BY step",
                              (job_id,)).fetchall()
            assert [r[0] for r in rows] == list(range(1, STEPS + 1)), (name, [r[0] for r in rows])
            assert all(loss == ref_losses[name][step] for step, loss in rows), name
            evals = db.execute("SELECT COUNT(*) FROM job_progress WHERE job_id = ? AND kind = 1 AND eval_loss IS NOT "
                               "NULL", (job_id,)).fetchone()[0]
            assert evals == STEPS // 5, (name, evals)
    finally:
        db.close()
    # show: the human form names the state and the newest checkpoint.
    text = cyllm("jobs", "show", str(ids["mid"])).stdout.decode()
    assert "done" in text and f"ckpt-{STEPS:010d}" in text, text
    # A finished job cannot be paused or resumed; an unknown id is an error.
    assert cyllm("jobs", "pause", str(ids["low"]), check=False).returncode == 1
    assert cyllm("jobs", "resume", str(ids["low"]), check=False).returncode == 1
    assert cyllm("jobs", "cancel", "999", check=False).returncode == 1
    wall = time.monotonic() - t_start
    print(f"job queue scenario: {wall:.1f} s (paused at step {paused_step}, killed at step {killed_step})")
