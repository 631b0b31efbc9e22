"""`cyllm serve` against real clients: the official openai SDK (chat and completions, streaming and not,
stop, seed reproducibility, n=2, errors) and curl for the raw SSE bytes. Skips when the binary was
built without Qt (no `serve` command)."""
import concurrent.futures
import json
import signal
import socket
import subprocess
import time
import urllib.request

import pytest

from conftest import cyllm_server, free_port

openai = pytest.importorskip("openai")


@pytest.fixture(scope="module")
def server(cyllm_bin, default_model, tmp_path_factory):
    with cyllm_server(cyllm_bin, default_model, tmp_path_factory.mktemp("serve"), "--max-body", "65536") as srv:
        yield srv


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(base_url=server["base"] + "/v1", api_key="unused", max_retries=0, timeout=120)


CHAT = [{"role": "user", "content": "Name three colours."}]


def test_models_and_health(server, client):
    ids = [m.id for m in client.models.list()]
    assert ids == [server["model"]]
    assert client.models.retrieve(server["model"]).id == server["model"]
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("no-such-model")


def test_chat_non_streaming(server, client):
    r = client.chat.completions.create(model=server["model"], messages=CHAT, max_tokens=16, temperature=0)
    assert r.object == "chat.completion" and r.id.startswith("chatcmpl-")
    c = r.choices[0]
    assert c.message.role == "assistant" and c.message.content
    assert c.finish_reason in ("stop", "length")
    assert r.usage.prompt_tokens > 0 and 0 < r.usage.completion_tokens <= 16
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens


def test_completion_greedy(server, client):
    r = client.completions.create(model=server["model"], prompt="The capital of France is", max_tokens=4, temperature=0)
    assert r.choices[0].text.startswith(" Paris"), r.choices[0].text
    assert r.choices[0].finish_reason == "length" and r.usage.completion_tokens == 4


def test_chat_stream_equals_non_stream(server, client):
    kw = dict(model=server["model"], messages=CHAT, max_tokens=24, temperature=0, seed=5)
    full = client.chat.completions.create(**kw).choices[0].message.content
    parts, finish, usage = [], None, None
    for ch in client.chat.completions.create(stream=True, stream_options={"include_usage": True}, **kw):
        if ch.usage:
            usage = ch.usage
        for c in ch.choices:
            if c.delta.content:
                parts.append(c.delta.content)
            finish = c.finish_reason or finish
    assert "".join(parts) == full
    assert finish in ("stop", "length")
    assert usage is not None and usage.completion_tokens > 0


def test_completion_stream_equals_non_stream(server, client):
    kw = dict(model=server["model"], prompt="Once upon a time", max_tokens=20, temperature=0.9, seed=42)
    full = client.completions.create(**kw).choices[0].text
    streamed = "".join(c.choices[0].text for c in client.completions.create(stream=True, **kw) if c.choices)
    assert streamed == full


def test_concurrent_streams_match_sequential(server, client):
    prompts = [f"Count from {i}:" for i in range(1, 7)]
    kw = dict(model=server["model"], max_tokens=16, temperature=0)
    want = [client.completions.create(prompt=p, **kw).choices[0].text for p in prompts]

    def stream(p):
        return "".join(c.choices[0].text for c in client.completions.create(prompt=p, stream=True, **kw) if c.choices)

    with concurrent.futures.ThreadPoolExecutor(len(prompts)) as ex:
        got = list(ex.map(stream, prompts))
    assert got == want


def test_seed_reproducibility(server, client):
    kw = dict(model=server["model"], prompt="My favourite animal is", max_tokens=24, temperature=1.0)
    a = client.completions.create(seed=11, **kw).choices[0].text
    b = client.completions.create(seed=11, **kw).choices[0].text
    c = client.completions.create(seed=12, **kw).choices[0].text
    d = client.completions.create(seed=13, **kw).choices[0].text
    assert a == b
    assert len({a, c, d}) > 1


