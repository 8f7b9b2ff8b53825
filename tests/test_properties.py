"""Property tests of hash scheme 1: what the identity ignores and what it never ignores.

The root depends only on the logical content of a table: never on batching, slice offsets, the
string/list family, dictionary encoding, the presence of an all-valid validity bitmap, garbage under
null slots, the producer (polars), column order or the thread count. It changes with any single
cell, with null <-> empty, with how bytes are split between values and with row order (ordered
identity only). Data come from the strategies in ``strategies.py``; each property also checks that
the strategy kept the logical content (``row_keys``), so a failure is the library's.
"""

from __future__ import annotations

import itertools
import struct
from collections.abc import Callable
from typing import Any

import lineage_fast as lf
import polars as pl
import pyarrow as pa
import pytest
import strategies as S
from hypothesis import assume, given, settings
from hypothesis import strategies as st

EXAMPLES = S.EXAMPLES
SETTINGS = S.property_settings()
FEW = settings(SETTINGS, max_examples=max(1, EXAMPLES // 2))

ORDERS = ("ordered", "unordered")


def roots(data: Any, **kwargs: Any) -> tuple[str, str]:
    """The ordered and unordered roots of ``data``."""
    return tuple(lf.hash_table(data, row_order=o, **kwargs).root for o in ORDERS)  # type: ignore[return-value]


def fingerprints(data: Any, **kwargs: Any) -> list[bytes]:
    return [fp.as_py() for fp in lf.row_fingerprints(data, **kwargs)]


def assert_same_identity(
    original: pa.Table, variant: Any, *, fingerprints_too: bool = True
) -> None:
    """``variant`` (logically equal to ``original``) has the same roots and fingerprints."""
    if isinstance(variant, pa.Table):
        assert S.row_keys(variant) == S.row_keys(original), "strategy bug: content changed"
    expected = lf.hash_table(original)
    got = lf.hash_table(variant)
    assert got.schema_digest == expected.schema_digest
    assert dict(got.columns) == dict(expected.columns)
    assert got.root == expected.root
    assert got.num_rows == expected.num_rows
    assert (
        lf.hash_table(variant, row_order="unordered").root
        == lf.hash_table(original, row_order="unordered").root
    )
    if fingerprints_too:
        assert fingerprints(variant) == fingerprints(original)


def rebatched(table: pa.Table, bounds: list[int]) -> pa.Table:
    """``table`` as record batches cut at ``bounds`` (every column cut at the same rows)."""
    batches = [
        batch
        for a, b in itertools.pairwise(bounds)
        for batch in table.slice(a, b - a).combine_chunks().to_batches()
    ]
    return pa.Table.from_batches(batches, schema=table.schema)


def map_columns(table: pa.Table, fn: Callable[[pa.ChunkedArray], Any]) -> pa.Table:
    return pa.Table.from_arrays([fn(c) for c in table.columns], names=table.column_names)


# ------------------------------------------------------------------------------------------
# Invariance: physical layout never matters
# ------------------------------------------------------------------------------------------


@SETTINGS
@given(table=S.tables(), k=st.integers(1, 61))
def test_rebatching_with_max_chunksize(table: pa.Table, k: int) -> None:
    variant = pa.Table.from_batches(table.to_batches(max_chunksize=k), schema=table.schema)
    assert_same_identity(table, variant)


@SETTINGS
@given(data=st.data())
def test_rebatching_at_arbitrary_rows(data: st.DataObject) -> None:
    table = data.draw(S.tables())
    variant = rebatched(table, data.draw(S.chunk_bounds(table.num_rows)))
    assert_same_identity(table, variant)


@SETTINGS
@given(data=st.data())
def test_columns_chunked_independently(data: st.DataObject) -> None:
    """Each column chunked at its own rows: the stream export realigns them into batches."""
    table = data.draw(S.tables())

    def rechunk(column: pa.ChunkedArray) -> pa.ChunkedArray:
        bounds = data.draw(S.chunk_bounds(len(column)))
        return pa.chunked_array(
            [column.slice(a, b - a).combine_chunks() for a, b in itertools.pairwise(bounds)],
            type=column.type,
        )

    assert_same_identity(table, map_columns(table, rechunk))


@SETTINGS
@given(data=st.data())
def test_combine_chunks(data: st.DataObject) -> None:
    table = data.draw(S.tables())
    chunked = rebatched(table, data.draw(S.chunk_bounds(table.num_rows)))
    assert_same_identity(table, chunked.combine_chunks())


@SETTINGS
@given(data=st.data())
def test_table_slice_of_a_bigger_table(data: st.DataObject) -> None:
    table = data.draw(S.tables(min_rows=1))
    variant = S.slice_of_bigger(table, data.draw(st.randoms(use_true_random=False)))
    assert_same_identity(table, variant)


@SETTINGS
@given(data=st.data())
def test_sliced_arrays(data: st.DataObject) -> None:
    """Every column a slice of ``junk ++ column ++ junk`` (an offset at the top level)."""
    table = data.draw(S.tables())
    variant = map_columns(table, lambda c: data.draw(S.sliced_arrays(c.combine_chunks())))
    assert_same_identity(table, variant)


@SETTINGS
@given(data=st.data())
def test_offsets_on_every_level(data: st.DataObject) -> None:
    """Buffers rebuilt with an offset (and leading junk) on every nested level, no garbage."""
    table = data.draw(S.tables())
    variant = map_columns(
        table,
        lambda c: data.draw(S.equivalent_columns(c, target=c.type, garbage=False, rechunk=False)),
    )
    assert_same_identity(table, variant)


@SETTINGS
@given(data=st.data())
def test_string_binary_and_list_families_by_cast(data: st.DataObject) -> None:
    """string <-> large_string <-> string_view (binary likewise), list <-> large_list, cast by
    pyarrow at every nesting level."""
    table = data.draw(S.tables())

    def cast(column: pa.ChunkedArray) -> pa.ChunkedArray:
        target = data.draw(S.physical_types(column.type, dictionary=False))
        cast = column.cast(target)
        try:
            cast.validate(full=True)
        except pa.ArrowInvalid:
            # pyarrow 26 casts list<null> (and lists of fixed-size lists of nulls) to invalid
            # arrays; build that physical type by hand instead.
            return data.draw(S.equivalent_columns(column, target=target, garbage=False))
        return cast

    assert_same_identity(table, map_columns(table, cast))


@SETTINGS
@given(data=st.data())
def test_string_binary_and_list_families_rebuilt(data: st.DataObject) -> None:
    """The same families, buffers written by hand (views spread over variadic buffers)."""
    table = data.draw(S.tables())

    def rebuild(column: pa.ChunkedArray) -> pa.ChunkedArray:
        target = data.draw(S.physical_types(column.type, dictionary=False))
        return data.draw(S.equivalent_columns(column, target=target, garbage=False, offsets=False))

    assert_same_identity(table, map_columns(table, rebuild))


@SETTINGS
@given(data=st.data())
def test_dictionary_encoding(data: st.DataObject) -> None:
    """dictionary<K, V> hashes as plain V: any key type, unused and repeated entries, null keys,
    valid keys pointing at null entries, a separate dictionary per chunk."""
    table = data.draw(S.tables())

    def encode(column: pa.ChunkedArray) -> pa.ChunkedArray:
        if pa.types.is_null(column.type):
            return column
        key = data.draw(st.sampled_from(S.DICTIONARY_KEY_TYPES))
        return data.draw(
            S.equivalent_columns(
                column,
                target=pa.dictionary(key, column.type),
                garbage=False,
                offsets=False,
            )
        )

    assert_same_identity(table, map_columns(table, encode))


@SETTINGS
@given(data=st.data())
def test_dictionary_encoding_by_pyarrow(data: st.DataObject) -> None:
    table = data.draw(S.tables(types=S.primitive_types()))

    def encode(column: pa.ChunkedArray) -> pa.ChunkedArray:
        try:
            return column.dictionary_encode()
        except pa.ArrowNotImplementedError:
            return column

    assert_same_identity(table, map_columns(table, encode))


@SETTINGS
@given(data=st.data())
def test_nested_dictionaries(data: st.DataObject) -> None:
    """Dictionaries anywhere inside lists and structs (the physical type drawn per column)."""
    table = data.draw(S.tables(types=S.arrow_types(max_depth=2)))

    def encode(column: pa.ChunkedArray) -> pa.ChunkedArray:
        return data.draw(S.equivalent_columns(column, garbage=False, offsets=False))

    assert_same_identity(table, map_columns(table, encode))


@SETTINGS
@given(data=st.data())
def test_all_valid_bitmap_vs_none(data: st.DataObject) -> None:
    """An all-valid validity bitmap on every node without nulls hashes as no bitmap."""
    table = data.draw(S.tables(nulls=False))
    variant = map_columns(
        table,
        lambda c: data.draw(
            S.equivalent_columns(
                c, target=c.type, garbage=False, offsets=False, bitmap=True, rechunk=False
            )
        ),
    )
    assert_same_identity(table, variant)


@SETTINGS
@given(data=st.data())
def test_garbage_under_null_slots(data: st.DataObject) -> None:
    """Non-zero bytes under null primitives and bits under null booleans, non-empty ranges under
    null strings and lists, other rows' values under null structs and fixed-size lists, random
    padding bits in bitmaps, garbage keys under null dictionary keys."""
    table = data.draw(S.tables())
    variant = map_columns(
        table,
        lambda c: data.draw(
            S.equivalent_columns(c, target=c.type, garbage=True, offsets=False, rechunk=False)
        ),
    )
    assert_same_identity(table, variant)


@SETTINGS
@given(data=st.data())
def test_nan_payloads(data: st.DataObject) -> None:
    """Every NaN bit pattern is the one canonical NaN."""
    width = data.draw(st.sampled_from([2, 4, 8]))
    t = {2: pa.float16(), 4: pa.float32(), 8: pa.float64()}[width]
    n = data.draw(st.integers(1, 20))
    patterns = data.draw(st.lists(st.sampled_from(S.NAN_PATTERNS[width]), min_size=n, max_size=n))
    fmt = {2: "<H", 4: "<I", 8: "<Q"}[width]

    def column(bits: list[int]) -> pa.Array:
        data_ = b"".join(struct.pack(fmt, b) for b in bits)
        return pa.Array.from_buffers(t, n, [None, pa.py_buffer(data_)])

    canonical = pa.table({"x": column([S.NAN_PATTERNS[width][0]] * n)})
    assert_same_identity(canonical, pa.table({"x": column(patterns)}))


@FEW
@given(data=st.data())
def test_polars_round_trip(data: st.DataObject) -> None:
    """A polars DataFrame (which exports string_view, binary_view and large lists) hashes like
    the pyarrow table it was built from."""
    table = data.draw(S.tables(types=S.polars_types(), names=S.POLARS_COLUMN_NAMES))
    df = pl.from_arrow(table)
    assert isinstance(df, pl.DataFrame)
    back = df.to_arrow()
    # Precondition (not the property): polars kept the logical content.
    assert S.row_keys(back) == S.row_keys(table), "polars changed the data; restrict the types"
    assert roots(df) == roots(table)
    assert fingerprints(df) == fingerprints(table)
    assert roots(back) == roots(table)


@SETTINGS
@given(data=st.data())
def test_column_order(data: st.DataObject) -> None:
    table = data.draw(S.tables())
    names = data.draw(st.permutations(table.column_names))
    assert_same_identity(table, table.select(names))


@FEW
@given(data=st.data())
def test_thread_count(data: st.DataObject) -> None:
    table = data.draw(S.tables())
    table = rebatched(table, data.draw(S.chunk_bounds(table.num_rows)))
    assert roots(table, threads=1) == roots(table, threads=2) == roots(table)
    assert fingerprints(table, threads=1) == fingerprints(table, threads=2)


@SETTINGS
@given(data=st.data())
def test_every_variation_at_once(data: st.DataObject) -> None:
    """Columns reordered, re-chunked, rebuilt in other families, dictionary-encoded at any level,
    offsets, bitmaps and garbage everywhere, and the table a slice of a bigger one."""
    table = data.draw(S.tables(types=S.arrow_types(max_depth=3)))
    variant = data.draw(S.equivalent_tables(table))
    assert_same_identity(table, variant)


@SETTINGS
@given(data=st.data())
def test_input_kinds(data: st.DataObject) -> None:
    """A Table, its RecordBatchReader and (one batch) its RecordBatch hash alike."""
    table = data.draw(S.tables())
    batches = table.to_batches(max_chunksize=data.draw(st.integers(1, 20)))
    reader = pa.RecordBatchReader.from_batches(table.schema, batches)
    assert lf.hash_table(reader).root == lf.hash_table(table).root
    batch = table.combine_chunks().to_batches()
    if len(batch) == 1:
        assert lf.hash_table(batch[0]).root == lf.hash_table(table).root


# ------------------------------------------------------------------------------------------
# Sensitivity: logical changes always matter
# ------------------------------------------------------------------------------------------


def changeable(table: pa.Table) -> list[str]:
    return [n for n in table.column_names if not pa.types.is_null(table.schema.field(n).type)]


@SETTINGS
@given(data=st.data())
def test_any_single_cell_change(data: st.DataObject) -> None:
    """One cell set to another value or to null changes both roots and that column's digest,
    whatever the physical layout of either table."""
    table = data.draw(S.tables(min_rows=1))
    names = changeable(table)
    assume(names)
    name = data.draw(st.sampled_from(names))
    row = data.draw(st.integers(0, table.num_rows - 1))
    old = S.logical_values(table.column(name))[row]
    value = data.draw(S.different_values(table.schema.field(name).type, old))
    changed = S.replace_cell(table, name, row, value)
    assert S.logical_values(changed.column(name))[row] != old

    before, after = lf.hash_table(table), lf.hash_table(changed)
    assert after.root != before.root
    assert after.columns[name] != before.columns[name]
    assert roots(changed)[1] != roots(table)[1]
    # Layout variants of the changed table never collide with the original either (garbage
    # under nulls is left to the invariance tests).
    variant = data.draw(S.equivalent_tables(changed, garbage=False))
    assert set(roots(variant)).isdisjoint(roots(table))


@SETTINGS
@given(data=st.data())
def test_swapping_two_different_rows(data: st.DataObject) -> None:
    table = data.draw(S.tables(min_rows=2))
    keys = S.row_keys(table)
    i, j = data.draw(st.lists(st.integers(0, table.num_rows - 1), min_size=2, max_size=2))
    assume(keys[i] != keys[j])
    order = list(range(table.num_rows))
    order[i], order[j] = order[j], order[i]
    swapped = S.take(table, order)
    ordered, unordered = roots(table)
    assert lf.hash_table(swapped).root != ordered
    assert lf.hash_table(swapped, row_order="unordered").root == unordered


@SETTINGS
@given(data=st.data())
def test_unordered_root_is_permutation_invariant(data: st.DataObject) -> None:
    table = data.draw(S.tables())
    perm = data.draw(st.permutations(range(table.num_rows)))
    shuffled = data.draw(S.equivalent_tables(S.take(table, perm)))
    unordered = lf.hash_table(table, row_order="unordered")
    assert lf.hash_table(shuffled, row_order="unordered").root == unordered.root
    assert unordered.root != lf.hash_table(table).root
    assert unordered.row_order == "unordered"
    # Fingerprints follow their rows.
    assert fingerprints(shuffled) == [fingerprints(table)[p] for p in perm]


@SETTINGS
@given(data=st.data())
def test_unordered_counts_duplicates(data: st.DataObject) -> None:
    """The table plus a copy of row i vs the table plus a copy of row j: the same set of rows and
    the same row count, but not the same multiset."""
    table = data.draw(S.tables(min_rows=2))
    keys = S.row_keys(table)
    i, j = data.draw(st.lists(st.integers(0, table.num_rows - 1), min_size=2, max_size=2))
    assume(keys[i] != keys[j])
    with_i = data.draw(
        S.equivalent_tables(S.take(table, [*range(table.num_rows), i]), garbage=False)
    )
    with_j = data.draw(
        S.equivalent_tables(S.take(table, [*range(table.num_rows), j]), garbage=False)
    )
    assert set(S.row_keys(with_i)) == set(S.row_keys(with_j))
    assert (
        lf.hash_table(with_i, row_order="unordered").root
        != lf.hash_table(with_j, row_order="unordered").root
    )


@SETTINGS
@given(data=st.data())
def test_equal_rows_have_equal_fingerprints(data: st.DataObject) -> None:
    table = data.draw(S.tables(max_rows=30))
    # Duplicate some rows so that equal rows exist, then vary the layout.
    n = table.num_rows
    picks = data.draw(st.lists(st.integers(0, max(n - 1, 0)), max_size=10)) if n else []
    table = S.take(table, [*range(n), *picks])
    variant = data.draw(S.equivalent_tables(table))
    keys = S.row_keys(table)
    fps = fingerprints(variant)
    assert fps == fingerprints(table)
    by_key: dict[Any, set[bytes]] = {}
    for k, fp in zip(keys, fps, strict=True):
        by_key.setdefault(k, set()).add(fp)
    assert all(len(v) == 1 for v in by_key.values())
    assert all(len(fp) == 16 for fp in fps)


# ------------------------------------------------------------------------------------------
# Sensitivity, by example: values that a careless encoding would confuse
# ------------------------------------------------------------------------------------------


def root_of(columns: dict[str, Any]) -> str:
    return lf.hash_table(pa.table(columns)).root


@pytest.mark.parametrize("t", [*S.STRING_TYPES, *S.BINARY_TYPES])
def test_null_is_not_empty(t: pa.DataType) -> None:
    empty = "" if S.is_string_family(t) else b""
    assert root_of({"a": pa.array([empty, "x" if empty == "" else b"x"], t)}) != root_of(
        {"a": pa.array([None, "x" if empty == "" else b"x"], t)}
    )
    assert root_of({"a": pa.array([[empty]], pa.list_(t))}) != root_of(
        {"a": pa.array([[None]], pa.list_(t))}
    )


def test_null_list_is_not_empty_list_and_null_struct_is_not_struct_of_nulls() -> None:
    assert root_of({"a": pa.array([[]], pa.list_(pa.int8()))}) != root_of(
        {"a": pa.array([None], pa.list_(pa.int8()))}
    )
    t = pa.struct([("x", pa.int8())])
    assert root_of({"a": pa.array([{"x": None}], t)}) != root_of({"a": pa.array([None], t)})
    f = pa.list_(pa.int8(), 1)
    assert root_of({"a": pa.array([[None]], f)}) != root_of({"a": pa.array([None], f)})


@pytest.mark.parametrize("t", [*S.STRING_TYPES, *S.BINARY_TYPES])
def test_concatenation_ambiguity(t: pa.DataType) -> None:
    def arr(values: list[str]) -> pa.Array:
        return pa.array([v if S.is_string_family(t) else v.encode() for v in values], t)

    assert root_of({"a": arr(["ab", "c"])}) != root_of({"a": arr(["a", "bc"])})
    assert root_of({"a": arr(["abc", ""])}) != root_of({"a": arr(["", "abc"])})
    assert root_of({"a": arr(["ab"]), "b": arr(["c"])}) != root_of(
        {"a": arr(["a"]), "b": arr(["bc"])}
    )
    lt = pa.list_(t)
    assert root_of({"a": pa.array([[b] for b in arr(["ab", "c"]).to_pylist()], lt)}) != root_of(
        {"a": pa.array([[b] for b in arr(["a", "bc"]).to_pylist()], lt)}
    )


def test_list_boundaries_matter() -> None:
    assert root_of({"a": pa.array([[1, 2], [3]])}) != root_of({"a": pa.array([[1], [2, 3]])})
    assert root_of({"a": pa.array([[[1], [2]]])}) != root_of({"a": pa.array([[[1, 2]]])})
    assert root_of({"a": pa.array([[1], []])}) != root_of({"a": pa.array([[], [1]])})


def test_column_names_matter() -> None:
    assert root_of({"a": [1]}) != root_of({"b": [1]})
    assert root_of({"ab": ["c"]}) != root_of({"a": ["bc"]})
    assert root_of({"a": [1], "b": [2]}) != root_of({"a": [2], "b": [1]})


def test_unordered_duplicates_example() -> None:
    a = pa.table({"x": [1, 1, 2]})
    b = pa.table({"x": [1, 2, 2]})
    assert (
        lf.hash_table(a, row_order="unordered").root != lf.hash_table(b, row_order="unordered").root
    )
    assert (
        lf.hash_table(a, row_order="unordered").root
        == lf.hash_table(pa.table({"x": [2, 1, 1]}), row_order="unordered").root
    )


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (pa.array([1], pa.int32()), pa.array([1], pa.int64())),
        (pa.array([1], pa.int64()), pa.array([1], pa.uint64())),
        (pa.array([1], pa.int8()), pa.array([1], pa.uint8())),
        (pa.array([1.0], pa.float32()), pa.array([1.0], pa.float64())),
        (pa.array([1.0], pa.float16()), pa.array([1.0], pa.float32())),
        (pa.array([1.0], pa.float64()), pa.array([1], pa.int64())),
        (pa.array([0.0], pa.float32()), pa.array([0], pa.int32())),
        (pa.array(["a"]), pa.array([b"a"])),
        (pa.array(["a"], pa.string_view()), pa.array([b"a"], pa.binary_view())),
        (pa.array([b"ab"]), pa.array([b"ab"], pa.binary(2))),
        (pa.array([1], pa.timestamp("s")), pa.array([1], pa.timestamp("ms"))),
        (pa.array([1], pa.timestamp("us")), pa.array([1], pa.timestamp("us", "UTC"))),
        (pa.array([1], pa.timestamp("ns", "UTC")), pa.array([1], pa.timestamp("ns", "+00:00"))),
        (pa.array([1], pa.duration("s")), pa.array([1], pa.duration("ms"))),
        (pa.array([1], pa.date32()), pa.array([86_400_000], pa.date64())),
        (pa.array([1], pa.time32("s")), pa.array([1_000_000], pa.time64("us"))),
        (pa.array([1], pa.int64()), pa.array([1], pa.timestamp("s"))),
        (pa.array([[1, 2]], pa.list_(pa.int8())), pa.array([[1, 2]], pa.list_(pa.int8(), 2))),
        (pa.array([[1]], pa.list_(pa.int8())), pa.array([[1]], pa.list_(pa.int16()))),
        (pa.array([{"x": 1}]), pa.array([{"y": 1}])),
        (pa.array([None], pa.null()), pa.array([None], pa.int8())),
        (pa.array([1], pa.decimal128(5, 2)), pa.array([1], pa.decimal128(5, 3))),
    ],
    ids=lambda a: str(a.type),
)
def test_logical_types_are_never_conflated(a: pa.Array, b: pa.Array) -> None:
    ha, hb = lf.hash_table(pa.table({"c": a})), lf.hash_table(pa.table({"c": b}))
    assert ha.schema_digest != hb.schema_digest
    assert ha.root != hb.root
    ua = lf.hash_table(pa.table({"c": a}), row_order="unordered")
    ub = lf.hash_table(pa.table({"c": b}), row_order="unordered")
    assert ua.root != ub.root


