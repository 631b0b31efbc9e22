"""LoRA adapters served by `cyllm serve` (issue "LoRA adapters in serving"), through real HTTP:
--lora NAME=PATH (PEFT and GGUF LoRA), /v1/models listing adapters with their base, selection by
"base:adapter", by the adapter's name and by the "lora" field, Property 12 end to end (greedy
output with an adapter alone equals the output while other adapters and the base share the
batch), the admin endpoints (load, unload, list) and hot swap while 16 streams run."""
import concurrent.futures
import json
import os
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from conftest import cyllm_server

openai = pytest.importorskip("openai")


def _tool():
    build = os.environ.get("CYLLM_BUILD_DIR") or str(Path(__file__).resolve().parents[2] / "build")
    p = Path(build) / "tests" / "engine" / "model" / "cyllm_adapter_tool"
    if not p.exists():
        pytest.skip(f"{p} not built")
    return str(p)


def _make_adapter(out: Path, model, seed: int, fmt: str) -> str:
    # alpha 64 / rank 8 on every projection: large enough that greedy text differs from the base.
    subprocess.run([_tool(), "write", str(out), "--model", str(model), "--rank", "8", "--alpha", "64",
                    "--seed", str(seed)], check=True, capture_output=True)
    return str(out / "peft") if fmt == "peft" else str(out / "adapter.gguf")


def _post(base, path, body):
    req = urllib.request.Request(base + path, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=300) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


@pytest.fixture(scope="module")
def srv(cyllm_bin, default_model, tmp_path_factory):
    d = tmp_path_factory.mktemp("lora")
    paths = {name: _make_adapter(d / name, default_model, seed, fmt)
             for name, seed, fmt in (("alpha", 1, "peft"), ("beta", 2, "gguf"), ("gamma", 3, "peft"))}
    with cyllm_server(cyllm_bin, default_model, d, "--lora", f"alpha={paths['alpha']}", "--lora",
                      f"beta={paths['beta']}", "--max-loras", "3") as s:
        s["paths"] = paths
        s["client"] = openai.OpenAI(base_url=s["base"] + "/v1", api_key="unused", max_retries=0, timeout=300)
        yield s


PROMPT = "Once upon a time"


def _greedy(srv, model, n=24, **extra):
    r = srv["client"].completions.create(model=model, prompt=PROMPT, max_tokens=n, temperature=0, extra_body=extra or None)
    return r.choices[0].text


def test_models_list_adapters_with_their_base(srv):
    models = {m.id: m for m in srv["client"].models.list()}
    assert set(models) == {srv["model"], "alpha", "beta"}
    raw = json.loads(urllib.request.urlopen(srv["base"] + "/v1/models").read())
    parents = {m["id"]: m.get("parent") for m in raw["data"]}
    assert parents["alpha"] == srv["model"] and parents["beta"] == srv["model"]
    assert srv["client"].models.retrieve(f"{srv['model']}:alpha").id == "alpha"


def test_selection_by_name_prefix_and_field_agree_and_differ_from_base(srv):
    base = _greedy(srv, srv["model"])
    a1 = _greedy(srv, "alpha")
    a2 = _greedy(srv, f"{srv['model']}:alpha")
    a3 = _greedy(srv, srv["model"], lora="alpha")
    b = _greedy(srv, "beta")
    assert a1 == a2 == a3
    assert a1 != base and b != base and a1 != b
    with pytest.raises(openai.NotFoundError):
        _greedy(srv, "no-such-adapter")


def test_p12_isolation_in_mixed_batches(srv):
    models = [srv["model"], "alpha", "beta", f"{srv['model']}:alpha"] * 3
    alone = {m: _greedy(srv, m) for m in set(models)}
    with concurrent.futures.ThreadPoolExecutor(len(models)) as ex:
        mixed = list(ex.map(lambda m: (m, _greedy(srv, m)), models))
    for m, text in mixed:
        assert text == alone[m], m


def test_admin_load_list_unload(srv):
    st, info = _post(srv["base"], "/v1/adapters/load", {"name": "gamma", "path": srv["paths"]["gamma"]})
    assert st == 200 and info["name"] == "gamma" and info["resident"] and info["format"] == "peft"
    listing = json.loads(urllib.request.urlopen(srv["base"] + "/v1/adapters").read())["data"]
    assert {a["name"] for a in listing} == {"alpha", "beta", "gamma"}
    g = _greedy(srv, "gamma")
    assert g != _greedy(srv, srv["model"])
    st, err = _post(srv["base"], "/v1/adapters/load", {"name": "gamma", "path": srv["paths"]["gamma"]})
    assert st == 400  # the name is taken (replace=true would swap it)
    st, err = _post(srv["base"], "/v1/adapters/load", {"name": "bad", "path": "/nonexistent/adapter"})
    assert st == 400 and err["error"]["param"] == "path"
    st, _ = _post(srv["base"], "/v1/adapters/unload", {"name": "gamma"})
    assert st == 200
    with pytest.raises(openai.NotFoundError):
        _greedy(srv, "gamma")
    st, err = _post(srv["base"], "/v1/adapters/unload", {"name": "gamma"})
    assert st == 404


def test_hot_swap_under_16_streams(srv):
    models = [srv["model"], "alpha", "beta", "alpha"] * 4  # 16 streams
    ref = {m: _greedy(srv, m, n=48) for m in set(models)}
    stop = threading.Event()
    swaps = []

    def swapper():
        i = 0
        while not stop.is_set():
            name = f"hot{i % 3}"
            st, _ = _post(srv["base"], "/v1/adapters/load", {"name": name, "path": srv["paths"]["gamma"], "replace": True})
            swaps.append(st)
            st, _ = _post(srv["base"], "/v1/adapters/unload", {"name": name})
            swaps.append(st)
            i += 1

    t = threading.Thread(target=swapper)
    t.start()
    try:
        with concurrent.futures.ThreadPoolExecutor(16) as ex:
            got = list(ex.map(lambda m: (m, _greedy(srv, m, n=48)), models))
    finally:
        stop.set()
        t.join()
    assert len(swaps) >= 4 and all(s == 200 for s in swaps), swaps
    for m, text in got:
        assert text == ref[m], m
