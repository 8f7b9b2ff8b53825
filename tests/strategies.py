"""Hypothesis strategies for Arrow data, written for the lineage_fast test-suite.

* :func:`arrow_types` draws every logical type hash scheme 1 supports (nested lists, large lists,
  fixed-size lists and structs up to a chosen depth).
* :func:`arrays` draws an array of a given type with nulls, NaNs with varied payloads, ``-0.0``,
  empty strings next to nulls and strings longer than the 12 bytes a string view inlines.
* :func:`physical_types`, :func:`equivalent_arrays`, :func:`equivalent_columns` and
  :func:`equivalent_tables` draw *physically different but logically equal* data: other string,
  binary and list families, dictionary encoding (with null keys, keys pointing at null dictionary
  entries, unused and repeated dictionary entries), slice offsets, re-chunking, an all-valid
  validity bitmap instead of none, and garbage under null slots (non-zero bytes under null
  primitives, non-empty ranges under null strings and lists, arbitrary rows under null structs).
  Every array is rebuilt buffer by buffer with :meth:`pyarrow.Array.from_buffers`.
* :func:`tables` draws tables of 1-5 uniquely named columns and 0-60 rows.
* :func:`logical_values` is the reference model: the logical content of an array as plain Python
  values (NaN canonical, ``-0.0`` distinct from ``0.0``), used to check the strategies themselves
  and to pick cells and rows that really differ.
"""

from __future__ import annotations

import bisect
import itertools
import os
import random
import struct
from collections.abc import Sequence
from typing import Any

import pyarrow as pa
from hypothesis import HealthCheck, reject, settings
from hypothesis import strategies as st

#: Examples per property; raise it for a deeper run, e.g. ``LF_PROPERTY_EXAMPLES=1000``.
EXAMPLES = int(os.environ.get("LF_PROPERTY_EXAMPLES", "30"))


def property_settings(*also_suppress: HealthCheck) -> settings:
    """The settings of the property tests: :data:`EXAMPLES` examples, no deadline (the machines
    are shared), and the health checks that large Arrow tables trip suppressed."""
    return settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
            *also_suppress,
        ],
    )


# --------------------------------------------------------------------------------------------
# Types
# --------------------------------------------------------------------------------------------

SIGNED_INT_TYPES = [pa.int8(), pa.int16(), pa.int32(), pa.int64()]
UNSIGNED_INT_TYPES = [pa.uint8(), pa.uint16(), pa.uint32(), pa.uint64()]
INT_TYPES = SIGNED_INT_TYPES + UNSIGNED_INT_TYPES
FLOAT_TYPES = [pa.float16(), pa.float32(), pa.float64()]
STRING_TYPES = [pa.string(), pa.large_string(), pa.string_view()]
BINARY_TYPES = [pa.binary(), pa.large_binary(), pa.binary_view()]
TIME_UNITS = ["s", "ms", "us", "ns"]
TIMEZONES = [None, "UTC", "Europe/Paris", "+05:30"]
DICTIONARY_KEY_TYPES = INT_TYPES
#: Key types able to address the dictionaries of nested children (which can hold hundreds of
#: entries); 8-bit keys are only used for top-level columns (at most 60 + a few entries).
WIDE_KEY_TYPES = [pa.int16(), pa.int32(), pa.int64(), pa.uint16(), pa.uint32(), pa.uint64()]

SIMPLE_TYPES = [
    pa.null(),
    pa.bool_(),
    *INT_TYPES,
    *FLOAT_TYPES,
    *STRING_TYPES,
    *BINARY_TYPES,
    pa.date32(),
    pa.date64(),
    pa.time32("s"),
    pa.time32("ms"),
    pa.time64("us"),
    pa.time64("ns"),
]


def is_string_family(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t)


def is_binary_family(t: pa.DataType) -> bool:
    return pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_binary_view(t)


def is_view(t: pa.DataType) -> bool:
    return pa.types.is_string_view(t) or pa.types.is_binary_view(t)


def is_variable_list(t: pa.DataType) -> bool:
    return pa.types.is_list(t) or pa.types.is_large_list(t)


def is_fixed_width(t: pa.DataType) -> bool:
    """Fixed-width types stored as one values buffer of ``bit_width / 8`` bytes per slot."""
    return (
        pa.types.is_integer(t)
        or pa.types.is_floating(t)
        or pa.types.is_temporal(t)
        or pa.types.is_decimal(t)
        or pa.types.is_fixed_size_binary(t)
    )


def byte_width(t: pa.DataType) -> int:
    return int(t.bit_width) // 8


@st.composite
def _decimal_types(draw: st.DrawFn) -> pa.DataType:
    if draw(st.booleans()):
        p = draw(st.integers(1, 38))
        return pa.decimal128(p, draw(st.integers(-2, p)))
    p = draw(st.integers(1, 76))
    return pa.decimal256(p, draw(st.integers(-2, p)))


def primitive_types() -> st.SearchStrategy[pa.DataType]:
    """Every non-nested type of scheme 1 (all physical families of strings and binaries)."""
    return st.one_of(
        st.sampled_from(SIMPLE_TYPES),
        st.builds(pa.binary, st.integers(1, 9)),  # fixed_size_binary
        st.builds(pa.timestamp, st.sampled_from(TIME_UNITS), st.sampled_from(TIMEZONES)),
        st.builds(pa.duration, st.sampled_from(TIME_UNITS)),
        _decimal_types(),
    )


FIELD_NAMES = st.text(alphabet="abxyz_é0", min_size=1, max_size=3)


@st.composite
def _struct_types(draw: st.DrawFn, child: st.SearchStrategy[pa.DataType]) -> pa.DataType:
    names = draw(st.lists(FIELD_NAMES, min_size=1, max_size=3, unique=True))
    return pa.struct([pa.field(n, draw(child)) for n in names])


