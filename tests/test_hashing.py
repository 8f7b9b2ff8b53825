"""The public hashing API: shapes of results, inputs accepted, locality, threads and the GIL."""

from __future__ import annotations

import itertools
import threading
import time
from pathlib import Path
from typing import Any

import blake3
import lineage_fast as lf
import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st


def mixed(rows: int, seed: int = 7) -> pa.Table:
    rng = np.random.default_rng(seed)
    return pa.table(
        {
            "id": np.arange(rows, dtype=np.int64),
            "qty": rng.integers(0, 1000, rows),
            "price": rng.random(rows),
            "name": pa.array(rng.integers(0, 50_000, rows).astype(str)),
            "flag": rng.random(rows) < 0.5,
            "maybe": pa.array(rng.integers(0, 10**9, rows), mask=rng.random(rows) < 0.05),
        }
    )


@pytest.fixture(scope="module")
def million() -> pa.Table:
    return mixed(1_000_000)


def test_result_shape() -> None:
    t = pa.table({"b": [1, 2, 3], "a": ["x", None, "z"]})
    h = lf.hash_table(t)
    assert h.root.startswith("blake3:")
    assert len(h.root) == 71
    assert h.root[7:] == h.root[7:].lower()
    assert h.num_rows == 3
    assert h.scheme == 1
    assert h.row_order == "ordered"
    assert list(h.columns) == ["a", "b"]  # canonical order: by name
    assert h.column_types == {"a": "string", "b": "int64"}
    assert len(h.chunks) == 1
    assert (h.chunks[0].start, h.chunks[0].num_rows, h.chunks[0].stop) == (0, 3, 3)
    assert set(h.chunks[0].columns) == {"a", "b"}
    assert "rows=3" in str(h)


def test_to_dict_round_trip(million: pa.Table) -> None:
    h = lf.hash_table(million.slice(0, 50_000))
    assert lf.TableHash.from_dict(h.to_dict()) == h


def test_chunks_tile_the_table(million: pa.Table) -> None:
    h = lf.hash_table(million)
    assert h.num_rows == 1_000_000
    start = 0
    for c in h.chunks:
        assert c.start == start
        assert 1 <= c.num_rows <= 65_536
        start = c.stop
    assert start == h.num_rows
    # Content-defined chunks average about 10,500 rows.
    assert 40 < len(h.chunks) < 200


@pytest.mark.parametrize("where", [0, 1, 499_999, 500_000, 999_999])
def test_insert_one_row_changes_at_most_three_chunks(million: pa.Table, where: int) -> None:
    before = lf.hash_table(million)
    row = million.slice(123_456, 1)
    edited = pa.concat_tables([million.slice(0, where), row, million.slice(where)])
    after = lf.hash_table(edited)
    assert after.root != before.root
    old = {c.digest for c in before.chunks}
    assert sum(c.digest not in old for c in after.chunks) <= 3


@pytest.mark.parametrize("where", [0, 500_000, 999_999])
def test_delete_one_row_changes_at_most_three_chunks(million: pa.Table, where: int) -> None:
    before = lf.hash_table(million)
    edited = pa.concat_tables([million.slice(0, where), million.slice(where + 1)])
    after = lf.hash_table(edited)
    assert after.root != before.root
    old = {c.digest for c in before.chunks}
    assert sum(c.digest not in old for c in after.chunks) <= 3


def test_update_one_cell_changes_one_chunk_and_one_column(million: pa.Table) -> None:
    before = lf.hash_table(million)
    qty = million["qty"].to_numpy().copy()
    qty[600_000] += 1
    after = lf.hash_table(million.set_column(1, "qty", pa.array(qty)))
    changed = [
        (a, b) for a, b in zip(before.chunks, after.chunks, strict=False) if a.digest != b.digest
    ]
    # Unless the edit moved a boundary (probability ~1e-4), exactly one chunk differs, and inside
    # it exactly one column segment.
    assert len(before.chunks) == len(after.chunks)
    assert len(changed) == 1
    a, b = changed[0]
    assert a.start <= 600_000 < a.stop
    assert [k for k in a.columns if a.columns[k] != b.columns[k]] == ["qty"]


def test_threads_do_not_change_results(million: pa.Table) -> None:
    t = million.slice(0, 300_000)
    for order in ("ordered", "unordered"):
        roots = {lf.hash_table(t, row_order=order, threads=n).root for n in (1, 2, 3)}
        assert len(roots) == 1


def test_unordered_is_a_multiset_identity(million: pa.Table) -> None:
    t = million.slice(0, 100_000)
    perm = np.random.default_rng(1).permutation(t.num_rows)
    u = lf.hash_table(t, row_order="unordered")
    assert u.row_order == "unordered"
    assert lf.hash_table(t.take(perm), row_order="unordered").root == u.root
    assert lf.hash_table(t).root != u.root
    dup = pa.concat_tables([t, t.slice(5, 1)])
    assert lf.hash_table(dup, row_order="unordered").root != u.root


