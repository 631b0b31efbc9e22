"""`cyllm serve` with API keys (issue "Server security and multi-tenancy"), through real HTTP on
loopback: keys made with `cyllm keys` (hashed in SQLite), 401/403 for missing, unknown, expired,
revoked and under-scoped keys, rotation with a grace period, per-key rate limits with 429 and
Retry-After, tenant-labelled metrics that never mix tenants (Property 27 end to end), one audit
record per request with `cyllm audit export`, input sanitisation (Property 29 end to end), refusal
to bind beyond loopback without keys, and no secret in any log line."""
import json
import os
import re
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from conftest import cyllm_server, run_cyllm

openai = pytest.importorskip("openai")


def _cli(cyllm_bin, data, *args, check=True):
    env = dict(os.environ, CYLLM_DATA_DIR=str(data))
    p = subprocess.run([cyllm_bin, *args], capture_output=True, env=env, timeout=60)
    if check:
        assert p.returncode == 0, p.stderr.decode()
    return p


def _new_key(cyllm_bin, data, tenant, *extra):
    out = _cli(cyllm_bin, data, "keys", "create", "--tenant", tenant, "--json", *extra).stdout.decode()
    return json.loads(out)


def _call(base, path, key=None, body=None, headers=None):
    h = {"Content-Type": "application/json", **(headers or {})}
    if key:
        h["Authorization"] = f"Bearer {key}"
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, headers=h)
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            raw = r.read()
            return r.status, dict(r.headers), raw
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


@pytest.fixture(scope="module")
def env(cyllm_bin, default_model, tmp_path_factory):
    d = tmp_path_factory.mktemp("sec")
    data = d / "data"
    data.mkdir()
    keys = {
        "admin": _new_key(cyllm_bin, data, "ops", "--scope", "admin"),
        "alpha": _new_key(cyllm_bin, data, "alpha"),
        "beta": _new_key(cyllm_bin, data, "beta"),
        "limited": _new_key(cyllm_bin, data, "gamma", "--rpm", "5"),
        "short": _new_key(cyllm_bin, data, "delta", "--ttl", "3s"),
    }
    cfg = d / "server.json"
    cfg.write_text(json.dumps({"limits": {"max_messages": 4, "max_field_bytes": 4096}}))
    with cyllm_server(cyllm_bin, default_model, d, "--config", str(cfg), data_dir=data) as srv:
        srv["keys"] = keys
        srv["bin"] = cyllm_bin
        yield srv


def _gen_body(srv, **kw):
    return {"model": srv["model"], "prompt": "Hello", "max_tokens": 1, **kw}


def test_health_is_open_and_reports_auth(env):
    st, _, body = _call(env["base"], "/health")
    assert st == 200 and json.loads(body)["auth"] == "required"


