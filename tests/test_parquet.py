"""Streaming: ``hash_parquet`` over files, directories and datasets, and ``hash_table`` over
RecordBatchReaders. The oracle is always ``hash_table`` of the same rows read into memory."""

from __future__ import annotations

import _thread
import io
import itertools
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import lineage_fast as lf
import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lineage_fast import (
    InvalidArgumentError,
    InvalidDataError,
    InvalidFileError,
    Progress,
    SchemaMismatchError,
    UnsupportedTypeError,
)
from strategies import tables

SETTINGS = settings(
    max_examples=int(os.environ.get("LF_PARQUET_EXAMPLES", "25")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def random_table(rows: int, seed: int, null_rate: float = 0.1) -> pa.Table:
    """A table of the column types Parquet round-trips, with nulls, NaN, empty strings."""
    rng = np.random.default_rng(seed)

    def mask() -> np.ndarray[Any, np.dtype[np.bool_]]:
        return rng.random(rows) < null_rate

    words = np.array(["", "a", "bb", "ccc", "a longer string value", "é"])
    floats = rng.normal(size=rows)
    floats[rng.random(rows) < 0.05] = np.nan
    return pa.table(
        {
            "id": pa.array(np.arange(rows, dtype=np.int64)),
            "small": pa.array(rng.integers(-100, 100, rows).astype(np.int16), mask=mask()),
            "f": pa.array(floats, mask=mask()),
            "s": pa.array(words[rng.integers(0, len(words), rows)].tolist(), mask=mask()),
            "b": pa.array(rng.random(rows) < 0.5, mask=mask()),
            "ts": pa.array(rng.integers(0, 10**15, rows), pa.timestamp("us", tz="UTC")),
            "cat": pa.array(words[rng.integers(0, 3, rows)].tolist()).dictionary_encode(),
            "l": pa.array(
                [None if i % 7 == 3 else list(range(i % 4)) for i in range(rows)],
                pa.list_(pa.int32()),
            ),
            "st": pa.array(
                [None if i % 5 == 1 else {"x": i, "y": str(i)} for i in range(rows)],
                pa.struct([("x", pa.int64()), ("y", pa.string())]),
            ),
        }
    )


def write_files(
    table: pa.Table, directory: Path, sizes: list[int], row_group: int, names: list[str]
) -> list[Path]:
    """Write consecutive slices of ``table`` (of ``sizes`` rows) as files named ``names``."""
    paths, start = [], 0
    for size, name in zip(sizes, names, strict=True):
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table.slice(start, size), path, row_group_size=max(1, row_group))
        paths.append(path)
        start += size
    return paths


def read_all(paths: list[Path]) -> pa.Table:
    return pa.concat_tables([pq.read_table(p) for p in paths])


# ------------------------------------------------------------------------------------------
# hash_parquet == hash_table(read into memory)
# ------------------------------------------------------------------------------------------


@SETTINGS
@given(
    sizes=st.lists(st.integers(0, 400), min_size=1, max_size=4),
    row_group=st.integers(1, 500),
    batch_size=st.integers(1, 700),
    seed=st.integers(0, 2**16),
    nested_dirs=st.booleans(),
)
def test_hash_parquet_equals_hash_table_of_the_rows_read(
    tmp_path_factory: pytest.TempPathFactory,
    sizes: list[int],
    row_group: int,
    batch_size: int,
    seed: int,
    nested_dirs: bool,
) -> None:
    directory = tmp_path_factory.mktemp("ds")
    table = random_table(sum(sizes), seed)
    # Names whose sorted order is the row order; nested directories sort by their full path.
    names = [
        (f"d{i // 2}/part-{i}.parquet" if nested_dirs else f"part-{i:02d}.parquet")
        for i in range(len(sizes))
    ]
    paths = write_files(table, directory, sizes, row_group, names)
    expected = lf.hash_table(read_all(paths))
    assert expected.root == lf.hash_table(table).root  # the round trip kept every value
    for source in (directory, [str(p) for p in reversed(paths)]):
        h = lf.hash_parquet(source, batch_size=batch_size)
        assert h == expected  # root, chunks, column digests (source_files do not compare)
        assert [f.path for f in h.source_files] == [str(p) for p in paths]
        assert [f.num_rows for f in h.source_files] == sizes
    unordered = lf.hash_parquet(directory, row_order="unordered", batch_size=batch_size)
    assert unordered.root == lf.hash_table(table, row_order="unordered").root


def test_many_chunks_many_files_any_batching_and_threads(tmp_path: Path) -> None:
    table = random_table(150_000, seed=3)
    paths = write_files(
        table,
        tmp_path,
        [40_000, 1, 0, 69_999, 40_000],
        row_group=9_000,
        names=[f"p{i}.parquet" for i in range(5)],
    )
    expected = lf.hash_table(table)
    assert len(expected.chunks) > 10
    for batch_size, threads in [(1_000, None), (77_777, 1), (1 << 20, 2)]:
        h = lf.hash_parquet(paths, batch_size=batch_size, threads=threads)
        assert h == expected


@SETTINGS
@given(table=tables(max_rows=80), data=st.data())
def test_reader_streaming_equals_in_memory(table: pa.Table, data: st.DataObject) -> None:
    """Every supported type, any batching: a RecordBatchReader (streamed batch by batch) hashes
    like the table; a generator-backed reader is read on another thread, GIL released."""
    cut = data.draw(st.integers(1, max(1, table.num_rows)))
    expected = lf.hash_table(table)

    def batches() -> Iterator[pa.RecordBatch]:
        yield from table.to_batches(max_chunksize=cut)

    reader = pa.RecordBatchReader.from_batches(table.schema, batches())
    assert lf.hash_table(reader) == expected
    reader = pa.RecordBatchReader.from_batches(table.schema, table.to_batches(max_chunksize=cut))
    assert lf.hash_table(reader, row_order="unordered") == lf.hash_table(
        table, row_order="unordered"
    )


def test_dataset_with_hive_partitions(tmp_path: Path) -> None:
    table = random_table(1_000, seed=5).select(["id", "s", "f"])
    for year, part in ((2024, table.slice(0, 600)), (2025, table.slice(600))):
        (tmp_path / f"year={year}").mkdir()
        pq.write_table(part, tmp_path / f"year={year}" / "data.parquet", row_group_size=128)
    dataset = ds.dataset(tmp_path, partitioning="hive")
    h = lf.hash_parquet(dataset, batch_size=100)
    year = pa.array([2024] * 600 + [2025] * 400, pa.int32())
    assert h.root == lf.hash_table(table.append_column("year", year)).root
    assert "year" in h.columns
    # The same directory as plain files: partition values are not columns.
    assert lf.hash_parquet(tmp_path).root == lf.hash_table(table).root


def test_directory_walk_skips_hidden_and_underscore_names(tmp_path: Path) -> None:
    t = pa.table({"x": [1, 2, 3]})
    pq.write_table(t.slice(0, 1), tmp_path / "a.parquet")
    (tmp_path / "b").mkdir()
    pq.write_table(t.slice(1, 1), tmp_path / "b" / "c.PARQ")
    pq.write_table(t.slice(2, 1), tmp_path / "b" / "d.Parquet")
    for skipped in ("_SUCCESS", "_metadata.parquet", ".hidden.parquet", "notes.csv"):
        (tmp_path / skipped).write_bytes(b"not parquet")
    for skipped_dir in ("_temporary", ".staging"):
        (tmp_path / skipped_dir).mkdir()
        pq.write_table(pa.table({"x": [99]}), tmp_path / skipped_dir / "e.parquet")
    h = lf.hash_parquet(tmp_path)
    assert h.root == lf.hash_table(t).root
    assert [Path(f.path).name for f in h.source_files] == ["a.parquet", "c.PARQ", "d.Parquet"]


def test_columns_in_another_order_are_the_same_columns(tmp_path: Path) -> None:
    t = pa.table({"a": [1, 2], "b": ["x", "y"]})
    pq.write_table(t.slice(0, 1), tmp_path / "1.parquet")
    pq.write_table(t.slice(1, 1).select(["b", "a"]), tmp_path / "2.parquet")
    assert lf.hash_parquet(tmp_path).root == lf.hash_table(t).root


# ------------------------------------------------------------------------------------------
# source files, result type
# ------------------------------------------------------------------------------------------


def test_source_files_are_raw_blake3_digests_and_round_trip(tmp_path: Path) -> None:
    table = random_table(5_000, seed=9)
    paths = write_files(table, tmp_path, [2_000, 3_000], 700, ["a.parquet", "b.parquet"])
    h = lf.hash_parquet(tmp_path)
    assert [(f.path, f.size, f.digest) for f in h.source_files] == [
        (str(p), p.stat().st_size, lf.file_digest(p)) for p in paths
    ]
    d = h.to_dict()
    assert d["source_files"][0] == {
        "path": str(paths[0]),
        "size": paths[0].stat().st_size,
        "num_rows": 2_000,
        "digest": lf.file_digest(paths[0]),
    }
    back = lf.TableHash.from_dict(d)
    assert back == h
    assert back.source_files == h.source_files
    # An in-memory hash has no source files, and its dict has no such key.
    plain = lf.hash_table(table)
    assert plain.source_files == ()
    assert "source_files" not in plain.to_dict()
    assert lf.TableHash.from_dict(plain.to_dict()) == plain


# ------------------------------------------------------------------------------------------
# errors
# ------------------------------------------------------------------------------------------


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    pq.write_table(pa.table({"x": [1]}), tmp_path / "a.parquet")
    missing = tmp_path / "nope.parquet"
    for source in (missing, [tmp_path / "a.parquet", missing]):
        with pytest.raises(FileNotFoundError) as exc:
            lf.hash_parquet(source)
        assert exc.value.filename == str(missing)


def test_corrupt_parquet_names_the_file(tmp_path: Path) -> None:
    pq.write_table(pa.table({"x": [1]}), tmp_path / "a.parquet")
    bad = tmp_path / "b.parquet"
    bad.write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(InvalidFileError, match=r"b\.parquet") as exc:
        lf.hash_parquet(tmp_path)
    assert exc.value.path == str(bad)
    assert isinstance(exc.value, InvalidDataError)
    # Truncated: the footer is gone.
    good = (tmp_path / "a.parquet").read_bytes()
    bad.write_bytes(good[: len(good) // 2])
    with pytest.raises(InvalidFileError, match=r"b\.parquet"):
        lf.hash_parquet(tmp_path)


def test_corrupt_pages_behind_a_valid_footer_name_the_file(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    t = pa.table({"s": pa.array([f"value-{i}-{rng.integers(1 << 40)}" for i in range(50_000)])})
    pq.write_table(t.slice(0, 10), tmp_path / "a.parquet")
    bad = tmp_path / "b.parquet"
    pq.write_table(t, bad, compression="snappy", row_group_size=10_000)
    data = bytearray(bad.read_bytes())
    meta = pq.read_metadata(bad)
    # Overwrite the middle of the third row group's column chunk (its pages, not the footer).
    col = meta.row_group(2).column(0)
    start = col.data_page_offset + col.total_compressed_size // 4
    data[start : start + col.total_compressed_size // 2] = b"\xff" * (
        col.total_compressed_size // 2
    )
    bad.write_bytes(bytes(data))
    with pytest.raises(InvalidFileError, match=r"b\.parquet") as exc:
        lf.hash_parquet(tmp_path, batch_size=1_000)
    assert exc.value.path == str(bad)


def test_schema_mismatch_across_files_names_the_files_and_column(tmp_path: Path) -> None:
    pq.write_table(pa.table({"x": [1], "y": ["a"]}), tmp_path / "a.parquet")
    pq.write_table(pa.table({"x": [1.5], "y": ["b"]}), tmp_path / "b.parquet")
    with pytest.raises(SchemaMismatchError, match=r"a\.parquet.*b\.parquet.*'x'") as exc:
        lf.hash_parquet(tmp_path)
    assert exc.value.paths == (str(tmp_path / "a.parquet"), str(tmp_path / "b.parquet"))
    assert exc.value.column == "x"
    pq.write_table(pa.table({"x": [1]}), tmp_path / "b.parquet")
    with pytest.raises(SchemaMismatchError, match="'y' is missing") as exc:
        lf.hash_parquet(tmp_path)
    assert exc.value.column == "y"


def test_empty_directory_and_bad_arguments(tmp_path: Path) -> None:
    (tmp_path / "_SUCCESS").write_bytes(b"")
    with pytest.raises(InvalidArgumentError, match="no Parquet files"):
        lf.hash_parquet(tmp_path)
    with pytest.raises(InvalidArgumentError, match="empty list"):
        lf.hash_parquet([])
    pq.write_table(pa.table({"x": [1]}), tmp_path / "a.parquet")
    with pytest.raises(InvalidArgumentError, match="listed twice"):
        lf.hash_parquet([tmp_path / "a.parquet", str(tmp_path / "a.parquet")])
    with pytest.raises(InvalidArgumentError, match="batch_size"):
        lf.hash_parquet(tmp_path, batch_size=0)
    with pytest.raises(InvalidArgumentError, match="row_order"):
        lf.hash_parquet(tmp_path, row_order="sorted")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="progress"):
        lf.hash_parquet(tmp_path, progress="yes")  # type: ignore[arg-type]
    with pytest.raises(lf.UnsupportedInputError):
        lf.hash_parquet(42)  # type: ignore[arg-type]


def test_unsupported_type_in_a_file_names_the_column(tmp_path: Path) -> None:
    t = pa.table({"ok": [1], "m": pa.array([[("k", 1)]], pa.map_(pa.string(), pa.int64()))})
    pq.write_table(t, tmp_path / "a.parquet")
    with pytest.raises(UnsupportedTypeError) as exc:
        lf.hash_parquet(tmp_path)
    assert exc.value.column == "m"


def invalid_utf8() -> pa.Array:
    """A utf8 array whose second value is not UTF-8 (built without validation)."""
    offsets = pa.py_buffer(np.array([0, 1, 3], dtype=np.int32).tobytes())
    return pa.Array.from_buffers(pa.string(), 2, [None, offsets, pa.py_buffer(b"a\xff\xfe")])


def test_malformed_batch_mid_stream_names_the_column() -> None:
    schema = pa.schema([("n", pa.int64()), ("s", pa.string())])

    def batches() -> Iterator[pa.RecordBatch]:
        for k in range(3):
            yield pa.record_batch({"n": [k, k], "s": ["a", "b"]}, schema=schema)
        yield pa.RecordBatch.from_arrays([pa.array([9, 9]), invalid_utf8()], schema=schema)

    with pytest.raises(InvalidDataError, match="UTF-8") as exc:
        lf.hash_table(pa.RecordBatchReader.from_batches(schema, batches()))
    assert exc.value.column == "s"


def test_schema_change_and_errors_mid_stream() -> None:
    schema = pa.schema([("x", pa.int64())])

    def changes() -> Iterator[pa.RecordBatch]:
        yield pa.record_batch({"x": [1, 2]})
        yield pa.record_batch({"x": [1.5, 2.5]})  # same buffer layout: would be misread

    for order in ("ordered", "unordered"):
        reader = pa.RecordBatchReader.from_batches(schema, changes())
        with pytest.raises(SchemaMismatchError, match=r"batch 1.*'x' is double") as exc:
            lf.hash_table(reader, row_order=order)  # type: ignore[arg-type]
        assert exc.value.column == "x"

    class Boom(Exception):
        pass

    def fails() -> Iterator[pa.RecordBatch]:
        yield pa.record_batch({"x": [1, 2]})
        raise Boom("the producer failed")

    with pytest.raises(Boom, match="the producer failed"):
        lf.hash_table(pa.RecordBatchReader.from_batches(schema, fails()))


def test_unsupported_type_in_a_stream_is_refused_before_reading() -> None:
    schema = pa.schema([("ok", pa.int64()), ("u", pa.dense_union([pa.field("a", pa.int8())]))])
    pulled = []

    def batches() -> Iterator[pa.RecordBatch]:
        pulled.append(1)
        yield from ()

    with pytest.raises(UnsupportedTypeError) as exc:
        lf.hash_table(pa.RecordBatchReader.from_batches(schema, batches()))
    assert exc.value.column == "u"
    assert pulled == []


# ------------------------------------------------------------------------------------------
# progress
# ------------------------------------------------------------------------------------------


def test_progress_callback_is_monotone_and_complete(tmp_path: Path) -> None:
    table = random_table(30_000, seed=1)
    paths = write_files(
        table, tmp_path, [10_000, 0, 20_000], 3_000, ["a.pq.parquet", "b.parquet", "c.parquet"]
    )
    seen: list[Progress] = []
    h = lf.hash_parquet(tmp_path, progress=seen.append, batch_size=2_500)
    assert h.num_rows == 30_000
    assert len(seen) >= 30_000 // 2_500
    for a, b in itertools.pairwise(seen):
        assert a.rows_done <= b.rows_done
        assert a.bytes_done <= b.bytes_done
        assert a.files_done <= b.files_done
        assert a.elapsed <= b.elapsed
    total = sum(p.stat().st_size for p in paths)
    assert all(p.rows_total == 30_000 and p.bytes_total == total for p in seen)
    assert all(p.files_total == 3 and p.bytes_done <= total for p in seen)
    last = seen[-1]
    assert (last.rows_done, last.bytes_done, last.files_done) == (30_000, total, 3)
    assert last.fraction == 1.0
    assert last.eta == 0.0


def test_progress_callback_errors_propagate(tmp_path: Path) -> None:
    pq.write_table(random_table(1_000, seed=2), tmp_path / "a.parquet")

    def stop(p: Progress) -> None:
        raise KeyError("stop here")

    with pytest.raises(KeyError, match="stop here"):
        lf.hash_parquet(tmp_path, progress=stop, batch_size=100)


def test_progress_true_is_silent_when_stderr_is_not_a_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pq.write_table(random_table(1_000, seed=2), tmp_path / "a.parquet")
    lf.hash_parquet(tmp_path, progress=True)
    assert capsys.readouterr().err == ""


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_on_a_terminal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pq.write_table(random_table(5_000, seed=2), tmp_path / "a.parquet")
    err = FakeTerminal()
    monkeypatch.setattr("sys.stderr", err)
    lf.hash_parquet(tmp_path, progress=True, batch_size=500)
    out = err.getvalue()
    assert out.startswith("\r")
    assert out.endswith("\n")
    assert out.count("\n") == 1
    final = out.rsplit("\r", 1)[-1]
    assert "100%" in final
    assert "5,000/5,000 rows" in final
    assert "done in" in final
    assert "/s" in final


def test_progress_bar_ends_its_line_when_the_hash_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    err = FakeTerminal()
    monkeypatch.setattr("sys.stderr", err)
    pq.write_table(pa.table({"x": list(range(5_000))}), tmp_path / "a.parquet")
    pq.write_table(pa.table({"x": [1]}), tmp_path / "b.parquet", row_group_size=1)
    data = bytearray((tmp_path / "b.parquet").read_bytes())
    meta = pq.read_metadata(tmp_path / "b.parquet")
    page = meta.row_group(0).column(0).data_page_offset
    data[page : page + 8] = b"\xff" * 8
    (tmp_path / "b.parquet").write_bytes(bytes(data))
    with pytest.raises(InvalidFileError):
        lf.hash_parquet(tmp_path, progress=True, batch_size=1_000)
    out = err.getvalue()
    assert out.startswith("\r")
    assert out.endswith("\n")
    assert "100%" not in out


def test_progress_bar_throttles_and_always_draws_the_end() -> None:
    out = io.StringIO()
    bar = lf.ProgressBar(out, interval=3600)
    for rows in range(0, 100, 10):
        bar(Progress(rows, 100, rows, 100, 0, 1, 1.0))
    assert out.getvalue().count("\r") == 1  # throttled after the first draw
    bar(Progress(100, 100, 100, 100, 1, 1, 2.0))
    assert out.getvalue().count("\r") == 2
    assert out.getvalue().endswith("\n")
    assert "ETA" in out.getvalue()
    assert "done in 0:02" in out.getvalue()


def test_ctrl_c_stops_a_streamed_hash() -> None:
    """The hash runs with the GIL released; a pending signal (Ctrl-C) is checked between batches,
    so KeyboardInterrupt stops a long stream promptly."""
    schema = pa.schema([("x", pa.int64())])

    def slow() -> Iterator[pa.RecordBatch]:
        for k in range(5_000):
            time.sleep(0.005)
            yield pa.record_batch({"x": [k]}, schema=schema)

    timer = threading.Timer(0.2, _thread.interrupt_main)
    start = time.perf_counter()
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            lf.hash_table(pa.RecordBatchReader.from_batches(schema, slow()))
    finally:
        timer.cancel()
    assert time.perf_counter() - start < 10


STREAM_MEMORY_PROBE = r"""
import sys
import numpy as np, pyarrow as pa, lineage_fast as lf

def hwm():
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) * 1024 for l in f if l.startswith("VmHWM"))

rows, width, batches = 100_000, 100, int(sys.argv[1])
offsets = pa.py_buffer(np.arange(0, (rows + 1) * width, width, dtype=np.int32))
schema = pa.schema([("b", pa.binary())])

def gen():
    for k in range(batches):
        data = pa.py_buffer(np.full(rows * width, k % 251, dtype=np.uint8))  # fresh memory
        yield pa.RecordBatch.from_arrays(
            [pa.Array.from_buffers(pa.binary(), rows, [None, offsets, data])], schema=schema
        )

lf.hash_table(pa.table({"x": [1]}))
before = hwm()
h = lf.hash_table(pa.RecordBatchReader.from_batches(schema, gen()))
assert h.num_rows == rows * batches
print(hwm() - before)
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_a_stream_is_hashed_in_bounded_memory() -> None:
    """1 GB streamed through hash_table: the peak resident memory grows by a few batches (10 MB
    each), not by the stream (collecting it would add the whole gigabyte)."""
    out = subprocess.run(
        [sys.executable, "-c", STREAM_MEMORY_PROBE, "100"],
        check=True,
        capture_output=True,
        text=True,
    )
    growth = int(out.stdout.split()[-1])
    assert growth < 200 * 1024 * 1024, f"peak RSS grew by {growth / 2**20:.0f} MiB"


def test_a_duplicated_column_in_one_file_is_a_mismatch(tmp_path: Path) -> None:
    pq.write_table(pa.table({"x": [1]}), tmp_path / "a.parquet")
    dup = pa.Table.from_arrays([pa.array([1]), pa.array([2])], names=["x", "x"])
    pq.write_table(dup, tmp_path / "b.parquet")
    with pytest.raises(SchemaMismatchError, match="appears twice"):
        lf.hash_parquet(tmp_path)
    with pytest.raises(lf.DuplicateColumnError):
        lf.hash_parquet(tmp_path / "b.parquet")


def test_files_with_physically_different_types_of_one_logical_type(tmp_path: Path) -> None:
    """string / large_string / dictionary, list / large_list: the same logical types, so the
    files are one table (read with the first file's types); int32 vs int64 is a mismatch."""
    t = pa.table(
        {
            "s": pa.array(["a", None, "ccc", "a"]),
            "l": pa.array([[1], [], None, [2, 3]], pa.list_(pa.int64())),
        }
    )
    pq.write_table(t.slice(0, 2), tmp_path / "1.parquet")
    other = pa.schema(
        [("l", pa.large_list(pa.int64())), ("s", pa.dictionary(pa.int32(), pa.large_string()))]
    )
    pq.write_table(t.slice(2).select(["l", "s"]).cast(other), tmp_path / "2.parquet")
    assert pq.read_schema(tmp_path / "2.parquet").field("s").type != pa.string()
    assert lf.hash_parquet(tmp_path, batch_size=1).root == lf.hash_table(t).root
    pq.write_table(
        pa.table({"s": ["z"], "l": pa.array([[1]], pa.list_(pa.int32()))}), tmp_path / "3.parquet"
    )
    with pytest.raises(
        SchemaMismatchError, match=r"'l' is list<.*int64> in the first and list<.*int32>"
    ) as exc:
        lf.hash_parquet(tmp_path)
    assert exc.value.column == "l"


def test_empty_batches_of_a_stream_add_nothing() -> None:
    """Found by test_every_variation_at_once: a valid empty utf8 array whose only offset is 1
    (arrow-rs's validation rejects it) in a streamed batch of zero rows."""
    schema = pa.schema([("s", pa.string())])
    one_offset = pa.py_buffer(np.array([1], np.int32).tobytes())
    empty = pa.Array.from_buffers(pa.string(), 0, [None, one_offset, pa.py_buffer(b"")])
    empty.validate(full=True)
    batches = [
        pa.record_batch([empty], schema=schema),
        pa.record_batch([pa.array(["", "x"])], schema=schema),
        pa.record_batch([empty], schema=schema),
    ]
    expected = lf.hash_table(pa.table({"s": ["", "x"]}))
    assert lf.hash_table(pa.RecordBatchReader.from_batches(schema, batches)) == expected
    assert lf.hash_table(pa.Table.from_batches(batches)) == expected
