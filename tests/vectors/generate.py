"""Golden vectors of hash scheme 1 (docs/hash-spec.md §12).

Every case builds a table from code, deterministically. ``python tests/vectors/generate.py --write``
rewrites ``scheme1.json`` and the Arrow IPC inputs of the small cases; ``tests/test_vectors.py``
regenerates everything in memory and fails on any difference. Rewriting the vectors is only ever
legitimate together with a new scheme number.
"""

from __future__ import annotations

import argparse
import json
import struct
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

HERE = Path(__file__).resolve().parent
VECTORS = HERE / "scheme1.json"
INPUTS = HERE / "inputs"
#: Cases with at most this many rows store their input as an Arrow IPC file.
MAX_STORED_ROWS = 2000
#: Fingerprints of at most this many rows are stored in full; bigger cases store the first and
#: last ``FP_EDGE`` rows.
MAX_FULL_FP = 64
FP_EDGE = 8


@dataclass
class Case:
    name: str
    description: str
    build: Callable[[], pa.Table]
    row_order: str = "ordered"
    #: Names of cases that must have the same root.
    equal_to: list[str] = field(default_factory=list)
    #: Names of cases that must have a different root.
    differs_from: list[str] = field(default_factory=list)


def f64_bits(bits: int) -> float:
    return float(struct.unpack("<d", struct.pack("<Q", bits))[0])


def f32_array_from_bits(bits: list[int | None]) -> pa.Array:
    buf = struct.pack(f"<{len(bits)}I", *[b or 0 for b in bits])
    validity = pa.array([b is not None for b in bits]).buffers()[1]
    nulls = sum(b is None for b in bits)
    return pa.Array.from_buffers(pa.float32(), len(bits), [validity, pa.py_buffer(buf)], nulls)


def with_garbage_under_nulls(arr: pa.Array, fill: int) -> pa.Array:
    """Rebuild a primitive array with ``fill`` bytes written under every null slot."""
    width = arr.type.bit_width // 8
    values = bytearray(
        arr.buffers()[1].to_pybytes()[arr.offset * width : (arr.offset + len(arr)) * width]
    )
    for i in range(len(arr)):
        if not arr[i].is_valid:
            values[i * width : (i + 1) * width] = bytes([fill]) * width
    validity = pa.array([v.is_valid for v in arr]).buffers()[1]
    return pa.Array.from_buffers(
        arr.type, len(arr), [validity, pa.py_buffer(bytes(values))], arr.null_count
    )


def strings() -> list[str | None]:
    return ["", None, "a", "ab", "héllo wörld", "日本語テキスト", "x" * 100_000, "\x00nul\x00", "c"]


def mixed(n: int) -> pa.Table:
    ids = list(range(n))
    return pa.table(
        {
            "id": pa.array(ids, pa.int64()),
            "qty": pa.array([(i * 7919) % 1000 for i in ids], pa.int64()),
            "price": pa.array([((i * 104729) % 100000) / 100 for i in ids], pa.float64()),
            "name": pa.array([f"item-{(i * 31) % 977}" for i in ids], pa.string()),
            "flag": pa.array([i % 3 == 0 for i in ids], pa.bool_()),
            "ts": pa.array(
                [1_700_000_000_000_000 + i * 1_000_003 for i in ids], pa.timestamp("us", "UTC")
            ),
            "maybe": pa.array([None if i % 20 == 0 else i * 3 for i in ids], pa.int64()),
            "category": pa.array(
                [["a", "bb", "ccc", "dddd"][i % 4] for i in ids]
            ).dictionary_encode(),
        }
    )