def test_missing_malformed_and_unknown_keys_are_401(env):
    for key, hdr in ((None, None), (None, {"Authorization": "Basic abc"}), ("cyk-notakey", None)):
        st, _, body = _call(env["base"], "/v1/completions", key, _gen_body(env), hdr)
        err = json.loads(body)["error"]
        assert st == 401 and err["type"] == "authentication_error" and err["code"] == "invalid_api_key", body
    client = openai.OpenAI(base_url=env["base"] + "/v1", api_key="cyk-wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        client.models.list()


def test_valid_key_works_with_the_sdk(env):
    client = openai.OpenAI(base_url=env["base"] + "/v1", api_key=env["keys"]["alpha"]["key"], max_retries=0)
    r = client.completions.create(model=env["model"], prompt="The capital of France is", max_tokens=3, temperature=0)
    assert r.choices[0].text.strip()


def test_scopes(env):
    st, _, body = _call(env["base"], "/metrics", env["keys"]["alpha"]["key"])
    assert st == 403 and json.loads(body)["error"]["code"] == "insufficient_scope"
    st, _, _ = _call(env["base"], "/metrics", env["keys"]["admin"]["key"])
    assert st == 200
    # admin implies inference
    st, _, _ = _call(env["base"], "/v1/completions", env["keys"]["admin"]["key"], _gen_body(env))
    assert st == 200


def test_expired_key_is_rejected(env):
    k = env["keys"]["short"]
    wait = 3.5 - (time.time() - time.mktime(time.strptime(k["created"], "%Y-%m-%dT%H:%M:%SZ")) + time.timezone)
    if wait > 0:
        time.sleep(wait)
    st, _, body = _call(env["base"], "/v1/models", k["key"])
    assert st == 401 and "expired" in json.loads(body)["error"]["message"]


def test_keys_created_and_revoked_while_running_take_effect_at_once(env):
    k = _new_key(env["bin"], env["data"], "epsilon")
    assert _call(env["base"], "/v1/models", k["key"])[0] == 200
    _cli(env["bin"], env["data"], "keys", "revoke", str(k["id"]))
    st, _, body = _call(env["base"], "/v1/models", k["key"])
    assert st == 401 and "revoked" in json.loads(body)["error"]["message"]


def test_rotation_keeps_the_old_key_through_the_grace_period(env):
    k = _new_key(env["bin"], env["data"], "zeta")
    new = json.loads(_cli(env["bin"], env["data"], "keys", "rotate", str(k["id"]), "--grace", "1h", "--json").stdout)
    assert new["tenant"] == "zeta" and new["key"] != k["key"]
    assert _call(env["base"], "/v1/models", k["key"])[0] == 200
    assert _call(env["base"], "/v1/models", new["key"])[0] == 200
    newer = json.loads(_cli(env["bin"], env["data"], "keys", "rotate", str(new["id"]), "--grace", "0", "--json").stdout)
    assert _call(env["base"], "/v1/models", new["key"])[0] == 401
    assert _call(env["base"], "/v1/models", newer["key"])[0] == 200
    listing = json.loads(_cli(env["bin"], env["data"], "keys", "list", "--json").stdout)
    states = {x["id"]: x["state"] for x in listing}
    assert states[k["id"]] == "rotating" and states[new["id"]] == "revoked" and states[newer["id"]] == "active"
    # The store holds hashes only.
    db = sqlite3.connect(env["data"] / "keys.sqlite")
    dump = "\n".join(db.iterdump())
    for x in (k, new, newer):
        assert x["key"] not in dump


def test_rate_limit_429_with_retry_after_and_other_keys_unaffected(env):
    lim = env["keys"]["limited"]["key"]
    codes = [_call(env["base"], "/tokenize", lim, {"prompt": "x"})[0] for _ in range(5)]
    assert codes == [200] * 5
    st, headers, body = _call(env["base"], "/tokenize", lim, {"prompt": "x"})
    assert st == 429 and json.loads(body)["error"]["code"] == "rate_limit_exceeded"
    assert 1 <= int(headers["Retry-After"]) <= 60
    assert _call(env["base"], "/tokenize", env["keys"]["beta"]["key"], {"prompt": "x"})[0] == 200
    client = openai.OpenAI(base_url=env["base"] + "/v1", api_key=lim, max_retries=0)
    with pytest.raises(openai.RateLimitError):
        client.completions.create(model=env["model"], prompt="x", max_tokens=1)


def _metric(text, name, **labels):
    total = 0.0
    for line in text.splitlines():
        if (line.startswith(name + "{") or line.startswith(name + " ")) and \
                all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_tenant_metrics_never_count_another_tenants_requests(env):
    admin = env["keys"]["admin"]["key"]
    before = _call(env["base"], "/metrics", admin)[2].decode()
    for _ in range(3):
        assert _call(env["base"], "/v1/completions", env["keys"]["alpha"]["key"], _gen_body(env))[0] == 200
    assert _call(env["base"], "/v1/completions", env["keys"]["beta"]["key"], _gen_body(env))[0] == 200
    after = _call(env["base"], "/metrics", admin)[2].decode()
    d = lambda t, **l: _metric(after, "cyllm_requests_total", tenant=t, **l) - _metric(before, "cyllm_requests_total", tenant=t, **l)
    assert d("alpha", status="200") == 3 and d("beta", status="200") == 1 and d("ops") == 0
    g = lambda t: _metric(after, "cyllm_generation_tokens_total", tenant=t) - _metric(before, "cyllm_generation_tokens_total", tenant=t)
    assert g("alpha") == 3 and g("beta") == 1


def test_input_sanitisation_end_to_end(env):
    key = env["keys"]["beta"]["key"]
    chat = lambda msgs, **kw: _call(env["base"], "/v1/chat/completions", key,
                                    {"model": env["model"], "messages": msgs, "max_tokens": 1, **kw})
    st, _, b = chat([{"role": "user", "content": "bell \x07 here"}])
    assert st == 400 and json.loads(b)["error"]["param"] == "messages[0].content"
    st, _, b = chat([{"role": "user", "content": "x"}] * 5)
    assert st == 400 and json.loads(b)["error"]["param"] == "messages"
    st, _, b = chat([{"role": "user", "content": "y" * 5000}])
    assert st == 400 and json.loads(b)["error"]["param"] == "messages[0].content"
    st, _, b = chat([{"role": "user", "content": "x"}], max_tokens=10**6)
    assert st == 400 and json.loads(b)["error"]["param"] == "max_tokens"
    # Invalid UTF-8 in the body is a 400, not a crash.
    req = urllib.request.Request(env["base"] + "/v1/completions", data=b'{"model":"m","prompt":"\xff\xfe"}',
                                 headers={"Authorization": f"Bearer {key}"})
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=30)
    assert e.value.code == 400


