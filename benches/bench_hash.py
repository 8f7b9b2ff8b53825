"""Benchmark ``lineage_fast.hash_table`` against peer hashers on the realistic mixed table.

Usage::

    python benches/bench_hash.py                         # 1M and 10M rows, best of 3
    python benches/bench_hash.py --quick                 # smoke run at 200k rows
    python benches/bench_hash.py --rows 1000000 10000000 20000000 --pandas-max-rows 1000000

Everything is measured in one run, for each row count, on the same table from
``benches/datagen.py`` (``make_table(rows, seed)``; deterministic):

* ``lf_ordered``: ``lf.hash_table(t)`` (all cores); ``lf_unordered``:
  ``lf.hash_table(t, row_order="unordered")``; ``lf_threads1`` / ``lf_threads2``: ordered with
  ``threads=1`` / ``threads=2`` (the speedup is ``threads1 / threads2``). The roots of all
  ordered runs are checked to be equal.
* ``lf_ordered_dups`` / ``lf_unordered_dups``: both row orders over the low-cardinality
  columns only (``qty``, ``flag``, ``category``: 16,000 distinct rows, so every row is one of
  many duplicates that tie on their fingerprints).
* ``polars``: ``pl.from_arrow(t).hash_rows()``; the conversion is done once, outside the timing.
* ``duckdb``: ``SELECT sum(hash("c1", "c2", ...)) FROM t`` over every column of the registered
  Arrow table (``--duckdb-materialise sum``, the default: every row is hashed, the result is
  reduced to one HUGEINT), or ``SELECT hash(...) FROM t`` fetched as an Arrow table
  (``--duckdb-materialise arrow``). The Arrow scan is inside the timing (it cannot be
  separated); registration is not.
* ``pandas``: ``pd.util.hash_pandas_object(df, index=False)`` on ``t.to_pandas()`` (conversion
  outside the timing). Skipped above ``--pandas-max-rows``; the pandas / lf ratio is reported
  at every size where pandas ran.
* ``blake3_raw``: BLAKE3 (``max_threads=AUTO``) over every Arrow buffer of every chunk of every
  column (validity, offsets, data; for dictionary columns the index buffers and the
  dictionary's own buffers, per chunk). A lower bound for "hash the bytes", with no layout
  independence at all.
* ``parquet_md5`` (what DVC does): the table is written as Parquet (pyarrow defaults, snappy)
  to a temp file; only the md5 (hashlib, 1 MiB reads, file in page cache) of the file bytes is
  timed as ``parquet_md5``; the write is reported separately as ``parquet_write``.

Each timing is the best of ``--repeat`` runs, or of more runs while less than ``--min-time``
seconds were timed (at most 50: short hashes are noisy on a shared machine)
(``time.perf_counter``; ``gc.collect()`` before each run). Polars, DuckDB and BLAKE3 use all
cores like ``lf_ordered``; pandas is single-threaded.

Extra memory while hashing (ordered and unordered, all cores): the table is written once to an
Arrow IPC file (cached, see below). For each row order a fresh subprocess memory-maps it
(``pa.ipc.open_file(pa.memory_map(path)).read_all()``), so the table's pages are file-backed
and are not allocations of the hasher; it touches one byte of every page of every buffer so the
table is resident, hashes a tiny table once (thread pool start-up), then resets the peak RSS by
writing ``5`` to ``/proc/self/clear_refs`` (Linux >= 4.0; if that fails, the peak is left as
is), and reads ``VmRSS`` / ``VmHWM`` from ``/proc/self/status``. It then runs
``lf.hash_table`` and reads ``VmHWM`` again. ``extra = VmHWM_after - VmRSS_before`` (an upper
bound on the hasher's peak extra resident memory, exact when the reset worked) is compared with
the budget ``40 B/row + 64 MiB``. ``ru_maxrss`` is recorded too, for reference.

Tables are cached as Arrow IPC files under ``--cache-dir`` (default
``$TMPDIR/lineage_fast_bench``), keyed by row count, seed and a digest of ``datagen.py``; the
timed runs use an in-memory copy read from that file (same chunking: one batch per 1M rows).

Results go to ``--out`` (JSON, default ``benches/results/hash.json``) and ``--md`` (markdown,
default: ``--out`` with a ``.md`` suffix). With ``--quick`` and no explicit ``--out``, they go
to ``hash.quick.json`` / ``hash.quick.md`` so a smoke run does not overwrite real results.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import hashlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import lineage_fast as lf  # noqa: E402
from datagen import make_table  # noqa: E402

MIB = 1024 * 1024
BUDGET_BYTES_PER_ROW = 40
BUDGET_FIXED = 64 * MIB
QUICK_ROWS = 200_000
# Columns whose rows repeat (16,000 distinct rows at any size): the duplicate-heavy case of the
# unordered identity, where rows tie on their fingerprints.
DUPLICATE_COLUMNS = ("qty", "flag", "category")

# The start of every memory probe (benches/bench_diff.py too): imports, the process's memory
# counters (status) and the buffers of an array, to touch them (buffers).
PROBE_PRELUDE = r"""
import json, resource, sys
import numpy as np
import pyarrow as pa
import lineage_fast as lf

