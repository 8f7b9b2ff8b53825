"""Deterministic generator of the realistic mixed benchmark table.

Columns: ``id`` (int64, unique), ``qty`` (int64), ``price`` (float64), ``name`` (utf8),
``flag`` (bool), ``ts`` (timestamp[us, UTC]), ``maybe`` (int64, ~5% nulls),
``category`` (dictionary<int32, utf8>).

Usage: ``python benches/datagen.py ROWS OUT.parquet`` or ``make_table(rows)`` from Python.
"""

from __future__ import annotations

import sys

import numpy as np
import pyarrow as pa

CATEGORIES = ["electronics", "garden", "books", "toys", "grocery", "sports", "music", "auto"]


def make_table(rows: int, seed: int = 42, batch_rows: int = 1_000_000) -> pa.Table:
    """Return the benchmark table with ``rows`` rows, built in batches of ``batch_rows``."""
    rng = np.random.default_rng(seed)
    batches = []
    start = 0
    words = np.array(
        ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india"]
    )
    cats = pa.array(CATEGORIES, pa.string())
    while start < rows:
        n = min(batch_rows, rows - start)
        ids = np.arange(start, start + n, dtype=np.int64)
        qty = rng.integers(0, 1_000, n, dtype=np.int64)
        price = np.round(rng.random(n) * 1000.0, 2)
        w = words[rng.integers(0, len(words), n)]
        suffix = rng.integers(0, 100_000, n).astype(str)
        name = np.char.add(np.char.add(w, "-"), suffix)
        flag = rng.random(n) < 0.5
        ts = (1_700_000_000_000_000 + rng.integers(0, 10**12, n)).astype("datetime64[us]")
        maybe_vals = rng.integers(-(10**9), 10**9, n, dtype=np.int64)
        maybe_mask = rng.random(n) < 0.05
        codes = rng.integers(0, len(CATEGORIES), n).astype(np.int32)
        batches.append(
            pa.record_batch(
                {
                    "id": pa.array(ids),
                    "qty": pa.array(qty),
                    "price": pa.array(price),
                    "name": pa.array(name.tolist(), pa.string()),
                    "flag": pa.array(flag),
                    "ts": pa.array(ts, pa.timestamp("us", tz="UTC")),
                    "maybe": pa.array(maybe_vals, mask=maybe_mask),
                    "category": pa.DictionaryArray.from_arrays(pa.array(codes), cats),
                }
            )
        )
        start += n
    if not batches:
        return make_table(1, seed).slice(0, 0)
    return pa.Table.from_batches(batches)


if __name__ == "__main__":
    import pyarrow.parquet as pq

    pq.write_table(make_table(int(sys.argv[1])), sys.argv[2])