def test_audit_holds_one_record_per_request_and_exports(env):
    admin = env["keys"]["admin"]["key"]
    db = env["data"] / "audit.sqlite"
    n0 = int(_cli(env["bin"], env["data"], "audit", "count").stdout)
    tag = "audit-probe-%d" % time.time_ns()
    sent = [
        _call(env["base"], "/v1/completions", env["keys"]["alpha"]["key"], _gen_body(env), {"X-Request-Id": tag + "-1"}),
        _call(env["base"], "/v1/completions", None, _gen_body(env), {"X-Request-Id": tag + "-2"}),
        _call(env["base"], "/nope", admin, None, {"X-Request-Id": tag + "-3"}),
        _call(env["base"], "/v1/completions", admin, {"model": 3}, {"X-Request-Id": tag + "-4"}),
    ]
    assert [s[0] for s in sent] == [200, 401, 404, 400]
    time.sleep(0.3)
    n1 = int(_cli(env["bin"], env["data"], "audit", "count").stdout)
    assert n1 - n0 == len(sent)
    out = _cli(env["bin"], env["data"], "audit", "export", "--since", "1h").stdout.decode().splitlines()
    recs = {r["trace_id"]: r for r in map(json.loads, out) if r["trace_id"].startswith(tag)}
    assert sorted(recs) == [tag + f"-{i}" for i in range(1, 5)]
    r1 = recs[tag + "-1"]
    assert r1["tenant"] == "alpha" and r1["status_code"] == 200 and r1["endpoint"] == "/v1/completions"
    assert r1["method"] == "POST" and r1["duration_ms"] > 0
    assert r1["api_key_hash"] == env["keys"]["alpha"]["hash_prefix"]
    assert recs[tag + "-2"]["api_key_hash"] == "" and recs[tag + "-2"]["status_code"] == 401


def test_binding_beyond_loopback_without_keys_is_refused(cyllm_bin, default_model, tmp_path):
    env = dict(os.environ, CYLLM_DATA_DIR=str(tmp_path))
    p = subprocess.run([cyllm_bin, "serve", "-m", str(default_model), "--host", "0.0.0.0", "--port", "0"],
                       capture_output=True, env=env, timeout=60)
    assert p.returncode == 2 and "refusing to listen on 0.0.0.0 without API keys" in p.stderr.decode()


def test_zz_no_secret_in_any_log_line(env):
    # Runs last in this module: every key used above, and every Authorization value, is absent.
    log = env["stderr"].read_text(errors="replace")
    assert '"event":"request"' in log
    for k in env["keys"].values():
        assert k["key"] not in log
    assert not re.search(r"Bearer\s+(?!\[REDACTED\])\S", log)  # our own error text is redacted too
    assert not re.search(r"cyk-[A-Za-z0-9]{8,}", log)


def test_two_servers_share_rate_limits_through_redis(cyllm_bin, default_model, tmp_path):
    import shutil
    import socket
    from conftest import IN_CI, free_port
    exe = shutil.which("redis-server")
    if exe is None:
        if IN_CI:
            pytest.fail("redis-server is missing under CI")
        pytest.skip("redis-server not installed (Debian package redis-server)")
    rport = free_port()
    redis = subprocess.Popen([exe, "--port", str(rport), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", rport), timeout=1) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                pass
            assert time.time() < deadline, "redis-server did not start"
            time.sleep(0.05)
        data = tmp_path / "data"
        data.mkdir()
        key = _new_key(cyllm_bin, data, "shared", "--rpm", "4")["key"]
        cfgs = []
        for i in range(2):
            c = tmp_path / f"s{i}.json"
            c.write_text(json.dumps({"rate_limit": {"backend": "redis", "redis_url": f"redis://127.0.0.1:{rport}",
                                                    "fail_open": False},
                                     "audit": {"db": str(tmp_path / f"audit{i}.sqlite")}}))
            cfgs.append(c)
        (tmp_path / "a").mkdir()
        (tmp_path / "b").mkdir()
        with cyllm_server(cyllm_bin, default_model, tmp_path / "a", "--config", str(cfgs[0]), data_dir=data) as a, \
                cyllm_server(cyllm_bin, default_model, tmp_path / "b", "--config", str(cfgs[1]), data_dir=data) as b:
            codes = [_call((a, b)[i % 2]["base"], "/tokenize", key, {"prompt": "x"})[0] for i in range(10)]
            # One window for both servers: 4 admitted in all, whichever server took them.
            assert codes == [200] * 4 + [429] * 6, codes
            # Redis gone and fail_open false: 503 with Retry-After, not a crash.
            redis.terminate()
            redis.wait(timeout=10)
            st, headers, body = _call(a["base"], "/tokenize", key, {"prompt": "x"})
            assert st == 503 and int(headers["Retry-After"]) >= 1, body
            assert _call(a["base"], "/health")[0] == 200
    finally:
        if redis.poll() is None:
            redis.kill()
