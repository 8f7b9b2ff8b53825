"""Hashing across workers (docs/hash-spec.md §11): partition summaries merged in partition order
equal ``hash_table`` of the whole table, for any split; summaries survive ``to_bytes`` /
``from_bytes`` and nothing else; merge errors are typed."""

from __future__ import annotations

import itertools
import pickle
import re
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import lineage_fast as lf
import numpy as np
import pyarrow as pa
import pytest
import strategies as S
from hypothesis import event, given, settings
from hypothesis import strategies as st

EXAMPLES = S.EXAMPLES
SETTINGS = S.property_settings()
ROW_ID = "__row_id__"  # longer than any name the column strategies draw
MIN, MAX = 2048, 65536


def lo_lanes(t: pa.Table) -> np.ndarray[Any, np.dtype[np.uint64]]:
    """The ``lo`` lane of every row's fingerprint (the first 8 bytes, little-endian)."""
    fp = lf.row_fingerprints(t)
    raw = np.frombuffer(fp.buffers()[1], dtype="<u8")[: 2 * len(fp)]
    return raw[0::2]


def is_candidate(lo: int) -> bool:
    return lo >> 51 == 0


def _values(candidate: bool) -> list[int]:
    """Values of ``ROW_ID`` whose one-column row is (or is not) a chunk candidate."""
    xs = pa.table({ROW_ID: pa.array(range(200_000), pa.int64())})
    lo = lo_lanes(xs)
    return [i for i in range(200_000) if is_candidate(int(lo[i])) == candidate][:50]


CANDIDATES = _values(True)
PLAIN = _values(False)