def test_unordered_chunks_are_ordered_chunks_of_the_sorted_rows(million: pa.Table) -> None:
    """Unordered = the ordered chunk digests of the rows sorted by fingerprint (spec §10)."""
    t = million.slice(0, 120_000)
    fp = lf.row_fingerprints(t).to_numpy(zero_copy_only=False)
    lo = np.frombuffer(b"".join(fp), dtype="<u8").reshape(-1, 2)[:, 0]
    order = np.argsort(lo, kind="stable")  # by lo (no ties in this table)
    u = lf.hash_table(t, row_order="unordered")
    assert len(u.chunks) > 3
    for c in u.chunks:
        rows = t.take(order[c.start : c.stop])
        assert lf.chunk_digest(rows) == lf.Chunk(c.digest, 0, c.num_rows, c.columns)


def test_chunk_digest_matches_the_chunks_of_hash_table(million: pa.Table) -> None:
    h = lf.hash_table(million)
    for c in h.chunks[:3] + h.chunks[-2:]:
        assert lf.chunk_digest(million.slice(c.start, c.num_rows)).digest == c.digest


def test_row_fingerprints() -> None:
    t = pa.table({"x": [1, 1, 2, None], "s": ["a", "a", "a", None]})
    fp = lf.row_fingerprints(t)
    assert fp.type == pa.binary(16)
    assert len(fp) == 4
    assert fp[0] == fp[1]
    assert len({fp[0].as_py(), fp[2].as_py(), fp[3].as_py()}) == 3
    assert lf.row_fingerprints(t.select(["s", "x"])).equals(fp)


def test_inputs_pandas_polars_duckdb_reader() -> None:
    pd = pytest.importorskip("pandas")
    pl = pytest.importorskip("polars")
    duckdb = pytest.importorskip("duckdb")
    t = pa.table({"a": pa.array([1, 2, None], pa.int64()), "s": ["x", "y", "z"]})
    root = lf.hash_table(t).root
    assert lf.hash_table(t.to_batches()[0]).root == root
    assert lf.hash_table(pa.RecordBatchReader.from_batches(t.schema, t.to_batches())).root == root
    assert lf.hash_table(pl.from_arrow(t)).root == root
    df = pd.DataFrame({"a": pd.array([1, 2, None], dtype="Int64"), "s": ["x", "y", "z"]})
    assert lf.hash_table(df).root == root
    con = duckdb.connect()
    rel = con.sql("select * from t")
    assert lf.hash_table(rel).root == root


def test_gil_is_released_while_hashing(million: pa.Table) -> None:
    big = pa.concat_tables([million] * 3)
    span: dict[str, float] = {}

    def work() -> None:
        span["start"] = time.perf_counter()
        lf.hash_table(big, threads=1)
        span["end"] = time.perf_counter()

    worker = threading.Thread(target=work)
    ticks: list[float] = []
    worker.start()
    while worker.is_alive():
        ticks.append(time.perf_counter())
    worker.join()
    inside = [t for t in ticks if span["start"] + 0.005 < t < span["end"] - 0.005]
    assert span["end"] - span["start"] > 0.03
    # With the GIL held, this thread could not have run at all during the call.
    assert len(inside) > 100


def test_file_digest_is_plain_blake3_of_the_bytes(tmp_path: Path) -> None:
    data = bytes(range(256)) * 5000
    p = tmp_path / "f.bin"
    p.write_bytes(data)
    assert lf.file_digest(p) == "blake3:" + blake3.blake3(data).hexdigest()
    assert lf.file_digest(str(p), threads=1) == lf.file_digest(p)
    p.write_bytes(data[:-1] + b"\x00")
    assert lf.file_digest(p) != "blake3:" + blake3.blake3(data).hexdigest()


def test_file_digest_errors_are_builtin_oserrors_naming_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope.parquet"
    with pytest.raises(FileNotFoundError) as e:
        lf.file_digest(missing)
    assert e.value.filename == str(missing)
    with pytest.raises(IsADirectoryError):
        lf.file_digest(tmp_path)