def test_stop(server, client):
    kw = dict(model=server["model"], prompt="1, 2, 3, 4,", max_tokens=16, temperature=0)
    full = client.completions.create(**kw).choices[0].text
    assert " 7" in full, full
    cut = client.completions.create(stop=[" 7"], **kw).choices[0]
    assert cut.text == full[: full.index(" 7")]
    assert cut.finish_reason == "stop"


def test_n2(server, client):
    r = client.chat.completions.create(model=server["model"], messages=CHAT, max_tokens=12, temperature=1.0, seed=3, n=2)
    assert sorted(c.index for c in r.choices) == [0, 1]
    assert all(c.message.content for c in r.choices)
    r2 = client.completions.create(model=server["model"], prompt="Hello", max_tokens=6, temperature=1.0, seed=3, n=2)
    assert len(r2.choices) == 2


def test_bad_param_is_400_with_param(server, client):
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model=server["model"], messages=CHAT, temperature=7)
    assert e.value.status_code == 400 and e.value.body["param"] == "temperature"
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model=server["model"], messages=CHAT, top_logprobs=3)
    assert e.value.body["param"] == "top_logprobs"  # needs logprobs=true
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model=server["model"], messages=CHAT, logprobs=True, top_logprobs=21)
    assert e.value.body["param"] == "top_logprobs"


def test_chat_logprobs_greedy(server, client):
    r = client.chat.completions.create(model=server["model"], messages=CHAT, max_tokens=12, temperature=0,
                                       logprobs=True, top_logprobs=3)
    c = r.choices[0]
    entries = c.logprobs.content
    # One entry per generated token (the end-of-generation token is neither counted nor reported).
    assert len(entries) == r.usage.completion_tokens
    assert b"".join(bytes(e.bytes) for e in entries).decode() == c.message.content
    for e in entries:
        assert e.logprob <= 0 and len(e.top_logprobs) == 3
        # Greedy picks the most likely token, and the alternatives are sorted.
        assert e.top_logprobs[0].token == e.token and abs(e.top_logprobs[0].logprob - e.logprob) < 1e-6
        assert all(a.logprob >= b.logprob for a, b in zip(e.top_logprobs, e.top_logprobs[1:]))
    # Streamed entries are the same entries.
    stream = client.chat.completions.create(model=server["model"], messages=CHAT, max_tokens=12, temperature=0,
                                            logprobs=True, top_logprobs=3, stream=True)
    streamed = [e for ch in stream for c2 in ch.choices if c2.logprobs and c2.logprobs.content for e in c2.logprobs.content]
    assert [(e.token, round(e.logprob, 5)) for e in streamed] == [(e.token, round(e.logprob, 5)) for e in entries]


def test_completion_logprobs(server, client):
    r = client.completions.create(model=server["model"], prompt="The capital of France is", max_tokens=6,
                                  temperature=0, logprobs=2)
    lp = r.choices[0].logprobs
    assert len(lp.tokens) == len(lp.token_logprobs) == len(lp.top_logprobs) == len(lp.text_offset) == 6
    assert "".join(lp.tokens) == r.choices[0].text
    assert lp.text_offset == sorted(lp.text_offset) and lp.text_offset[0] == 0
    assert all(len(t) <= 2 and max(t.values()) >= v - 1e-6 for t, v in zip(lp.top_logprobs, lp.token_logprobs))


def test_json_object_output_parses(server, client):
    parsed = 0
    for seed in (1, 2, 3):
        r = client.chat.completions.create(
            model=server["model"], temperature=1.0, seed=seed, max_tokens=200,
            messages=[{"role": "user", "content": "Describe a cat as a JSON object with name and age."}],
            response_format={"type": "json_object"})
        c = r.choices[0]
        if c.finish_reason == "stop":
            assert isinstance(json.loads(c.message.content), dict)
            parsed += 1
    assert parsed >= 2


def test_unknown_model_is_404(client):
    with pytest.raises(openai.NotFoundError) as e:
        client.completions.create(model="no-such-model", prompt="x", max_tokens=1)
    assert e.value.body["code"] == "model_not_found"


