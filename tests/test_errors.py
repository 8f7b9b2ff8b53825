"""Refusals and inputs: unsupported types, duplicate names, bad arguments, malformed Arrow data,
and the producers a user hands over (pandas, DuckDB, RecordBatchReader...)."""

from __future__ import annotations

import struct
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import lineage_fast as lf
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from lineage_fast import (
    DuplicateColumnError,
    InvalidArgumentError,
    InvalidDataError,
    LineageError,
    UnsupportedInputError,
    UnsupportedTypeError,
)

HASHERS: dict[str, Callable[[Any], object]] = {
    "ordered": lambda d: lf.hash_table(d),
    "unordered": lambda d: lf.hash_table(d, row_order="unordered"),
    "fingerprints": lambda d: lf.row_fingerprints(d),
}


def table(column: pa.Array | pa.ChunkedArray, name: str = "c", **others: Any) -> pa.Table:
    """A table around ``column`` built without pyarrow's validation (so malformed data gets
    through to lineage_fast)."""
    base = pa.table({"_": pa.nulls(len(column))})
    t = base.set_column(
        0, name, pa.chunked_array([column]) if isinstance(column, pa.Array) else column
    )
    for n, c in others.items():
        t = t.append_column(n, c)
    return t


class ArrayOnly:
    """Exposes only ``__arrow_c_array__`` (the non-stream import path)."""

    def __init__(self, array: Any):
        self.array = array

    def __arrow_c_array__(self, requested_schema: Any = None) -> Any:
        return self.array.__arrow_c_array__(requested_schema)


# ------------------------------------------------------------------------------------------
# Unsupported types
# ------------------------------------------------------------------------------------------


class Rational(pa.ExtensionType):
    def __init__(self) -> None:
        super().__init__(pa.struct([("num", pa.int64()), ("den", pa.int64())]), "test.rational")

    def __arrow_ext_serialize__(self) -> bytes:
        return b""

    @classmethod
    def __arrow_ext_deserialize__(cls, storage_type: pa.DataType, serialized: bytes) -> Rational:
        return cls()


def _extension_array() -> pa.Array:
    storage = pa.array([{"num": 1, "den": 2}], Rational().storage_type)
    return pa.ExtensionArray.from_storage(Rational(), storage)


UNSUPPORTED: dict[str, Callable[[], pa.Array]] = {
    "map": lambda: pa.array([[("k", 1)]], pa.map_(pa.string(), pa.int32())),
    "dense_union": lambda: pa.UnionArray.from_dense(
        pa.array([0], pa.int8()), pa.array([0], pa.int32()), [pa.array([1]), pa.array(["a"])]
    ),
    "sparse_union": lambda: pa.UnionArray.from_sparse(
        pa.array([0], pa.int8()), [pa.array([1]), pa.array(["a"])]
    ),
    "run_end_encoded": lambda: pa.RunEndEncodedArray.from_arrays(
        pa.array([1], pa.int32()), pa.array(["a"])
    ),
    "list_view": lambda: pa.array([[1]], pa.list_view(pa.int32())),
    "large_list_view": lambda: pa.array([[1]], pa.large_list_view(pa.int32())),
    "interval": lambda: pa.array([pa.MonthDayNano([1, 2, 3])], pa.month_day_nano_interval()),
    "extension_uuid": lambda: pa.array([b"0123456789abcdef"], pa.uuid()),
    "extension_json": lambda: pa.array(['{"a": 1}'], pa.json_()),
    "extension_custom": _extension_array,
}


@pytest.mark.parametrize("kind", sorted(UNSUPPORTED))
@pytest.mark.parametrize("how", sorted(HASHERS))
def test_unsupported_type_names_the_column(kind: str, how: str) -> None:
    data = pa.table({"ok": pa.array([1]), "bad col": UNSUPPORTED[kind]()})
    with pytest.raises(UnsupportedTypeError) as info:
        HASHERS[how](data)
    err = info.value
    assert isinstance(err, LineageError)
    assert isinstance(err, TypeError)
    assert err.column == "bad col"
    assert "bad col" in str(err)
    assert err.data_type