@pytest.mark.parametrize(
    ("t", "fmt"), [(pa.float16(), "<e"), (pa.float32(), "<f"), (pa.float64(), "<d")]
)
def test_negative_zero_is_not_zero(t: pa.DataType, fmt: str) -> None:
    def col(v: float) -> pa.Table:
        return pa.table(
            {"x": pa.Array.from_buffers(t, 1, [None, pa.py_buffer(struct.pack(fmt, v))])}
        )

    pos, neg = col(0.0), col(-0.0)
    assert roots(pos)[0] != roots(neg)[0]
    assert roots(pos)[1] != roots(neg)[1]
    assert fingerprints(pos) != fingerprints(neg)
    nested = pa.list_(t)
    assert root_of({"x": pa.array([[0.0]], nested)}) != root_of({"x": pa.array([[-0.0]], nested)})


def test_equal_families_by_example() -> None:
    s = ["a", None, "", "a much longer string than twelve bytes"]
    assert len({root_of({"c": pa.array(s, t)}) for t in S.STRING_TYPES}) == 1
    b = [v.encode() if v is not None else None for v in s]
    assert len({root_of({"c": pa.array(b, t)}) for t in S.BINARY_TYPES}) == 1
    assert root_of({"c": pa.array([[1], None], pa.list_(pa.int8()))}) == root_of(
        {"c": pa.array([[1], None], pa.large_list(pa.int8()))}
    )
    assert root_of({"c": pa.array(s).dictionary_encode()}) == root_of({"c": pa.array(s)})