def arrow_types(max_depth: int = 2) -> st.SearchStrategy[pa.DataType]:
    """Every logical type of scheme 1, with list/large_list/fixed-size list/struct nesting up to
    ``max_depth`` levels."""
    if max_depth <= 0:
        return primitive_types()
    child = arrow_types(max_depth - 1)
    nested = st.one_of(
        st.builds(pa.list_, child),
        st.builds(pa.large_list, child),
        st.builds(pa.list_, child, st.integers(1, 3)),  # fixed_size_list
        _struct_types(child),
    )
    return st.one_of(primitive_types(), nested)


@st.composite
def physical_types(
    draw: st.DrawFn, t: pa.DataType, *, dictionary: bool = True, top: bool = True
) -> pa.DataType:
    """A physical type for the logical type of ``t``: string/large_string/string_view (and the
    binary family) swapped, list <-> large_list, and any node possibly dictionary-encoded."""
    if pa.types.is_dictionary(t):
        t = t.value_type
    if is_string_family(t):
        out = draw(st.sampled_from(STRING_TYPES))
    elif is_binary_family(t):
        out = draw(st.sampled_from(BINARY_TYPES))
    elif is_variable_list(t):
        child = draw(physical_types(t.value_type, dictionary=dictionary, top=False))
        factory = draw(st.sampled_from([pa.list_, pa.large_list]))
        out = factory(t.value_field.with_type(child))
    elif pa.types.is_fixed_size_list(t):
        child = draw(physical_types(t.value_type, dictionary=dictionary, top=False))
        out = pa.list_(t.value_field.with_type(child), t.list_size)
    elif pa.types.is_struct(t):
        out = pa.struct(
            [f.with_type(draw(physical_types(f.type, dictionary=dictionary, top=False))) for f in t]
        )
    else:
        out = t
    if dictionary and not pa.types.is_null(t) and draw(st.integers(0, 3)) == 0:
        keys = DICTIONARY_KEY_TYPES if top else WIDE_KEY_TYPES
        # No dictionary nested inside a dictionary's values.
        plain = draw(physical_types(t, dictionary=False, top=False))
        return pa.dictionary(draw(st.sampled_from(keys)), plain)
    return out


# --------------------------------------------------------------------------------------------
# Values
# --------------------------------------------------------------------------------------------

NAN_PATTERNS = {
    2: [0x7E00, 0xFE00, 0x7C01, 0x7D00, 0x7FFF, 0xFFFF],
    4: [0x7FC00000, 0xFFC00000, 0x7F800001, 0x7FA00000, 0x7FFFFFFF, 0xFFFFFFFF],
    8: [
        0x7FF8000000000000,
        0xFFF8000000000000,
        0x7FF0000000000001,
        0x7FF4000000000000,
        0x7FFFFFFFFFFFFFFF,
        0xFFFFFFFFFFFFFFFF,
    ],
}
_FLOAT_FORMAT = {2: "<e", 4: "<f", 8: "<d"}
_UINT_FORMAT = {2: "<H", 4: "<I", 8: "<Q"}


def is_nan_bits(bits: int, width: int) -> bool:
    exp_mask, mant_mask = {
        2: (0x7C00, 0x03FF),
        4: (0x7F800000, 0x007FFFFF),
        8: (0x7FF0000000000000, 0x000FFFFFFFFFFFFF),
    }[width]
    return bits & exp_mask == exp_mask and bits & mant_mask != 0


@st.composite
def _float_bytes(draw: st.DrawFn, width: int) -> bytes:
    kind = draw(st.integers(0, 9))
    if kind <= 1:
        return struct.pack(_UINT_FORMAT[width], draw(st.sampled_from(NAN_PATTERNS[width])))
    if kind == 2:
        return struct.pack(
            _FLOAT_FORMAT[width], draw(st.sampled_from([0.0, -0.0, float("inf"), -float("inf")]))
        )
    value = draw(st.floats(allow_nan=False, width=width * 8))  # type: ignore[arg-type]
    return struct.pack(_FLOAT_FORMAT[width], value)


def _int_range(t: pa.DataType) -> tuple[int, int]:
    bits = int(t.bit_width)
    if pa.types.is_unsigned_integer(t):
        return 0, (1 << bits) - 1
    return -(1 << (bits - 1)), (1 << (bits - 1)) - 1


@st.composite
def _fixed_bytes(draw: st.DrawFn, t: pa.DataType) -> bytes:
    """The little-endian bytes of one valid value of fixed-width type ``t``."""
    w = byte_width(t)
    if pa.types.is_floating(t):
        return draw(_float_bytes(w))
    if pa.types.is_integer(t):
        lo, hi = _int_range(t)
        small = st.integers(max(lo, -3), min(hi, 3))
        v = draw(st.one_of(small, st.integers(lo, hi), st.sampled_from([lo, hi])))
        return v.to_bytes(w, "little", signed=pa.types.is_signed_integer(t))
    if pa.types.is_decimal(t):
        bound = 10 ** int(t.precision) - 1
        v = draw(st.one_of(st.integers(-bound, bound), st.sampled_from([-bound, 0, bound])))
        return v.to_bytes(w, "little", signed=True)
    if pa.types.is_fixed_size_binary(t):
        return draw(st.binary(min_size=w, max_size=w))
    if pa.types.is_date32(t):
        v = draw(st.integers(-100_000, 100_000))
    elif pa.types.is_date64(t):
        v = draw(st.integers(-100_000, 100_000)) * 86_400_000
    elif pa.types.is_time32(t) or pa.types.is_time64(t):
        per_day = 86_400 * {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}[t.unit]
        v = draw(st.integers(0, per_day - 1))
    else:  # timestamp, duration
        v = draw(st.one_of(st.integers(-(10**15), 10**15), st.integers(-(2**62), 2**62)))
    return v.to_bytes(w, "little", signed=True)


