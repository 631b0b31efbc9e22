"""Cross-format dataset validation: Parquet (snappy, zstd, gzip, uncompressed; data pages v1 and v2)
and CSV (with and without a UTF-8 BOM) versions of the shared JSON datasets, written here with
pyarrow and pandas, must give `cyllm validate --json` results identical to the JSON source: rows,
valid rows, problems (row, field, reason) and token lengths. Also checks the --json shape and the
exit codes (0 clean, 1 problems, 2 unreadable)."""
import json

import pytest

from conftest import run_cyllm

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
pd = pytest.importorskip("pandas")

DATASETS = [
    ("alpaca_en_demo.json", "json", "alpaca", True),
    ("alpaca_zh_demo.json", "json", "alpaca", True),
    ("identity.json", "json", "alpaca", True),
    ("glaive_toolcall_en_demo.json", "json", "sharegpt", False),
    ("v1_sft_demo.jsonl", "jsonl", "messages", False),
    ("c4_demo.jsonl", "jsonl", "text", True),
]


def load_rows(path):
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".jsonl":
        return [json.loads(l) for l in text.splitlines() if l.strip()]
    return json.loads(text)


def validate(cyllm_bin, path, *extra):
    p = run_cyllm(cyllm_bin, "validate", str(path), "--json", *extra, check=False)
    assert p.returncode in (0, 1), p.stderr.decode(errors="replace")
    out = p.stdout.decode()
    assert out.count("\n") == 1, "exactly one JSON object on one line"
    j = json.loads(out)
    assert list(j)[:5] == ["format", "schema", "rows", "valid_rows", "problem_count"]
    assert p.returncode == (1 if j["problems"] else 0)
    return j


def comparable(j):
    return {
        "schema": j["schema"],
        "rows": j["rows"],
        "valid_rows": j["valid_rows"],
        "problems": [(p["row"], p["field"], p["reason"]) for p in j["problems"]],
        "token_lengths": j["token_lengths"],
    }


def variants(rows, tmp_path, stem, flat):
    table = pa.Table.from_pylist(rows)
    out = []
    for codec in ("snappy", "zstd", "gzip", "none"):
        p = tmp_path / f"{stem}-{codec}.parquet"
        pq.write_table(table, p, compression=codec)
        out.append((p, "parquet"))
    p = tmp_path / f"{stem}-v2-nodict.data"  # the extension says nothing
    pq.write_table(table, p, compression="zstd", data_page_version="2.0", use_dictionary=False)
    out.append((p, "parquet"))
    if flat:
        df = pd.DataFrame(rows)
        p = tmp_path / f"{stem}.csv"
        df.to_csv(p, index=False)
        out.append((p, "csv"))
        p = tmp_path / f"{stem}-bom.txt"
        df.to_csv(p, index=False, encoding="utf-8-sig", lineterminator="\r\n")
        out.append((p, "csv"))
    return out


@pytest.mark.parametrize("name,fmt,schema,flat", DATASETS, ids=[d[0] for d in DATASETS])
def test_same_results_in_every_format(cyllm_bin, shared_dir, default_model, tmp_path, name, fmt, schema, flat):
    src = shared_dir / "data" / "datasets" / name
    rows = load_rows(src)
    args = ("-m", str(default_model), "--cutoff", "1024")
    ref = validate(cyllm_bin, src, *args)
    assert ref["format"] == fmt and ref["schema"] == schema
    assert ref["rows"] == len(rows)
    over = sum("over the cutoff" in p["reason"] for p in ref["problems"])
    assert ref["token_lengths"]["count"] == ref["valid_rows"] + over  # long rows are counted, then flagged
    for path, want_fmt in variants(rows, tmp_path, src.stem, flat):
        got = validate(cyllm_bin, path, *args)
        assert got["format"] == want_fmt, path.name
        assert comparable(got) == comparable(ref), path.name


def test_exit_codes_and_problem_shape(cyllm_bin, tmp_path):
    good = tmp_path / "good.jsonl"
    good.write_text('{"text": "a"}\n{"text": "b"}\n')
    assert run_cyllm(cyllm_bin, "validate", str(good), check=False).returncode == 0
    bad = tmp_path / "bad.parquet"  # JSON Lines under a lying extension
    bad.write_text('{"text": "a"}\n{"text": ""}\n{"text": 3}\n')
    j = validate(cyllm_bin, bad)
    assert j["format"] == "jsonl"
    assert [(p["row"], p["field"], p["reason"]) for p in j["problems"]] == [
        (2, "text", "empty"), (3, "text", "expected a string, got number")]
    assert j["problems"][0]["line"] == 2
    junk = tmp_path / "junk.jsonl"
    junk.write_bytes(b"\x00\x01\x02 not a dataset")
    p = run_cyllm(cyllm_bin, "validate", str(junk), check=False)
    assert p.returncode == 2
    p = run_cyllm(cyllm_bin, "validate", str(tmp_path / "missing.json"), check=False)
    assert p.returncode == 2
    trunc = tmp_path / "trunc.parquet"
    full = tmp_path / "full.parquet"
    pq.write_table(pa.Table.from_pylist([{"text": "x" * 100}] * 3), full)
    data = full.read_bytes()
    trunc.write_bytes(data[: len(data) // 2] + b"PAR1")
    assert run_cyllm(cyllm_bin, "validate", str(trunc), check=False).returncode == 2


def test_render_marks_trained_spans(cyllm_bin, shared_dir, default_model):
    src = shared_dir / "data" / "datasets" / "alpaca_en_demo.json"
    row = load_rows(src)[0]
    p = run_cyllm(cyllm_bin, "render", str(src), "-m", str(default_model), "--row", "1")
    text = p.stdout.decode()
    assert text.count("«") == 1 and text.count("»") == 1
    assert text.split("«")[1].split("»")[0] == row["output"] + "<|im_end|>\n"
    j = json.loads(run_cyllm(cyllm_bin, "render", str(src), "-m", str(default_model), "--row", "1", "--json").stdout)
    assert len(j["ids"]) == len(j["mask"]) and 0 < sum(j["mask"]) < len(j["mask"])
    [[a, b]] = j["trained"]
    assert j["text"].encode()[a:b].decode() == row["output"] + "<|im_end|>\n"
    j = json.loads(run_cyllm(cyllm_bin, "render", str(src), "-m", str(default_model), "--row", "1", "--json",
                             "--train-on", "all").stdout)
    assert all(m == 1 for m in j["mask"])
