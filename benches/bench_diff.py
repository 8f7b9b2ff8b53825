"""Benchmark ``lineage_fast.diff`` against peer diffs (DuckDB, polars, datacompy) — issue 3 targets.

Usage::

    python benches/bench_diff.py                 # 10M rows (datacompy at 1M), median of 5
    python benches/bench_diff.py --quick         # everything at 1M rows, median of 3
    python benches/bench_diff.py --rows 2000000 --datacompy-rows 500000 --repeat 7

Everything is measured in one run.

Versions (deterministic; cached as Arrow IPC files under ``--cache-dir``, like ``bench_hash.py``):

* ``old``: ``make_table(rows, seed)`` from ``benches/datagen.py`` (its ``id`` column is unique:
  ``0..rows-1``).
* ``new`` ("1% pair"): ``old`` with 0.5% of the rows updated (1 or 2 random non-key columns per
  row; every updated cell really changes: ``qty``/``ts``/``maybe`` +1 (a null ``maybe`` becomes
  7), ``price`` +0.01, ``flag`` negated, ``name`` upper-cased, ``category`` next category),
  0.25% deleted and 0.25% inserted. Inserted rows come from ``make_table(n, seed + 1)`` with new
  ids ``rows..``, placed at **random positions** (not appended); row order is otherwise kept.
  Updated, deleted and inserted rows are drawn uniformly at random (disjoint).
* ``new10`` ("10-row pair"): ``old`` with 10 cells changed, in 10 random rows, one random
  non-key column each (only the Arrow chunks holding them are rebuilt).

Measurements (``time.perf_counter``; ``gc.collect()`` before each run; each figure is the
**median** of ``--repeat`` runs, the minimum is recorded too; the contenders of one comparison
run **interleaved**, round-robin, so that load from other processes hits them alike):

1. ``lf.diff(old, new, key="id")`` on fresh, never-hashed table objects (``pruned-records`` is
   checked to be 0) vs
   * **DuckDB**: both pyarrow tables registered (zero-copy); one ``FULL OUTER JOIN ... ON
     o.id = n.id`` that keeps the rows where a side is missing or any column ``IS DISTINCT
     FROM`` its counterpart, and returns the key, ``_added``/``_removed`` flags, one
     ``<col>_changed`` flag per compared column and ``<col>_old``/``<col>_new`` values, fetched
     as an Arrow table (materialised). Arrow scan inside the timing, registration outside.
   * **polars**: the same on ``pl.from_arrow`` frames (conversion outside the timing, reported
     separately): lazy ``join(how="full", coalesce=False)`` on ``id``, flags via
     ``ne_missing``, filter on any flag, ``collect()``.
   The peers' added/deleted/changed counts and per-column counts are checked against lf's
   summary (a mismatch fails the run and prints both).
2. **datacompy** (``PandasCompare(df1, df2, join_columns="id")`` + ``report()`` +
   ``all_mismatch()``, on ``to_pandas()`` frames converted outside the timing) vs ``lf.diff`` at
   ``--datacompy-rows`` (default 1M), interleaved. Its counts are checked too.
3. Extra memory of ``lf.diff`` on the 1% pair: a fresh subprocess memory-maps both IPC files,
   touches every page (file-backed, resident), runs a tiny diff (thread-pool start-up), resets
   the peak RSS (``/proc/self/clear_refs``), then diffs. ``extra = VmHWM after - VmRSS before``
   (includes the result tables), reported per input row (rows of old + rows of new) and per row
   of one side.
4. Pruning on the 10-row pair: ``diff(key="id", old_hash=, new_hash=)`` vs ``diff(key="id")`` on
   fresh never-hashed objects (pruning impossible). ``lf.hash_table`` of each version is timed
   too, and "hash both + diff" is reported.
5. Already hashed vs raw: the same two diffs on the 1% pair (its edits land in nearly every
   content-defined chunk of ~10k rows, so almost nothing can be pruned).

Results go to ``--out`` (default ``benches/results/diff.json``, ``diff.quick.json`` with
``--quick``) and the markdown next to it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import hashlib
import inspect
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import lineage_fast as lf  # noqa: E402
from bench_hash import (  # noqa: E402
    MIB,
    PROBE_PRELUDE,
    datagen_digest,
    load_in_memory,
    machine_info,
    table_file,
)
from datagen import make_table  # noqa: E402

KEY = "id"
UPDATE_FRAC = 0.005
DELETE_FRAC = 0.0025
INSERT_FRAC = 0.0025
SMALL_EDITS = 10
BATCH_ROWS = 1_000_000
QUICK_ROWS = 1_000_000

TARGETS = {
    "lf/duckdb": ("<=", 0.25),
    "lf/polars": ("<=", 0.2),
    "datacompy/lf": (">=", 50.0),
    "bytes_per_input_row": ("<=", 64.0),
    "pruning_speedup_10rows": (">=", 10.0),
    "hashed_speedup_10rows": (">=", 2.0),
    "hashed_speedup_1pct": (">=", 2.0),
}

# Run in a fresh interpreter: argv = [old_ipc, new_ipc]; prints one JSON line.
MEMORY_PROBE = (
    PROBE_PRELUDE
    + r"""
tables = [pa.ipc.open_file(pa.memory_map(p)).read_all() for p in sys.argv[1:3]]
touched = 0
for table in tables:
    for column in table.columns:
        for chunk in column.chunks:
            for buf in buffers(chunk):
                if buf is not None and buf.size:
                    touched += int(np.frombuffer(buf, dtype=np.uint8)[::4096].sum())
tiny = pa.table({"id": [1, 2, 3], "x": [1, 2, 3]})
lf.diff(tiny, tiny.slice(1), key="id")
try:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    reset = True
except OSError:
    reset = False