def cases() -> list[Case]:
    c: list[Case] = []

    def add(name: str, description: str, build: Callable[[], pa.Table], **kw: Any) -> None:
        c.append(Case(name, description, build, **kw))

    i64 = pa.int64()
    add("empty_int64", "no rows, one int64 column", lambda: pa.table({"x": pa.array([], i64)}))
    add(
        "empty_string",
        "no rows, one string column (differs from empty_int64: the schema is part of the root)",
        lambda: pa.table({"x": pa.array([], pa.string())}),
        differs_from=["empty_int64"],
    )
    add("no_columns", "no columns, no rows", lambda: pa.table({}))
    add(
        "no_columns_rows",
        "no columns, 70,000 rows: chunks cut by MAX only (65,536 + 4,464 rows)",
        lambda: pa.table({"x": pa.array(np.zeros(70_000, np.int64))}).select([]),
        differs_from=["no_columns"],
    )
    add("one_row", "a single int64 row", lambda: pa.table({"x": pa.array([42], i64)}))
    add(
        "ints_signed",
        "every signed width, extremes and nulls",
        lambda: pa.table(
            {
                "i8": pa.array([-128, 127, None, 0, -1], pa.int8()),
                "i16": pa.array([-32768, 32767, None, 0, -1], pa.int16()),
                "i32": pa.array([-(2**31), 2**31 - 1, None, 0, -1], pa.int32()),
                "i64": pa.array([-(2**63), 2**63 - 1, None, 0, -1], pa.int64()),
            }
        ),
    )
    add(
        "ints_unsigned",
        "every unsigned width, extremes and nulls",
        lambda: pa.table(
            {
                "u8": pa.array([0, 255, None, 1, 7], pa.uint8()),
                "u16": pa.array([0, 65535, None, 1, 7], pa.uint16()),
                "u32": pa.array([0, 2**32 - 1, None, 1, 7], pa.uint32()),
                "u64": pa.array([0, 2**64 - 1, None, 1, 7], pa.uint64()),
            }
        ),
    )
    add(
        "int32_not_int64",
        "the same numbers as int32 (widths are never conflated)",
        lambda: pa.table({"x": pa.array([42], pa.int32())}),
        differs_from=["one_row"],
    )
    add(
        "float64_nan_canonical",
        "float64 with the canonical NaN",
        lambda: pa.table({"f": pa.array([1.5, f64_bits(0x7FF8000000000000), None, float("inf")])}),
    )
    add(
        "float64_nan_payloads",
        "float64 with a negative NaN and a NaN payload: equal to the canonical NaN",
        lambda: pa.table({"f": pa.array([1.5, f64_bits(0xFFF8000000000001), None, float("inf")])}),
        equal_to=["float64_nan_canonical"],
    )
    add(
        "float64_pos_zero",
        "+0.0",
        lambda: pa.table({"f": pa.array([0.0, 1.0], pa.float64())}),
    )
    add(
        "float64_neg_zero",
        "-0.0 differs from +0.0",
        lambda: pa.table({"f": pa.array([-0.0, 1.0], pa.float64())}),
        differs_from=["float64_pos_zero"],
    )
    add(
        "float32_nan_payloads",
        "float32 NaN payloads, -0.0, null",
        lambda: pa.table(
            {"f": f32_array_from_bits([0x7FC00000, 0x7FC00001, 0xFFFFFFFF, 0x80000000, None])}
        ),
    )
    add(
        "float16",
        "float16 values including NaN",
        lambda: pa.table({"h": pa.array(np.array([1.0, np.nan, -0.0, 65504.0], dtype="float16"))}),
    )
    add(
        "bool",
        "booleans with nulls",
        lambda: pa.table(
            {"b": pa.array([True, False, None, True, False, False, True, True, None])}
        ),
    )
    add(
        "string",
        "empty vs null, unicode, a 100 kB value, NUL bytes",
        lambda: pa.table({"s": pa.array(strings(), pa.string())}),
    )
    add(
        "large_string",
        "large_string equals string",
        lambda: pa.table({"s": pa.array(strings(), pa.large_string())}),
        equal_to=["string"],
    )
    add(
        "string_view",
        "string_view equals string",
        lambda: pa.table({"s": pa.array(strings(), pa.string_view())}),
        equal_to=["string"],
    )
    add(
        "binary_of_strings",
        "binary never equals string",
        lambda: pa.table(
            {"s": pa.array([None if s is None else s.encode() for s in strings()], pa.binary())}
        ),
        differs_from=["string"],
    )
    add(
        "large_binary",
        "large_binary equals binary",
        lambda: pa.table(
            {
                "s": pa.array(
                    [None if s is None else s.encode() for s in strings()], pa.large_binary()
                )
            }
        ),
        equal_to=["binary_of_strings"],
    )
    add(
        "binary_view",
        "binary_view equals binary",
        lambda: pa.table(
            {
                "s": pa.array(
                    [None if s is None else s.encode() for s in strings()], pa.binary_view()
                )
            }
        ),
        equal_to=["binary_of_strings"],
    )
    add(
        "concat_ambiguity_a",
        '["ab", "c"]',
        lambda: pa.table({"s": pa.array(["ab", "c"])}),
    )
    add(
        "concat_ambiguity_b",
        '["a", "bc"] differs from ["ab", "c"]',
        lambda: pa.table({"s": pa.array(["a", "bc"])}),
        differs_from=["concat_ambiguity_a"],
    )
    add("null_vs_empty_a", "[null]", lambda: pa.table({"s": pa.array([None], pa.string())}))
    add(
        "null_vs_empty_b",
        '[""] differs from [null]',
        lambda: pa.table({"s": pa.array([""], pa.string())}),
        differs_from=["null_vs_empty_a"],
    )
    add(
        "fixed_size_binary",
        "fixed_size_binary(4) with nulls",
        lambda: pa.table({"f": pa.array([b"abcd", None, b"\x00\x00\x00\x00"], pa.binary(4))}),
    )
    add(
        "dates",
        "date32 and date64",
        lambda: pa.table(
            {
                "d32": pa.array([0, 19000, None, -1], pa.date32()),
                "d64": pa.array([0, 19000 * 86_400_000, None, -86_400_000], pa.date64()),
            }
        ),
    )
    add(
        "times",
        "time32[s], time32[ms], time64[us], time64[ns]",
        lambda: pa.table(
            {
                "t32s": pa.array([0, 86399, None], pa.time32("s")),
                "t32ms": pa.array([0, 86_399_999, None], pa.time32("ms")),
                "t64us": pa.array([0, 86_399_999_999, None], pa.time64("us")),
                "t64ns": pa.array([0, 86_399_999_999_999, None], pa.time64("ns")),
            }
        ),
    )
    for unit in ["s", "ms", "us", "ns"]:
        add(
            f"timestamp_{unit}",
            f"timestamp[{unit}] without a time zone",
            lambda unit=unit: pa.table(
                {"t": pa.array([0, 1_700_000_000, None, -5], pa.timestamp(unit))}
            ),
        )
    add(
        "timestamp_utc",
        "tz=UTC differs from no time zone",
        lambda: pa.table({"t": pa.array([0, 1_700_000_000, None, -5], pa.timestamp("s", "UTC"))}),
        differs_from=["timestamp_s"],
    )
    add(
        "timestamp_plus0000",
        "tz=+00:00 differs from tz=UTC (time zones are exact strings)",
        lambda: pa.table(
            {"t": pa.array([0, 1_700_000_000, None, -5], pa.timestamp("s", "+00:00"))}
        ),
        differs_from=["timestamp_utc"],
    )
    add(
        "durations",
        "duration in every unit",
        lambda: pa.table(
            {u: pa.array([0, -1, None, 10**12], pa.duration(u)) for u in ["s", "ms", "us", "ns"]}
        ),
    )
    add(
        "decimal128_scale2",
        "decimal128(10, 2)",
        lambda: pa.table(
            {"d": pa.array([Decimal("1.00"), Decimal("-12345678.99"), None], pa.decimal128(10, 2))}
        ),
    )
    add(
        "decimal128_scale1",
        "the same unscaled integers in decimal128(10, 1) differ (scale is part of the type)",
        lambda: pa.table(
            {"d": pa.array([Decimal("10.0"), Decimal("-123456789.9"), None], pa.decimal128(10, 1))}
        ),
        differs_from=["decimal128_scale2"],
    )
    add(
        "decimal256",
        "decimal256(40, 5)",
        lambda: pa.table(
            {
                "d": pa.array(
                    [Decimal("123456789012345678901234567890.12345"), None, Decimal(0)],
                    pa.decimal256(40, 5),
                )
            }
        ),
    )
    add(
        "decimal32_64",
        "decimal32(7, 2) and decimal64(15, 3)",
        lambda: pa.table(
            {
                "d32": pa.array([Decimal("1.25"), None, Decimal("-99999.99")], pa.decimal32(7, 2)),
                "d64": pa.array(
                    [Decimal("1.250"), None, Decimal("-999999999999.999")], pa.decimal64(15, 3)
                ),
            }
        ),
    )
    add(
        "list_int64",
        "lists with null rows, null elements and empty lists",
        lambda: pa.table({"l": pa.array([[1, 2], None, [], [None], [3, None, 4]], pa.list_(i64))}),
    )
    add(
        "large_list_int64",
        "large_list equals list",
        lambda: pa.table(
            {"l": pa.array([[1, 2], None, [], [None], [3, None, 4]], pa.large_list(i64))}
        ),
        equal_to=["list_int64"],
    )
    add(
        "list_of_list_of_string",
        "nested lists of strings",
        lambda: pa.table(
            {
                "l": pa.array(
                    [[["a"], [], None], None, [[None, ""]]], pa.list_(pa.list_(pa.string()))
                )
            }
        ),
    )
    add(
        "fixed_size_list",
        "fixed_size_list<int32>[3] with a null row over garbage children",
        lambda: pa.table(
            {
                "v": pa.FixedSizeListArray.from_arrays(
                    pa.array([1, 2, 3, 9, 9, 9, 7, None, 8], pa.int32()),
                    3,
                    mask=pa.array([False, True, False]),
                )
            }
        ),
    )
    add(
        "struct",
        "struct with null rows and null children",
        lambda: pa.table(
            {
                "s": pa.StructArray.from_arrays(
                    [pa.array([1, 2, None, 4], i64), pa.array(["a", None, "c", "d"])],
                    names=["a", "b"],
                    mask=pa.array([False, False, False, True]),
                )
            }
        ),
    )
    add(
        "struct_null_vs_null_children",
        "a null struct row differs from a valid row whose children are all null",
        lambda: pa.table(
            {
                "s": pa.StructArray.from_arrays(
                    [pa.array([1, 2, None, None], i64), pa.array(["a", None, "c", None])],
                    names=["a", "b"],
                )
            }
        ),
        differs_from=["struct"],
    )
    add(
        "list_of_struct",
        "structs inside lists",
        lambda: pa.table(
            {
                "l": pa.array(
                    [[{"k": 1, "v": "x"}, None], [], None, [{"k": None, "v": None}]],
                    pa.list_(pa.struct([("k", i64), ("v", pa.string())])),
                )
            }
        ),
    )
    add(
        "dictionary_string",
        "dictionary<int8, string> equals the plain strings",
        lambda: pa.table(
            {
                "s": pa.array(strings(), pa.string())
                .dictionary_encode()
                .cast(pa.dictionary(pa.int8(), pa.string()))
            }
        ),
        equal_to=["string"],
    )
    add(
        "dictionary_null_values",
        "a dictionary whose values contain a null, plus a null key",
        lambda: pa.table(
            {
                "s": pa.DictionaryArray.from_arrays(
                    pa.array([0, 1, None, 2, 0], pa.int32()), pa.array(["x", None, "z"])
                )
            }
        ),
    )
    add(
        "dictionary_null_values_plain",
        "the plain equivalent of dictionary_null_values",
        lambda: pa.table({"s": pa.array(["x", None, None, "z", "x"])}),
        equal_to=["dictionary_null_values"],
    )
    add("null_type", "a column of the null type", lambda: pa.table({"n": pa.nulls(5)}))
    add(
        "all_null_int64",
        "an all-null int64 column differs from the null type",
        lambda: pa.table({"n": pa.nulls(5, i64)}),
        differs_from=["null_type"],
    )
    add(
        "sliced",
        "a slice with an offset equals the same rows built fresh",
        lambda: pa.table(
            {
                "x": pa.array([9, 9, 9, 1, None, 3], i64),
                "s": pa.array(["q", "q", "q", "a", "b", None]),
            }
        ).slice(3),
    )
    add(
        "sliced_fresh",
        "the rows of `sliced`, built without an offset",
        lambda: pa.table({"x": pa.array([1, None, 3], i64), "s": pa.array(["a", "b", None])}),
        equal_to=["sliced"],
    )
    add(
        "garbage_under_nulls",
        "non-zero bytes under null slots are never read",
        lambda: pa.table({"x": with_garbage_under_nulls(pa.array([1, None, 3, None], i64), 0xAB)}),
    )
    add(
        "clean_under_nulls",
        "the same column with zeros under the nulls",
        lambda: pa.table({"x": pa.array([1, None, 3, None], i64)}),
        equal_to=["garbage_under_nulls"],
    )
    add(
        "column_order_ab",
        "columns a, b",
        lambda: pa.table({"a": pa.array([1, 2]), "b": pa.array(["x", "y"])}),
    )
    add(
        "column_order_ba",
        "columns b, a: the same identity (columns are hashed by name)",
        lambda: pa.table({"b": pa.array(["x", "y"]), "a": pa.array([1, 2])}),
        equal_to=["column_order_ab"],
    )
    add(
        "rows_swapped",
        "the rows of column_order_ab swapped (ordered: a different root)",
        lambda: pa.table({"a": pa.array([2, 1]), "b": pa.array(["y", "x"])}),
        differs_from=["column_order_ab"],
    )
    add(
        "unordered_ab",
        "unordered identity of column_order_ab",
        lambda: pa.table({"a": pa.array([1, 2]), "b": pa.array(["x", "y"])}),
        row_order="unordered",
        differs_from=["column_order_ab"],
    )
    add(
        "unordered_swapped",
        "unordered identity of rows_swapped: equal to unordered_ab",
        lambda: pa.table({"a": pa.array([2, 1]), "b": pa.array(["y", "x"])}),
        row_order="unordered",
        equal_to=["unordered_ab"],
    )
    add(
        "unordered_duplicates",
        "[1, 1, 2] as a multiset",
        lambda: pa.table({"x": pa.array([1, 1, 2], i64)}),
        row_order="unordered",
    )
    add(
        "unordered_duplicates_other",
        "[1, 2, 2] differs from [1, 1, 2] (duplicates count)",
        lambda: pa.table({"x": pa.array([2, 1, 2], i64)}),
        row_order="unordered",
        differs_from=["unordered_duplicates"],
    )
    add("mixed_1000", "the benchmark column mix, 1000 rows", lambda: mixed(1000))
    add(
        "mixed_1000_batches_of_7",
        "the same rows in batches of 7",
        lambda: pa.Table.from_batches(mixed(1000).to_batches(max_chunksize=7)),
        equal_to=["mixed_1000"],
    )
    add(
        "chunks_60000",
        "60,000 rows of int64 ids: several content-defined chunks",
        lambda: pa.table({"id": pa.array(range(60_000), i64)}),
    )
    add(
        "constant_140000",
        "140,000 identical rows: no content boundary after the first row, runs cut at 65,536",
        lambda: pa.table({"z": pa.array([0] * 140_000, pa.int8())}),
    )
    add(
        "mixed_100000_unordered",
        "the benchmark column mix, 100,000 rows, unordered identity",
        lambda: mixed(100_000),
        row_order="unordered",
    )
    return c