def _raw(port: int, data: bytes) -> bytes:
    """Sends raw bytes; returns one response (up to its Content-Length, or until the server closes)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(data)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
            head, sep, body = out.partition(b"\r\n\r\n")
            if sep:
                for line in head.split(b"\r\n")[1:]:
                    k, _, v = line.partition(b":")
                    if k.strip().lower() == b"content-length" and len(body) >= int(v):
                        return out
    return out


def test_oversized_body_is_413_before_reading_it(server):
    head = (b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100000000\r\n\r\n")
    out = _raw(server["port"], head + b"{" * 1000)
    assert out.startswith(b"HTTP/1.1 413 "), out[:200]
    body = json.loads(out.split(b"\r\n\r\n", 1)[1])
    assert body["error"]["code"] == "request_too_large"


def test_unknown_route_is_404_and_connection_close_is_honoured(server):
    out = _raw(server["port"], b"GET /v2/nothing HTTP/1.1\r\nHost: x\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 404 ")
    assert json.loads(out.split(b"\r\n\r\n", 1)[1])["error"]["type"] == "not_found_error"
    with socket.create_connection(("127.0.0.1", server["port"]), timeout=10) as s:
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        out = b""
        while chunk := s.recv(65536):  # ends only when the server closes
            out += chunk
    assert out.startswith(b"HTTP/1.1 200 ") and b'"status":"ok"' in out


def test_raw_sse_framing_with_curl(server, client):
    req = {"model": server["model"], "prompt": "The capital of France is", "max_tokens": 8, "temperature": 0,
           "stream": True}
    raw = subprocess.run(["curl", "-sN", "-H", "Content-Type: application/json", "-d", json.dumps(req),
                          server["base"] + "/v1/completions"], capture_output=True, timeout=120, check=True).stdout
    assert raw.endswith(b"\n\ndata: [DONE]\n\n")
    events = raw.split(b"\n\n")
    assert events[-1] == b"" and events[-2] == b"data: [DONE]"
    text = ""
    for ev in events[:-2]:
        assert ev.startswith(b"data: ") and b"\n" not in ev, ev
        j = json.loads(ev[len(b"data: "):])
        assert j["object"] == "text_completion"
        text += j["choices"][0]["text"]
    full = client.completions.create(model=server["model"], prompt=req["prompt"], max_tokens=8, temperature=0)
    assert text == full.choices[0].text


def _health(server) -> dict:
    with urllib.request.urlopen(server["base"] + "/health", timeout=10) as r:
        return json.loads(r.read())


def test_client_disconnect_mid_stream_cancels(server, client):
    before = _health(server)["cancelled"]
    # a long answer with the end tokens banned keeps the engine busy for many seconds unless cancelled
    req = {"model": server["model"], "messages": CHAT, "max_tokens": 3000, "temperature": 1.0, "stream": True,
           "logit_bias": {"0": -100, "2": -100}}  # never end early
    cut = subprocess.run(["curl", "-sN", "--max-time", "1", "-d", json.dumps(req),
                          server["base"] + "/v1/chat/completions"], capture_output=True, timeout=60)
    assert cut.stdout.startswith(b"data: "), cut.stdout[:200]  # it was streaming when the client left
    deadline = time.time() + 5
    while True:
        h = _health(server)
        if h["cancelled"] > before and h["running"] == 0 and h["open_replies"] == 0:
            break
        assert time.time() < deadline, h
        time.sleep(0.05)
    r = client.completions.create(model=server["model"], prompt="The capital of France is", max_tokens=4, temperature=0)
    assert r.choices[0].text.startswith(" Paris")
    assert server["proc"].poll() is None


def test_sigterm_shuts_down_cleanly(cyllm_bin, default_model, server):
    port = free_port()
    p = subprocess.Popen([cyllm_bin, "serve", "-m", str(default_model), "--port", str(port)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except OSError:
                time.sleep(0.1)
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=20) == 0
        assert b"listening on http://127.0.0.1:%d" % port in p.stderr.read()
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
