"""`cyllm serve`: the utility endpoints (/tokenize, /detokenize, /apply-template), /metrics checked by
promtool and by counting requests, trace ids from headers into responses, logs, spans and the audit
log (Property 20, HTTP half), unknown fields logged at debug level, alerts that fire once and
recover (Property 23 end to end), and config-file validation at start-up (Property 18, server
half). Oracles: the gguf package + jinja2 render the chat template independently; promtool
(Debian's prometheus package) checks the exposition format."""
import concurrent.futures
import json
import re
import shutil
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from conftest import cyllm_server, run_cyllm

openai = pytest.importorskip("openai")


def _post(base, path, body, headers=None):
    data = json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status, dict(r.headers), json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), json.loads(e.read())


def _get(base, path, headers=None):
    req = urllib.request.Request(base + path, headers=headers or {})
    with urllib.request.urlopen(req, timeout=60) as r:
        return r.status, dict(r.headers), r.read().decode()


def _log_lines(srv):
    out = []
    for line in srv["stderr"].read_text(errors="replace").splitlines():
        if line.startswith("{"):
            out.append(json.loads(line))  # every log line is one JSON object
    return out


@pytest.fixture(scope="module")
def server(cyllm_bin, default_model, tmp_path_factory):
    d = tmp_path_factory.mktemp("obs")
    cfg = d / "server.json"
    # kv_usage 0: the alert fires whenever any sequence holds KV blocks and recovers when idle.
    # engine_nice 5: the engine's compute threads yield to the HTTP thread (docs/SERVER.md).
    cfg.write_text(json.dumps({"log": {"level": "debug"}, "alerts": {"kv_usage": 0.0}, "engine_nice": 5}))
    with cyllm_server(cyllm_bin, default_model, d, "--config", str(cfg)) as srv:
        yield srv


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(base_url=server["base"] + "/v1", api_key="unused", max_retries=0, timeout=120)


def test_tokenize_detokenize_round_trip(server):
    text = "Hello, world! Ünïcödé and emoji 🤖 work."
    st, _, tok = _post(server["base"], "/tokenize", {"prompt": text, "return_token_strs": True})
    assert st == 200 and tok["count"] == len(tok["tokens"]) == len(tok["token_strs"]) > 5
    assert tok["max_model_len"] > 0
    st, _, det = _post(server["base"], "/detokenize", {"tokens": tok["tokens"]})
    assert st == 200 and det["prompt"] == text
    # The same ids the CLI tokenizer gives.
    cli = run_cyllm(_bin(server), "tokenize", "-m", str(_model(server)), "--no-special", text).stdout.decode().split()
    assert [int(x) for x in cli] == tok["tokens"]


def _bin(server):
    return server["proc"].args[0]


def _model(server):
    return server["proc"].args[3]


def test_utility_errors_name_the_field(server):
    st, _, e = _post(server["base"], "/detokenize", {"tokens": [1, 10**9]})
    assert st == 400 and e["error"]["param"] == "tokens[1]"
    st, _, e = _post(server["base"], "/tokenize", {"prompt": "x", "messages": [{"role": "user", "content": "y"}]})
    assert st == 400 and e["error"]["param"] == "prompt"
    st, _, e = _post(server["base"], "/apply-template", {"messages": [{"role": "robot", "content": "y"}]})
    assert st == 400 and e["error"]["param"] == "messages[0].role"
    st, _, e = _post(server["base"], "/tokenize", {"prompt": "x", "model": "nope"})
    assert st == 404 and e["error"]["code"] == "model_not_found"


def test_apply_template_matches_jinja2(server):
    gguf = pytest.importorskip("gguf")
    jinja2 = pytest.importorskip("jinja2")
    import jinja2.sandbox
    reader = gguf.GGUFReader(_model(server))
    f = reader.fields["tokenizer.chat_template"]
    template = bytes(f.parts[f.data[0]]).decode()
    msgs = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is 2+2?"},
            {"role": "assistant", "content": "4"}, {"role": "user", "content": "And 3+3?"}]
    env = jinja2.sandbox.ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    for gen in (True, False):
        expect = env.from_string(template).render(messages=msgs, add_generation_prompt=gen, bos_token="<|im_start|>",
                                                  eos_token="<|im_end|>")
        st, _, r = _post(server["base"], "/apply-template", {"messages": msgs, "add_generation_prompt": gen})
        assert st == 200 and r["prompt"] == expect
    # /tokenize with messages tokenizes exactly that text.
    st, _, t = _post(server["base"], "/tokenize", {"messages": msgs})
    st2, _, d = _post(server["base"], "/detokenize", {"tokens": t["tokens"]})
    assert d["prompt"] == env.from_string(template).render(messages=msgs, add_generation_prompt=True,
                                                           bos_token="<|im_start|>", eos_token="<|im_end|>")