def fingerprints_hex(table: pa.Table) -> dict[str, Any]:
    import lineage_fast as lf

    fp = lf.row_fingerprints(table)
    hexes = [v.hex() for v in fp.to_pylist()]
    if len(hexes) <= MAX_FULL_FP:
        return {"all": hexes}
    return {"first": hexes[:FP_EDGE], "last": hexes[-FP_EDGE:]}


def compute(case: Case, table: pa.Table | None = None) -> dict[str, Any]:
    """The expected record of a case (from ``table`` when given, else built from code)."""
    import lineage_fast as lf

    t = case.build() if table is None else table
    h = lf.hash_table(t, row_order=case.row_order)  # type: ignore[arg-type]
    return {
        "name": case.name,
        "description": case.description,
        "row_order": case.row_order,
        "num_rows": h.num_rows,
        "root": h.root,
        "schema_digest": h.schema_digest,
        "columns": dict(h.columns),
        "column_types": dict(h.column_types),
        "chunks": [[c.digest, c.start, c.num_rows] for c in h.chunks],
        "fingerprints": fingerprints_hex(t),
        "equal_to": case.equal_to,
        "differs_from": case.differs_from,
        "input": f"inputs/{case.name}.arrow" if t.num_rows <= MAX_STORED_ROWS else None,
    }


def generate() -> dict[str, Any]:
    return {"scheme": 1, "cases": [compute(c) for c in cases()]}


def read_input(name: str) -> pa.Table:
    with pa.memory_map(str(INPUTS / f"{name}.arrow")) as source:
        return pa.ipc.open_file(source).read_all()


def write() -> None:
    doc = generate()
    INPUTS.mkdir(exist_ok=True)
    by_name = {c.name: c for c in cases()}
    for rec in doc["cases"]:
        if rec["input"]:
            t = by_name[rec["name"]].build()
            path = str(INPUTS / f"{rec['name']}.arrow")
            with pa.OSFile(path, "wb") as sink, pa.ipc.new_file(sink, t.schema) as w:
                w.write_table(t)
    VECTORS.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {len(doc['cases'])} cases to {VECTORS}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--write", action="store_true", help="rewrite scheme1.json and the inputs")
    args = ap.parse_args()
    if not args.write:
        doc = generate()
        print(json.dumps(doc, indent=1, ensure_ascii=False)[:2000])
        sys.exit(0)
    write()