@pytest.mark.parametrize("kind", sorted(UNSUPPORTED))
def test_unsupported_type_inside_a_struct_names_the_field(kind: str) -> None:
    bad = UNSUPPORTED[kind]()
    s = pa.StructArray.from_arrays(
        [pa.array([1]), bad], fields=[pa.field("x", pa.int64()), pa.field("m", bad.type)]
    )
    with pytest.raises(UnsupportedTypeError) as info:
        lf.hash_table(pa.table({"ok": [1], "s": s}))
    assert info.value.column == "s.m"
    assert "s.m" in str(info.value)


@pytest.mark.parametrize("kind", ["map", "extension_uuid", "run_end_encoded"])
def test_unsupported_type_deep_inside_lists(kind: str) -> None:
    bad = UNSUPPORTED[kind]()
    inner = pa.StructArray.from_arrays([bad], fields=[pa.field("m", bad.type)])
    lists = pa.ListArray.from_arrays(pa.array([0, 1], pa.int32()), inner)
    with pytest.raises(UnsupportedTypeError) as info:
        lf.hash_table(pa.table({"l": lists}))
    assert info.value.column.startswith("l.")
    assert info.value.column.endswith(".m")


def test_unsupported_type_in_an_empty_table() -> None:
    """The schema alone decides: zero rows are refused too."""
    empty = pa.table({"m": pa.array([], pa.map_(pa.string(), pa.int32()))})
    with pytest.raises(UnsupportedTypeError):
        lf.hash_table(empty)


def test_unsupported_dictionary_value_type() -> None:
    dictionary = pa.DictionaryArray.from_arrays(
        pa.array([0], pa.int8()), pa.array([[("k", 1)]], pa.map_(pa.string(), pa.int32()))
    )
    with pytest.raises(UnsupportedTypeError) as info:
        lf.hash_table(pa.table({"d": dictionary}))
    assert info.value.column == "d"


# ------------------------------------------------------------------------------------------
# Duplicate names, bad inputs, bad arguments
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("how", sorted(HASHERS))
def test_duplicate_column_names(how: str) -> None:
    data = pa.Table.from_arrays(
        [pa.array([1]), pa.array(["a"]), pa.array([2])], names=["x", "y", "x"]
    )
    with pytest.raises(DuplicateColumnError) as info:
        HASHERS[how](data)
    assert isinstance(info.value, LineageError)
    assert isinstance(info.value, ValueError)
    assert info.value.column == "x"


def test_duplicate_struct_field_names_are_refused() -> None:
    s = pa.StructArray.from_arrays([pa.array([1]), pa.array([2])], names=["f", "f"])
    with pytest.raises(LineageError):
        lf.hash_table(pa.table({"s": s}))


@pytest.mark.parametrize(
    "obj", [{"a": [1, 2]}, 3, None, "a,b\n1,2", [1, 2], b"bytes", object()], ids=type
)
@pytest.mark.parametrize("how", sorted(HASHERS))
def test_non_arrow_input(obj: Any, how: str) -> None:
    with pytest.raises(UnsupportedInputError) as info:
        HASHERS[how](obj)
    assert isinstance(info.value, LineageError)
    assert isinstance(info.value, TypeError)


def test_a_plain_array_is_not_a_table() -> None:
    with pytest.raises(UnsupportedInputError):
        lf.hash_table(pa.array([1, 2]))


def test_a_stream_of_plain_arrays_is_not_a_table() -> None:
    """A ChunkedArray of int64 exports an Arrow stream, but not of record batches."""
    with pytest.raises(UnsupportedInputError):
        lf.hash_table(pa.chunked_array([[1, 2]]))


def test_polars_lazyframe_is_refused() -> None:
    with pytest.raises(UnsupportedInputError):
        lf.hash_table(pl.DataFrame({"a": [1]}).lazy())


@pytest.mark.parametrize("row_order", ["bogus", "", "Ordered", "sorted"])
def test_bad_row_order(row_order: str) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        lf.hash_table(pa.table({"a": [1]}), row_order=row_order)  # type: ignore[arg-type]
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, LineageError)


def test_zero_threads() -> None:
    data = pa.table({"a": [1]})
    for call in (
        lambda: lf.hash_table(data, threads=0),
        lambda: lf.hash_table(data, row_order="unordered", threads=0),
        lambda: lf.row_fingerprints(data, threads=0),
    ):
        with pytest.raises(InvalidArgumentError) as info:
            call()
        assert isinstance(info.value, ValueError)