before = status()
d = lf.diff(tables[0], tables[1], key="id")
after = status()
s = d.summary
print(json.dumps({
    "old_rows": tables[0].num_rows, "new_rows": tables[1].num_rows, "peak_reset": reset,
    "rss_before": before["VmRSS"], "hwm_before": before["VmHWM"],
    "rss_file_before": before.get("RssFile"), "rss_anon_before": before.get("RssAnon"),
    "hwm_after": after["VmHWM"], "rss_after": after["VmRSS"],
    "ru_maxrss_after": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    "result_bytes": d.added.nbytes + d.removed.nbytes + d.changed.nbytes,
    "counts": [s["added-records"], s["deleted-records"], s["changed-records"]],
}))
"""
)


# --------------------------------------------------------------------------------------------
# versions


def edit_cells(arr: pa.Array, column: str, rows: np.ndarray) -> pa.Array:
    """``arr`` with the values at ``rows`` replaced by different values (see module docstring)."""
    n = len(arr)
    if column == "name":
        mask = np.zeros(n, dtype=bool)
        mask[rows] = True
        return pc.if_else(pa.array(mask), pc.utf8_upper(arr), arr)
    if column == "category":
        assert isinstance(arr, pa.DictionaryArray)
        codes = arr.indices.to_numpy().copy()
        codes[rows] = (codes[rows] + 1) % len(arr.dictionary)
        return pa.DictionaryArray.from_arrays(pa.array(codes), arr.dictionary)
    if column == "maybe":
        valid = arr.is_valid().to_numpy(zero_copy_only=False)
        vals = pc.fill_null(arr, 0).to_numpy().copy()
        vals[rows] = np.where(valid[rows], vals[rows] + 1, 7)
        valid[rows] = True
        return pa.array(vals, mask=~valid)
    if column == "flag":
        vals = arr.to_numpy(zero_copy_only=False).copy()
        vals[rows] = ~vals[rows]
        return pa.array(vals)
    if column == "ts":
        vals = arr.cast(pa.int64()).to_numpy().copy()
        vals[rows] += 1
        return pa.array(vals).cast(arr.type)
    vals = arr.to_numpy().copy()
    vals[rows] += 0.01 if column == "price" else 1
    return pa.array(vals, arr.type)


def apply_edits(table: pa.Table, edits: dict[str, np.ndarray]) -> pa.Table:
    """``table`` with cells changed: column -> sorted global row numbers. Only the Arrow chunks
    that hold an edited row are rebuilt; the others are shared."""
    for column, rows in edits.items():
        if not len(rows):
            continue
        chunked = table.column(column)
        chunks, start = [], 0
        for chunk in chunked.chunks:
            stop = start + len(chunk)
            lo, hi = np.searchsorted(rows, [start, stop])
            chunks.append(chunk if lo == hi else edit_cells(chunk, column, rows[lo:hi] - start))
            start = stop
        idx = table.schema.get_field_index(column)
        table = table.set_column(idx, table.field(column), pa.chunked_array(chunks, chunked.type))
    return table


def make_new_1pct(old: pa.Table, seed: int) -> tuple[pa.Table, dict[str, Any]]:
    """The 1% version of ``old``: updates, deletes, inserts at random positions (order kept)."""
    rng = np.random.default_rng(seed + 1000)
    n = old.num_rows
    cols = [c for c in old.column_names if c != KEY]
    n_upd, n_del, n_ins = round(n * UPDATE_FRAC), round(n * DELETE_FRAC), round(n * INSERT_FRAC)
    picked = rng.choice(n, n_upd + n_del, replace=False)
    upd, dele = np.sort(picked[:n_upd]), np.sort(picked[n_upd:])
    # 1 or 2 distinct columns per updated row
    first = rng.integers(0, len(cols), n_upd)
    second = (first + rng.integers(1, len(cols), n_upd)) % len(cols)
    two = rng.random(n_upd) < 0.5
    edits = {}
    per_col = {}
    for i, c in enumerate(cols):
        rows = np.sort(np.concatenate([upd[first == i], upd[two & (second == i)]]))
        edits[c] = rows
        per_col[c] = len(rows)
    edited = apply_edits(old, edits)
    keep = np.ones(n, dtype=bool)
    keep[dele] = False
    kept = edited.filter(pa.array(keep))
    ins = make_table(n_ins, seed=seed + 1) if n_ins else old.slice(0, 0)
    ins = ins.set_column(0, KEY, pa.array(np.arange(n, n + n_ins, dtype=np.int64)))
    both = pa.concat_tables([kept, ins]).unify_dictionaries()
    m = kept.num_rows + n_ins
    is_ins = np.zeros(m, dtype=bool)
    is_ins[rng.choice(m, n_ins, replace=False)] = True
    order = np.empty(m, dtype=np.int64)
    order[~is_ins] = np.arange(kept.num_rows)
    order[is_ins] = kept.num_rows + np.arange(n_ins)
    new = both.take(pa.array(order)).combine_chunks()
    new = pa.Table.from_batches(new.to_batches(max_chunksize=BATCH_ROWS))
    expected = {"added": n_ins, "deleted": n_del, "changed": n_upd, "columns": per_col}
    return new, expected


def make_new_small(old: pa.Table, seed: int, n_edits: int = SMALL_EDITS) -> tuple[pa.Table, dict]:
    """``old`` with ``n_edits`` cells changed in ``n_edits`` random rows."""
    rng = np.random.default_rng(seed + 2000)
    cols = [c for c in old.column_names if c != KEY]
    rows = np.sort(rng.choice(old.num_rows, n_edits, replace=False))
    which = rng.integers(0, len(cols), n_edits)
    edits = {c: rows[which == i] for i, c in enumerate(cols)}
    expected = {"added": 0, "deleted": 0, "changed": n_edits, "rows": rows.tolist()}
    return apply_edits(old, edits), expected


def generator_digest() -> str:
    src = "".join(inspect.getsource(f) for f in (edit_cells, apply_edits, make_new_1pct))
    src += repr((UPDATE_FRAC, DELETE_FRAC, INSERT_FRAC, BATCH_ROWS))
    return hashlib.sha256(src.encode()).hexdigest()[:8]


def new_file(rows: int, seed: int, cache_dir: Path) -> tuple[Path, Path]:
    """(IPC path of the 1% version, JSON path of its expected counts), generating if needed."""
    stem = f"diffnew_{rows}_seed{seed}_{datagen_digest()}_{generator_digest()}"
    path, meta = cache_dir / f"{stem}.arrow", cache_dir / f"{stem}.json"
    if path.exists() and meta.exists():
        return path, meta
    old = load_in_memory(table_file(rows, seed, cache_dir))
    new, expected = make_new_1pct(old, seed)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_file(sink, new.schema) as writer:
        writer.write_table(new)
    tmp.replace(path)
    meta.write_text(json.dumps(expected))
    return path, meta


def build_info() -> dict[str, Any]:
    """Which lineage_fast is measured: git HEAD, uncommitted files, the extension's mtime/digest
    (the working tree and the editable install may change while other work goes on)."""
    root = HERE.parent

    def git(*cmd: str) -> str:
        try:
            return subprocess.run(
                ["git", *cmd], cwd=root, capture_output=True, text=True, check=True
            ).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return "unknown"

    info: dict[str, Any] = {
        "git_head": git("rev-parse", "--short", "HEAD"),
        "uncommitted": git("status", "--short", "--untracked-files=no").splitlines(),
    }
    core = Path(lf._core.__file__)
    info["core"] = str(core)
    info["core_mtime"] = dt.datetime.fromtimestamp(core.stat().st_mtime, dt.UTC).isoformat(
        timespec="seconds"
    )
    info["core_sha256"] = hashlib.sha256(core.read_bytes()).hexdigest()[:12]
    py = hashlib.sha256()
    for f in sorted(Path(lf.__file__).parent.glob("*.py")):
        py.update(f.name.encode() + b"\0" + f.read_bytes())
    info["python_sha256"] = py.hexdigest()[:12]
    return info


def same_build(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """The measured code is the same (commits alone do not matter)."""
    return all(a[k] == b[k] for k in ("core_sha256", "python_sha256"))


def fresh(t: pa.Table) -> pa.Table:
    """A new Table object over the same buffers: no hash is remembered for it."""
    out = pa.Table.from_batches(t.to_batches(), t.schema)
    assert lf.cached_hash(out) is None
    return out


# --------------------------------------------------------------------------------------------
# peers


def q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def duckdb_sql(cols: list[str]) -> str:
    sel = [f"coalesce(o.{q(KEY)}, n.{q(KEY)}) AS {q(KEY)}"]
    sel += [f"o.{q(KEY)} IS NULL AS _added", f"n.{q(KEY)} IS NULL AS _removed"]
    dist = [f"o.{q(c)} IS DISTINCT FROM n.{q(c)}" for c in cols]
    sel += [f"{d} AS {q(c + '_changed')}" for d, c in zip(dist, cols, strict=True)]
    for c in cols:
        sel += [f"o.{q(c)} AS {q(c + '_old')}", f"n.{q(c)} AS {q(c + '_new')}"]
    where = " OR ".join([f"o.{q(KEY)} IS NULL", f"n.{q(KEY)} IS NULL", *dist])
    return (
        f"SELECT {', '.join(sel)} FROM o FULL OUTER JOIN n ON o.{q(KEY)} = n.{q(KEY)} WHERE {where}"
    )


def duckdb_fetch(con: Any, sql: str) -> pa.Table:
    rel = con.sql(sql)
    # DuckDB >= 2 names it to_arrow_table; older releases arrow().
    out = rel.to_arrow_table() if hasattr(rel, "to_arrow_table") else rel.arrow()
    return out if isinstance(out, pa.Table) else out.read_all()


def polars_diff(o: Any, n: Any, cols: list[str]) -> Any:
    import polars as pl

    flags = [pl.col(c).ne_missing(pl.col(c + "_new")).alias(c + "_changed") for c in cols]
    return (
        o.lazy()
        .join(n.lazy(), on=KEY, how="full", suffix="_new", coalesce=False)
        .with_columns(
            pl.col(KEY).is_null().alias("_added"),
            pl.col(KEY + "_new").is_null().alias("_removed"),
            *flags,
        )
        .filter(pl.any_horizontal("_added", "_removed", *(c + "_changed" for c in cols)))
        .collect()
    )


def peer_counts(t: pa.Table, cols: list[str]) -> dict[str, Any]:
    """Counts of a DuckDB/polars result (flag columns ``_added``, ``_removed``, ``<c>_changed``)."""
    added = pc.fill_null(t.column("_added"), False)
    removed = pc.fill_null(t.column("_removed"), False)
    matched = pc.invert(pc.or_(added, removed))
    return {
        "added": int(pc.sum(added).as_py() or 0),
        "deleted": int(pc.sum(removed).as_py() or 0),
        "changed": int(pc.sum(matched).as_py() or 0),
        "columns": {
            c: int(pc.sum(pc.and_(matched, t.column(c + "_changed"))).as_py() or 0) for c in cols
        },
    }


def peer_sets(t: pa.Table, cols: list[str]) -> dict[str, list[int]]:
    """Sorted key lists of a DuckDB/polars result: added, deleted, changed and per column."""
    added = pc.fill_null(t.column("_added"), False)
    removed = pc.fill_null(t.column("_removed"), False)
    matched = pc.invert(pc.or_(added, removed))
    ids = t.column(KEY)
    if KEY + "_new" in t.column_names:  # polars (coalesce=False): the key of added rows
        ids = pc.coalesce(ids, t.column(KEY + "_new"))
    out = {
        "added": ids.filter(added),
        "deleted": ids.filter(removed),
        "changed": ids.filter(matched),
    }
    for c in cols:
        out[f"changed:{c}"] = ids.filter(pc.and_(matched, t.column(c + "_changed")))
    return {k: sorted(v.to_pylist()) for k, v in out.items()}


def lf_sets(d: Any, cols: list[str]) -> dict[str, list[int]]:
    """The same key lists from an ``lf.diff`` result (``changed_columns`` exploded)."""
    ids = d.changed.column(KEY)
    lists = d.changed.column("changed_columns").combine_chunks()
    names = pc.list_flatten(lists)
    parent = pc.list_parent_indices(lists)
    out = {
        "added": d.added.column(KEY),
        "deleted": d.removed.column(KEY),
        "changed": ids,
    }
    for c in cols:
        out[f"changed:{c}"] = ids.take(parent.filter(pc.equal(names, c)))
    return {k: sorted(v.to_pylist()) for k, v in out.items()}


def check_sets(name: str, got: dict, want: dict, failures: list[str]) -> None:
    bad = [k for k in want if got.get(k) != want[k]]
    if bad:
        k = bad[0]
        only_peer = sorted(set(got.get(k, [])) - set(want[k]))[:5]
        only_lf = sorted(set(want[k]) - set(got.get(k, [])))[:5]
        msg = (
            f"KEY SET MISMATCH {name} vs lf on {bad}: e.g. {k}: only in {name} {only_peer}, "
            f"only in lf {only_lf}"
        )
        print("  !! " + msg, flush=True)
        failures.append(msg)
    else:
        print(f"  key sets (added, deleted, changed, changed per column) agree: {name}", flush=True)


def lf_counts(d: Any) -> dict[str, Any]:
    s = d.summary
    return {
        "added": s["added-records"],
        "deleted": s["deleted-records"],
        "changed": s["changed-records"],
        "columns": dict(s["columns"]),
    }


def check_counts(name: str, got: dict[str, Any], want: dict[str, Any], failures: list[str]) -> None:
    keys = [k for k in ("added", "deleted", "changed", "columns") if k in got and k in want]
    bad = [k for k in keys if got[k] != want[k]]
    line = f"{name}: " + ", ".join(f"{k}={got[k]}" for k in keys)
    if bad:
        msg = f"COUNT MISMATCH {name} vs lf on {bad}: {name} {got} / lf {want}"
        print("  !! " + msg, flush=True)
        failures.append(msg)
    else:
        print(f"  counts agree with lf: {line}", flush=True)


# --------------------------------------------------------------------------------------------
# timing


def interleaved(fns: dict[str, Callable[[], Any]], repeat: int) -> tuple[dict, dict, dict]:
    """Run every fn ``repeat`` times round-robin; return (median, min, all times) and the results
    of the last round."""
    runs: dict[str, list[float]] = {k: [] for k in fns}
    results: dict[str, Any] = {}
    for _ in range(repeat):
        for name, fn in fns.items():
            results[name] = None
            gc.collect()
            t0 = time.perf_counter()
            results[name] = fn()
            runs[name].append(time.perf_counter() - t0)
    med = {k: statistics.median(v) for k, v in runs.items()}
    return med, {"min": {k: min(v) for k, v in runs.items()}, "runs": runs}, results


def loadavg() -> list[float]:
    return list(os.getloadavg())


def measure_memory(old_path: Path, new_path: Path) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-c", MEMORY_PROBE, str(old_path), str(new_path)],
        check=True,
        capture_output=True,
        text=True,
    )
    res: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    extra = res["hwm_after"] - res["rss_before"]
    res.update(
        extra_bytes=extra,
        bytes_per_input_row=extra / (res["old_rows"] + res["new_rows"]),
        bytes_per_row_one_side=extra / res["old_rows"],
    )
    return res


# --------------------------------------------------------------------------------------------
# the run


class State:
    """The result dict being filled, with helpers to record timings and failures."""

    def __init__(self, rows: int, repeat: int) -> None:
        self.rows, self.repeat = rows, repeat
        self.out: dict[str, Any] = {
            "rows": rows,
            "times_s": {},
            "min_s": {},
            "runs_s": {},
            "counts": {},
            "failures": [],
        }
        self.times: dict[str, float] = self.out["times_s"]
        self.counts: dict[str, Any] = self.out["counts"]
        self.failures: list[str] = self.out["failures"]

    def time(self, fns: dict[str, Callable[[], Any]], repeat: int | None = None) -> dict[str, Any]:
        """Time ``fns`` interleaved; record median/min/all runs; return the last results."""
        med, extra, res = interleaved(fns, repeat or self.repeat)
        for k in med:
            self.times[k] = med[k]
            self.out["min_s"][k] = extra["min"][k]
            self.out["runs_s"][k] = extra["runs"][k]
        return res

    @staticmethod
    def log(msg: str) -> None:
        print(f"  {msg}", flush=True)


def bench_peers(st: State, old: pa.Table, new: pa.Table, expected: dict[str, Any]) -> None:
    """1. lf vs DuckDB vs polars on the 1% pair (interleaved), with count and key-set checks."""
    import duckdb
    import polars as pl

    cols = [c for c in old.column_names if c != KEY]
    lf_old, lf_new = fresh(old), fresh(new)
    con = duckdb.connect()
    con.register("o", old)
    con.register("n", new)
    sql = duckdb_sql(cols)
    st.out["duckdb_sql"] = sql
    t0 = time.perf_counter()
    po, pn = pl.from_arrow(old), pl.from_arrow(new)
    st.times["polars_from_arrow"] = time.perf_counter() - t0
    res = st.time(
        {
            "lf": lambda: lf.diff(lf_old, lf_new, key=KEY),
            "duckdb": lambda: duckdb_fetch(con, sql),
            "polars": lambda: polars_diff(po, pn, cols),
        }
    )
    con.close()
    d, t = res["lf"], st.times
    st.counts["lf"] = lf_counts(d)
    if d.summary["pruned-records"]:
        st.failures.append(f"raw diff pruned {d.summary['pruned-records']} rows (cached hash?)")
    st.log(
        f"lf {t['lf']:.3f}s, duckdb {t['duckdb']:.3f}s, polars {t['polars']:.3f}s "
        f"(median of {st.repeat}); lf summary {st.counts['lf']}"
    )
    exp3 = {k: expected[k] for k in ("added", "deleted", "changed")}
    check_counts("expected", exp3, st.counts["lf"], st.failures)
    check_counts("expected per column", {"columns": expected["columns"]}, st.counts["lf"],
                 st.failures)  # fmt: skip
    duck, pol = res["duckdb"], res["polars"].to_arrow()
    st.counts["duckdb"] = peer_counts(duck, cols)
    check_counts("duckdb", st.counts["duckdb"], st.counts["lf"], st.failures)
    st.counts["polars"] = peer_counts(pol, cols)
    check_counts("polars", st.counts["polars"], st.counts["lf"], st.failures)
    want = lf_sets(d, cols)
    check_sets("duckdb", peer_sets(duck, cols), want, st.failures)
    check_sets("polars", peer_sets(pol, cols), want, st.failures)
    st.out["result_rows"] = {
        "lf_added": d.added.num_rows,
        "lf_removed": d.removed.num_rows,
        "lf_changed": d.changed.num_rows,
        "duckdb": duck.num_rows,
        "polars": pol.num_rows,
    }


def bench_hashed_1pct(st: State, old: pa.Table, new: pa.Table) -> None:
    """5b. Diff with both hashes passed vs raw, on the 1% pair; hashing time of each side."""
    res = st.time(
        {
            "hash_old_1pct": lambda: lf.hash_table(fresh(old)),
            "hash_new_1pct": lambda: lf.hash_table(fresh(new)),
        }
    )
    h_old, h_new = res["hash_old_1pct"], res["hash_new_1pct"]
    lf_old, lf_new = fresh(old), fresh(new)
    res = st.time(
        {
            "lf_hashed_1pct": lambda: lf.diff(old, new, key=KEY, old_hash=h_old, new_hash=h_new),
            "lf_raw_1pct": lambda: lf.diff(lf_old, lf_new, key=KEY),
        }
    )
    t = st.times
    st.out["pruned_1pct"] = res["lf_hashed_1pct"].summary["pruned-records"]
    st.counts["lf_hashed_1pct"] = lf_counts(res["lf_hashed_1pct"])
    st.counts["lf_raw_1pct"] = lf_counts(res["lf_raw_1pct"])
    check_counts("lf with hashes (1%)", st.counts["lf_hashed_1pct"], st.counts["lf"], st.failures)
    check_counts("lf raw again (1%)", st.counts["lf_raw_1pct"], st.counts["lf"], st.failures)
    cd = lf.diff_chunks(h_old, h_new)
    st.out["chunks_1pct"] = {
        "old_chunks": len(h_old.chunks),
        "new_chunks": len(h_new.chunks),
        "shared_chunks": cd.shared_chunks,
        "old_rows_to_check": cd.old_rows_to_check,
    }
    st.log(
        f"1% pair: hash old {t['hash_old_1pct']:.3f}s, new {t['hash_new_1pct']:.3f}s; "
        f"diff with hashes {t['lf_hashed_1pct']:.3f}s (pruned {st.out['pruned_1pct']:,} rows, "
        f"{cd.shared_chunks}/{len(h_new.chunks)} chunks shared), raw {t['lf_raw_1pct']:.3f}s"
    )


def bench_pruning(st: State, old: pa.Table, new10: pa.Table, exp10: dict[str, Any]) -> None:
    """4 / 5a. The 10-row pair: diff with both hashes passed vs raw (pruning impossible)."""
    st.out["expected_10rows"] = exp10
    res = st.time(
        {
            "hash_old_10rows": lambda: lf.hash_table(fresh(old)),
            "hash_new_10rows": lambda: lf.hash_table(fresh(new10)),
        }
    )
    h_old, h_new = res["hash_old_10rows"], res["hash_new_10rows"]
    raw_old, raw_new = fresh(old), fresh(new10)
    res = st.time(
        {
            "lf_hashed_10rows": lambda: lf.diff(
                old, new10, key=KEY, old_hash=h_old, new_hash=h_new
            ),
            "lf_raw_10rows": lambda: lf.diff(raw_old, raw_new, key=KEY),
            # informational: without the duplicate-key probe over the pruned rows
            "lf_hashed_match_10rows": lambda: lf.diff(
                old, new10, key=KEY, old_hash=h_old, new_hash=h_new, duplicate_keys="match"
            ),
        }
    )
    t, f = st.times, st.failures
    dp, dr = res["lf_hashed_10rows"], res["lf_raw_10rows"]
    st.counts["lf_hashed_match_10rows"] = lf_counts(res["lf_hashed_match_10rows"])
    check_counts("lf with hashes, duplicate_keys='match' (10 rows)",
                 st.counts["lf_hashed_match_10rows"], lf_counts(dr), f)  # fmt: skip
    st.out["pruned_10rows"] = dp.summary["pruned-records"]
    st.counts["lf_hashed_10rows"], st.counts["lf_raw_10rows"] = lf_counts(dp), lf_counts(dr)
    if dr.summary["pruned-records"]:
        f.append("raw diff of the 10-row pair pruned rows (a hash was cached)")
    check_counts("expected (10 rows)", exp10, st.counts["lf_raw_10rows"], f)
    check_counts("lf with hashes (10 rows)", st.counts["lf_hashed_10rows"],
                 st.counts["lf_raw_10rows"], f)  # fmt: skip
    for name, dd in (("raw", dr), ("with hashes", dp)):
        got_rows = sorted(dd.changed_rows.column("old_row").to_pylist())
        if got_rows != exp10["rows"]:
            f.append(f"10-row pair ({name}): changed rows {got_rows} != edited {exp10['rows']}")
    # the cache path: hash_table on the very objects, then diff without passing hashes
    c_old, c_new = fresh(old), fresh(new10)
    lf.hash_table(c_old)
    lf.hash_table(c_new)
    t0 = time.perf_counter()
    dc = lf.diff(c_old, c_new, key=KEY)
    t["lf_cached_10rows_once"] = time.perf_counter() - t0
    st.out["pruned_10rows_cached"] = dc.summary["pruned-records"]
    if dc.summary["pruned-records"] != st.out["pruned_10rows"]:
        f.append("diff did not prune with hashes remembered by hash_table")
    t["lf_hash_both_and_diff_10rows"] = (
        t["hash_old_10rows"] + t["hash_new_10rows"] + t["lf_hashed_10rows"]
    )
    st.log(
        f"10-row pair: hash old {t['hash_old_10rows']:.3f}s, new {t['hash_new_10rows']:.3f}s; "
        f"diff with hashes {t['lf_hashed_10rows']:.4f}s (pruned {st.out['pruned_10rows']:,} "
        f"of {st.rows:,} rows), raw {t['lf_raw_10rows']:.3f}s"
    )


def bench_datacompy(st: State, args: argparse.Namespace, rows: int) -> None:
    """2. datacompy vs lf at ``rows`` rows (interleaved), with a count check."""
    import datacompy

    o1 = load_in_memory(table_file(rows, args.seed, args.cache_dir))
    n1 = load_in_memory(new_file(rows, args.seed, args.cache_dir)[0])
    do, dn = o1.to_pandas(), n1.to_pandas()
    lo, ln = fresh(o1), fresh(n1)
    compare_cls = getattr(datacompy, "PandasCompare", None) or datacompy.Compare

    def run_datacompy() -> Any:
        cmp = compare_cls(do, dn, join_columns=KEY)
        cmp.report()
        return cmp, cmp.all_mismatch()

    res = st.time(
        {"lf_datacompy_rows": lambda: lf.diff(lo, ln, key=KEY), "datacompy": run_datacompy},
        args.datacompy_repeat,
    )
    st.counts["lf_datacompy_rows"] = lf_counts(res["lf_datacompy_rows"])
    cmp, mism = res["datacompy"]
    st.counts["datacompy"] = {
        "added": len(cmp.df2_unq_rows),
        "deleted": len(cmp.df1_unq_rows),
        "changed": len(mism),
    }
    st.log(
        f"{rows:,} rows: lf {st.times['lf_datacompy_rows']:.3f}s, datacompy "
        f"{st.times['datacompy']:.3f}s (median of {args.datacompy_repeat})"
    )
    check_counts("datacompy", st.counts["datacompy"], st.counts["lf_datacompy_rows"], st.failures)


def run(args: argparse.Namespace) -> dict[str, Any]:
    import pandas  # noqa: F401  (imported here so its import time is not measured)

    st = State(args.rows, args.repeat)
    t0 = time.perf_counter()
    old_path = table_file(args.rows, args.seed, args.cache_dir)
    new_path, exp_path = new_file(args.rows, args.seed, args.cache_dir)
    old, new = load_in_memory(old_path), load_in_memory(new_path)
    expected = json.loads(exp_path.read_text())
    st.out["expected_1pct"] = expected
    st.log(
        f"1% pair ready in {time.perf_counter() - t0:.1f}s: old {old.num_rows:,} rows, new "
        f"{new.num_rows:,} rows ({old.nbytes / MIB:.0f} + {new.nbytes / MIB:.0f} MiB); "
        f"expected {expected}"
    )
    bench_peers(st, old, new, expected)
    gc.collect()
    bench_hashed_1pct(st, old, new)
    del new
    gc.collect()
    # new10 is built from a second copy of old, so the two versions share no buffers
    new10, exp10 = make_new_small(load_in_memory(old_path), args.seed)
    bench_pruning(st, old, new10, exp10)
    del old, new10
    gc.collect()

    dc_rows = min(args.datacompy_rows, args.rows) if args.quick else args.datacompy_rows
    st.out["datacompy_rows"] = dc_rows
    if dc_rows:
        bench_datacompy(st, args, dc_rows)
        gc.collect()

    if not args.no_memory:
        m = st.out["memory"] = measure_memory(old_path, new_path)
        st.log(
            f"memory: +{m['extra_bytes'] / MIB:.1f} MiB = {m['bytes_per_input_row']:.1f} B per "
            f"input row ({m['bytes_per_row_one_side']:.1f} B per row of one side); result "
            f"tables {m['result_bytes'] / MIB:.1f} MiB"
        )
        if m["counts"] != [st.counts["lf"][k] for k in ("added", "deleted", "changed")]:
            st.failures.append(f"memory probe counts {m['counts']} differ from the timed run")

    times = st.times

    def ratio(a: str, b: str) -> float | None:
        x, y = times.get(a), times.get(b)
        return x / y if x is not None and y else None

    st.out["ratios"] = {
        "lf/duckdb": ratio("lf", "duckdb"),
        "lf/polars": ratio("lf", "polars"),
        "datacompy/lf": ratio("datacompy", "lf_datacompy_rows"),
        "bytes_per_input_row": st.out.get("memory", {}).get("bytes_per_input_row"),
        "pruning_speedup_10rows": ratio("lf_raw_10rows", "lf_hashed_10rows"),
        "hashed_speedup_10rows": ratio("lf_raw_10rows", "lf_hashed_10rows"),
        "hashed_speedup_1pct": ratio("lf_raw_1pct", "lf_hashed_1pct"),
        "hash_both_and_diff/raw_10rows": ratio("lf_hash_both_and_diff_10rows", "lf_raw_10rows"),
    }
    return st.out


# --------------------------------------------------------------------------------------------
# reporting

TARGET_LABELS = {
    "lf/duckdb": "lf diff / DuckDB full-outer-join diff (time, 1% pair)",
    "lf/polars": "lf diff / polars join diff (time, 1% pair)",
    "datacompy/lf": "datacompy / lf diff (speedup, {dc} rows)",
    "bytes_per_input_row": "lf diff extra peak RSS per input row (old + new rows)",
    "pruning_speedup_10rows": "pruning: raw / with hashes (10-row pair)",
    "hashed_speedup_10rows": "already hashed vs raw: raw / hashed (10-row pair)",
    "hashed_speedup_1pct": "already hashed vs raw: raw / hashed (1% pair)",
}

TIME_LABELS = [
    ("lf", "lf.diff(old, new, key='id'), 1% pair"),
    ("duckdb", "DuckDB full outer join diff -> Arrow"),
    ("polars", "polars full join diff (collect)"),
    ("polars_from_arrow", "  (pl.from_arrow of both, once, not timed)"),
    ("lf_raw_1pct", "lf raw, 1% pair (2nd measurement)"),
    ("lf_hashed_1pct", "lf with hashes, 1% pair"),
    ("hash_old_1pct", "lf.hash_table(old)"),
    ("hash_new_1pct", "lf.hash_table(new 1%)"),
    ("lf_raw_10rows", "lf raw, 10-row pair"),
    ("lf_hashed_10rows", "lf with hashes, 10-row pair"),
    ("lf_hashed_match_10rows", "  same, duplicate_keys='match' (info)"),
    ("lf_cached_10rows_once", "lf with remembered hashes, 10-row pair (1 run)"),
    ("hash_new_10rows", "lf.hash_table(new 10-row)"),
    ("lf_hash_both_and_diff_10rows", "hash both + diff with hashes, 10-row pair"),
    ("lf_datacompy_rows", "lf.diff at {dc} rows"),
    ("datacompy", "datacompy PandasCompare+report+all_mismatch at {dc} rows"),
]


def verdict(key: str, value: float | None) -> str:
    if value is None:
        return "n/a"
    op, bound = TARGETS[key]
    ok = value <= bound if op == "<=" else value >= bound
    return "met" if ok else "NOT met"


def fmt_value(key: str, value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:.1f} B" if key.startswith("bytes") else f"{value:.3f}x"


def target_rows(res: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    dc = f"{res['datacompy_rows']:,}"
    return [
        (
            TARGET_LABELS[k].format(dc=dc),
            fmt_value(k, res["ratios"][k]),
            f"{TARGETS[k][0]} {TARGETS[k][1]:g}" + ("" if k.startswith("bytes") else "x"),
            verdict(k, res["ratios"][k]),
        )
        for k in TARGETS
    ]


def time_rows(res: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    dc = f"{res['datacompy_rows']:,}"
    rows = []
    for k, label in TIME_LABELS:
        if k not in res["times_s"]:
            continue
        runs = res["runs_s"].get(k)
        spread = f"{max(runs) / min(runs):.2f}" if runs and min(runs) > 0 else "-"
        mn = res["min_s"].get(k)
        rows.append(
            (
                label.format(dc=dc),
                f"{res['times_s'][k]:.4f} s",
                "-" if mn is None else f"{mn:.4f} s",
                spread,
            )
        )
    return rows


def header_lines(meta: dict[str, Any], res: dict[str, Any]) -> list[str]:
    m = meta["machine"]
    e = res["expected_1pct"]
    b = meta["build"]
    return [
        f"Machine: {m['cpu_model']}, nproc={m['nproc']} (affinity {m['affinity']}), "
        f"{m['platform']}; shared with other jobs",
        "Versions: " + ", ".join(f"{k} {val}" for k, val in m["versions"].items()),
        f"Date: {meta['date']}; rows={res['rows']:,}; repeat={meta['repeat']} "
        f"(median; datacompy {meta['datacompy_repeat']}); seed={meta['seed']}; "
        f"load average at start {meta['load_start']}, at end {meta['load_end']}",
        f"lineage_fast build: HEAD {b['git_head']}"
        + (
            f" + uncommitted {', '.join(x.split()[-1] for x in b['uncommitted'])}"
            if b["uncommitted"]
            else ""
        )
        + f"; _core {b['core_sha256']} built {b['core_mtime']}; python {b['python_sha256']}",
        f"1% pair: {e['changed']:,} rows updated (1-2 columns), {e['deleted']:,} deleted, "
        f"{e['added']:,} inserted at random positions; row order kept. 10-row pair: "
        f"{SMALL_EDITS} cells in {SMALL_EDITS} random rows.",
    ]


def summary_lines(res: dict[str, Any]) -> list[str]:
    c = res["counts"]
    out = [
        "counts (added/deleted/changed): "
        + "; ".join(f"{k} {v['added']}/{v['deleted']}/{v['changed']}" for k, v in c.items()),
        f"pruned rows: 10-row pair {res.get('pruned_10rows', 0):,} of {res['rows']:,}; "
        f"1% pair {res.get('pruned_1pct', 0):,} "
        f"({res['chunks_1pct']['shared_chunks']} of {res['chunks_1pct']['new_chunks']} chunks "
        "shared)",
    ]
    if "memory" in res:
        m = res["memory"]
        out.append(
            f"extra peak RSS of lf.diff (1% pair): {m['extra_bytes'] / MIB:.1f} MiB = "
            f"{m['bytes_per_input_row']:.1f} B per input row, "
            f"{m['bytes_per_row_one_side']:.1f} B per row of one side "
            f"(peak reset: {m['peak_reset']}; result tables {m['result_bytes'] / MIB:.1f} MiB)"
        )
    r = res["ratios"].get("hash_both_and_diff/raw_10rows")
    if r is not None:
        out.append(f"hash both + diff with hashes vs raw diff (10-row pair): {r:.2f}x the time")
    out += [f"FAILURE: {f}" for f in res["failures"]]
    return out


def table_text(heads: list[str], rows: Sequence[tuple[str, ...]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(heads)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(heads, widths, strict=True))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return lines


def md_table(heads: list[str], rows: Sequence[tuple[str, ...]]) -> list[str]:
    lines = ["| " + " | ".join(heads) + " |", "|---|" + "---:|" * (len(heads) - 1)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return lines


T_HEADS = ["target", "measured", "target", "verdict"]
TIME_HEADS = ["timing", "median", "min", "max/min"]


def print_report(meta: dict[str, Any], res: dict[str, Any]) -> None:
    print()
    for line in header_lines(meta, res):
        print(line)
    print()
    for line in table_text(T_HEADS, target_rows(res)):
        print(line)
    print()
    for line in table_text(TIME_HEADS, time_rows(res)):
        print(line)
    print()
    for line in summary_lines(res):
        print(line)
    for note in meta["notes"].values():
        print(note)


def markdown(meta: dict[str, Any], res: dict[str, Any]) -> str:
    lines = ["# lineage_fast diff benchmark", ""]
    lines += [f"- {line}" for line in header_lines(meta, res)]
    lines += [f"- {note}" for note in meta["notes"].values()]
    lines += ["", *md_table(T_HEADS, target_rows(res)), ""]
    lines += [*md_table(TIME_HEADS, time_rows(res)), ""]
    lines += [f"- {line}" for line in summary_lines(res)]
    lines.append("")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--rows", type=int, default=10_000_000)
    p.add_argument("--datacompy-rows", type=int, default=1_000_000, help="0 skips datacompy")
    p.add_argument("--repeat", type=int, default=5, help="runs per measurement; median is kept")
    p.add_argument("--datacompy-repeat", type=int, default=3)
    p.add_argument("--quick", action="store_true", help=f"everything at {QUICK_ROWS:,} rows")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--out", type=Path, default=None, help="JSON output")
    p.add_argument("--md", type=Path, default=None, help="markdown output")
    p.add_argument(
        "--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "lineage_fast_bench"
    )
    p.add_argument("--no-memory", action="store_true", help="skip the peak-RSS subprocess")
    args = p.parse_args(argv)
    if args.quick:
        args.rows = QUICK_ROWS
        args.repeat = min(args.repeat, 3)
        args.datacompy_repeat = min(args.datacompy_repeat, 2)
    if args.repeat < 1 or args.rows < SMALL_EDITS or args.datacompy_repeat < 1:
        p.error(f"--repeat must be >= 1 and --rows >= {SMALL_EDITS}")
    if args.out is None:
        args.out = HERE / "results" / ("diff.quick.json" if args.quick else "diff.json")
    if args.md is None:
        args.md = args.out.with_suffix(".md")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    meta: dict[str, Any] = {
        "machine": machine_info(),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "repeat": args.repeat,
        "datacompy_repeat": args.datacompy_repeat,
        "seed": args.seed,
        "load_start": [round(x, 2) for x in loadavg()],
        "build": build_info(),
        "notes": {
            "stat": (
                "Each time is the median of the repeats; contenders of one comparison run "
                "interleaved (round-robin); max/min is the spread of the repeats (noise)."
            ),
            "peers": (
                "DuckDB: pyarrow tables registered, one FULL OUTER JOIN on id keeping rows with a "
                "missing side or any IS DISTINCT FROM column, with per-column flags and old/new "
                "values, fetched as Arrow. polars: pl.from_arrow once (not timed), lazy full join "
                "(coalesce=False) + ne_missing flags + filter, collect(). datacompy: "
                "PandasCompare(join_columns='id') + report() + all_mismatch() on to_pandas() "
                "frames (conversion not timed). lf raw runs use never-hashed table objects."
            ),
            "pairs": (
                "Raw = lf.diff without hashes on never-hashed objects (pruning impossible); "
                "hashed = old_hash=/new_hash= passed (hash_table results). On the 10-row pair "
                "the pruning target and the already-hashed target compare the same two "
                "measurements. hash_table times are reported separately; 'hash both + diff' "
                "is their sum with the hashed diff."
            ),
            "memory": (
                "Memory: fresh subprocess, both versions memory-mapped from Arrow IPC files and "
                "touched, peak RSS reset (/proc/self/clear_refs), extra = VmHWM after lf.diff - "
                "VmRSS before (includes the result tables)."
            ),
        },
    }
    m = meta["machine"]
    print(
        f"Machine: {m['cpu_model']}, nproc={m['nproc']}; rows={args.rows:,}, "
        f"repeat={args.repeat}; load {meta['load_start']}"
    )
    tiny = pa.table({KEY: [1, 2, 3], "x": [1, 2, 3]})
    lf.diff(tiny, tiny.slice(1), key=KEY)  # start the thread pool outside any timing
    res = run(args)
    meta["load_end"] = [round(x, 2) for x in loadavg()]
    if not same_build(build_info(), meta["build"]):
        res["failures"].append(f"lineage_fast changed during the run: {build_info()}")
    meta["summary"] = summary_lines(res)
    print_report(meta, res)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"meta": meta, "results": res}, indent=2) + "\n")
    args.md.parent.mkdir(parents=True, exist_ok=True)
    args.md.write_text(markdown(meta, res))
    print(f"\nwrote {args.out} and {args.md}")
    return 1 if res["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