TEXT = st.one_of(
    st.just(""),
    st.text(max_size=12),
    st.text(min_size=13, max_size=60),  # longer than a view's 12 inline bytes
    st.text(alphabet="ab", max_size=4),  # many equal / near-equal short strings
)
BINARY = st.one_of(
    st.just(b""),
    st.binary(max_size=12),
    st.binary(min_size=13, max_size=60),
    st.sampled_from([b"\x00", b"\x00\x00", b"\xff"]),
)


def _bitmap(bits: Sequence[bool], rnd: random.Random | None = None) -> pa.Buffer:
    """An LSB-first validity/values bitmap; padding bits are random when ``rnd`` is given."""
    n = len(bits)
    out = bytearray((n + 7) // 8 + (1 if rnd is not None and rnd.random() < 0.3 else 0))
    for i, b in enumerate(bits):
        if b:
            out[i >> 3] |= 1 << (i & 7)
    if rnd is not None:
        for i in range(n, len(out) * 8):
            if rnd.random() < 0.5:
                out[i >> 3] |= 1 << (i & 7)
    return pa.py_buffer(bytes(out))


@st.composite
def _validity(draw: st.DrawFn, n: int, nulls: bool | None) -> list[bool]:
    if nulls is False or n == 0:
        return [True] * n
    mode = draw(st.sampled_from(["none", "some", "some", "all"])) if nulls is None else "some"
    if mode == "none":
        return [True] * n
    if mode == "all":
        return [False] * n
    return draw(st.lists(st.booleans(), min_size=n, max_size=n))


def _offsets_buffer(offsets: Sequence[int], large: bool) -> pa.Buffer:
    fmt = "<q" if large else "<i"
    return pa.py_buffer(b"".join(struct.pack(fmt, o) for o in offsets))


@st.composite
def arrays(
    draw: st.DrawFn,
    t: pa.DataType,
    size: int | None = None,
    *,
    max_size: int = 60,
    nulls: bool | None = None,
) -> pa.Array:
    """An array of type ``t`` (offset 0, null slots zeroed).

    ``nulls``: ``None`` draws no/some/all nulls, ``False`` none at the top level, ``True`` some.
    """
    n = draw(st.integers(0, max_size)) if size is None else size
    valid = _validity(n, nulls)
    valid = draw(valid)
    if pa.types.is_null(t):
        return pa.nulls(n)
    validity = None if all(valid) else _bitmap(valid)
    if is_fixed_width(t):
        w = byte_width(t)
        data = b"".join(draw(_fixed_bytes(t)) if v else bytes(w) for v in valid)
        return pa.Array.from_buffers(t, n, [validity, pa.py_buffer(data)])
    if pa.types.is_boolean(t):
        values = [draw(st.booleans()) if v else None for v in valid]
        return pa.array(values, pa.bool_())
    if is_string_family(t) or is_binary_family(t):
        strategy = TEXT if is_string_family(t) else BINARY
        values = [draw(strategy) if v else None for v in valid]
        return pa.array(values, t)
    if is_variable_list(t):
        lengths = [draw(st.integers(0, 3)) if v else 0 for v in valid]
        offsets = [0]
        for length in lengths:
            offsets.append(offsets[-1] + length)
        child = draw(arrays(t.value_type, offsets[-1]))
        large = pa.types.is_large_list(t)
        return pa.Array.from_buffers(
            t, n, [validity, _offsets_buffer(offsets, large)], children=[child]
        )
    if pa.types.is_fixed_size_list(t):
        child = draw(arrays(t.value_type, n * t.list_size))
        return pa.Array.from_buffers(t, n, [validity], children=[child])
    if pa.types.is_struct(t):
        children = [draw(arrays(f.type, n)) for f in t]
        return pa.Array.from_buffers(t, n, [validity], children=children)
    raise NotImplementedError(f"no strategy for {t}")


# --------------------------------------------------------------------------------------------
# The reference model
# --------------------------------------------------------------------------------------------


def _fixed_slot_bytes(arr: pa.Array) -> list[bytes]:
    w = byte_width(arr.type)
    buf = arr.buffers()[1]
    raw = b"" if buf is None else buf.to_pybytes()
    base = arr.offset * w
    return [raw[base + i * w : base + (i + 1) * w] for i in range(len(arr))]


def logical_values(arr: pa.Array | pa.ChunkedArray) -> list[Any]:
    """The logical content of ``arr`` as hashable Python values, one per slot.

    Nulls are ``None``; fixed-width values are their little-endian bytes, floats with NaN made
    canonical (so ``-0.0`` and ``0.0`` differ and all NaNs are equal); strings are ``("s", str)``
    and binaries ``("b", bytes)`` (never equal to each other); lists are tuples and structs tuples
    of ``(name, value)`` pairs. Every physical variant of a logical array maps to the same list.
    """
    if isinstance(arr, pa.ChunkedArray):
        return [v for chunk in arr.chunks for v in logical_values(chunk)]
    t = arr.type
    n = len(arr)
    if pa.types.is_dictionary(t):
        keys = arr.indices.to_pylist()
        dictionary = logical_values(arr.dictionary)
        return [None if k is None else dictionary[k] for k in keys]
    if pa.types.is_null(t):
        return [None] * n
    valid = arr.is_valid().to_pylist()
    values: list[Any]
    if pa.types.is_floating(t):
        w = byte_width(t)
        values = []
        for b in _fixed_slot_bytes(arr):
            bits = int.from_bytes(b, "little")
            values.append(NAN_PATTERNS[w][0] if is_nan_bits(bits, w) else bits)
        values = [("f", v) for v in values]
    elif is_fixed_width(t):
        values = _fixed_slot_bytes(arr)
    elif pa.types.is_boolean(t):
        values = arr.to_pylist()
    elif is_string_family(t):
        values = [("s", v) for v in arr.to_pylist()]
    elif is_binary_family(t):
        values = [("b", v) for v in arr.to_pylist()]
    elif is_variable_list(t):
        offsets = arr.offsets.to_pylist()
        child = logical_values(arr.values)
        values = [tuple(child[offsets[i] : offsets[i + 1]]) for i in range(n)]
    elif pa.types.is_fixed_size_list(t):
        k = t.list_size
        child = logical_values(arr.values.slice(arr.offset * k, n * k))
        values = [tuple(child[i * k : (i + 1) * k]) for i in range(n)]
    elif pa.types.is_struct(t):
        names = [f.name for f in t]
        children = [logical_values(arr.field(j)) for j in range(t.num_fields)]
        values = [tuple(zip(names, row, strict=True)) for row in zip(*children, strict=True)]
        if t.num_fields == 0:
            values = [()] * n
    else:
        raise NotImplementedError(f"no reference model for {t}")
    return [v if ok else None for v, ok in zip(values, valid, strict=True)]


def row_keys(table: pa.Table) -> list[tuple[Any, ...]]:
    """One hashable key per row (columns by name, so column order does not matter)."""
    names = sorted(table.column_names)
    columns = [logical_values(table.column(n)) for n in names]
    return [tuple(zip(names, row, strict=True)) for row in zip(*columns, strict=True)] or [
        () for _ in range(table.num_rows)
    ]


# --------------------------------------------------------------------------------------------
# Physically different, logically equal
# --------------------------------------------------------------------------------------------


def _without_views(t: pa.DataType) -> pa.DataType:
    """``t`` with string_view/binary_view replaced by large_string/large_binary (pyarrow has no
    ``take`` kernel for view types); dictionaries are left alone (``take`` only moves keys)."""
    if pa.types.is_string_view(t):
        return pa.large_string()
    if pa.types.is_binary_view(t):
        return pa.large_binary()
    if pa.types.is_list(t):
        return pa.list_(t.value_field.with_type(_without_views(t.value_type)))
    if pa.types.is_large_list(t):
        return pa.large_list(t.value_field.with_type(_without_views(t.value_type)))
    if pa.types.is_fixed_size_list(t):
        return pa.list_(t.value_field.with_type(_without_views(t.value_type)), t.list_size)
    if pa.types.is_struct(t):
        return pa.struct([f.with_type(_without_views(f.type)) for f in t])
    return t


def take(data: Any, indices: Sequence[int]) -> Any:
    """``data.take(indices)`` for arrays, chunked arrays and tables, view types included (the
    physical type is kept)."""
    idx = pa.array(indices, pa.int64())
    if isinstance(data, pa.Table):
        columns = [take(c, indices) for c in data.columns]
        return pa.Table.from_arrays(columns, schema=data.schema)
    if isinstance(data, pa.ChunkedArray):
        # Chunk by chunk: pyarrow cannot unify the dictionaries of every value type.
        starts = [0]
        for chunk in data.chunks:
            starts.append(starts[-1] + len(chunk))
        runs: list[tuple[int, list[int]]] = []
        for i in indices:
            c = bisect.bisect_right(starts, i) - 1
            while len(data.chunks[c]) == 0:
                c += 1
            if not runs or runs[-1][0] != c:
                runs.append((c, []))
            runs[-1][1].append(i - starts[c])
        parts = [take(data.chunks[c], local) for c, local in runs]
        return pa.chunked_array(parts, type=data.type)
    if _has_fixed_size_list(data.type):
        return _take_nested(data, list(indices))
    plain = _without_views(data.type)
    if plain == data.type:
        return data.take(idx)
    return data.cast(plain).take(idx).cast(data.type)


def _has_fixed_size_list(t: pa.DataType) -> bool:
    if pa.types.is_fixed_size_list(t):
        return True
    if is_variable_list(t):
        return _has_fixed_size_list(t.value_type)
    if pa.types.is_struct(t):
        return any(_has_fixed_size_list(f.type) for f in t)
    return False


def _take_nested(arr: pa.Array, indices: list[int]) -> pa.Array:
    """``take`` for nested arrays holding fixed-size lists, child by child: pyarrow 26 returns
    wrong values (it reads outside the child) when it takes from a fixed-size list of fixed-size
    lists with a non-zero offset."""
    t = arr.type
    m = len(indices)
    all_valid = arr.is_valid().to_pylist()
    valid = [all_valid[i] for i in indices]
    validity = None if all(valid) else _bitmap(valid)
    if pa.types.is_fixed_size_list(t):
        k = t.list_size
        child_idx = [(arr.offset + i) * k + j for i in indices for j in range(k)]
        child = take(arr.values, child_idx)
        return pa.Array.from_buffers(t, m, [validity], children=[child])
    if pa.types.is_struct(t):
        children = [take(arr.field(j), indices) for j in range(t.num_fields)]
        return pa.Array.from_buffers(t, m, [validity], children=children)
    offsets = arr.offsets.to_pylist()
    child_idx: list[int] = []
    new_offsets = [0]
    for i in indices:
        child_idx.extend(range(offsets[i], offsets[i + 1]))
        new_offsets.append(len(child_idx))
    child = take(arr.values, child_idx)
    buffers = [validity, _offsets_buffer(new_offsets, pa.types.is_large_list(t))]
    return pa.Array.from_buffers(t, m, buffers, children=[child])


def _take(arr: pa.Array, indices: Sequence[int]) -> pa.Array:
    return take(arr, indices)  # type: ignore[no-any-return]


def _normalise(arr: pa.Array) -> pa.Array:
    """Same logical content, offset 0 and compact children (one ``take``)."""
    return _take(arr, range(len(arr)))


def _junk_text(rnd: random.Random, string: bool) -> bytes:
    n = rnd.choice([0, 1, 3, 12, 13, 20])
    if string:
        return bytes(rnd.choice(b"JUNKjunk#!") for _ in range(n))
    return bytes(rnd.randrange(1, 256) for _ in range(n))


def _junk_fixed(rnd: random.Random, t: pa.DataType) -> bytes:
    w = byte_width(t)
    if rnd.random() < 0.2:
        return bytes(w)
    return bytes(rnd.randrange(1, 256) for _ in range(w))


class _Rebuilder:
    """Rebuilds arrays as ``from_buffers`` arrays of a target physical type, logically equal."""

    def __init__(
        self, rnd: random.Random, garbage: bool, offsets: bool, bitmap: bool | None = None
    ):
        self.rnd = rnd
        self.garbage = garbage
        self.offsets = offsets
        #: None: an all-valid node gets a validity bitmap or not at random; True: always one.
        self.bitmap = bitmap

    def prefix(self, n_available: int) -> int:
        if not self.offsets or n_available == 0:
            return 0
        return self.rnd.choice([0, 0, 1, 2, 3])

    def validity(self, valid: list[bool], pre: int) -> pa.Buffer | None:
        if all(valid) and not self.bitmap and self.rnd.random() < 0.5:
            return None
        bits = [self.rnd.random() < 0.5 for _ in range(pre)] + valid
        return _bitmap(bits, self.rnd if self.garbage else None)

    def junk_indices(self, count: int, n: int) -> list[int]:
        return [self.rnd.randrange(n) for _ in range(count)] if n else []

    def rebuild(self, arr: pa.Array, target: pa.DataType) -> pa.Array:
        arr = _normalise(arr)
        n = len(arr)
        if pa.types.is_dictionary(target):
            return self.dictionary(arr, target)
        if pa.types.is_null(target):
            return pa.nulls(n)
        valid = arr.is_valid().to_pylist()
        rnd = self.rnd
        if is_fixed_width(target):
            pre = self.prefix(1)
            slots = _fixed_slot_bytes(arr)
            w = byte_width(target)
            out = [_junk_fixed(rnd, target) for _ in range(pre)]
            for b, ok in zip(slots, valid, strict=True):
                if not ok:
                    out.append(_junk_fixed(rnd, target) if self.garbage else bytes(w))
                elif pa.types.is_floating(target) and is_nan_bits(int.from_bytes(b, "little"), w):
                    out.append(struct.pack(_UINT_FORMAT[w], rnd.choice(NAN_PATTERNS[w])))
                else:
                    out.append(b)
            return pa.Array.from_buffers(
                target, n, [self.validity(valid, pre), pa.py_buffer(b"".join(out))], offset=pre
            )
        if pa.types.is_boolean(target):
            pre = self.prefix(1)
            values = arr.to_pylist()
            bits = [rnd.random() < 0.5 for _ in range(pre)]
            bits += [
                (v if ok else (self.garbage and rnd.random() < 0.7))
                for v, ok in zip(values, valid, strict=True)
            ]
            data = _bitmap(bits, rnd if self.garbage else None)
            return pa.Array.from_buffers(target, n, [self.validity(valid, pre), data], offset=pre)
        if is_string_family(target) or is_binary_family(target):
            return self.byte_array(arr, target, valid)
        if is_variable_list(target):
            return self.list_array(arr, target, valid)
        if pa.types.is_fixed_size_list(target):
            k = target.list_size
            child = arr.values.slice(arr.offset * k, n * k)
            pre = self.prefix(len(child))
            idx = self.junk_indices(pre * k, len(child))
            for i, ok in enumerate(valid):
                if ok or not self.garbage:
                    idx.extend(range(i * k, (i + 1) * k))
                else:
                    idx.extend(self.junk_indices(k, len(child)) or range(i * k, (i + 1) * k))
            new_child = self.rebuild(_take(child, idx), target.value_type)
            return pa.Array.from_buffers(
                target, n, [self.validity(valid, pre)], offset=pre, children=[new_child]
            )
        if pa.types.is_struct(target):
            pre = self.prefix(n)
            idx = self.junk_indices(pre, n)
            for i, ok in enumerate(valid):
                idx.append(i if ok or not self.garbage else rnd.randrange(n))
            children = [
                self.rebuild(_take(arr.field(j), idx), target.field(j).type)
                for j in range(target.num_fields)
            ]
            return pa.Array.from_buffers(
                target, n, [self.validity(valid, pre)], offset=pre, children=children
            )
        raise NotImplementedError(f"cannot rebuild {target}")

    def byte_array(self, arr: pa.Array, target: pa.DataType, valid: list[bool]) -> pa.Array:
        rnd = self.rnd
        n = len(arr)
        string = is_string_family(target)
        values = [
            (v.encode() if isinstance(v, str) else v) if ok else None
            for v, ok in zip(arr.to_pylist(), valid, strict=True)
        ]
        pre = self.prefix(1)
        slots = [_junk_text(rnd, string) for _ in range(pre)]
        slots += [
            v if v is not None else (_junk_text(rnd, string) if self.garbage else b"")
            for v in values
        ]
        validity = self.validity(valid, pre)
        if not is_view(target):
            lead = _junk_text(rnd, string) if self.garbage else b""
            offsets = [len(lead)]
            for s in slots:
                offsets.append(offsets[-1] + len(s))
            data = lead + b"".join(slots)
            large = pa.types.is_large_string(target) or pa.types.is_large_binary(target)
            return pa.Array.from_buffers(
                target,
                n,
                [validity, _offsets_buffer(offsets, large), pa.py_buffer(data)],
                offset=pre,
            )
        # View layout: long values live in one of two variadic buffers, after some junk.
        buffers = [bytearray(_junk_text(rnd, string)), bytearray(_junk_text(rnd, string))]
        views = []
        for s in slots:
            if len(s) <= 12:
                views.append(struct.pack("<I", len(s)) + s.ljust(12, b"\x00"))
            else:
                b = rnd.randrange(2)
                off = len(buffers[b])
                buffers[b] += s + _junk_text(rnd, string)
                views.append(struct.pack("<I4sII", len(s), s[:4], b, off))
        return pa.Array.from_buffers(
            target,
            n,
            [validity, pa.py_buffer(b"".join(views)), *(pa.py_buffer(bytes(b)) for b in buffers)],
            offset=pre,
        )

    def list_array(self, arr: pa.Array, target: pa.DataType, valid: list[bool]) -> pa.Array:
        rnd = self.rnd
        n = len(arr)
        offsets = arr.offsets.to_pylist()
        child = arr.values
        m = len(child)
        pre = self.prefix(1)
        idx = self.junk_indices(rnd.choice([0, 0, 1, 2]) if self.garbage else 0, m)
        new_offsets = [len(idx)]
        for _ in range(pre):
            idx += self.junk_indices(rnd.randrange(3), m)
            new_offsets.append(len(idx))
        for i, ok in enumerate(valid):
            if ok:
                idx.extend(range(offsets[i], offsets[i + 1]))
            elif self.garbage:
                idx += self.junk_indices(rnd.randrange(3), m)
            new_offsets.append(len(idx))
        new_child = self.rebuild(_take(child, idx), target.value_type)
        return pa.Array.from_buffers(
            target,
            n,
            [
                self.validity(valid, pre),
                _offsets_buffer(new_offsets, pa.types.is_large_list(target)),
            ],
            offset=pre,
            children=[new_child],
        )

    def dictionary(self, arr: pa.Array, target: pa.DataType) -> pa.Array:
        rnd = self.rnd
        n = len(arr)
        valid = arr.is_valid().to_pylist()
        plain = target.value_type
        key_type = target.index_type
        if rnd.random() < 0.25:
            # pyarrow's own encoding (an all-null input gives an empty dictionary).
            try:
                encoded = self.rebuild(arr, plain).dictionary_encode()
            except pa.ArrowNotImplementedError:
                pass
            else:
                return pa.DictionaryArray.from_arrays(
                    encoded.indices.cast(key_type), encoded.dictionary
                )
        # Dictionary entries: every valid row, some null rows, some repeated rows; shuffled.
        rows = [i for i in range(n) if valid[i] or rnd.random() < 0.5]
        rows += self.junk_indices(rnd.randrange(3), n)
        rnd.shuffle(rows)
        where: dict[int, list[int]] = {}
        for p, r in enumerate(rows):
            where.setdefault(r, []).append(p)
        dictionary = self.rebuild(_take(arr, rows), plain)
        lo, hi = _int_range(key_type)
        pre = self.prefix(1)
        keys: list[int] = [rnd.randint(lo, hi) for _ in range(pre)]
        key_valid: list[bool] = []
        for i in range(n):
            if i in where and (valid[i] or rnd.random() < 0.5):
                keys.append(rnd.choice(where[i]))  # a null row may point at a null entry
                key_valid.append(True)
            else:
                keys.append(rnd.choice([0, lo, hi, rnd.randint(lo, hi)]) if self.garbage else 0)
                key_valid.append(False)
        width = byte_width(key_type)
        data = b"".join(
            k.to_bytes(width, "little", signed=pa.types.is_signed_integer(key_type)) for k in keys
        )
        indices = pa.Array.from_buffers(
            key_type, n, [self.validity(key_valid, pre), pa.py_buffer(data)], offset=pre
        )
        return pa.DictionaryArray.from_arrays(indices, dictionary, safe=False)


@st.composite
def equivalent_arrays(
    draw: st.DrawFn,
    arr: pa.Array,
    target: pa.DataType | None = None,
    *,
    garbage: bool = True,
    offsets: bool = True,
    bitmap: bool | None = None,
) -> pa.Array:
    """An array logically equal to ``arr``, rebuilt buffer by buffer as type ``target`` (drawn by
    :func:`physical_types` when ``None``), with offsets and garbage under nulls if asked and an
    all-valid validity bitmap on every node without nulls if ``bitmap`` is true."""
    if target is None:
        target = draw(physical_types(arr.type))
    rnd = draw(st.randoms(use_true_random=False))
    return _Rebuilder(rnd, garbage, offsets, bitmap).rebuild(arr, target)


@st.composite
def chunk_bounds(draw: st.DrawFn, n: int) -> list[int]:
    """Sorted cut points ``0 = b0 <= b1 <= ... <= bk = n`` (empty chunks allowed)."""
    cuts = draw(st.lists(st.integers(0, n), max_size=5))
    return [0, *sorted(cuts), n]


@st.composite
def equivalent_columns(
    draw: st.DrawFn,
    column: pa.Array | pa.ChunkedArray,
    *,
    target: pa.DataType | None = None,
    garbage: bool = True,
    offsets: bool = True,
    dictionary: bool = True,
    bitmap: bool | None = None,
    rechunk: bool = True,
) -> pa.ChunkedArray:
    """A chunked column logically equal to ``column``: re-chunked at drawn boundaries, each chunk
    rebuilt as one physical type (string families, list families, dictionaries...)."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks() if column.num_chunks else pa.array([], column.type)
    if target is None:
        target = draw(physical_types(column.type, dictionary=dictionary))
    rnd = draw(st.randoms(use_true_random=False))
    rebuilder = _Rebuilder(rnd, garbage, offsets, bitmap)
    bounds = draw(chunk_bounds(len(column))) if rechunk else [0, len(column)]
    chunks = [
        rebuilder.rebuild(column.slice(a, b - a), target) for a, b in itertools.pairwise(bounds)
    ]
    return pa.chunked_array(chunks, type=target)


def slice_of_bigger(table: pa.Table, rnd: random.Random) -> pa.Table:
    """``table`` as a slice (with an offset) of a concatenation ``prefix ++ table ++ suffix``."""
    n = table.num_rows
    if n == 0:
        return table
    prefix = take(table, [rnd.randrange(n) for _ in range(rnd.randrange(1, 5))])
    suffix = take(table, [rnd.randrange(n) for _ in range(rnd.randrange(3))])
    return pa.concat_tables([prefix, table, suffix]).slice(prefix.num_rows, n)


@st.composite
def sliced_arrays(draw: st.DrawFn, arr: pa.Array) -> pa.Array:
    """``arr`` as a slice of ``junk ++ arr ++ junk`` (a non-zero offset on every level that
    pyarrow's concatenation keeps), the junk drawn as arrays of the same type."""
    prefix = draw(arrays(arr.type, max_size=5))
    suffix = draw(arrays(arr.type, max_size=3))
    return pa.concat_arrays([prefix, arr, suffix]).slice(len(prefix), len(arr))


@st.composite
def equivalent_tables(
    draw: st.DrawFn,
    table: pa.Table,
    *,
    reorder: bool = True,
    garbage: bool = True,
    offsets: bool = True,
    dictionary: bool = True,
) -> pa.Table:
    """A table logically equal to ``table`` with every physical variation at once: columns
    reordered, each column re-chunked and rebuilt (see :func:`equivalent_columns`), and the whole
    table a slice of a bigger one."""
    names = list(table.column_names)
    if reorder:
        names = draw(st.permutations(names))
    columns = [
        draw(
            equivalent_columns(
                table.column(name), garbage=garbage, offsets=offsets, dictionary=dictionary
            )
        )
        for name in names
    ]
    out = pa.Table.from_arrays(columns, names=names)
    if offsets and draw(st.booleans()):
        out = slice_of_bigger(out, draw(st.randoms(use_true_random=False)))
    return out


# --------------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------------


#: polars panics on column names holding a NUL character.
POLARS_COLUMN_NAMES = st.text(
    alphabet=st.characters(exclude_characters="\x00", exclude_categories=["Cs"]),
    min_size=1,
    max_size=6,
)


def polars_types(max_depth: int = 2) -> st.SearchStrategy[pa.DataType]:
    """The types polars round-trips faithfully (checked against :func:`logical_values`): not
    null (polars exports it with a spurious buffer), time32, date64, second-unit timestamps and
    durations, fixed_size_binary or fixed UTC offsets as time zones, which polars converts."""
    leaves = st.one_of(
        st.sampled_from(
            [
                pa.bool_(),
                *INT_TYPES,
                *FLOAT_TYPES,
                *STRING_TYPES,
                *BINARY_TYPES,
                pa.date32(),
                pa.time64("ns"),
            ]
        ),
        st.builds(
            pa.timestamp,
            st.sampled_from(["ms", "us", "ns"]),
            st.sampled_from([None, "UTC", "Europe/Paris"]),
        ),
        st.builds(pa.duration, st.sampled_from(["ms", "us", "ns"])),
        st.builds(lambda p, s: pa.decimal128(p, min(s, p)), st.integers(1, 38), st.integers(0, 6)),
    )
    if max_depth <= 0:
        return leaves
    child = polars_types(max_depth - 1)
    return st.one_of(
        leaves,
        st.builds(pa.list_, child),
        st.builds(pa.large_list, child),
        st.builds(pa.list_, child, st.integers(1, 3)),
        _struct_types(child),
    )


COLUMN_NAMES = st.one_of(
    st.text(alphabet="abcxyz_", min_size=1, max_size=4),
    # Any Unicode but NUL: the Arrow C data interface ends names at NUL (refused, see
    # test_errors.py::test_nul_in_a_column_name_is_refused).
    st.text(
        alphabet=st.characters(exclude_characters="\x00", exclude_categories=["Cs"]),
        min_size=1,
        max_size=6,
    ),
)


@st.composite
def tables(
    draw: st.DrawFn,
    *,
    min_columns: int = 1,
    max_columns: int = 5,
    min_rows: int = 0,
    max_rows: int = 60,
    types: st.SearchStrategy[pa.DataType] | None = None,
    nulls: bool | None = None,
    names: st.SearchStrategy[str] | None = None,
) -> pa.Table:
    """A table of ``min_columns``-``max_columns`` uniquely named columns of drawn types (every
    supported type by default) and ``min_rows``-``max_rows`` rows."""
    names_ = draw(
        st.lists(
            COLUMN_NAMES if names is None else names,
            min_size=min_columns,
            max_size=max_columns,
            unique=True,
        )
    )
    n = draw(st.integers(min_rows, max_rows))
    type_strategy = arrow_types() if types is None else types
    columns = [draw(arrays(draw(type_strategy), n, nulls=nulls)) for _ in names_]
    return pa.Table.from_arrays(columns, names=names_)


def replace_cell(table: pa.Table, name: str, row: int, value: pa.Array) -> pa.Table:
    """``table`` with ``table[name][row]`` replaced by ``value[0]`` (a length-1 array)."""
    column = table.column(name)
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    if value.type != column.type:
        value = value.cast(column.type)
    chunks = [*column.slice(0, row).chunks, value, *column.slice(row + 1).chunks]
    new = pa.chunked_array(chunks, type=column.type)
    return table.set_column(table.column_names.index(name), name, new)


@st.composite
def different_values(
    draw: st.DrawFn, t: pa.DataType, old: Any, *, allow_null: bool = True
) -> pa.Array:
    """A length-1 array of type ``t`` whose value differs logically from ``old`` (a
    :func:`logical_values` item)."""
    if allow_null and old is not None and draw(st.booleans()):
        return pa.nulls(1, t)
    for _ in range(20):
        value = draw(arrays(t, 1, nulls=False))
        if logical_values(value)[0] != old:
            return value
    reject()
    raise AssertionError("unreachable")


# --- JSON values (canonical JSON, manifests, loaders) ---------------------------------------

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**53 - 1), 2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
#: Any JSON value canonical JSON can hold (integers within ±(2**53 - 1), finite floats).
json_values = st.recursive(
    json_scalars,
    lambda kids: (
        st.lists(kids, max_size=5) | st.dictionaries(st.text(max_size=8), kids, max_size=5)
    ),
    max_leaves=25,
)


# --------------------------------------------------------------------------------------------
# Pairs of table versions, for the row-level diff
# --------------------------------------------------------------------------------------------


#: Key column types: strings and integers above all (small domains), then every primitive.
KEY_TYPES = st.one_of(
    st.sampled_from([pa.int64(), pa.int8(), pa.uint16(), pa.string(), pa.large_string()]),
    st.sampled_from([pa.bool_(), pa.float64(), pa.float16(), pa.binary(), pa.date32()]),
    primitive_types().filter(lambda t: not pa.types.is_null(t)),
)

#: Names of non-key columns in a drawn pair (never ``k0``/``k1``, the key names).
VALUE_NAMES = st.text(alphabet="abxyz_é0", min_size=1, max_size=3)


def _first_of_each_key(table: pa.Table, key: Sequence[str]) -> pa.Table:
    """``table`` keeping the first row of each (logical) key."""
    seen: set[Any] = set()
    keep = []
    columns = [logical_values(table.column(k)) for k in key]
    for i, row in enumerate(zip(*columns, strict=True)):
        if row not in seen:
            seen.add(row)
            keep.append(i)
    return take(table, keep) if len(keep) < table.num_rows else table


@st.composite
def diff_pairs(
    draw: st.DrawFn,
    *,
    keyed: bool,
    unique_keys: bool = True,
    max_rows: int = 25,
    schema_changes: bool = True,
    variants: bool = True,
    value_types: st.SearchStrategy[pa.DataType] | None = None,
    key_types: st.SearchStrategy[pa.DataType] = KEY_TYPES,
    shuffle: bool = True,
) -> tuple[pa.Table, pa.Table, list[str], dict[str, Any]]:
    """Two versions ``(old, new, key, schema)`` of a table: ``new`` keeps a permuted subset of
    the rows of ``old`` (some repeated when ``unique_keys`` is false), with some cells (keys
    included) changed, plus new rows. ``key`` is ``["k0"]`` or ``["k0", "k1"]`` (``[]`` when
    unkeyed). With ``schema_changes``, ``new`` may gain a column, lose one, and a column ``t`` may
    change type (int32 → int64); ``schema`` holds the expected ``added``, ``removed`` and
    ``type_changed`` names. With ``variants``, each side is an :func:`equivalent_tables` variant
    (physically different, logically equal); otherwise both sides have the same physical
    schema."""
    value_types = arrow_types(1) if value_types is None else value_types
    key = ["k0", "k1"][: draw(st.integers(1, 2))] if keyed else []
    values = draw(st.lists(VALUE_NAMES, min_size=0 if keyed else 1, max_size=3, unique=True))
    types = {k: draw(key_types) for k in key} | {v: draw(value_types) for v in values}
    names = key + values

    def rows(n: int) -> pa.Table:
        return pa.Table.from_arrays([draw(arrays(types[c], n)) for c in names], names=names)

    old = rows(draw(st.integers(0, max_rows)))
    if keyed and unique_keys:
        old = _first_of_each_key(old, key)
    n = old.num_rows
    kept = draw(st.permutations(range(n)))[: n - draw(st.integers(0, n))]
    if not shuffle:
        kept.sort()
    if not unique_keys and n:
        kept += draw(st.lists(st.integers(0, n - 1), max_size=5))
        if draw(st.booleans()):  # duplicates on the old side too
            old = take(old, [*range(n), *draw(st.lists(st.integers(0, n - 1), max_size=5))])
    new = take(old.slice(0, n), kept) if kept else old.slice(0, 0)
    for _ in range(draw(st.integers(0, 6)) if new.num_rows else 0):
        row = draw(st.integers(0, new.num_rows - 1))
        name = draw(st.sampled_from(values if values and draw(st.integers(0, 3)) else names))
        current = logical_values(new.column(name).slice(row, 1))[0]
        new = replace_cell(new, name, row, draw(different_values(types[name], current)))
    extra = rows(draw(st.integers(0, 5)))
    new = pa.concat_tables([new, extra]).combine_chunks() if extra.num_rows else new
    if shuffle:
        new = take(new, draw(st.permutations(range(new.num_rows))))
    elif extra.num_rows:
        m = new.num_rows - extra.num_rows
        k = extra.num_rows
        at = sorted(draw(st.lists(st.integers(0, m), min_size=k, max_size=k)))
        order = [*range(m)]
        for e, pos in reversed(list(enumerate(at))):
            order.insert(pos, m + e)
        new = take(new, order)
    if keyed and unique_keys:
        new = _first_of_each_key(new, key)

    schema: dict[str, Any] = {"added": [], "removed": [], "type_changed": []}
    if schema_changes:
        if draw(st.booleans()):
            t = draw(value_types)
            new = new.append_column("new_only", draw(arrays(t, new.num_rows)))
            schema["added"].append("new_only")
        if draw(st.booleans()):
            t = draw(value_types)
            old = old.append_column("old_only", draw(arrays(t, old.num_rows)))
            schema["removed"].append("old_only")
        if draw(st.booleans()):
            old = old.append_column("t", draw(arrays(pa.int32(), old.num_rows)))
            new = new.append_column("t", draw(arrays(pa.int32(), new.num_rows)).cast(pa.int64()))
            schema["type_changed"].append("t")
    if variants:
        old = draw(equivalent_tables(old))
        new = draw(equivalent_tables(new))
    return old, new, key, schema
