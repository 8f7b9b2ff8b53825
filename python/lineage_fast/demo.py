"""The quickstart: generate a table, hash it, change it, and show what the identity tells you.

Run with ``python -m lineage_fast.demo`` (``make demo``).
"""

from __future__ import annotations

import time

import pyarrow as pa
import pyarrow.compute as pc

import lineage_fast as lf


def generate(rows: int) -> pa.Table:
    """A deterministic mixed table: ids, quantities, prices, names, flags, timestamps."""
    ids = range(rows)
    return pa.table(
        {
            "id": pa.array(ids, pa.int64()),
            "qty": pa.array([(i * 7919) % 1024 for i in ids], pa.int64()),
            "price": pa.array([((i * 104729) % 65536) / 100 for i in ids], pa.float64()),
            "name": pa.array([f"item-{(i * 31) % 977}" for i in ids], pa.string()),
            "flag": pa.array([i % 4 == 0 for i in ids], pa.bool_()),
            "ts": pa.array(
                [1_700_000_000_000_000 + i * 1_000_003 for i in ids], pa.timestamp("us", "UTC")
            ),
        }
    )


def main(rows: int = 1_000_000) -> None:
    print(f"lineage_fast {lf.__version__} — quickstart on {rows:,} generated rows\n")
    table = generate(rows)

    start = time.perf_counter()
    h = lf.hash_table(table)
    took = time.perf_counter() - start
    print(f"1. hash_table: {h.root}")
    print(f"   {h.num_rows:,} rows, {len(h.chunks)} content-defined chunks, {took * 1000:.0f} ms")

    print("\n2. the manifest-to-be:")
    print(f"   scheme {h.scheme}, {h.row_order}, schema {h.schema_digest}")
    print("   column digests:")
    for name, digest in h.columns.items():
        print(f"     {name:<6} {h.column_types[name]:<22} {digest}")
    print(f"   chunks ({len(h.chunks)}; first three):")
    for c in h.chunks[:3]:
        print(f"     rows {c.start:>9,} +{c.num_rows:<6,} {c.digest}")
    print("   (TableHash.to_dict() gives all of it as JSON)")

    reordered = table.select(list(reversed(table.column_names)))
    rebatched = pa.Table.from_batches(table.to_batches(max_chunksize=4096))
    print("\n3. the identity is layout-independent:")
    print(f"   columns reordered   -> same root: {lf.hash_table(reordered).root == h.root}")
    print(f"   re-batched (4096)    -> same root: {lf.hash_table(rebatched).root == h.root}")
    as_large = table.set_column(3, "name", pc.cast(table["name"], pa.large_string()))
    print(f"   string→large_string -> same root: {lf.hash_table(as_large).root == h.root}")

    middle = rows // 2
    edited = pa.concat_tables([table.slice(0, middle), table.slice(middle + 1)])
    h2 = lf.hash_table(edited)
    before = {c.digest for c in h.chunks}
    changed = [c for c in h2.chunks if c.digest not in before]
    print(f"\n4. delete row {middle:,}: new root {h2.root[:23]}…")
    print(
        f"   {len(changed)} of {len(h2.chunks)} chunks changed (rows {changed[0].start:,}…"
        f"{changed[-1].stop:,}); the rest are shared with the previous version"
    )

    u1 = lf.hash_table(table, row_order="unordered")
    shuffled = table.take(pc.sort_indices(table, [("name", "ascending"), ("id", "descending")]))
    u2 = lf.hash_table(shuffled, row_order="unordered")
    print(f"\n5. unordered (multiset) identity survives a shuffle: {u1.root == u2.root}")


if __name__ == "__main__":
    main()
