"""Writes the small Parquet fixtures used by dataset-test.cpp and the Parquet fuzz seeds, from the
shared demo datasets, with pyarrow (tests/python/requirements.txt). Run from this folder:
  ../../../../.venv/bin/python make-fixtures.py /path/to/shared/data/datasets
Each fixture's rows equal the first rows of its JSON source (the test checks that)."""
import json
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

src = Path(sys.argv[1])


def rows_json(name, n):
    p = src / name
    if name.endswith(".jsonl"):
        return [json.loads(l) for l in p.read_text().splitlines()[:n]]
    return json.loads(p.read_text())[:n]


def write(rows, out, **kw):
    pq.write_table(pa.Table.from_pylist(rows), out, **kw)


write(rows_json("alpaca_en_demo.json", 12), "alpaca-snappy.parquet", compression="snappy")
write(rows_json("glaive_toolcall_en_demo.json", 6), "sharegpt-zstd.parquet", compression="zstd")
write(rows_json("v1_sft_demo.jsonl", 10), "messages-gzip-v2.parquet", compression="gzip", data_page_version="2.0")
write(rows_json("identity.json", 10), "alpaca-none-plain.parquet", compression="none", use_dictionary=False)
write(rows_json("alpaca_zh_demo.json", 8), "alpaca-zh-small-rowgroups.parquet", compression="snappy", row_group_size=3)
