"""The cyllm CLI as users and other checks rely on it: generate, info, bench, tokenize, errors."""
import json
import os
import subprocess
from pathlib import Path

import pytest

from conftest import run_cyllm


def test_greedy_capital_of_france(cyllm_bin, default_model):
    out = run_cyllm(cyllm_bin, "generate", "-m", str(default_model), "-p", "The capital of France is", "-n", "4",
                    "--temp", "0", "--quiet").stdout.decode()
    assert out.startswith(" Paris"), out


def test_generate_prints_only_generated_text(cyllm_bin, default_model):
    proc = run_cyllm(cyllm_bin, "generate", "-m", str(default_model), "-p", "Once upon a time", "-n", "12", "--temp", "0")
    out, err = proc.stdout.decode(), proc.stderr.decode()
    assert "Once upon a time" not in out
    assert "loading" not in out and "tok/s" not in out
    assert "tok/s" in err  # timings go to stderr


def test_seed_reproduces_sampling(cyllm_bin, default_model):
    args = ["generate", "-m", str(default_model), "-p", "My favourite animal is", "-n", "24", "--temp", "1.0",
            "--top-k", "0", "--top-p", "1", "--min-p", "0", "--quiet"]
    a = run_cyllm(cyllm_bin, *args, "--seed", "11").stdout
    b = run_cyllm(cyllm_bin, *args, "--seed", "11").stdout
    c = run_cyllm(cyllm_bin, *args, "--seed", "12").stdout
    d = run_cyllm(cyllm_bin, *args, "--seed", "13").stdout
    assert a == b
    assert len({a, c, d}) > 1, "three seeds gave identical samples at temperature 1"


def test_stop_string_cuts_output(cyllm_bin, default_model):
    full = run_cyllm(cyllm_bin, "generate", "-m", str(default_model), "-p", "1, 2, 3, 4,", "-n", "16", "--temp", "0",
                     "--quiet").stdout.decode()
    assert " 7" in full, full
    cut = run_cyllm(cyllm_bin, "generate", "-m", str(default_model), "-p", "1, 2, 3, 4,", "-n", "16", "--temp", "0",
                    "--stop", " 7", "--quiet").stdout.decode()
    assert cut == full[: full.index(" 7")]


def test_info_json(cyllm_bin, default_model):
    info = json.loads(run_cyllm(cyllm_bin, "info", str(default_model), "--json").stdout)
    assert info["architecture"] == "llama"
    assert info["hparams"]["n_layer"] == 30 and info["hparams"]["n_head_kv"] == 3
    assert info["tensor_types"]["Q4_1"]["tensors"] == 210
    assert info["tensor_types"]["Q8_0"]["tensors"] == 1
    assert info["memory"]["weights_bytes"] > 90_000_000
    assert info["memory"]["kv_cache_bytes"] > 0


def test_info_devices(cyllm_bin):
    d = json.loads(run_cyllm(cyllm_bin, "info", "--devices", "--json").stdout)
    assert d["cpu"]["isa"] in ("scalar", "avx2", "avx512", "avx512-vnni")
    assert isinstance(d["cuda_devices"], list)


def test_device_cuda_without_gpu_falls_back_and_says_so(cyllm_bin, default_model):
    d = json.loads(run_cyllm(cyllm_bin, "info", "--devices", "--json").stdout)
    if d["cuda_devices"]:
        pytest.skip("a GPU is present")
    proc = run_cyllm(cyllm_bin, "generate", "-m", str(default_model), "-p", "Hi", "-n", "1", "--temp", "0",
                     "--device", "cuda")
    assert "running on the CPU" in proc.stderr.decode()


def test_bench_json_fields(cyllm_bin, default_model):
    proc = run_cyllm(cyllm_bin, "bench", "-m", str(default_model), "--prompt", "32", "--gen", "8", "--reps", "1", "--json")
    j = json.loads(proc.stdout)
    for k in ("load_ms", "prefill_tok_s", "decode_tok_s", "peak_rss_mb", "decode_bound_tok_s"):
        assert isinstance(j[k], (int, float)) and j[k] > 0, k
    assert j["decode_tok_s"] < j["decode_bound_tok_s"] * 1.5  # a bound that is no bound means a wrong byte count


def test_tokenize_vocab_only_file(cyllm_bin, shared_dir):
    out = run_cyllm(cyllm_bin, "tokenize", "-m", str(shared_dir / "data/vocab/ggml-vocab-starcoder.gguf"),
                    "Hello world").stdout.decode().split()
    assert out and all(x.isdigit() for x in out)


@pytest.mark.parametrize("content", [b"", b"GGUF", b"not a model at all", b"GGUF\x03\x00\x00\x00" + b"\xff" * 16])
def test_malformed_model_gives_clear_error(cyllm_bin, tmp_path, content):
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(content)
    for cmd in (["info", str(bad)], ["generate", "-m", str(bad), "-p", "x"], ["tokenize", "-m", str(bad), "x"]):
        proc = subprocess.run([cyllm_bin, *cmd], capture_output=True, timeout=60)
        assert proc.returncode == 1, (cmd, proc.returncode, proc.stderr)
        assert b"GGUF" in proc.stderr or b"malformed" in proc.stderr, proc.stderr


def test_truncated_default_model_is_rejected(cyllm_bin, default_model, tmp_path):
    data = default_model.read_bytes()
    bad = tmp_path / "truncated.gguf"
    bad.write_bytes(data[: len(data) // 2])
    proc = subprocess.run([cyllm_bin, "generate", "-m", str(bad), "-p", "x"], capture_output=True, timeout=60)
    assert proc.returncode == 1
    assert b"truncated" in proc.stderr


def test_chat_answers_from_stdin(cyllm_bin, default_model):
    proc = subprocess.run([cyllm_bin, "chat", "-m", str(default_model), "--temp", "0", "-n", "48"],
                          input=b"Hello! Who are you?\n", capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    answer = proc.stdout.decode().strip()
    assert answer, "empty answer"
    assert "<|im_end|>" not in answer and "<|im_start|>" not in answer
    assert "chat template: GGUF tokenizer.chat_template" in proc.stderr.decode()


def _cpu_has_bf16():
    try:
        return "avx512_bf16" in Path("/proc/cpuinfo").read_text()
    except OSError:
        return False


@pytest.mark.parametrize("precision", ["f32", "bf16"])
def test_train_bench_reports_speed_and_roofline(cyllm_bin, default_model, precision):
    args = ["train", "--bench", "-m", str(default_model), "--batch", "1", "--seq", "16", "--rank", "4", "--steps", "1",
            "--precision", precision]
    proc = run_cyllm(cyllm_bin, *args, check=False, timeout=300)
    if precision == "bf16" and not _cpu_has_bf16():
        assert proc.returncode == 2 and b"AVX512-BF16" in proc.stderr, proc.stderr
        return
    assert proc.returncode == 0, proc.stderr
    j = json.loads(proc.stdout)
    assert j["precision"] == precision and j["steps_timed"] == 1
    assert j["params"] == 134479872  # SmolLM2-135M: every weight matrix, the tied embedding once
    assert j["tokens_per_s"] > 0
    assert j["model_gflops_per_s"] == pytest.approx(6 * j["params"] * j["tokens_per_s"] / 1e9, rel=1e-9)
    if j["peak_gflops_per_s"] > 0:  # measured where the CPU has 512-bit FMA (bf16: vdpbf16ps)
        assert 0 < j["fraction_of_peak"] <= 1.0
