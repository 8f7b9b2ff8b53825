"""Benchmark ``lineage_fast.hash_table`` on table shapes other than the mixed benchmark table.

Usage::

    python benches/bench_shapes.py                  # 2M rows per shape, best of 5
    python benches/bench_shapes.py --rows 500000 --repeat 3

``bench_hash.py`` measures the issue's targets on one realistic mixed table. Users bring other
shapes: streams of small batches, string views (what polars exports), per-batch dictionaries
(Parquet row groups), embeddings, duplicate-heavy tables. A shape that is much slower than its
neighbours is a bug in a fast path; this script finds such cases and guards the fixes.

For every shape, in one run: ``lf.hash_table`` ordered and unordered (all cores) and polars
``DataFrame.hash_rows`` (all cores; the conversion ``pl.from_arrow`` is outside the timing), each
the best of ``--repeat`` runs, more while under 1 s was timed (``best_of`` of
``bench_hash.py``). The table lists the times and two ratios: ordered / polars and unordered /
ordered. Every ordered root is checked against the same data in another layout where one exists
(e.g. string views against plain strings, small batches against one batch), so a fast path that
changes a root fails here.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from functools import partial
from pathlib import Path

import lineage_fast as lf
import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

sys.path.insert(0, str(Path(__file__).parent))
from bench_hash import best_of
from datagen import make_table

RESULTS = Path(__file__).parent / "results"


def per_batch_dictionaries(table: pa.Table, batch_rows: int) -> pa.Table:
    """``table``'s ``id`` and ``category``, each batch with its own dictionary (as Parquet row
    groups read with ``read_dictionary`` give)."""
    batches = []
    for k, b in enumerate(table.select(["id", "category"]).to_batches(max_chunksize=batch_rows)):
        d = b.column(1)
        words = d.dictionary.to_pylist()
        values = pa.array([f"{w}-{k}" for w in words] + words)
        codes = pc.add(d.indices, len(words))
        batches.append(
            pa.record_batch(
                {"id": b.column(0), "category": pa.DictionaryArray.from_arrays(codes, values)}
            )
        )
    return pa.Table.from_batches(batches)


def shapes(rows: int) -> list[tuple[str, pa.Table, pa.Table | None]]:
    """(name, table, the same data in another layout or None)."""
    rng = np.random.default_rng(7)
    base = make_table(rows, 42)
    name = base["name"]
    dim = 128
    emb_rows = max(rows // 10, 1)
    flat = pa.array(rng.random(emb_rows * dim, dtype=np.float32))
    emb = pa.FixedSizeListArray.from_arrays(flat, dim)
    emb_list = pa.ListArray.from_arrays(
        pa.array(np.arange(0, emb_rows * dim + 1, dim, dtype=np.int32)), flat
    )
    tag_counts = rng.integers(0, 5, rows)
    tag_offsets = np.concatenate([[0], np.cumsum(tag_counts)]).astype(np.int32)
    tag_values = pa.array([f"tag{i % 97}" for i in rng.integers(0, 1_000, int(tag_offsets[-1]))])
    tags = pa.ListArray.from_arrays(pa.array(tag_offsets), tag_values)
    one = base.combine_chunks()
    dictionaries = per_batch_dictionaries(base, 100_000)
    return [
        ("mixed (1M-row batches)", base, None),
        ("mixed, 1,000-row batches", pa.Table.from_batches(one.to_batches(1_000)), base),
        ("mixed, 65,536-row batches", pa.Table.from_batches(one.to_batches(65_536)), base),
        ("name: utf8", pa.table({"s": name}), None),
        ("name: utf8_view", pa.table({"s": name.cast(pa.string_view())}), pa.table({"s": name})),
        ("name: large_utf8", pa.table({"s": name.cast(pa.large_string())}), pa.table({"s": name})),
        (
            "category: per-batch dictionaries",
            dictionaries,
            dictionaries.cast(pa.schema([("id", pa.int64()), ("category", pa.string())])),
        ),
        ("duplicates: qty, flag, category", base.select(["qty", "flag", "category"]), None),
        ("list<utf8> tags (0-4 per row)", pa.table({"tags": tags}), None),
        (f"embeddings: fixed_size_list<f32>[{dim}]", pa.table({"e": emb}), None),
        (f"embeddings: list<f32> ({dim} each)", pa.table({"e": emb_list}), None),
    ]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=2_000_000, help="rows per shape (embeddings: 1/10)")
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--no-write", action="store_true", help="do not write benches/results/")
    args = p.parse_args(argv)
    lines = [
        "| shape | rows | lf ordered | lf unordered | polars hash_rows | ordered / polars "
        "| unordered / ordered |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    print(f"rows={args.rows:,} repeat={args.repeat} cores={len(os.sched_getaffinity(0))}")
    for label, table, other in shapes(args.rows):
        root = lf.hash_table(table).root
        if other is not None and lf.hash_table(other).root != root:
            raise AssertionError(f"{label}: the root differs from the same data in another layout")
        ordered, _ = best_of(partial(lf.hash_table, table), args.repeat)
        unordered, _ = best_of(partial(lf.hash_table, table, row_order="unordered"), args.repeat)
        polars, _ = best_of(pl.from_arrow(table).hash_rows, args.repeat)
        row = (
            f"| {label} | {table.num_rows:,} | {ordered:.4f} s | {unordered:.4f} s "
            f"| {polars:.4f} s | {ordered / polars:.2f}x | {unordered / ordered:.2f}x |"
        )
        print(row, flush=True)
        lines.append(row)
    if not args.no_write:
        RESULTS.mkdir(exist_ok=True)
        header = [
            "# lineage_fast hash benchmark: table shapes",
            "",
            f"`python benches/bench_shapes.py --rows {args.rows} --repeat {args.repeat}`, "
            f"{time.strftime('%Y-%m-%dT%H:%M:%S%z')}; lineage_fast {lf.__version__}, "
            f"polars {pl.__version__}, pyarrow {pa.__version__}. Best of {args.repeat}.",
            "",
        ]
        (RESULTS / "shapes.md").write_text("\n".join(header + lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
