"""Property 31 — request size limit enforcement: a body over the limit gets 413 and is not
processed; a body within it is processed. Hypothesis draws body sizes around the limit of a real
`cyllm serve` (started with --max-body 4096) and sends complete requests with honest
Content-Length headers."""
import json
import socket
import urllib.request

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from conftest import cyllm_server

LIMIT = 4096


@pytest.fixture(scope="module")
def server(cyllm_bin, default_model, tmp_path_factory):
    with cyllm_server(cyllm_bin, default_model, tmp_path_factory.mktemp("serve-p31"), "--max-body", str(LIMIT)) as srv:
        yield srv


def _post(port: int, body: bytes) -> int:
    head = (f"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
        s.sendall(head + body)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    return int(out.split(b" ", 2)[1])



@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(size=st.one_of(st.integers(min_value=128, max_value=LIMIT), st.integers(min_value=LIMIT + 1, max_value=3 * LIMIT),
                      st.sampled_from([LIMIT - 1, LIMIT, LIMIT + 1])))
def test_over_limit_is_413_and_within_is_processed(server, size):
    # A valid completion request padded with spaces (valid JSON whitespace) to exactly `size` bytes.
    core = json.dumps({"model": server["model"], "prompt": "Hi", "max_tokens": 1, "temperature": 0}).encode()
    body = core[:-1] + b" " * (size - len(core)) + b"}"
    assert len(body) == size
    status = _post(server["port"], body)
    if size > LIMIT:
        assert status == 413
    else:
        assert status == 200