@pytest.mark.parametrize(
    ("sliced", "plain"),
    [
        # Values all empty or null, offsets not starting at zero (a slice): arrow-rs imports an
        # empty values buffer and used to reject the offsets (found by a property test).
        (
            pa.DictionaryArray.from_arrays(
                pa.array([0, 1, 2], pa.int8()), pa.array(["a", None, None, None]).slice(1)
            ),
            pa.DictionaryArray.from_arrays(
                pa.array([0, 1, 2], pa.int8()), pa.array([None, None, None], pa.string())
            ),
        ),
        (pa.array(["a", "", None]).slice(1), pa.array(["", None])),
        # An empty dictionary (all keys null) sliced out of a longer one.
        (
            pa.DictionaryArray.from_arrays(pa.array([None], pa.int8()), pa.array(["a"]).slice(1)),
            pa.DictionaryArray.from_arrays(pa.array([None], pa.int8()), pa.array([], pa.string())),
        ),
        (pa.array([b"a", b""], pa.large_binary()).slice(1), pa.array([b""], pa.large_binary())),
    ],
)
def test_sliced_all_empty_byte_values_hash_like_their_plain_form(
    sliced: pa.Array, plain: pa.Array
) -> None:
    for order in ("ordered", "unordered"):
        a = lf.hash_table(pa.table({"c": sliced}), row_order=order)
        b = lf.hash_table(pa.table({"c": plain}), row_order=order)
        assert a.root == b.root


@pytest.mark.parametrize("row_order", ["ordered", "unordered"])
def test_a_table_without_columns_counts_its_rows_in_its_chunks(row_order: str) -> None:
    # Chunk digests cover the chunk's row count (spec §8) even when there is no column to count.
    expected = {0: [], 5: [5], 200_000: [65536, 65536, 65536, 3392]}  # MAX cuts only
    for n, sizes in expected.items():
        t = pa.table({"a": pa.array(range(n), pa.int64())}).select([])
        h = lf.hash_table(t, row_order=row_order)  # type: ignore[arg-type]
        assert h.num_rows == n
        assert [c.num_rows for c in h.chunks] == sizes


INT_TYPES = [
    pa.int8(),
    pa.int16(),
    pa.int32(),
    pa.int64(),
    pa.uint8(),
    pa.uint16(),
    pa.uint32(),
    pa.uint64(),
]


def _int_bounds(t: pa.DataType) -> tuple[int, int]:
    """The smallest and largest value of integer type ``t``."""
    if pa.types.is_unsigned_integer(t):
        return 0, 2**t.bit_width - 1
    return -(2 ** (t.bit_width - 1)), 2 ** (t.bit_width - 1) - 1


@st.composite
def int_columns(draw: st.DrawFn) -> tuple[pa.Table, list[int]]:
    """A table of integer (and one float) columns, some strictly increasing (also at the very top
    or bottom of their type's range), some sorted with repeats, some random; split into batches."""
    n = draw(st.integers(0, 300))
    cols: dict[str, pa.Array[Any]] = {}
    for i in range(draw(st.integers(1, 4))):
        t = draw(st.sampled_from(INT_TYPES))
        lo, hi = _int_bounds(t)
        shape = draw(st.sampled_from(["increasing", "sorted", "random"]))
        if shape == "increasing" and 3 * n <= hi - lo:
            steps = draw(st.lists(st.integers(1, 3), min_size=n, max_size=n))
            where = draw(st.sampled_from(["bottom", "top", "anywhere"]))
            room = hi - lo - sum(steps[1:])
            if where == "bottom":
                start = lo
            elif where == "top":
                start = lo + room
            else:
                start = lo + draw(st.integers(0, room))
            # From `start` (the type's minimum, or up to its maximum) in steps of 1 to 3.
            values = list(itertools.accumulate(steps[1:], initial=start)) if n else []
        else:
            values = draw(st.lists(st.integers(lo, hi), min_size=n, max_size=n))
            if shape == "sorted":
                values = sorted(values)
        masked = draw(st.booleans())
        mask = draw(st.lists(st.booleans(), min_size=n, max_size=n)) if masked else None
        cols[f"c{i}"] = pa.array(
            values, t, mask=None if mask is None else pa.array(mask, pa.bool_())
        )
    cols["f"] = pa.array(range(n), pa.float64())
    bounds = sorted(draw(st.lists(st.integers(0, n), max_size=4)))
    return pa.table(cols), bounds


@given(case=int_columns())
@settings(max_examples=200, deadline=None)
def test_increasing_columns_are_those_whose_values_strictly_increase(
    case: tuple[pa.Table, list[int]],
) -> None:
    table, bounds = case
    edges = [0, *bounds, table.num_rows]
    batches = [table.slice(a, b - a).combine_chunks() for a, b in itertools.pairwise(edges)]
    rebatched = pa.Table.from_batches(
        [b for t in batches for b in t.to_batches()], schema=table.schema
    )
    expected = tuple(
        name
        for name in sorted(table.column_names)
        if pa.types.is_integer(table.schema.field(name).type)
        and table[name].null_count == 0
        and all(a < b for a, b in itertools.pairwise(table[name].to_pylist()))
    )
    for data in (table, rebatched, rebatched.to_reader()):
        assert lf.hash_table(data).increasing_columns == expected
    assert lf.hash_table(table, row_order="unordered").increasing_columns == ()