def test_nan_payload_examples() -> None:
    def f64(bits: int) -> pa.Table:
        return pa.table(
            {
                "x": pa.Array.from_buffers(
                    pa.float64(), 1, [None, pa.py_buffer(struct.pack("<Q", bits))]
                )
            }
        )

    canonical = roots(f64(0x7FF8000000000000))
    for bits in (0xFFF8000000000000, 0x7FF0000000000001, 0x7FFFFFFFFFFFFFFF):
        assert roots(f64(bits)) == canonical
    assert roots(f64(0x7FF0000000000000)) != canonical  # +inf is not NaN


# ------------------------------------------------------------------------------------------
# Regressions found by the properties above (minimal reproductions)
# ------------------------------------------------------------------------------------------


def test_dictionary_with_empty_dictionary() -> None:
    """All keys null and an empty dictionary (what ``dictionary_encode`` gives for all nulls)."""
    encoded = pa.array([None, None], pa.string()).dictionary_encode()
    assert len(encoded.dictionary) == 0
    assert_same_identity(
        pa.table({"a": pa.array([None, None], pa.string())}), pa.table({"a": encoded})
    )


def _dictionary_batch(lo: int, hi: int) -> pa.Array:
    values = pa.array([f"v{i}" for i in range(lo, hi)])
    return pa.DictionaryArray.from_arrays(pa.array(range(hi - lo), pa.int8()), values)