def test_bad_arguments_are_checked_before_the_data() -> None:
    with pytest.raises(InvalidArgumentError):
        lf.hash_table(
            pa.table({"m": pa.array([[("k", 1)]], pa.map_(pa.string(), pa.int8()))}), threads=0
        )


# ------------------------------------------------------------------------------------------
# Malformed Arrow data
# ------------------------------------------------------------------------------------------


def _i32(*values: int) -> pa.Buffer:
    return pa.py_buffer(struct.pack(f"<{len(values)}i", *values))


def _view(length: int, prefix: bytes, buffer: int, offset: int) -> bytes:
    return struct.pack("<I4sII", length, prefix, buffer, offset)


def _bad_utf8_strings() -> pa.Array:
    return pa.Array.from_buffers(pa.string(), 1, [None, _i32(0, 2), pa.py_buffer(b"\xff\xfe")])


def _fixed_size_list_child_too_short() -> pa.Array:
    # pyarrow's own from_buffers refuses this layout; its list<fixed_size_list<null>> cast
    # produces it (a pyarrow bug) without validation.
    t = pa.list_(pa.list_(pa.null(), 1))
    return pa.array([[[None], [None]]], t).cast(t)


MALFORMED: dict[str, Callable[[], pa.Array]] = {
    # Out-of-bounds offsets cannot travel through the C data interface (no buffer sizes) and
    # pyarrow refuses to build them: these two are skipped with that reason.
    "utf8 offsets out of bounds": lambda: pa.Array.from_buffers(
        pa.string(), 2, [None, _i32(0, 2, 100), pa.py_buffer(b"ab")]
    ),
    "list offsets out of bounds": lambda: pa.Array.from_buffers(
        pa.list_(pa.int8()), 2, [None, _i32(0, 1, 9)], children=[pa.array([1, 2], pa.int8())]
    ),
    "utf8 offsets decreasing": lambda: pa.Array.from_buffers(
        pa.string(), 2, [None, _i32(0, 3, 1), pa.py_buffer(b"abc")]
    ),
    "list offsets decreasing": lambda: pa.Array.from_buffers(
        pa.list_(pa.int8()), 2, [None, _i32(0, 2, 1)], children=[pa.array([1, 2], pa.int8())]
    ),
    "invalid utf8": _bad_utf8_strings,
    "invalid utf8 large_string": lambda: pa.Array.from_buffers(
        pa.large_string(),
        1,
        [None, pa.py_buffer(struct.pack("<qq", 0, 2)), pa.py_buffer(b"\xc3\x28")],
    ),
    "invalid utf8 string_view inline": lambda: pa.Array.from_buffers(
        pa.string_view(), 1, [None, pa.py_buffer(struct.pack("<I12s", 2, b"\xff\xfe"))]
    ),
    "invalid utf8 string_view out of line": lambda: pa.Array.from_buffers(
        pa.string_view(),
        1,
        [None, pa.py_buffer(_view(14, b"\xff\xfeab", 0, 0)), pa.py_buffer(b"\xff\xfe" + b"a" * 12)],
    ),
    "string_view bad buffer index": lambda: pa.Array.from_buffers(
        pa.string_view(),
        1,
        [None, pa.py_buffer(_view(20, b"abcd", 3, 0)), pa.py_buffer(b"abcd" * 10)],
    ),
    "string_view past buffer end": lambda: pa.Array.from_buffers(
        pa.string_view(),
        1,
        [None, pa.py_buffer(_view(20, b"abcd", 0, 30)), pa.py_buffer(b"abcd" * 10)],
    ),
    "string_view prefix mismatch": lambda: pa.Array.from_buffers(
        pa.string_view(),
        1,
        [None, pa.py_buffer(_view(20, b"zzzz", 0, 0)), pa.py_buffer(b"abcd" * 10)],
    ),
    "dictionary key out of range": lambda: pa.DictionaryArray.from_arrays(
        pa.array([0, 5], pa.int8()), pa.array(["x", "y"]), safe=False
    ),
    "dictionary key negative": lambda: pa.DictionaryArray.from_arrays(
        pa.array([0, -1], pa.int16()), pa.array(["x", "y"]), safe=False
    ),
    "dictionary key out of range (uint64)": lambda: pa.DictionaryArray.from_arrays(
        pa.array([2**64 - 1], pa.uint64()), pa.array([1.5]), safe=False
    ),
    "dictionary values invalid utf8": lambda: pa.DictionaryArray.from_arrays(
        pa.array([0], pa.int8()), _bad_utf8_strings()
    ),
    "invalid utf8 in list<string>": lambda: pa.Array.from_buffers(
        pa.list_(pa.string()), 1, [None, _i32(0, 1)], children=[_bad_utf8_strings()]
    ),
    "invalid utf8 in struct field": lambda: pa.StructArray.from_arrays(
        [pa.array([1]), _bad_utf8_strings()], names=["x", "y"]
    ),
    "dictionary key out of range in a struct": lambda: pa.StructArray.from_arrays(
        [pa.DictionaryArray.from_arrays(pa.array([7], pa.int8()), pa.array(["x"]), safe=False)],
        names=["d"],
    ),
    "fixed_size_list child too short": _fixed_size_list_child_too_short,
}