def _metric(text, name, **labels):
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool (Debian package prometheus) not installed")
def test_metrics_pass_promtool_and_count_requests(server, client):
    _, _, before = _get(server["base"], "/metrics")
    n_ok = 3
    for i in range(n_ok):
        client.completions.create(model=server["model"], prompt=f"Count {i}:", max_tokens=3, temperature=0)
    with pytest.raises(openai.BadRequestError):
        client.completions.create(model=server["model"], prompt="x", max_tokens=3, temperature=9)
    _, headers, after = _get(server["base"], "/metrics")
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
    p = subprocess.run(["promtool", "check", "metrics"], input=after.encode(), capture_output=True)
    assert p.returncode == 0, p.stdout.decode() + p.stderr.decode()
    m = server["model"]
    # Exactly the requests made since the first scrape, by status (Property 22 through HTTP).
    assert _metric(after, "cyllm_requests_total", model_id=m, status="200") - \
        _metric(before, "cyllm_requests_total", model_id=m, status="200") == n_ok
    assert _metric(after, "cyllm_http_requests_total", endpoint="/v1/completions", status="400") - \
        _metric(before, "cyllm_http_requests_total", endpoint="/v1/completions", status="400") == 1
    assert _metric(after, "cyllm_request_ttft_seconds_count", model_id=m) - \
        _metric(before, "cyllm_request_ttft_seconds_count", model_id=m) == n_ok
    assert _metric(after, "cyllm_generation_tokens_total", model_id=m) - \
        _metric(before, "cyllm_generation_tokens_total", model_id=m) == 3 * n_ok
    for gauge in ("cyllm_queue_depth", "cyllm_running_requests", "cyllm_kv_usage_ratio", "cyllm_prefix_cache_hit_rate"):
        assert re.search(rf"^{gauge} ", after, re.M), gauge


def test_trace_ids_reach_headers_logs_spans_and_audit(server, client):
    trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    st, headers, r = _post(server["base"], "/v1/completions",
                           {"model": server["model"], "prompt": "Hi", "max_tokens": 2},
                           {"traceparent": f"00-{trace}-00f067aa0ba902b7-01"})
    assert st == 200 and headers["X-Request-Id"] == trace
    assert headers["traceparent"].startswith(f"00-{trace}-") and not headers["traceparent"].endswith("00f067aa0ba902b7-01")
    rid = "my-request-42"
    st, headers, _ = _post(server["base"], "/v1/chat/completions",
                           {"model": server["model"], "messages": [{"role": "user", "content": "Hi"}],
                            "max_tokens": 2, "stream": False}, {"X-Request-Id": rid})
    assert st == 200 and headers["X-Request-Id"] == rid
    # A generated id when the client sends none; every answer carries one, errors too.
    st, headers, _ = _post(server["base"], "/v1/completions", {"model": "nope", "prompt": "x"})
    assert st == 404 and re.fullmatch(r"[0-9a-f]{32}", headers["X-Request-Id"])
    time.sleep(0.3)
    logs = _log_lines(server)
    for tid in (trace, rid):
        req = [l for l in logs if l.get("event") == "request" and l.get("trace_id") == tid]
        assert len(req) == 1 and req[0]["status"] == 200
        spans = {l["span"] for l in logs if l.get("event") == "span" and l.get("trace_id") == tid}
        assert {"queue", "prefill", "decode"} <= spans, spans
    db = sqlite3.connect(server["data"] / "audit.sqlite")
    rows = db.execute("SELECT trace_id, endpoint, status_code FROM audit WHERE trace_id IN (?, ?)", (trace, rid)).fetchall()
    assert sorted(rows) == sorted([(trace, "/v1/completions", 200), (rid, "/v1/chat/completions", 200)])


def test_unknown_fields_are_ignored_and_logged_at_debug(server):
    st, headers, r = _post(server["base"], "/v1/completions",
                           {"model": server["model"], "prompt": "Hi", "max_tokens": 1, "frobnicate": 3,
                            "best_of_vllm": True})
    assert st == 200
    time.sleep(0.2)
    hits = [l for l in _log_lines(server) if l.get("event") == "ignored_fields"
            and l.get("trace_id") == headers["X-Request-Id"]]
    assert len(hits) == 1 and sorted(hits[0]["fields"]) == ["best_of_vllm", "frobnicate"]


def test_alert_fires_once_and_recovers(server, client):
    # Several concurrent generations keep KV blocks in use over more than one refresh tick (1 s).
    def gen(i):
        return client.completions.create(model=server["model"], prompt=f"Story {i}:", max_tokens=120, temperature=0)
    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        futs = [ex.submit(gen, i) for i in range(4)]
        firing_seen = False
        while not all(f.done() for f in futs):
            _, _, m = _get(server["base"], "/metrics")
            firing_seen |= _metric(m, "cyllm_alert_firing", alert="kv_usage_high") == 1
            time.sleep(0.2)
        for f in futs:
            f.result()
    assert firing_seen
    time.sleep(1.5)  # one more refresh tick while idle
    _, _, m = _get(server["base"], "/metrics")
    assert _metric(m, "cyllm_alert_firing", alert="kv_usage_high") == 0
    fired = _metric(m, "cyllm_alerts_fired_total", alert="kv_usage_high")
    logs = _log_lines(server)
    firing = [l for l in logs if l.get("event") == "alert_firing" and l["alert"] == "kv_usage_high"]
    recovered = [l for l in logs if l.get("event") == "alert_recovered" and l["alert"] == "kv_usage_high"]
    # Each firing is logged once and matched by a recovery before it can fire again.
    assert len(firing) == fired >= 1 and len(recovered) == len(firing)