@st.composite
def big_tables(draw: st.DrawFn, max_rows: int = 60_000) -> pa.Table:
    """A drawn table (any supported types) repeated to up to ``max_rows`` rows, beside an int64
    column of random values that places chunk boundaries; sometimes with a long run of one
    repeated row (no candidate at all, or every row a candidate)."""
    base = draw(S.tables(min_rows=1, max_rows=6, max_columns=3))
    # Mostly tables of several chunks (about 10k rows each), sometimes tiny ones.
    tiny = draw(st.integers(0, 4)) == 0
    n = draw(st.integers(0, 50)) if tiny else draw(st.integers(max_rows // 4, max_rows))
    reps = -(-n // base.num_rows)
    tiled = pa.concat_tables([base] * max(reps, 1)).combine_chunks().slice(0, n)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    ids = rng.integers(0, 2**62, n, dtype=np.int64)
    run = draw(st.sampled_from(["none", "plain", "candidate"]))
    if run != "none" and n > 0:
        a = draw(st.integers(0, n))
        b = draw(st.integers(a, n))
        # The run is one repeated row only when every column repeats: use one base row.
        repeated = S.take(base, [0] * (b - a))
        tiled = pa.concat_tables([tiled.slice(0, a), repeated, tiled.slice(b)]).combine_chunks()
        ids[a:b] = (CANDIDATES if run == "candidate" else PLAIN)[0]
    return tiled.append_column(ROW_ID, pa.array(ids))


@st.composite
def split_points(draw: st.DrawFn, n: int, whole: lf.TableHash) -> list[int]:
    """Sorted cut points in ``0..n``: anywhere, and near the whole table's chunk starts and at a
    look-back window's distance from them."""
    cuts = draw(st.lists(st.integers(0, n), max_size=6))
    starts = [c.start for c in whole.chunks]
    if starts:
        for _ in range(draw(st.integers(0, 4))):
            s = draw(st.sampled_from(starts))
            d = draw(st.sampled_from([-MIN, -MIN + 1, -2, -1, 0, 1, 2, MIN - 1, MIN]))
            cuts.append(min(max(s + d, 0), n))
    return sorted(cuts)


def partitions(t: pa.Table, cuts: list[int], batch_rows: int | None = None) -> list[pa.Table]:
    bounds = [0, *cuts, t.num_rows]
    parts = [t.slice(a, b - a) for a, b in itertools.pairwise(bounds)]
    if batch_rows is not None:
        parts = [
            pa.Table.from_batches(p.to_batches(max_chunksize=batch_rows), schema=t.schema)
            for p in parts
        ]
    return parts


def ship(s: lf.PartitionSummary) -> lf.PartitionSummary:
    return lf.PartitionSummary.from_bytes(s.to_bytes())


def check_merges(parts: list[pa.Table], whole: lf.TableHash, **kwargs: Any) -> None:
    """Full merge, merge of shipped summaries and the compact protocol all give ``whole``."""
    summaries = [lf.partition_summary(p, **kwargs) for p in parts]
    merged = lf.merge_summaries(summaries)
    assert merged.root == whole.root
    assert merged.columns == whole.columns
    assert merged.chunks == whole.chunks
    assert merged == whole
    shipped = [ship(s) for s in summaries]
    assert lf.merge_summaries(shipped) == whole
    offsets = lf.chunk_offsets([ship(s.compact()) for s in summaries])
    compact = [ship(s.compact(o)) for s, o in zip(summaries, offsets, strict=True)]
    assert lf.merge_compact(compact) == lf.TableRoot.of(whole)


@SETTINGS
@given(data=st.data())
def test_merged_summaries_equal_hash_table(data: st.DataObject) -> None:
    t = data.draw(big_tables())
    whole = lf.hash_table(t)
    event(f"chunks: {min(len(whole.chunks), 4)}")
    cuts = data.draw(split_points(t.num_rows, whole))
    batch_rows = data.draw(st.none() | st.integers(1, 30_000))
    check_merges(partitions(t, cuts, batch_rows), whole)


@settings(SETTINGS, max_examples=max(1, EXAMPLES // 2))
@given(data=st.data())
def test_partitions_stored_in_other_layouts_merge(data: st.DataObject) -> None:
    """Workers read by different engines store a column differently (string, large_string or
    string_view; list or large_list; dictionary-encoded or not): the merge is still exact."""
    t = data.draw(big_tables(max_rows=30_000))
    whole = lf.hash_table(t)
    cuts = data.draw(split_points(t.num_rows, whole))
    parts = [relayout_table(data, p) for p in partitions(t, cuts)]
    event(f"layouts: {len({p.schema for p in parts})}")
    check_merges(parts, whole)


def relayout_table(data: st.DataObject, part: pa.Table) -> pa.Table:
    """``part`` with each column (but the row id) in a physical layout drawn for it."""

    def relayout(column: pa.ChunkedArray) -> pa.ChunkedArray:
        if data.draw(st.integers(0, 3)) == 0:
            try:  # pyarrow's encoding: keys wide enough for a large partition
                return column.dictionary_encode()
            except pa.ArrowNotImplementedError:
                pass
        # Other physical layouts (the strategy's dictionaries have keys sized for small tables).
        return data.draw(
            S.equivalent_columns(column, garbage=False, rechunk=False, dictionary=False)
        )

    columns = [part[n] if n == ROW_ID else relayout(part[n]) for n in part.column_names]
    return pa.table(columns, names=part.column_names)


@settings(SETTINGS, max_examples=max(1, EXAMPLES // 3))
@given(data=st.data())
def test_long_runs_cut_at_max_across_partitions(data: st.DataObject) -> None:
    rng = np.random.default_rng(7)
    ids = np.concatenate(
        [
            rng.integers(0, 2**62, 5_000),
            np.full(2 * MAX + 777, PLAIN[1]),  # no candidate: cut every MAX rows
            rng.integers(0, 2**62, 3_000),
            np.full(MAX + 5_000, CANDIDATES[1]),  # every row a candidate: one boundary, then MAX
            rng.integers(0, 2**62, 4_000),
        ]
    )
    t = pa.table({ROW_ID: pa.array(ids, pa.int64())})
    whole = lf.hash_table(t)
    assert any(c.num_rows == MAX for c in whole.chunks)
    cuts = data.draw(split_points(t.num_rows, whole))
    check_merges(partitions(t, cuts), whole)


@settings(SETTINGS, max_examples=max(1, EXAMPLES // 2))
@given(data=st.data())
def test_unordered_over_fingerprint_ranges(data: st.DataObject) -> None:
    t = data.draw(big_tables(max_rows=20_000))
    if data.draw(st.booleans()) and t.num_rows:
        t = pa.concat_tables([t, t.slice(0, t.num_rows // 3)])  # duplicates count
    whole = lf.hash_table(t, row_order="unordered")
    lo = lo_lanes(t)
    thresholds = sorted(data.draw(st.lists(st.integers(0, 2**64 - 1), max_size=5)))
    which = np.searchsorted(np.array(thresholds, dtype=np.uint64), lo, side="right")
    # S.take, not Table.filter: pyarrow 26 cannot filter view types.
    parts = [S.take(t, np.flatnonzero(which == k).tolist()) for k in range(len(thresholds) + 1)]
    if data.draw(st.booleans()):  # workers that store columns differently
        parts = [relayout_table(data, p) for p in parts]
    summaries = [lf.partition_summary(p, row_order="unordered") for p in parts]
    assert lf.merge_summaries(summaries) == whole
    assert lf.merge_summaries([ship(s) for s in summaries]) == whole
    nonempty = [s for s in summaries if s.num_rows]
    if len(nonempty) >= 2:
        with pytest.raises(lf.MergeError, match="increasing ranges"):
            lf.merge_summaries(nonempty[::-1])


def test_a_million_rows_in_seven_partitions() -> None:
    n = 1_000_000
    rng = np.random.default_rng(1)
    t = pa.table(
        {
            "id": pa.array(rng.integers(0, 2**62, n)),
            "name": pa.array([f"n{i % 9973}" for i in range(n)]),
            "score": pa.array(rng.random(n)),
        }
    )
    whole = lf.hash_table(t)
    cuts = [1, 2_047, 140_000, 140_000, 500_001, 999_000]
    check_merges(partitions(t, cuts), whole)


def test_summaries_are_small_for_large_partitions() -> None:
    rng = np.random.default_rng(2)
    t = pa.table({"id": pa.array(rng.integers(0, 2**62, 600_000))})
    full = lf.partition_summary(t)
    assert full.interior_chunks > 20
    assert full.seam_rows < 100_000
    compact = full.compact(12)
    assert compact.form == "compact"
    assert compact.first_chunk_index == 12
    assert len(compact.to_bytes()) < len(full.to_bytes())
    assert full.compact().form == "unplaced"


def test_round_trip_keeps_every_field() -> None:
    t = pa.table(
        {"x": pa.array(range(30_000)), "d": pa.array(["a", "b"] * 15_000).dictionary_encode()}
    )
    for order in ("ordered", "unordered"):
        s = lf.partition_summary(t, row_order=order)
        back = ship(s)
        assert repr(back) == repr(s)
        assert (back.num_rows, back.row_order, back.schema_digest) == (
            30_000,
            order,
            lf.hash_table(t).schema_digest,
        )
        assert back.to_bytes() == s.to_bytes()
        assert lf.PartitionSummary.from_bytes(bytearray(s.to_bytes())).num_rows == 30_000


@settings(SETTINGS, max_examples=max(1, EXAMPLES * 2))
@given(data=st.data())
def test_corrupted_bytes_raise(data: st.DataObject) -> None:
    t = pa.table({"x": pa.array(range(5_000)), "s": pa.array([str(i) for i in range(5_000)])})
    good = lf.partition_summary(t).to_bytes()
    b = bytearray(good)
    if data.draw(st.booleans()):
        del b[data.draw(st.integers(0, len(b) - 1)) :]  # truncated
    else:
        i = data.draw(st.integers(0, len(b) - 1))
        b[i] ^= 1 << data.draw(st.integers(0, 7))  # one bit flipped
    with pytest.raises(lf.InvalidDataError, match="invalid partition summary"):
        lf.PartitionSummary.from_bytes(bytes(b))


def test_foreign_bytes_raise() -> None:
    for junk in (b"", b"LFPSUMRY", b"hello world" * 10, pickle.dumps({"a": 1})):
        with pytest.raises(lf.InvalidDataError):
            lf.PartitionSummary.from_bytes(junk)
    good = bytearray(lf.partition_summary(pa.table({"x": [1]})).to_bytes())
    good[8] = 9  # format version 9
    with pytest.raises(lf.InvalidDataError, match="format version 9"):
        lf.PartitionSummary.from_bytes(bytes(good))
    with pytest.raises(TypeError):
        lf.PartitionSummary.from_bytes("text")  # type: ignore[arg-type]


def test_summaries_are_not_pickled() -> None:
    s = lf.partition_summary(pa.table({"x": [1, 2]}))
    with pytest.raises(TypeError, match="to_bytes"):
        pickle.dumps(s)


def test_merge_errors_are_typed() -> None:
    t = pa.table({"x": pa.array(range(100)), "s": pa.array([str(i) for i in range(100)])})
    a = lf.partition_summary(t.slice(0, 50))
    b = lf.partition_summary(t.slice(50))
    with pytest.raises(lf.MergeError, match="at least one"):
        lf.merge_summaries([])
    other = lf.partition_summary(pa.table({"x": pa.array(range(3))}))
    with pytest.raises(lf.SchemaMismatchError, match="partitions 0 and 2"):
        lf.merge_summaries([a, b, other])
    # Other layouts of one logical type merge (seam rows are widened to large layouts), for
    # both identities.
    wide = pa.schema([("x", pa.int64()), ("s", pa.large_string())])
    large = lf.partition_summary(t.slice(50).cast(wide))
    assert lf.merge_summaries([a, large]) == lf.hash_table(t)
    low = lo_lanes(t) < 2**63
    halves = [S.take(t, np.flatnonzero(low).tolist()), S.take(t, np.flatnonzero(~low).tolist())]
    unordered = [
        lf.partition_summary(halves[0], row_order="unordered"),
        lf.partition_summary(halves[1].cast(wide), row_order="unordered"),
    ]
    assert lf.merge_summaries(unordered) == lf.hash_table(t, row_order="unordered")
    with pytest.raises(lf.MergeError, match="one row_order"):
        lf.merge_summaries([a, lf.partition_summary(t, row_order="unordered")])
    # Compacted summaries go to merge_compact; an unplaced one is refused by both.
    rng = np.random.default_rng(3)
    big = pa.table({"x": pa.array(rng.integers(0, 2**62, 100_000))})
    s = lf.partition_summary(big)
    with pytest.raises(lf.MergeError, match="merge_compact"):
        lf.merge_summaries([s.compact(0)])
    with pytest.raises(lf.MergeError, match="chunk_offsets"):
        lf.merge_compact([s.compact()])
    (offset,) = lf.chunk_offsets([s])
    assert lf.merge_compact([s.compact(offset)]) == lf.TableRoot.of(lf.hash_table(big))
    with pytest.raises(lf.MergeError, match=f"compacted at chunk index {offset + 1}"):
        lf.merge_compact([s.compact(offset + 1)])
    with pytest.raises(lf.InvalidArgumentError):
        s.compact(-1)
    with pytest.raises(lf.InvalidArgumentError, match="overflows"):
        s.compact(2**64 - 1)  # first + interior chunks would wrap around
    with pytest.raises(TypeError):
        lf.merge_summaries([s, "not a summary"])  # type: ignore[list-item]
    # Logically equal partitions with other layouts (dictionaries, batching) still merge.
    dict_t = pa.table({"x": pa.array(range(100)), "s": t["s"].combine_chunks().dictionary_encode()})
    assert lf.merge_summaries([a, lf.partition_summary(dict_t.slice(50))]) == lf.hash_table(t)


def test_tables_without_columns_merge() -> None:
    # Rows without columns still count (pyarrow's slice keeps a column-less table's row count,
    # so the partitions are built, not sliced).
    def rows(n: int) -> pa.Table:
        return pa.table({"a": pa.array(range(n), pa.int64())}).select([])

    whole = lf.hash_table(rows(200_000))
    assert sum(c.num_rows for c in whole.chunks) == 200_000
    parts = [rows(70_000), rows(0), rows(130_000)]
    assert lf.merge_summaries([ship(lf.partition_summary(p)) for p in parts]) == whole


def _summarize(part: pa.Table) -> bytes:
    """What a worker process runs."""
    return lf.partition_summary(part).to_bytes()


def test_summaries_cross_process_boundaries() -> None:
    rng = np.random.default_rng(4)
    t = pa.table(
        {"id": pa.array(rng.integers(0, 2**62, 200_000)), "k": pa.array(np.arange(200_000) % 5)}
    )
    parts = partitions(t, [30_000, 30_000, 150_000])
    with ProcessPoolExecutor(max_workers=2, mp_context=get_context("spawn")) as pool:
        blobs = list(pool.map(_summarize, parts))
    merged = lf.merge_summaries([lf.PartitionSummary.from_bytes(b) for b in blobs])
    assert merged == lf.hash_table(t)


def test_readme_example_runs() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    section = readme.split("## Hashing across workers", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None
    exec(compile(code.group(1), "README.md", "exec"), {})
