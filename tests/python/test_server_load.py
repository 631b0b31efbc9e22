"""A bounded load test of `cyllm serve` on loopback with API keys on: 64 concurrent clients send
3,000 requests that mix valid generations and tokenizations with unauthenticated, expired,
rate-limited, oversized, malformed and misrouted ones. Every request must get its expected
status, the audit log must hold exactly one record per request (matched by X-Request-Id), the
server must not crash, its memory must stay flat after warm-up, and no key or Authorization value
may appear in its logs."""
import concurrent.futures
import http.client
import json
import os
import re
import sqlite3
import subprocess
import time

import pytest

from conftest import cyllm_server

N_REQUESTS = 3000
CLIENTS = 64
MAX_BODY = 65536
LIMITED_RPM = 10


def _key(cyllm_bin, data, tenant, *extra):
    env = dict(os.environ, CYLLM_DATA_DIR=str(data))
    p = subprocess.run([cyllm_bin, "keys", "create", "--tenant", tenant, "--json", *extra], capture_output=True,
                       env=env, check=True)
    return json.loads(p.stdout)["key"]


def _rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))


def test_mixed_load_statuses_audit_memory_and_logs(cyllm_bin, default_model, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    good = _key(cyllm_bin, data, "load-a")
    other = _key(cyllm_bin, data, "load-b")
    limited = _key(cyllm_bin, data, "load-c", "--rpm", str(LIMITED_RPM))
    expiring = _key(cyllm_bin, data, "load-d", "--ttl", "1s")
    time.sleep(1.2)  # the expiring key is now expired
    with cyllm_server(cyllm_bin, default_model, tmp_path, "--max-body", str(MAX_BODY), data_dir=data) as srv:
        port = srv["port"]
        model = srv["model"]

        def plan(i):
            kind = ["gen", "tok", "tok", "noauth", "expired", "limited", "big", "badjson", "route", "tok_b"][i % 10]
            headers = {"X-Request-Id": f"load-{i}", "Content-Type": "application/json"}
            method, path, body, expect = "POST", "/tokenize", json.dumps({"prompt": f"text {i}"}), {200}
            key = good
            if kind == "gen":
                path, body = "/v1/completions", json.dumps({"model": model, "prompt": f"Number {i}:", "max_tokens": 1})
            elif kind == "tok_b":
                key = other
            elif kind == "noauth":
                key, expect = None, {401}
            elif kind == "expired":
                key, expect = expiring, {401}
            elif kind == "limited":
                key, expect = limited, {200, 429}
            elif kind == "big":
                body, expect = "x" * (MAX_BODY + 1), {413}
            elif kind == "badjson":
                path, body, expect = "/v1/chat/completions", '{"model": "m", "messages": [', {400}
            elif kind == "route":
                method, path, body, expect = "GET", "/v1/nowhere", None, {404}
            if key:
                headers["Authorization"] = f"Bearer {key}"
            return kind, method, path, body, headers, expect

        def send(i):
            kind, method, path, body, headers, expect = plan(i)
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
            try:
                conn.request(method, path, body=body, headers=headers)
                r = conn.getresponse()
                r.read()
                return i, kind, r.status, expect, r.getheader("X-Request-Id")
            finally:
                conn.close()

        t0 = time.time()
        results = []
        with concurrent.futures.ThreadPoolExecutor(CLIENTS) as ex:
            warm = list(ex.map(send, range(500)))
            rss_warm = _rss_kb(srv["proc"].pid)
            results = warm + list(ex.map(send, range(500, N_REQUESTS)))
        elapsed = time.time() - t0
        rss_end = _rss_kb(srv["proc"].pid)
        assert srv["proc"].poll() is None, "the server died under load"

        wrong = [(i, k, s, e) for i, k, s, e, _ in results if s not in e]
        assert not wrong, wrong[:10]
        assert all(rid == f"load-{i}" for i, _, _, _, rid in results)
        limited_ok = sum(1 for _, k, s, _, _ in results if k == "limited" and s == 200)
        windows = 1 + int(elapsed // 60)
        assert 1 <= limited_ok <= LIMITED_RPM * windows, (limited_ok, elapsed)
        # Memory stays flat after warm-up: KV cache, metrics series and buffers are bounded.
        assert rss_end - rss_warm < 32 * 1024, (rss_warm, rss_end)
        print(json.dumps({"requests": N_REQUESTS, "clients": CLIENTS, "seconds": round(elapsed, 2),
                          "req_per_s": round(N_REQUESTS / elapsed, 1), "rss_warm_mb": rss_warm // 1024,
                          "rss_end_mb": rss_end // 1024}))

    # After a clean shutdown: exactly one audit record per request, with its status.
    db = sqlite3.connect(data / "audit.sqlite")
    rows = db.execute("SELECT trace_id, status_code FROM audit WHERE trace_id LIKE 'load-%'").fetchall()
    assert len(rows) == N_REQUESTS
    got = dict(rows)
    assert len(got) == N_REQUESTS
    assert all(got[f"load-{i}"] == s for i, _, s, _, _ in results)
    log = srv["stderr"].read_text(errors="replace")
    for k in (good, other, limited, expiring):
        assert k not in log
    assert not re.search(r"Bearer\s+(?!\[REDACTED\])\S", log)