@pytest.mark.parametrize("wrap", ["top", "list", "struct"])
@pytest.mark.parametrize("row_order", ORDERS)
def test_small_dictionaries_per_batch_with_many_values_in_all(wrap: str, row_order: str) -> None:
    """Each batch has its own dictionary<int8, string> of 70 values (valid: 70 < 128), 140 in
    all. A chunk spanning both batches must not need one int8 dictionary of 140 entries, at the
    top level or nested in a list or a struct."""

    def batch(lo: int, hi: int) -> pa.Array:
        d = _dictionary_batch(lo, hi)
        if wrap == "list":
            return pa.ListArray.from_arrays(pa.array([0, hi - lo], pa.int32()), d)
        if wrap == "struct":
            return pa.StructArray.from_arrays([d], names=["x"])
        return d

    def plain(lo: int, hi: int) -> list[Any]:
        values = [f"v{i}" for i in range(lo, hi)]
        if wrap == "list":
            return [values]
        if wrap == "struct":
            return [{"x": v} for v in values]
        return values

    encoded = pa.table({"a": pa.chunked_array([batch(0, 70), batch(70, 140)])})
    decoded = pa.table({"a": plain(0, 70) + plain(70, 140)})
    assert (
        lf.hash_table(encoded, row_order=row_order).root
        == lf.hash_table(decoded, row_order=row_order).root
    )