def status():
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
                out[key] = int(value.split()[0]) * 1024
    return out

def buffers(arr):
    yield from arr.buffers()
    if isinstance(arr, pa.DictionaryArray):
        yield from arr.dictionary.buffers()
"""

# Run in a fresh interpreter: argv = [ipc_path, row_order]; prints one JSON line.
MEMORY_PROBE = (
    PROBE_PRELUDE
    + r"""
path, row_order = sys.argv[1], sys.argv[2]
table = pa.ipc.open_file(pa.memory_map(path)).read_all()
touched = 0
for column in table.columns:
    for chunk in column.chunks:
        for buf in buffers(chunk):
            if buf is not None and buf.size:
                touched += int(np.frombuffer(buf, dtype=np.uint8)[::4096].sum())
lf.hash_table(pa.table({"x": [1, 2, 3]}), row_order=row_order)
try:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    reset = True
except OSError:
    reset = False
before = status()
maxrss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
h = lf.hash_table(table, row_order=row_order)
after = status()
maxrss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
assert h.num_rows == table.num_rows
print(json.dumps({
    "rows": table.num_rows, "row_order": row_order, "peak_reset": reset,
    "rss_before": before["VmRSS"], "hwm_before": before["VmHWM"],
    "rss_file_before": before.get("RssFile"), "rss_anon_before": before.get("RssAnon"),
    "hwm_after": after["VmHWM"], "rss_after": after["VmRSS"],
    "ru_maxrss_before": maxrss_before, "ru_maxrss_after": maxrss_after,
    "root": h.root,
}))
"""
)


# --------------------------------------------------------------------------------------------
# helpers


def cpu_description() -> str:
    """The CPU's name with its family/model numbers and widest vector extension, e.g.
    ``AMD EPYC (family 25 model 17, AVX-512)``: virtual machines often report only the vendor's
    brand, and the ratios to BLAKE3 and to the peers move with the vector width (BLAKE3 and the
    fingerprints use AVX-512 where present)."""
    fields: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if not line.strip():
                    break  # the first processor's block is enough
                key, _, value = line.partition(":")
                fields.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    name = fields.get("model name") or platform.processor() or "unknown"
    flags = set((fields.get("flags") or fields.get("Features") or "").split())
    simd = next(
        (
            label
            for flag, label in (
                ("avx512f", "AVX-512"),
                ("avx2", "AVX2"),
                ("sve", "SVE"),
                ("asimd", "NEON"),
                ("sse4_2", "SSE4.2"),
            )
            if flag in flags
        ),
        None,
    )
    details = []
    if "cpu family" in fields and "model" in fields:
        details.append(f"family {fields['cpu family']} model {fields['model']}")
    if simd:
        details.append(simd)
    return f"{name} ({', '.join(details)})" if details else name


def machine_info() -> dict[str, Any]:
    model = cpu_description()
    versions: dict[str, str] = {"python": platform.python_version(), "pyarrow": pa.__version__}
    versions["lineage_fast"] = lf.__version__
    for mod in ("polars", "duckdb", "pandas", "numpy", "blake3"):
        try:
            versions[mod] = __import__(mod).__version__
        except Exception as exc:  # pragma: no cover - reported, not fatal
            versions[mod] = f"unavailable ({exc})"
    return {
        "cpu_model": model,
        "nproc": os.cpu_count(),
        "affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "platform": platform.platform(),
        "versions": versions,
    }


# Short measurements run again until this many seconds were timed (at most MAX_RUNS runs), so
# that a 20 ms hash at 1M rows is the best of many runs, not of a few noisy ones. Set by --min-time.
MIN_TIME = 1.0
MAX_RUNS = 50


def best_of(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Return (best wall time in seconds, result of the last call): at least ``repeat`` runs,
    more while fewer than ``MIN_TIME`` seconds were timed (up to ``MAX_RUNS``)."""
    best = float("inf")
    result: Any = None
    runs, spent = 0, 0.0
    while runs < repeat or (spent < MIN_TIME and runs < MAX_RUNS):
        gc.collect()
        start = time.perf_counter()
        result = fn()
        took = time.perf_counter() - start
        best = min(best, took)
        runs += 1
        spent += took
    return best, result