#: Malformed layouts that arrow-rs's C Data import itself rejects (by assertion) while building the
#: batch: the error is still InvalidDataError, but no column is known at that point.
IMPORT_FAILURES = {"fixed_size_list child too short"}


def _build(kind: str) -> pa.Array:
    try:
        return MALFORMED[kind]()
    except pa.ArrowInvalid as e:
        pytest.skip(f"pyarrow refuses to build this malformed array ({e}); nothing to export")


@pytest.mark.parametrize("how", sorted(HASHERS))
@pytest.mark.parametrize("kind", list(MALFORMED))
def test_malformed_data_raises_invalid_data_error(kind: str, how: str) -> None:
    arr = _build(kind)
    with pytest.raises(pa.ArrowException):
        arr.validate(full=True)  # really malformed
    data = table(arr, name="bad", good=pa.chunked_array([pa.array(range(len(arr)))]))
    with pytest.raises(InvalidDataError) as info:
        HASHERS[how](data)
    assert isinstance(info.value, ValueError)
    if kind in IMPORT_FAILURES:
        # arrow-rs asserts while importing the batch, before any column can be named.
        assert info.value.column is None
        assert "malformed Arrow data" in str(info.value)
    else:
        assert info.value.column == "bad"


@pytest.mark.parametrize("kind", list(MALFORMED))
def test_malformed_data_through_the_array_interface(kind: str) -> None:
    """The same data through ``__arrow_c_array__`` (a struct array) instead of a stream."""
    arr = _build(kind)
    try:
        struct_array = pa.StructArray.from_arrays([arr], names=["bad"])
    except pa.ArrowInvalid as e:
        pytest.skip(f"pyarrow refuses to wrap this array in a struct ({e})")
    with pytest.raises(InvalidDataError):
        lf.hash_table(ArrayOnly(struct_array))


@pytest.mark.parametrize("kind", list(MALFORMED))
def test_malformed_data_in_a_later_batch(kind: str) -> None:
    """Validation covers every batch, not only the first."""
    arr = _build(kind)
    good = pa.array([None] * len(arr), arr.type) if not pa.types.is_dictionary(arr.type) else None
    if good is None:
        good = pa.DictionaryArray.from_arrays(
            pa.array([None] * len(arr), arr.type.index_type), arr.dictionary
        )
    column = pa.chunked_array([good, arr], type=arr.type)
    with pytest.raises(InvalidDataError):
        lf.hash_table(table(column))


def test_malformed_data_never_crashes_the_interpreter() -> None:
    """Every malformed case in a child interpreter: a crash (signal) would not be an exception."""
    script = textwrap.dedent(
        """
        import sys
        sys.path.insert(0, {tests!r})
        import test_errors as T
        import lineage_fast as lf
        import pyarrow as pa
        for kind, build in T.MALFORMED.items():
            try:
                arr = build()
            except pa.ArrowInvalid:
                continue
            data = T.table(arr)
            for how, fn in T.HASHERS.items():
                try:
                    fn(data)
                except lf.LineageError as e:
                    print(kind, how, type(e).__name__)
                else:
                    print(kind, how, "accepted")
        print("done")
        """
    ).format(tests=str(Path(__file__).parent))
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, f"child died with {proc.returncode}: {proc.stderr[-2000:]}"
    assert proc.stdout.strip().endswith("done")