def test_empty_child_whose_first_offset_is_not_zero() -> None:
    """A list<string> whose string child has length 0, offset 0 and offsets [1] over a 1-byte
    data buffer: valid Arrow (pyarrow validates it fully), the same logical list as [[]]."""
    child = pa.Array.from_buffers(
        pa.string(), 0, [None, pa.py_buffer(struct.pack("<i", 1)), pa.py_buffer(b"J")]
    )
    child.validate(full=True)
    lists = pa.Array.from_buffers(
        pa.list_(pa.string()), 1, [None, pa.py_buffer(struct.pack("<ii", 0, 0))], children=[child]
    )
    lists.validate(full=True)
    assert_same_identity(
        pa.table({"a": pa.array([[]], pa.list_(pa.string()))}), pa.table({"a": lists})
    )


def _null_slot_strings(t: pa.DataType, junk: bytes) -> pa.Array:
    validity = pa.array([True, False]).buffers()[1]
    if S.is_view(t):
        views = struct.pack("<I12s", 2, b"ab") + struct.pack("<I12s", len(junk), junk)
        return pa.Array.from_buffers(t, 2, [validity, pa.py_buffer(views)])
    offsets = struct.pack("<iii", 0, 2, 2 + len(junk))
    return pa.Array.from_buffers(
        t, 2, [validity, pa.py_buffer(offsets), pa.py_buffer(b"ab" + junk)]
    )