def datagen_digest() -> str:
    return hashlib.sha256((HERE / "datagen.py").read_bytes()).hexdigest()[:12]


def table_file(rows: int, seed: int, cache_dir: Path) -> Path:
    """Path of the cached IPC file for ``rows`` rows, generating it if needed."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = cache_dir / f"table_{rows}_seed{seed}_{datagen_digest()}.arrow"
    if path.exists():
        return path
    table = make_table(rows, seed=seed)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    tmp.replace(path)
    return path


def load_in_memory(path: Path) -> pa.Table:
    with pa.OSFile(str(path), "rb") as source:
        return pa.ipc.open_file(source).read_all()


def array_buffers(arr: pa.Array) -> list[pa.Buffer | None]:
    bufs = list(arr.buffers())
    if isinstance(arr, pa.DictionaryArray):
        bufs.extend(array_buffers(arr.dictionary))
    return bufs


def blake3_raw(table: pa.Table) -> str:
    import blake3

    hasher = blake3.blake3(max_threads=blake3.blake3.AUTO)
    for column in table.columns:
        for chunk in column.chunks:
            for buf in array_buffers(chunk):
                if buf is not None:
                    hasher.update(buf)
    return hasher.hexdigest()


def file_md5(path: str) -> str:
    md5 = hashlib.md5()
    with open(path, "rb") as f:
        while block := f.read(MIB):
            md5.update(block)
    return md5.hexdigest()


def measure_memory(path: Path, row_order: str) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-c", MEMORY_PROBE, str(path), row_order],
        check=True,
        capture_output=True,
        text=True,
    )
    res: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    rows = res["rows"]
    extra = res["hwm_after"] - res["rss_before"]
    budget = BUDGET_BYTES_PER_ROW * rows + BUDGET_FIXED
    res.update(
        extra_bytes=extra,
        extra_bytes_lower=max(0, res["hwm_after"] - res["hwm_before"]),
        bytes_per_row=extra / rows if rows else None,
        budget_bytes=budget,
        within_budget=extra <= budget,
    )
    return res


# --------------------------------------------------------------------------------------------
# one size


def time_all(
    table: pa.Table,
    args: argparse.Namespace,
    workdir: Path,
    info: dict[str, Any],
    log: Callable[[str], None],
) -> tuple[dict[str, float | None], str]:
    """Time every hasher on ``table``; return (times, ordered lf root)."""
    import duckdb
    import pandas as pd
    import polars as pl

    rows = table.num_rows
    times: dict[str, float | None] = {}
    r = args.repeat

    times["lf_ordered"], h = best_of(lambda: lf.hash_table(table), r)
    assert h.num_rows == rows
    root = h.root
    info["lf_root_ordered"] = root
    times["lf_unordered"], hu = best_of(lambda: lf.hash_table(table, row_order="unordered"), r)
    info["lf_root_unordered"] = hu.root
    dups = table.select(list(DUPLICATE_COLUMNS))
    times["lf_ordered_dups"], _ = best_of(lambda: lf.hash_table(dups), r)
    times["lf_unordered_dups"], _ = best_of(lambda: lf.hash_table(dups, row_order="unordered"), r)
    times["lf_threads1"], h1 = best_of(lambda: lf.hash_table(table, threads=1), r)
    times["lf_threads2"], h2 = best_of(lambda: lf.hash_table(table, threads=2), r)
    if not h1.root == h2.root == root:
        raise AssertionError(f"root depends on threads: {h1.root} {h2.root} {root}")
    log(
        f"lf ordered {times['lf_ordered']:.3f}s, unordered {times['lf_unordered']:.3f}s, "
        f"1 thread {times['lf_threads1']:.3f}s, 2 threads {times['lf_threads2']:.3f}s"
    )

    df_pl = pl.from_arrow(table)
    times["polars"], _ = best_of(df_pl.hash_rows, r)
    del df_pl
    log(f"polars {times['polars']:.3f}s")

    con = duckdb.connect()
    con.register("t", table)
    cols = ", ".join('"' + c.replace('"', '""') + '"' for c in table.column_names)
    if args.duckdb_materialise == "sum":
        sql = f"SELECT sum(hash({cols})) FROM t"
        times["duckdb"], _ = best_of(lambda: con.execute(sql).fetchone(), r)
    else:
        sql = f"SELECT hash({cols}) AS h FROM t"
        # DuckDB >= 2 names it to_arrow_table; older releases fetch_arrow_table.
        to_arrow = "to_arrow_table" if hasattr(con, "to_arrow_table") else "fetch_arrow_table"
        times["duckdb"], _ = best_of(lambda: getattr(con.execute(sql), to_arrow)(), r)
    con.close()
    info["duckdb_sql"] = sql
    log(f"duckdb {times['duckdb']:.3f}s")

    if rows <= args.pandas_max_rows:
        df_pd = table.to_pandas()
        times["pandas"], _ = best_of(lambda: pd.util.hash_pandas_object(df_pd, index=False), r)
        del df_pd
        log(f"pandas {times['pandas']:.3f}s")
    else:
        times["pandas"] = None
        log(f"pandas skipped (rows > --pandas-max-rows={args.pandas_max_rows:,})")

    times["blake3_raw"], _ = best_of(lambda: blake3_raw(table), r)
    info["raw_buffer_bytes"] = sum(
        buf.size
        for column in table.columns
        for chunk in column.chunks
        for buf in array_buffers(chunk)
        if buf is not None
    )
    log(f"blake3_raw {times['blake3_raw']:.3f}s")

    pq_path = str(workdir / f"table_{rows}.parquet")
    times["parquet_write"], _ = best_of(lambda: pq.write_table(table, pq_path), r)
    times["parquet_md5"], _ = best_of(lambda: file_md5(pq_path), r)
    info["parquet_bytes"] = os.path.getsize(pq_path)
    os.remove(pq_path)
    log(f"parquet write {times['parquet_write']:.3f}s, md5 {times['parquet_md5']:.3f}s")

    return times, root


def bench_size(rows: int, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    log = lambda msg: print(f"  [{rows:,}] {msg}", flush=True)  # noqa: E731
    t0 = time.perf_counter()
    path = table_file(rows, args.seed, args.cache_dir)
    table = load_in_memory(path)
    assert table.num_rows == rows
    log(
        f"table ready in {time.perf_counter() - t0:.1f}s: {table.nbytes / MIB:.0f} MiB, "
        f"{table.column('id').num_chunks} chunks ({path})"
    )
    info: dict[str, Any] = {"table_bytes": table.nbytes, "ipc_file": str(path)}
    times, root = time_all(table, args, workdir, info, log)
    del table
    gc.collect()

    memory: dict[str, Any] = {}
    if not args.no_memory:
        for order in ("ordered", "unordered"):
            memory[order] = m = measure_memory(path, order)
            log(
                f"memory {order}: +{m['extra_bytes'] / MIB:.1f} MiB "
                f"({m['bytes_per_row']:.1f} B/row), budget {m['budget_bytes'] / MIB:.1f} MiB "
                f"-> {'OK' if m['within_budget'] else 'OVER'}"
            )
        if memory["ordered"]["root"] != root:
            raise AssertionError("memory-mapped table hashed to a different root")

    def ratio(a: str, b: str) -> float | None:
        x, y = times.get(a), times.get(b)
        return x / y if x is not None and y else None

    ratios = {
        "lf_ordered/polars": ratio("lf_ordered", "polars"),
        "lf_ordered/duckdb": ratio("lf_ordered", "duckdb"),
        "lf_ordered/blake3_raw": ratio("lf_ordered", "blake3_raw"),
        "lf_ordered/parquet_md5": ratio("lf_ordered", "parquet_md5"),
        "pandas/lf_ordered": ratio("pandas", "lf_ordered"),
        "lf_unordered/lf_ordered": ratio("lf_unordered", "lf_ordered"),
        "dups unordered/ordered": ratio("lf_unordered_dups", "lf_ordered_dups"),
        "threads1/threads2": ratio("lf_threads1", "lf_threads2"),
    }
    return {
        "rows": rows,
        "times_s": times,
        "ratios": ratios,
        "throughput_rows_per_s": {
            k: rows / v for k, v in times.items() if v and k.startswith("lf_")
        },
        "memory": memory,
        "info": info,
    }


# --------------------------------------------------------------------------------------------
# reporting

TIME_ROWS = [
    ("lf_ordered", "lf ordered (all threads)"),
    ("lf_unordered", "lf unordered (all threads)"),
    ("lf_ordered_dups", "lf ordered, duplicate-heavy columns"),
    ("lf_unordered_dups", "lf unordered, duplicate-heavy columns"),
    ("lf_threads1", "lf ordered, threads=1"),
    ("lf_threads2", "lf ordered, threads=2"),
    ("polars", "polars hash_rows"),
    ("duckdb", "duckdb hash(all cols)"),
    ("pandas", "pandas hash_pandas_object"),
    ("blake3_raw", "blake3 raw Arrow buffers"),
    ("parquet_md5", "md5 of Parquet file (DVC)"),
    ("parquet_write", "  (Parquet write, not hashing)"),
]
RATIO_ROWS = [
    ("lf_ordered/polars", "lf ordered / polars (time)"),
    ("lf_ordered/duckdb", "lf ordered / duckdb (time)"),
    ("lf_ordered/blake3_raw", "lf ordered / blake3 raw (time)"),
    ("lf_ordered/parquet_md5", "lf ordered / parquet md5 (time)"),
    ("pandas/lf_ordered", "pandas / lf ordered (speedup)"),
    ("lf_unordered/lf_ordered", "lf unordered / ordered (time)"),
    ("dups unordered/ordered", "  same, duplicate-heavy columns"),
    ("threads1/threads2", "2-thread speedup (t1 / t2)"),
]


def fmt_s(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3f} s"


def fmt_x(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.2f}x"


def report_rows(results: list[dict[str, Any]]) -> list[tuple[str, list[str]]]:
    """(label, cells per size) rows shared by the stdout and markdown reports."""
    out: list[tuple[str, list[str]]] = []
    out.append(("**Time (best of repeat)**", ["" for _ in results]))
    for key, label in TIME_ROWS:
        out.append((label, [fmt_s(r["times_s"].get(key)) for r in results]))
    out.append(("**Ratios**", ["" for _ in results]))
    for key, label in RATIO_ROWS:
        out.append((label, [fmt_x(r["ratios"].get(key)) for r in results]))
    out.append(("**Throughput**", ["" for _ in results]))
    base = results[0]["throughput_rows_per_s"]["lf_ordered"]
    out.append(
        (
            "lf ordered rows/s",
            [f"{r['throughput_rows_per_s']['lf_ordered'] / 1e6:.2f} M/s" for r in results],
        )
    )
    out.append(
        (
            f"vs {results[0]['rows']:,} rows",
            [
                f"{(r['throughput_rows_per_s']['lf_ordered'] / base - 1) * 100:+.1f}%"
                + ("" if abs(r["throughput_rows_per_s"]["lf_ordered"] / base - 1) <= 0.2 else " !")
                for r in results
            ],
        )
    )
    if any(r["memory"] for r in results):
        out.append(("**Extra peak RSS while hashing**", ["" for _ in results]))
        for order in ("ordered", "unordered"):
            cells = []
            for r in results:
                m = r["memory"].get(order)
                if not m:
                    cells.append("n/a")
                    continue
                cells.append(
                    f"{m['extra_bytes'] / MIB:.1f} MiB = {m['bytes_per_row']:.1f} B/row "
                    f"({'OK' if m['within_budget'] else 'OVER'} <= "
                    f"{m['budget_bytes'] / MIB:.0f} MiB)"
                )
            out.append((f"lf {order}", cells))
    out.append(("**Table**", ["" for _ in results]))
    out.append(
        ("in-memory Arrow size", [f"{r['info']['table_bytes'] / MIB:.0f} MiB" for r in results])
    )
    out.append(
        ("Parquet file size", [f"{r['info']['parquet_bytes'] / MIB:.0f} MiB" for r in results])
    )
    return out


def summary_lines(results: list[dict[str, Any]]) -> list[str]:
    """Plain-language conclusions: throughput scaling, pandas ratio, memory budget."""
    out = []
    first, last = results[0], results[-1]
    tp0 = first["throughput_rows_per_s"]["lf_ordered"]
    tp1 = last["throughput_rows_per_s"]["lf_ordered"]
    if len(results) > 1:
        change = tp1 / tp0 - 1
        out.append(
            f"lf ordered throughput {tp0 / 1e6:.2f} M rows/s at {first['rows']:,} rows -> "
            f"{tp1 / 1e6:.2f} M rows/s at {last['rows']:,} rows ({change * 100:+.1f}%, "
            f"{'within' if abs(change) <= 0.2 else 'NOT within'} 20%)"
        )
    pandas = [r for r in results if r["ratios"]["pandas/lf_ordered"] is not None]
    if pandas:
        out.append(
            "pandas / lf ordered (measured): "
            + ", ".join(f"{r['ratios']['pandas/lf_ordered']:.1f}x at {r['rows']:,}" for r in pandas)
        )
    skipped = [f"{r['rows']:,}" for r in results if r["ratios"]["pandas/lf_ordered"] is None]
    if skipped:
        out.append(f"pandas skipped at {', '.join(skipped)} rows (--pandas-max-rows)")
    mem = [
        f"{order} {m['bytes_per_row']:.1f} B/row at {r['rows']:,} "
        f"({'OK' if m['within_budget'] else 'OVER'})"
        for r in results
        for order, m in r["memory"].items()
    ]
    if mem:
        out.append(
            f"extra peak RSS vs budget {BUDGET_BYTES_PER_ROW} B/row + {BUDGET_FIXED // MIB} MiB: "
            + "; ".join(mem)
        )
    return out


def header_lines(meta: dict[str, Any]) -> list[str]:
    m = meta["machine"]
    v = m["versions"]
    return [
        f"Machine: {m['cpu_model']}, nproc={m['nproc']} (affinity {m['affinity']}), "
        f"{m['platform']}",
        "Versions: " + ", ".join(f"{k} {val}" for k, val in v.items()),
        f"Date: {meta['date']}; repeat={meta['repeat']} (best; more runs until "
        f"{meta.get('min_time', 0)} s timed, at most {MAX_RUNS}); seed={meta['seed']}; "
        f"DuckDB materialisation: {meta['duckdb_materialise']}; "
        f"pandas max rows: {meta['pandas_max_rows']:,}",
    ]


def print_report(meta: dict[str, Any], results: list[dict[str, Any]]) -> None:
    rows = report_rows(results)
    heads = [f"{r['rows']:,} rows" for r in results]
    w0 = max(len(label.strip("*")) for label, _ in rows)
    widths = [max(len(h), *(len(c[i]) for _, c in rows)) for i, h in enumerate(heads)]
    print()
    for line in header_lines(meta):
        print(line)
    print()
    print(" " * w0 + "  " + "  ".join(h.rjust(w) for h, w in zip(heads, widths, strict=True)))
    for label, cells in rows:
        if label.startswith("**"):
            print(label.strip("*"))
            continue
        line = label.ljust(w0) + "  "
        line += "  ".join(c.rjust(w) for c, w in zip(cells, widths, strict=True))
        print(line)
    print()
    for line in summary_lines(results):
        print(line)
    print()
    for note in meta["notes"].values():
        print(note)


def markdown(meta: dict[str, Any], results: list[dict[str, Any]]) -> str:
    lines = ["# lineage_fast hash benchmark", ""]
    lines += [f"- {line}" for line in header_lines(meta)]
    lines += [f"- {note}" for note in meta["notes"].values()]
    lines += ["", "| | " + " | ".join(f"{r['rows']:,} rows" for r in results) + " |"]
    lines.append("|---|" + "---:|" * len(results))
    for label, cells in report_rows(results):
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines.append("")
    lines += [f"- {line}" for line in summary_lines(results)]
    lines.append("")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    p.add_argument("--repeat", type=int, default=3, help="runs per measurement; best is kept")
    p.add_argument(
        "--min-time",
        type=float,
        default=MIN_TIME,
        help=f"more runs (up to {MAX_RUNS}) while less than this many seconds were timed",
    )
    p.add_argument("--quick", action="store_true", help=f"smoke run at {QUICK_ROWS:,} rows")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--out", type=Path, default=None, help="JSON output")
    p.add_argument("--md", type=Path, default=None, help="markdown output")
    p.add_argument("--pandas-max-rows", type=int, default=10_000_000)
    p.add_argument("--duckdb-materialise", choices=["sum", "arrow"], default="sum")
    p.add_argument(
        "--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "lineage_fast_bench"
    )
    p.add_argument("--no-memory", action="store_true", help="skip the peak-RSS subprocesses")
    args = p.parse_args(argv)
    if args.quick:
        args.rows = [QUICK_ROWS]
    args.rows = sorted(set(args.rows))
    if args.repeat < 1 or min(args.rows) < 1:
        p.error("--repeat and --rows must be >= 1")
    if args.min_time < 0:
        p.error("--min-time must be >= 0")
    if args.out is None:
        name = "hash.quick.json" if args.quick else "hash.json"
        args.out = HERE / "results" / name
    if args.md is None:
        args.md = args.out.with_suffix(".md")
    return args


def main(argv: list[str] | None = None) -> int:
    global MIN_TIME
    args = parse_args(argv)
    MIN_TIME = args.min_time
    meta: dict[str, Any] = {
        "machine": machine_info(),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "rows": args.rows,
        "repeat": args.repeat,
        "min_time": args.min_time,
        "seed": args.seed,
        "pandas_max_rows": args.pandas_max_rows,
        "duckdb_materialise": args.duckdb_materialise,
        "notes": {
            "duckdb": (
                "DuckDB: "
                + (
                    "SELECT sum(hash(<all columns>)) FROM t (hash every row, reduce to one value)"
                    if args.duckdb_materialise == "sum"
                    else "SELECT hash(<all columns>) FROM t fetched as an Arrow table"
                )
                + "; Arrow scan included, registration excluded."
            ),
            "memory": (
                "Memory: fresh subprocess, table memory-mapped from an Arrow IPC file and "
                "touched, peak RSS reset (/proc/self/clear_refs), extra = VmHWM after hashing "
                f"- VmRSS before; budget {BUDGET_BYTES_PER_ROW} B/row + "
                f"{BUDGET_FIXED // MIB} MiB."
            ),
            "peers": (
                "polars/pandas conversions excluded from timing; parquet_md5 times only md5 of "
                "the file bytes (file in page cache); BLAKE3 raw hashes every Arrow buffer incl. "
                "dictionaries."
            ),
        },
    }
    m = meta["machine"]
    print(f"Machine: {m['cpu_model']}, nproc={m['nproc']}; rows={args.rows}, repeat={args.repeat}")
    lf.hash_table(pa.table({"x": [1, 2, 3]}))  # start the thread pool outside any timing
    results = []
    with tempfile.TemporaryDirectory(prefix="lf_bench_") as tmp:
        for rows in args.rows:
            results.append(bench_size(rows, args, Path(tmp)))
    meta["summary"] = summary_lines(results)
    print_report(meta, results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"meta": meta, "results": results}, indent=2) + "\n")
    args.md.parent.mkdir(parents=True, exist_ok=True)
    args.md.write_text(markdown(meta, results))
    print(f"\nwrote {args.out} and {args.md}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
