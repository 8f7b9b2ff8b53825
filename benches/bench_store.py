"""Benchmark of the store (issue 4 targets).

1. Commit overhead on a 10M-row table: ``Store.commit(table)`` against ``hash_table(table)``
   alone (target: at most 10% more), and ``Store.commit(TableHash)`` (the store's own work).
2. ``record_run`` latency, median over many calls (target: at most 5 ms), with ``code=None``
   (the store's work) and with ``code="auto"`` (adds the git subprocesses of code capture).
3. ``ancestors`` / ``descendants`` on a synthetic store of 100,000 versions and 50,000 runs
   (target: median at most 50 ms).

The synthetic store is built through the public API (``commit`` of synthetic ``TableHash``
objects, ``record_run``) on a store opened with ``durable=False``: every write is still atomic,
but the ~500,000 fsyncs of a durable build would only measure the disk; each pipeline is
written in one ``Store.batch()`` (one index transaction). Its shape: 1,000
pipelines of 5 datasets x 20 versions (100 versions per pipeline, linked by parents) and 50 runs
each; every run reads 1-2 recent versions of its pipeline (and, one time in five, a version of
one of 50 shared source pipelines) and writes 2 new versions.

Usage: ``python benches/bench_store.py [--rows 10000000] [--versions 100000] [--quick]
[--only commit|record_run|queries ...]``.
Results: ``benches/results/store.json`` and ``store.md`` (``store.quick.*`` with ``--quick``);
with ``--only``, the parts run are printed and no result file is written (the table needs all).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import lineage_fast as lf
import pyarrow as pa
from lineage_fast.hashing import Chunk, TableHash

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_hash import machine_info as hash_machine_info  # noqa: E402
from datagen import make_table  # noqa: E402


def machine_info() -> dict[str, Any]:
    """bench_hash's machine description, flattened as this benchmark's results record it."""
    m = hash_machine_info()
    return {
        "cpu_model": m["cpu_model"],
        "nproc": m["nproc"],
        "platform": m["platform"],
        **{k: m["versions"][k] for k in ("python", "pyarrow", "lineage_fast")},
    }


def best_of(fn: Any, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def median_ms(samples: list[float]) -> dict[str, float]:
    s = sorted(samples)
    return {
        "median_ms": statistics.median(s) * 1e3,
        "p95_ms": s[int(len(s) * 0.95) - 1] * 1e3,
        "min_ms": s[0] * 1e3,
        "n": len(s),
    }


# --- 1. commit overhead ---------------------------------------------------------------------


def bench_commit(rows: int, repeat: int, workdir: Path) -> dict[str, Any]:
    print(f"generating {rows:,} rows...", flush=True)
    table = make_table(rows)
    store = lf.Store(workdir / "commit")
    lf.hash_table(table.slice(0, 1000))  # warm up the core
    th = lf.hash_table(table)
    i = [0]

    def commit_table() -> None:
        i[0] += 1
        store.commit(table, f"t{i[0]}")

    def commit_hash() -> None:
        i[0] += 1
        store.commit(th, f"h{i[0]}")

    # Interleave the two measurements so that load from other jobs hits both alike.
    hash_s = commit_s = float("inf")
    for _ in range(repeat):
        hash_s = min(hash_s, best_of(lambda: lf.hash_table(table), 1))
        commit_s = min(commit_s, best_of(commit_table, 1))
    commit_hash_s = best_of(commit_hash, max(repeat, 5))
    out = {
        "rows": rows,
        "chunks": len(th.chunks),
        "hash_table_s": hash_s,
        "commit_table_s": commit_s,
        "commit_tablehash_s": commit_hash_s,
        "overhead_vs_hash": (commit_s - hash_s) / hash_s,
        "store_work_vs_hash": commit_hash_s / hash_s,
    }
    print(json.dumps(out, indent=1), flush=True)
    return out


# --- 2. record_run --------------------------------------------------------------------------


def count_fsyncs(fn: Any, count: int) -> float:
    """How many ``os.fsync`` calls (of files or directories) ``fn`` makes, on average."""
    real, calls = os.fsync, [0]

    def counting(fd: Any) -> None:
        calls[0] += 1
        real(fd)

    os.fsync = counting
    try:
        for _ in range(count):
            fn()
    finally:
        os.fsync = real
    return calls[0] / count


def bench_record_run(n: int, workdir: Path) -> dict[str, Any]:
    params = {"lr": 0.001, "epochs": 10, "layers": [64, 32]}

    def sample(store: lf.Store, code: Any, count: int) -> list[float]:
        a = store.commit(pa.table({"x": [1, 2, 3]}), "a")
        b = store.commit(pa.table({"x": [4, 5]}), "b")
        out = []
        for _ in range(count):
            t = time.perf_counter()
            store.record_run("train", inputs=[a], outputs=[b], params=params, code=code)
            out.append(time.perf_counter() - t)
        return out

    # The disk's own fsync latency, for context (it varies a lot with other jobs' writes), and
    # how many fsyncs a durable record_run does: together they explain its latency.
    probe = workdir / "fsync-probe"
    fd = os.open(probe, os.O_WRONLY | os.O_CREAT, 0o644)
    syncs = []
    for _ in range(200):
        os.write(fd, b"x" * 200)
        t = time.perf_counter()
        os.fsync(fd)
        syncs.append(time.perf_counter() - t)
    os.close(fd)
    probe.unlink()
    durable = lf.Store(workdir / "runs")
    nosync = lf.Store(workdir / "runs-nosync", durable=False)
    sample(durable, None, 20)  # warm up
    res: dict[str, Any] = {
        "fsyncs_per_call": count_fsyncs(
            lambda: durable.record_run("train", inputs=["a"], params=params, code=None), 20
        ),
        "code_none": median_ms(sample(durable, None, n)),
        "code_none_no_fsync": median_ms(sample(nosync, None, n)),
        "code_auto": median_ms(sample(durable, "auto", max(n // 10, 20))),
        "fsync": median_ms(syncs),
    }
    print(json.dumps(res, indent=1), flush=True)
    return res


# --- 3. lineage queries on a synthetic store ------------------------------------------------


def _synthetic_hash(i: int) -> TableHash:
    d = lf.bytes_digest(b"synthetic version %d" % i)
    s = lf.bytes_digest(b"schema")
    return TableHash(
        root=d,
        num_rows=1000 + i % 1000,
        schema_digest=s,
        columns={"x": d},
        column_types={"x": "int64"},
        chunks=(Chunk(d, 0, 1000 + i % 1000, {"x": d}),),
    )


def build_synthetic(root: Path, versions: int, runs: int) -> dict[str, Any]:
    pipelines = versions // 100
    if runs != pipelines * 50:
        raise SystemExit("the synthetic shape needs runs = versions / 2")
    sources = min(50, pipelines)
    store = lf.Store(root, durable=False)
    rng = random.Random(7)
    t0 = time.perf_counter()
    made: list[list[lf.Version]] = [[] for _ in range(pipelines)]
    n = 0
    runs_per_pipeline = runs // pipelines
    for p in range(pipelines):
        with store.batch():
            _pipeline(store, p, sources, runs_per_pipeline, made, rng, n)
        n += 100
        if p % 100 == 99:
            print(f"  {n:,} versions, {time.perf_counter() - t0:.0f} s", flush=True)
    build_s = time.perf_counter() - t0
    store.close()
    return {"versions": n, "runs": runs_per_pipeline * pipelines, "build_s": build_s}


def _pipeline(
    store: lf.Store,
    p: int,
    sources: int,
    runs_per_pipeline: int,
    made: list[list[lf.Version]],
    rng: random.Random,
    n: int,
) -> None:
    """One pipeline: 100 versions (5 names x 20, parent-linked) and 50 runs."""
    # Two raw versions per pipeline come from no run; the first two runs write one
    # version, the others two: 2 + 2 + 2 * 48 = 100 versions and 50 runs per pipeline.
    for j in range(2):
        made[p].append(store.commit(_synthetic_hash(n), f"p{p}/d{j % 5}"))
        n += 1
    for r in range(runs_per_pipeline):
        inputs = rng.sample(made[p][-6:], k=rng.choice((1, 2)))
        if p >= sources and rng.random() < 0.2:
            inputs.append(rng.choice(made[rng.randrange(sources)]))
        outs = []
        for k in range(1 if r < 2 else 2):
            outs.append(store.commit(_synthetic_hash(n), f"p{p}/d{(r * 2 + k) % 5}"))
            n += 1
        made[p].extend(outs)
        store.record_run(f"p{p}/job{r % 5}", inputs=inputs, outputs=outs, code=None)


def bench_queries(root: Path, samples: int) -> dict[str, Any]:
    store = lf.Store(root)
    rng = random.Random(11)
    vids = [r[0] for r in store._db.execute("SELECT version_id FROM versions")]
    picks = rng.sample(vids, samples)
    out: dict[str, Any] = {}
    for name, fn in (("ancestors", store.ancestors), ("descendants", store.descendants)):
        times, sizes = [], []
        for v in picks:
            t = time.perf_counter()
            res = fn(v)
            times.append(time.perf_counter() - t)
            sizes.append(len(res))
        out[name] = {
            **median_ms(times),
            "median_result_nodes": statistics.median(sizes),
            "max_result_nodes": max(sizes),
        }
    print(json.dumps(out, indent=1), flush=True)
    return out


def write_markdown(path: Path, res: dict[str, Any]) -> None:
    c, r, q = res["commit"], res["record_run"], res["queries"]
    s = res["synthetic"]
    lines = [
        "# Store benchmark (issue 4)",
        "",
        f"Machine: {res['machine']['cpu_model']}, {res['machine']['nproc']} cores "
        "(shared with other jobs while measuring: figures are noisy).",
        "",
        "| measure | result | target |",
        "|---|---|---|",
        f"| `hash_table`, {c['rows']:,} rows ({c['chunks']:,} chunks) | "
        f"{c['hash_table_s']:.3f} s | |",
        f"| `commit(table)` | {c['commit_table_s']:.3f} s | |",
        f"| store overhead of `commit(table)` over `hash_table` | "
        f"{c['overhead_vs_hash'] * 100:.1f}% | ≤ 10% |",
        f"| `commit(TableHash)` (the store's own work) | {c['commit_tablehash_s'] * 1e3:.1f} ms "
        f"= {c['store_work_vs_hash'] * 100:.1f}% of `hash_table` | ≤ 10% |",
        f"| `record_run` median, `code=None` | {r['code_none']['median_ms']:.2f} ms "
        f"(p95 {r['code_none']['p95_ms']:.2f} ms, n={r['code_none']['n']}) | ≤ 5 ms |",
        f"| one `fsync` of this disk, median (a durable `record_run` does "
        f"{r['fsyncs_per_call']:g}) | "
        f"{r['fsync']['median_ms']:.2f} ms (p95 {r['fsync']['p95_ms']:.2f} ms) | |",
        f"| `record_run` median, `code=None`, `durable=False` (no fsync: the CPU work) | "
        f"{r['code_none_no_fsync']['median_ms']:.2f} ms "
        f"(p95 {r['code_none_no_fsync']['p95_ms']:.2f} ms) | |",
        f'| `record_run` median, `code="auto"` (git subprocesses) | '
        f"{r['code_auto']['median_ms']:.2f} ms (p95 {r['code_auto']['p95_ms']:.2f} ms) | |",
        f"| synthetic store: {s['versions']:,} versions, {s['runs']:,} runs | "
        f"built in {s['build_s']:.0f} s (`durable=False`) | |",
    ]
    for k in ("ancestors", "descendants"):
        lines.append(
            f"| `{k}` median | {q[k]['median_ms']:.2f} ms (p95 {q[k]['p95_ms']:.2f} ms, "
            f"max {q[k]['max_result_nodes']} nodes, median {q[k]['median_result_nodes']:.0f}) "
            "| ≤ 50 ms |"
        )
    path.write_text("\n".join(lines) + "\n")


PARTS = ("commit", "record_run", "queries")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--versions", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=50_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--record-runs", type=int, default=1000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--quick", action="store_true", help="small sizes, results to store.quick.*")
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument(
        "--only",
        nargs="+",
        choices=PARTS,
        default=None,
        help="run only these parts; print them, write no result file",
    )
    args = ap.parse_args()
    parts = set(args.only or PARTS)
    if args.quick:
        args.rows, args.versions, args.runs = 200_000, 2_000, 1_000
        args.record_runs, args.queries, args.repeat = 200, 50, 2
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench-store-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        res: dict[str, Any] = {"machine": machine_info()}
        if "commit" in parts:
            res["commit"] = bench_commit(args.rows, args.repeat, workdir)
        if "record_run" in parts:
            res["record_run"] = bench_record_run(args.record_runs, workdir)
        if "queries" in parts:
            print(f"building the synthetic store ({args.versions:,} versions)...", flush=True)
            res["synthetic"] = build_synthetic(workdir / "synthetic", args.versions, args.runs)
            print(json.dumps(res["synthetic"]), flush=True)
            res["queries"] = bench_queries(workdir / "synthetic", args.queries)
        if args.only is not None:
            return
        suffix = ".quick" if args.quick else ""
        out = HERE / "results"
        out.mkdir(exist_ok=True)
        (out / f"store{suffix}.json").write_text(json.dumps(res, indent=2) + "\n")
        write_markdown(out / f"store{suffix}.md", res)
        print((out / f"store{suffix}.md").read_text(), flush=True)
    finally:
        if args.workdir is None:
            print(f"removing {workdir}...", flush=True)
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