@pytest.mark.xfail(
    strict=True,
    reason="FINDING: bytes under a NULL utf8 slot are validated as UTF-8 (arrow-rs validate_full); "
    "Arrow C++/pyarrow accept them (ValidateFull skips null slots). Raises InvalidDataError.",
)
@pytest.mark.parametrize("t", [pa.string(), pa.string_view()])
def test_invalid_utf8_under_a_null_slot(t: pa.DataType) -> None:
    arr = _null_slot_strings(t, b"\xff\xfe")
    arr.validate(full=True)  # pyarrow: valid
    assert_same_identity(pa.table({"a": pa.array(["ab", None], t)}), pa.table({"a": arr}))


@pytest.mark.xfail(
    strict=True,
    reason="FINDING: a NULL string_view slot whose view points at a non-existent buffer is "
    "rejected (arrow-rs validates views of null slots); pyarrow accepts it. InvalidDataError.",
)
def test_garbage_view_under_a_null_slot() -> None:
    validity = pa.array([True, False]).buffers()[1]
    views = struct.pack("<I12s", 2, b"ab") + struct.pack("<I4sII", 100, b"abcd", 5, 1000)
    arr = pa.Array.from_buffers(pa.string_view(), 2, [validity, pa.py_buffer(views)])
    arr.validate(full=True)  # pyarrow: valid
    assert_same_identity(pa.table({"a": pa.array(["ab", None])}), pa.table({"a": arr}))


