"""The quickstart, end to end on generated data with the embedded default store (``./.lineage``):
make data → hash → commit → change it → diff → record a training run → verify → lineage picture.

Run with ``python -m lineage_fast.demo`` (``make demo``). Data files go to ``./demo-data/``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

import lineage_fast as lf


def generate(rows: int, seed: int = 7) -> pa.Table:
    """A deterministic mixed table: ids, quantities, prices, names, categories, timestamps."""
    ids = pa.array(range(rows), pa.int64())
    cats = pa.array(["books", "garden", "toys", "music", "sports"], pa.string())
    k = pc.multiply(ids, seed)
    return pa.table(
        {
            "id": ids,
            "qty": pc.bit_wise_and(pc.multiply(ids, 7919), 1023),
            "price": pc.divide(
                pc.cast(pc.bit_wise_and(pc.multiply(ids, 104729), 65535), pa.float64()), 100.0
            ),
            "name": pc.utf8_replace_slice(
                pc.cast(pc.bit_wise_and(k, 977), pa.string()), start=0, stop=0, replacement="item-"
            ),
            "category": pa.DictionaryArray.from_arrays(
                pc.cast(pc.bit_wise_and(pc.multiply(ids, 31), 3), pa.int8()), cats
            ),
            "ts": pc.cast(pc.add(ids, 1_700_000_000_000), pa.timestamp("ms", "UTC")),
        }
    )


def edit(table: pa.Table) -> pa.Table:
    """The next version: 500 prices raised around 40% of the table, 100 rows deleted around 70%,
    200 rows appended (edits cluster, as they do in real data)."""
    n = table.num_rows
    ids = table["id"]
    lo, hi = pa.scalar(int(n * 0.4)), pa.scalar(int(n * 0.4) + 2000)
    region = pc.and_(pc.greater_equal(ids, lo), pc.less(ids, hi))
    bump = pc.and_(region, pc.equal(pc.bit_wise_and(ids, 3), pa.scalar(0)))
    price = pc.if_else(bump, pc.add(table["price"], 1.0), table["price"])
    edited = table.set_column(table.schema.get_field_index("price"), "price", price)
    gone_lo, gone_hi = pa.scalar(int(n * 0.7)), pa.scalar(int(n * 0.7) + 100)
    keep = pc.invert(pc.and_(pc.greater_equal(ids, gone_lo), pc.less(ids, gone_hi)))
    edited = edited.filter(keep)
    extra = generate(200, seed=11)
    extra = extra.set_column(0, "id", pc.add(extra["id"], n))
    return pa.concat_tables([edited, extra.cast(edited.schema)])


def step(n: int, title: str) -> None:
    print(f"\n{n}. {title}")


def main(rows: int = 1_000_000, store_path: str = ".lineage", data_dir: str = "demo-data") -> None:
    print(f"lineage_fast {lf.__version__}: quickstart on {rows:,} generated rows")
    print(f"store: {Path(store_path).resolve()}   data: {Path(data_dir).resolve()}")
    data = Path(data_dir)
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir(parents=True)
    store = lf.Store(store_path)

    step(1, "make data and hash it (streamed from Parquet)")
    v1_dir = data / "events-v1"
    v1_dir.mkdir()
    table = generate(rows)
    half = rows // 2
    pq.write_table(table.slice(0, half), v1_dir / "part-0.parquet", row_group_size=200_000)
    pq.write_table(table.slice(half), v1_dir / "part-1.parquet", row_group_size=200_000)
    start = time.perf_counter()
    h1 = lf.hash_parquet(v1_dir, progress=True)
    took = time.perf_counter() - start
    print(f"   root {h1.root}")
    print(f"   {h1.num_rows:,} rows, {len(h1.chunks)} chunks, {took * 1000:.0f} ms")
    for f in h1.source_files:
        print(f"   file {Path(f.path).name}: {f.size:,} bytes, {f.digest[:23]}…")
    same = lf.hash_table(table).root == h1.root
    print(f"   the same rows in memory hash the same: {same}")

    step(2, "commit it as a version of 'events'")
    v1 = store.commit(h1, "events", metadata={"source": "generated", "step": 1})
    print(f"   {v1}  manifest {v1.manifest_id[:23]}…")

    step(3, "change the data and commit the next version")
    table2 = edit(table)
    v2_path = data / "events-v2.parquet"
    pq.write_table(table2, v2_path, row_group_size=200_000)
    h2 = lf.hash_parquet(v2_path)
    v2 = store.commit(h2, "events", metadata={"source": "generated", "step": 2})
    print(f"   {v2}  parent {v2.parent[:23] if v2.parent else None}…")
    where = lf.diff_chunks(h1, h2)
    print(
        f"   from the hashes alone: {where.shared_chunks} of {len(h2.chunks)} chunks shared; "
        f"{len(where.hunks)} regions to look at:"
    )
    for hunk in where.hunks:
        print(
            f"     old rows {hunk.old_start:,}..{hunk.old_stop:,} → new rows "
            f"{hunk.new_start:,}..{hunk.new_stop:,}: {', '.join(hunk.columns)}"
        )

    step(4, "diff the versions row by row")
    start = time.perf_counter()
    d = lf.diff(table, table2, key="id", old_hash=h1, new_hash=h2)
    took = time.perf_counter() - start
    print("   " + d.render(max_rows=3).replace("\n", "\n   "))
    print(f"   ({took * 1000:.0f} ms)")

    step(5, "record a training run: events → model")
    model_path = data / "model.json"
    with store.run("train-price-model", params={"target": "price", "by": "category"}) as run:
        run.input(v2, role="training data")
        means = table2.group_by("category").aggregate([("price", "mean")])
        model = {str(c): round(m, 4) for c, m in zip(*means.to_pydict().values(), strict=True)}
        model_path.write_text(json.dumps(model, indent=2) + "\n")
        run.output(model_path, role="model")
    rec = run.record
    assert rec is not None  # recorded when the block ended
    code = rec.data.get("code") or {}
    print(f"   run {rec.run_id} {rec.status}; code: {code.get('git_commit') or code.get('path')}")
    print(f"   model {lf.file_digest(model_path)[:23]}…")

    step(6, "verify: which data made this model, and is it still that data?")
    for node in store.ancestors(model_path):
        print(f"   ← {node.kind:<8} {node.label}  {node.id[:23]}…")
    print(f"   events-v2.parquet still is version 2: {store.verify(v2, pq.read_table(v2_path))}")
    price = table2["price"].combine_chunks()
    tampered = table2.set_column(2, "price", pa.concat_arrays([pa.array([-1.0]), price[1:]]))
    print(f"   one price changed, still version 2: {store.verify(v2, tampered)}")

    step(7, "the lineage picture (Mermaid; paste into any Markdown viewer)")
    print("   " + store.to_mermaid(model_path).replace("\n", "\n   "))
    if shutil.which("dot"):
        out = store.render_graph(data / "lineage.svg", model_path)
        print(f"   rendered with Graphviz: {out}")
    events = store.export_openlineage(rec)
    print(
        f"\n   OpenLineage: {len(events)} events appended to "
        f"{Path(store_path) / 'events' / 'openlineage.jsonl'}; problems found by fsck: "
        f"{len(store.fsck())}"
    )
    print("\nNext: `lineage-fast log events`, `lineage-fast lineage events --format mermaid`.")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--store", default=".lineage")
    parser.add_argument("--data", default="demo-data")
    a = parser.parse_args()
    main(a.rows, a.store, a.data)