# ------------------------------------------------------------------------------------------
# Other producers hash like the equivalent pyarrow table
# ------------------------------------------------------------------------------------------


def test_pandas_dataframe() -> None:
    df = pd.DataFrame(
        {"a": [1, 2, 3], "b": ["x", None, "a string longer than twelve"], "c": [1.5, None, -0.0]}
    )
    expected = pa.table(
        {
            "a": pa.array([1, 2, 3], pa.int64()),
            "b": pa.array(["x", None, "a string longer than twelve"]),
            "c": pa.array([1.5, None, -0.0]),
        }
    )
    for order in ("ordered", "unordered"):
        assert (
            lf.hash_table(df, row_order=order).root == lf.hash_table(expected, row_order=order).root
        )  # type: ignore[arg-type]
    assert lf.row_fingerprints(df).equals(lf.row_fingerprints(expected))


def test_duckdb_relation() -> None:
    rel = duckdb.sql("select 1 as a")
    assert lf.hash_table(rel).root == lf.hash_table(pa.table({"a": pa.array([1], pa.int32())})).root


def test_duckdb_relation_from_arrow() -> None:
    t = pa.table(
        {
            "i": pa.array([1, 2, None], pa.int64()),
            "s": ["x", None, "a string longer than twelve"],
            "f": [1.5, float("nan"), -0.0],
            "l": [[1], None, []],
            "st": [{"x": 1}, None, {"x": None}],
            "b": [True, None, False],
        }
    )
    con = duckdb.connect()
    con.register("t", t)
    for rel in (con.sql("select * from t"), con.from_arrow(t)):
        for order in ("ordered", "unordered"):
            assert (
                lf.hash_table(rel, row_order=order).root == lf.hash_table(t, row_order=order).root
            )  # type: ignore[arg-type]


def test_duckdb_query_result_matches_its_arrow_table() -> None:
    con = duckdb.connect()
    query = "select range as i, 'v' || (range % 7) as s from range(5000) order by i"
    assert lf.hash_table(con.sql(query)).root == lf.hash_table(con.sql(query).arrow()).root


def test_record_batch_reader() -> None:
    t = pa.table({"a": list(range(100)), "b": [str(i) for i in range(100)]})
    reader = pa.RecordBatchReader.from_batches(t.schema, t.to_batches(max_chunksize=7))
    assert lf.hash_table(reader).root == lf.hash_table(t).root
    empty = pa.RecordBatchReader.from_batches(t.schema, [])
    assert lf.hash_table(empty).root == lf.hash_table(t.slice(0, 0)).root
    assert lf.hash_table(t.slice(0, 0)).num_rows == 0


def test_record_batch_and_struct_array() -> None:
    t = pa.table({"a": [1, 2], "b": ["x", None]})
    batch = t.to_batches()[0]
    assert lf.hash_table(batch).root == lf.hash_table(t).root
    assert lf.hash_table(ArrayOnly(batch)).root == lf.hash_table(t).root
    struct_array = pa.StructArray.from_arrays(batch.columns, names=t.column_names)
    assert lf.hash_table(ArrayOnly(struct_array)).root == lf.hash_table(t).root


def test_struct_array_with_top_level_nulls_is_not_a_table() -> None:
    s = pa.StructArray.from_arrays([pa.array([1, 2])], names=["a"], mask=pa.array([False, True]))
    with pytest.raises(LineageError):
        lf.hash_table(ArrayOnly(s))


def test_polars_dataframe() -> None:
    df = pl.DataFrame({"a": [1, 2], "s": ["x", None], "l": [[1.5], []]})
    expected = pa.table(
        {"a": pa.array([1, 2], pa.int64()), "s": ["x", None], "l": pa.array([[1.5], []])}
    )
    assert lf.hash_table(df).root == lf.hash_table(expected).root


@pytest.mark.parametrize(
    "table",
    [
        pa.table({"a\x00b": [1]}),
        pa.table({"s": pa.array([{"x\x00": 1}])}),
    ],
)
def test_nul_in_a_column_name_is_refused(table: pa.Table) -> None:
    # The C data interface would cut the name at NUL: "a\x00b" would hash as "a".
    with pytest.raises(lf.InvalidDataError, match="NUL") as e:
        lf.hash_table(table)
    assert e.value.column in ("a\x00b", "s.x\x00")