@pytest.mark.xfail(
    strict=True,
    reason="FINDING: polars exports a Null column with n_buffers=1 (a NULL pointer) where the C "
    "data interface says 0; pyarrow imports it, lineage_fast raises InvalidDataError.",
)
def test_polars_null_column() -> None:
    df = pl.DataFrame({"a": [None, None], "b": [1, 2]})
    expected = pa.table({"a": pa.nulls(2), "b": pa.array([1, 2], pa.int64())})
    assert roots(df) == roots(expected)


# ------------------------------------------------------------------------------------------
# Many rows: several content-defined chunks, windows and fingerprint tasks
# ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def big() -> pa.Table:
    n = 300_000
    ints = pa.array(range(n), pa.int64())
    strings = pa.array([f"s{i % 977}" if i % 13 else None for i in range(n)])
    floats = pa.array([float(i % 101) / 7 if i % 5 else float("nan") for i in range(n)])
    lists = pa.ListArray.from_arrays(
        pa.array([i - i % 3 for i in range(n + 1)], pa.int32()),
        pa.array([i % 30_000 for i in range(n)], pa.int16()),
    )
    return pa.table({"i": ints, "s": strings, "f": floats, "l": lists})


def test_big_table_has_several_chunks(big: pa.Table) -> None:
    h = lf.hash_table(big)
    assert len(h.chunks) > 5
    assert h.chunks[0].start == 0
    assert h.chunks[-1].stop == big.num_rows