def test_bad_config_reports_every_problem_and_exits_2(cyllm_bin, default_model, tmp_path):
    cfg = tmp_path / "bad.json"
    cfg.write_text(json.dumps({"port": 99999, "log": {"level": "loud"}, "rate_limit": {"backend": "redis"},
                               "colour": "blue", "alerts": {"kv_usage": 2}, "engine_nice": 25}))
    p = run_cyllm(cyllm_bin, "serve", "-m", str(default_model), "--config", str(cfg), check=False, timeout=60)
    err = p.stderr.decode()
    assert p.returncode == 2, err
    for path in ("port", "log.level", "rate_limit.redis_url", "colour", "alerts.kv_usage", "engine_nice"):
        assert re.search(rf"^{re.escape(path)}: ", err, re.M), (path, err)
    # A wrong type where a string belongs is a problem to report, not a crash (found by the fuzzer).
    cfg.write_text(json.dumps({"rate_limit": {"backend": 5}}))
    p = run_cyllm(cyllm_bin, "serve", "-m", str(default_model), "--config", str(cfg), check=False, timeout=60)
    assert p.returncode == 2 and re.search(r"^rate_limit\.backend: ", p.stderr.decode(), re.M), p.stderr.decode()
    cfg.write_text("{ not json")
    p = run_cyllm(cyllm_bin, "serve", "-m", str(default_model), "--config", str(cfg), check=False, timeout=60)
    assert p.returncode == 2 and "not valid JSON" in p.stderr.decode()


def test_prompt_and_completion_text_logged_at_debug_and_hidden_by_redact_prompts(server, cyllm_bin, default_model,
                                                                                  tmp_path):
    phrase = "zebra marmalade forty-two"
    body = {"model": server["model"], "prompt": f"Say {phrase}:", "max_tokens": 4, "temperature": 0}
    st, headers, r = _post(server["base"], "/v1/completions", body)
    assert st == 200
    time.sleep(0.2)
    logs = _log_lines(server)
    tid = headers["X-Request-Id"]
    # Without redaction (this server logs at debug) the prompt and completion are in the log...
    assert any(l.get("event") == "request_prompt" and l.get("trace_id") == tid and phrase in l["prompt"] for l in logs)
    done = [l for l in logs if l.get("event") == "request_completion" and l.get("trace_id") == tid]
    assert len(done) == 1 and done[0]["completion"] == [r["choices"][0]["text"]]
    # ...and with --redact-prompts neither is, while the request is still logged (Property 30).
    with cyllm_server(cyllm_bin, default_model, tmp_path, "--log-level", "debug", "--redact-prompts") as red:
        st, headers, r2 = _post(red["base"], "/v1/completions", {**body, "model": red["model"]})
        assert st == 200
        time.sleep(0.2)
        text = red["stderr"].read_text(errors="replace")
        assert phrase not in text
        lines = _log_lines(red)
        comp = [l for l in lines if l.get("event") == "request_completion"]
        assert len(comp) == 1 and str(comp[0]["completion"]).startswith("[REDACTED")
        assert any(l.get("event") == "request" and l.get("trace_id") == headers["X-Request-Id"] for l in lines)
        assert any(l.get("event") == "request_prompt" and l["prompt"].startswith("[REDACTED") for l in lines)


def _thread_nice(pid):
    """{thread name: set of nice values} of a process, from /proc (stat field 19 is the nice value)."""
    out = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            stat = (task / "stat").read_text()
        except OSError:
            continue  # the thread ended meanwhile
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        out.setdefault(name, set()).add(int(fields[16]))  # field 19 overall; 3 fields precede state
    return out


def test_engine_threads_run_at_engine_nice_and_http_does_not(server):
    # A generation makes the engine thread and its pool's workers take the nice value.
    body = {"model": server["model"], "prompt": "Count: one two", "max_tokens": 8, "temperature": 0}
    assert _post(server["base"], "/v1/completions", body)[0] == 200
    nice = _thread_nice(server["proc"].pid)
    assert nice.get("cyllm-http") == {0}, nice
    assert sum(1 for vals in nice.values() for v in vals if v == 5) >= 1, nice
    config = [l for l in _log_lines(server) if l.get("event") == "server_config"]
    assert config and config[0]["engine_nice"] == 5
