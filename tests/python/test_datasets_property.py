"""Property 6 for Parquet (the C++ property test covers JSONL, JSON and CSV): datasets generated with
hypothesis in every schema, with problems injected into random rows (empty and missing (null)
fields, empty turns, unknown roles, bad role order, empty lists, invalid UTF-8, duplicates), are
written as Parquet (random codec, page version, dictionary use) under a lying extension and as JSON
Lines. `cyllm validate --json` must report exactly the injected problems, at the right rows and
fields, for both, and detect the format from the content."""
import json

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from conftest import run_cyllm

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

BAD = "@@BAD@@"
texts = st.text(alphabet=st.sampled_from(list("abz ,\"\n\\é中😀{}")), max_size=12)


@st.composite
def dataset(draw):
    schema = draw(st.sampled_from(["alpaca", "messages", "sharegpt", "text"]))
    n = draw(st.integers(1, 20))
    rows, expect, valid = [], [], []
    sg = schema == "sharegpt"
    lst, rk, ck = ("conversations", "from", "value") if sg else ("messages", "role", "content")
    user, asst = ("human", "gpt") if sg else ("user", "assistant")
    for i in range(n):
        tag = f"r{i}:"
        if schema == "alpaca":
            r = {"instruction": tag + draw(texts), "input": draw(texts), "output": tag + draw(texts)}
        elif schema == "text":
            r = {"text": tag + draw(texts)}
        else:
            turns = []
            for _ in range(draw(st.integers(1, 2))):
                turns += [{rk: user, ck: tag + draw(texts)}, {rk: asst, ck: tag + draw(texts)}]
            r = {lst: turns}
        kind = -1 if i == 0 else draw(st.integers(-5, 5))
        row = i + 1
        if kind == 0:
            j = draw(st.sampled_from(valid))
            r = json.loads(json.dumps(rows[j]))
            expect.append((row, "", f"duplicate of row {j + 1}"))
        elif kind > 0 and schema in ("alpaca", "text"):
            f = "output" if schema == "alpaca" else "text"
            if kind % 3 == 0:
                r[f] = ""
                expect.append((row, f, "empty"))
            elif kind % 3 == 1:
                r[f] = None
                expect.append((row, f, "missing"))
            else:
                r[f] = "x" + BAD
                expect.append((row, f, "invalid UTF-8"))
        elif kind > 0:
            t = r[lst]
            last = len(t) - 1
            p = f"{lst}[{last}]"
            k = kind % 5
            if k == 0:
                t[last][ck] = ""
                expect.append((row, f"{p}.{ck}", "empty turn"))
            elif k == 1:
                t[last][rk] = "bot"
                expect.append((row, f"{p}.{rk}", "unknown role 'bot'"))
            elif k == 2:
                t[0][rk] = asst
                expect.append((row, f"{lst}[0].{rk}",
                               "bad role order: the conversation must start with a user turn, not 'assistant'"))
            elif k == 3:
                r[lst] = []
                expect.append((row, lst, "empty"))
            else:
                t[last][ck] = "y" + BAD
                expect.append((row, f"{p}.{ck}", "invalid UTF-8"))
        if kind < 0:
            valid.append(i)
        rows.append(r)
    return schema, rows, sorted(expect)


def to_bytes_col(v):
    return v.encode().replace(BAD.encode(), b"\xff\xc3(") if isinstance(v, str) else v


def arrow_table(rows):
    """Strings that hold the BAD marker become binary values with invalid UTF-8."""
    t = pa.Table.from_pylist(rows)
    cols = []
    for name in t.column_names:
        col = t.column(name)
        if pa.types.is_string(col.type):
            col = pa.array([to_bytes_col(v) for v in col.to_pylist()], type=pa.binary())
        elif pa.types.is_list(col.type):
            # Nested turns: rebuild with binary leaves.
            def conv(x):
                if isinstance(x, list):
                    return [conv(e) for e in x]
                if isinstance(x, dict):
                    return {k: conv(v) for k, v in x.items()}
                return to_bytes_col(x)
            vals = [conv(v) for v in col.to_pylist()]
            fields = col.type.value_type
            bin_struct = pa.struct([pa.field(f.name, pa.binary()) for f in fields]) if pa.types.is_struct(fields) else pa.binary()
            col = pa.array(vals, type=pa.list_(bin_struct))
        cols.append(col)
    return pa.table(cols, names=t.column_names)


def jsonl_bytes(rows):
    return b"".join(json.dumps(r, ensure_ascii=False).encode().replace(BAD.encode(), b"\xff\xc3(") + b"\n"
                    for r in rows)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=dataset(), codec=st.sampled_from(["snappy", "zstd", "gzip", "none"]),
       v2=st.booleans(), dictionary=st.booleans(), ext=st.sampled_from([".json", ".csv", ".jsonl", ""]))
def test_injected_problems_reported_exactly(cyllm_bin, tmp_path, data, codec, v2, dictionary, ext):
    schema, rows, expect = data
    pq_path = tmp_path / f"gen{ext}"
    pq.write_table(arrow_table(rows), pq_path, compression=codec,
                   data_page_version="2.0" if v2 else "1.0", use_dictionary=dictionary)
    jl_path = tmp_path / "gen.parquet"
    jl_path.write_bytes(jsonl_bytes(rows))
    for path, fmt in ((pq_path, "parquet"), (jl_path, "jsonl")):
        p = run_cyllm(cyllm_bin, "validate", str(path), "--json", check=False)
        assert p.returncode == (1 if expect else 0), p.stderr
        j = json.loads(p.stdout)
        assert j["format"] == fmt
        assert j["schema"] == schema
        assert j["rows"] == len(rows)
        assert j["valid_rows"] == len(rows) - len({e[0] for e in expect})
        got = sorted((q["row"], q["field"], q["reason"]) for q in j["problems"])
        assert got == expect, (fmt, rows)