@pytest.mark.parametrize(
    "transform",
    [
        lambda t: pa.Table.from_batches(t.to_batches(max_chunksize=7_777)),
        lambda t: pa.Table.from_batches(t.to_batches(max_chunksize=65_536)),
        lambda t: rebatched(t, [0, 1, 2_047, 2_048, 100_000, 262_144, 262_145, t.num_rows]),
        lambda t: t.set_column(1, "s", t.column("s").cast(pa.string_view())),
        lambda t: t.set_column(1, "s", t.column("s").dictionary_encode()),
        lambda t: t.set_column(3, "l", t.column("l").cast(pa.large_list(pa.int16()))),
        lambda t: pa.concat_tables([t.slice(0, 3), t]).slice(3),
        lambda t: t.select(["l", "f", "s", "i"]),
    ],
    ids=[
        "batches-7777",
        "batches-65536",
        "cuts",
        "string_view",
        "dictionary",
        "large_list",
        "offset",
        "order",
    ],
)
def test_big_table_layouts(big: pa.Table, transform: Callable[[pa.Table], pa.Table]) -> None:
    variant = transform(big)
    assert lf.hash_table(variant) == lf.hash_table(big)
    assert (
        lf.hash_table(variant, row_order="unordered").root
        == lf.hash_table(big, row_order="unordered").root
    )


def test_big_table_threads_and_permutation(big: pa.Table) -> None:
    assert lf.hash_table(big, threads=1) == lf.hash_table(big, threads=2)
    perm = list(range(big.num_rows))
    perm = perm[1::2] + perm[::2]
    shuffled = big.take(pa.array(perm))
    assert (
        lf.hash_table(shuffled, row_order="unordered", threads=1).root
        == lf.hash_table(big, row_order="unordered", threads=2).root
    )
    assert lf.hash_table(shuffled).root != lf.hash_table(big).root


def test_big_table_single_cell_change(big: pa.Table) -> None:
    row = 123_457
    s = big.column("s").to_pylist()
    s[row] = "changed"
    changed = big.set_column(1, "s", pa.array(s))
    before, after = lf.hash_table(big), lf.hash_table(changed)
    assert after.root != before.root
    diff = [i for i, (a, b) in enumerate(zip(before.chunks, after.chunks, strict=True)) if a != b]
    assert len(diff) == 1
    assert before.chunks[diff[0]].start <= row < before.chunks[diff[0]].stop
