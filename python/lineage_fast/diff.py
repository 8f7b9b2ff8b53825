"""Row-level diffs between two versions of a table: :func:`diff` and :func:`diff_chunks`.

The work is done in the Rust core (``rust/core/src/diff.rs``): a partitioned hash join over key
and row fingerprints, multi-threaded, with the GIL released. This module converts inputs and
results and renders them.

Policies (in full in ``docs/diff.md``):

* **Keyed** (``key=`` given): rows are matched by key. A null key is a value like any other: null
  matches null. A key that repeats on one side raises :class:`~lineage_fast.DuplicateKeyError`
  when the repetition can affect the result (rows identical in both versions are unchanged
  whatever their keys); ``duplicate_keys="match"`` instead matches identical rows first, then
  pairs the remaining occurrences of a key in row order.
* **Unkeyed** (``key=None``): multiset semantics over whole rows of the compared columns;
  duplicates count.
* **Schemas**: columns are matched by name. Columns only on one side, or whose logical type
  differs, are reported in :attr:`Diff.schema` and not compared; rows are compared on the common
  columns (or on ``columns=``). Key columns must exist on both sides with the same type.
* **Values** are equal exactly when their canonical encodings are (``docs/hash-spec.md``): NaN
  equals NaN, ``-0.0`` differs from ``0.0``, dictionary equals plain, string equals large_string.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pyarrow as pa

from lineage_fast import _core
from lineage_fast.exceptions import DuplicateKeyError, InvalidArgumentError
from lineage_fast.hashing import TableHash, _arrow_input, _names, cached_hash

__all__ = ["ChunkDiff", "Diff", "Hunk", "SchemaChanges", "diff", "diff_chunks"]

DuplicateKeys = Literal["error", "match"]


@dataclass(frozen=True, slots=True)
class SchemaChanges:
    """How the schemas of two versions differ (columns are matched by name).

    Attributes:
        added: columns only in ``new`` → logical type.
        removed: columns only in ``old`` → logical type.
        type_changed: columns on both sides with different logical types → (old, new) type.
        common: columns on both sides with the same type (the ones rows are compared on).
    """

    added: Mapping[str, str]
    removed: Mapping[str, str]
    type_changed: Mapping[str, tuple[str, str]]
    common: tuple[str, ...]

    @property
    def is_empty(self) -> bool:
        """True when both versions have the same columns with the same types."""
        return not (self.added or self.removed or self.type_changed)

    def describe(self) -> list[str]:
        """One line per schema change (``+ name: type``, ``- name: type``, ``~ name: a → b``)."""
        lines = [f"+ {n}: {t}" for n, t in self.added.items()]
        lines += [f"- {n}: {t}" for n, t in self.removed.items()]
        lines += [f"~ {n}: {a} → {b}" for n, (a, b) in self.type_changed.items()]
        return lines


@dataclass(frozen=True, slots=True)
class Diff:
    """The row-level difference between two versions of a table.

    Attributes:
        added: rows only in ``new`` (all columns of ``new``), in ``new``'s row order.
        removed: rows only in ``old`` (all columns of ``old``), in ``old``'s row order.
        changed: one row per changed key: the key columns, then ``<column>_old`` and
            ``<column>_new`` for each compared column, then ``changed_columns`` (the names of the
            columns whose values differ). Empty for an unkeyed diff.
        summary: ``added-records``, ``deleted-records``, ``changed-records``,
            ``unchanged-records``, ``old-records``, ``new-records``, ``pruned-records`` (rows
            skipped because their chunks are identical on both sides) and ``columns`` (compared
            column → number of changed rows).
        schema: the schema changes.
        key: the key columns, or ``None`` for an unkeyed diff.
        compared: the columns whose values were compared.
        added_rows, removed_rows: row numbers (in ``new`` / ``old``) of added and removed rows.
        changed_rows: ``old_row`` and ``new_row`` of each changed key.
    """

    added: pa.Table
    removed: pa.Table
    changed: pa.Table
    summary: Mapping[str, Any]
    schema: SchemaChanges
    key: tuple[str, ...] | None
    compared: tuple[str, ...]
    added_rows: pa.UInt64Array = field(repr=False)
    removed_rows: pa.UInt64Array = field(repr=False)
    changed_rows: pa.Table = field(repr=False)

    @property
    def is_empty(self) -> bool:
        """True when no row was added, removed or changed and the schemas are equal."""
        s = self.summary
        return (
            s["added-records"] == s["deleted-records"] == s["changed-records"] == 0
            and self.schema.is_empty
        )

    def __str__(self) -> str:
        return self.render()

    def render(self, max_rows: int = 10) -> str:
        """A readable text report: the summary table, schema changes and the first changed rows.

        Example:
            >>> import pyarrow as pa, lineage_fast as lf
            >>> old = pa.table({"id": [1, 2, 3], "x": [1.0, 2.0, 3.0]})
            >>> new = pa.table({"id": [1, 2, 4], "x": [1.0, 2.5, 4.0]})
            >>> print(lf.diff(old, new, key="id").render())
            diff keyed on id: 3 rows → 3 rows
              added      1
              deleted    1
              changed    1   x: 1
              unchanged  1
            first changed rows:
              id=2: x 2.0 → 2.5
        """
        s = self.summary
        how = f"keyed on {', '.join(self.key)}" if self.key else "of rows as a multiset"
        head = f"diff {how}: {s['old-records']:,} rows → {s['new-records']:,} rows"
        if s["pruned-records"]:
            head += f" ({s['pruned-records']:,} rows in identical chunks skipped)"
        per_col = ", ".join(f"{c}: {n:,}" for c, n in s["columns"].items() if n)
        rows = [
            ("added", s["added-records"], ""),
            ("deleted", s["deleted-records"], ""),
            ("changed", s["changed-records"], per_col),
            ("unchanged", s["unchanged-records"], ""),
        ]
        width = max(len(f"{n:,}") for _, n, _ in rows)
        lines = [head]
        for label, n, extra in rows:
            line = f"  {label:<10} {n:>{width},}"
            lines.append(f"{line}   {extra}" if extra else line)
        if not self.schema.is_empty:
            lines.append("schema changes:")
            lines += [f"  {x}" for x in self.schema.describe()]
        if self.key and self.changed.num_rows:
            lines.append("first changed rows:")
            for r in _rows(self.changed.slice(0, max_rows)):
                key = ", ".join(f"{k}={r[k]!r}" for k in self.key)
                cells = "; ".join(
                    f"{c} {r[c + '_old']!r} → {r[c + '_new']!r}" for c in r["changed_columns"]
                )
                lines.append(f"  {key}: {cells}")
            if self.changed.num_rows > max_rows:
                lines.append(f"  … {self.changed.num_rows - max_rows:,} more")
        for label, t in (("added", self.added), ("deleted", self.removed)):
            if not self.key and t.num_rows:
                lines.append(f"first {label} rows:")
                lines += [f"  {r}" for r in _rows(t.slice(0, max_rows))]
                if t.num_rows > max_rows:
                    lines.append(f"  … {t.num_rows - max_rows:,} more")
        return "\n".join(lines)


def _rows(t: pa.Table) -> list[dict[str, Any]]:
    """Rows as dicts of Python values; a value Python cannot hold (a timestamp beyond
    ``datetime``'s range...) is given as its Arrow scalar."""
    try:
        return t.to_pylist()
    except (OverflowError, ValueError):
        cols = {n: t.column(n) for n in t.column_names}
        out = []
        for i in range(t.num_rows):
            row: dict[str, Any] = {}
            for n, c in cols.items():
                try:
                    row[n] = c[i].as_py()
                except (OverflowError, ValueError):
                    row[n] = c[i]
            out.append(row)
        return out


def _as_table(data: Any, role: str) -> pa.Table:
    """``data`` as a pyarrow Table (zero-copy for Arrow producers)."""
    data = _arrow_input(data)
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    if isinstance(data, pa.RecordBatchReader):
        return data.read_all()
    if hasattr(data, "__arrow_c_stream__"):
        return pa.table(data)
    if hasattr(data, "__arrow_c_array__"):
        return pa.Table.from_batches([pa.record_batch(data)])
    from lineage_fast.exceptions import UnsupportedInputError

    raise UnsupportedInputError(
        f"{role}: {type(data).__module__}.{type(data).__qualname__} is not tabular Arrow data "
        "(it has no __arrow_c_stream__ or __arrow_c_array__)"
    )


def _raw_hash(h: TableHash, table: pa.Table, role: str) -> tuple[bytes, list[Any], list[str]]:
    if h.row_order != "ordered" or h.scheme != 1:
        raise InvalidArgumentError(
            f"{role}_hash must be an ordered scheme-1 hash (got {h.row_order}, scheme {h.scheme})"
        )
    if h.num_rows != table.num_rows:
        raise InvalidArgumentError(
            f"{role}_hash does not describe {role}: it covers {h.num_rows:,} rows, "
            f"the table has {table.num_rows:,}"
        )
    increasing = _names(h.increasing_columns, f"{role}_hash.increasing_columns")
    # One fromhex for all the chunk digests (a diff of pruned versions is a few milliseconds).
    raw = bytes.fromhex("".join(c.digest.removeprefix("blake3:") for c in h.chunks))
    spans = [(raw[32 * i : 32 * i + 32], c.start, c.num_rows) for i, c in enumerate(h.chunks)]
    return _unhex(h.schema_digest), spans, list(increasing)


def _unhex(d: str) -> bytes:
    return bytes.fromhex(d.removeprefix("blake3:"))


def _u64(raw: bytes) -> pa.UInt64Array:
    arr = pa.Array.from_buffers(pa.uint64(), len(raw) // 8, [None, pa.py_buffer(raw)])
    assert isinstance(arr, pa.UInt64Array)
    return arr


def diff(
    old: Any,
    new: Any,
    *,
    key: str | Sequence[str] | None = None,
    columns: Sequence[str] | None = None,
    duplicate_keys: DuplicateKeys = "error",
    old_hash: TableHash | None = None,
    new_hash: TableHash | None = None,
    threads: int | None = None,
) -> Diff:
    """Compare two versions of a table row by row.

    Args:
        old, new: anything :func:`~lineage_fast.hash_table` accepts.
        key: a column name or a list of names matching rows between versions; ``None`` compares
            whole rows as multisets (duplicates count).
        columns: compare only these columns (default: every column common to both sides with
            the same type, minus the key).
        duplicate_keys: ``"error"`` (raise :class:`~lineage_fast.DuplicateKeyError`) or
            ``"match"`` (identical rows are matched first; the remaining occurrences of a key
            are paired in row order, the k-th in ``old`` with the k-th in ``new``).
        old_hash, new_hash: ordered :class:`~lineage_fast.TableHash` of ``old`` / ``new``. When
            both are known (passed, or remembered from :func:`~lineage_fast.hash_table` on the
            same pyarrow objects), rows of chunks identical on both sides are skipped without
            per-row work. Row count, schema digest and chunk tiling of a passed hash are checked;
            its chunk digests and ``increasing_columns`` are trusted to describe the data.
        threads: worker threads (``None``: all cores). The result never depends on it.

    Raises:
        ColumnNotFoundError: a key or compared column is missing on one side.
        SchemaMismatchError: a key or compared column has different types on the two sides.
        DuplicateKeyError: a key repeats on one side (with ``duplicate_keys="error"``).

    A key repeated only among rows that are identical in both versions cannot change the result
    and is not reported; every key of an added, deleted or changed row is checked against all
    rows of its side.

    Example:
        >>> import pyarrow as pa, lineage_fast as lf
        >>> old = pa.table({"id": [1, 2, 3], "x": ["a", "b", "c"]})
        >>> new = pa.table({"id": [1, 3, 4], "x": ["a", "C", "d"]})
        >>> d = lf.diff(old, new, key="id")
        >>> d.summary["added-records"], d.summary["deleted-records"], d.summary["changed-records"]
        (1, 1, 1)
        >>> d.changed.to_pylist()
        [{'id': 3, 'x_old': 'c', 'x_new': 'C', 'changed_columns': ['x']}]
    """
    old_t = _as_table(old, "old")
    new_t = _as_table(new, "new")
    keys: list[str] = [] if key is None else [key] if isinstance(key, str) else list(key)
    if key is not None and not keys:
        raise InvalidArgumentError("key must name at least one column (or be None)")
    if columns is not None and isinstance(columns, str):
        columns = [columns]
    # Objects hashed before were validated then (pyarrow data is immutable): not again.
    old_known = cached_hash(old) or cached_hash(old_t)
    new_known = cached_hash(new) or cached_hash(new_t)
    old_hash = old_hash or old_known
    new_hash = new_hash or new_known
    hashes = None
    if old_hash is not None and new_hash is not None:
        hashes = (_raw_hash(old_hash, old_t, "old"), _raw_hash(new_hash, new_t, "new"))
    try:
        raw = _core.diff(
            old_t,
            new_t,
            key=keys,
            columns=None if columns is None else list(columns),
            duplicate_keys=duplicate_keys,
            hashes=hashes,
            validated=(old_known is not None, new_known is not None),
            threads=threads,
        )
    except DuplicateKeyError as e:
        side = old_t if e.side == "old" else new_t
        # Row by row: take has no kernel for view types and fails on some dictionaries.
        key_table = side.select(keys)
        e.keys = [r for row in e.rows for r in _rows(key_table.slice(row, 1))]
        shown = ", ".join(
            "(" + ", ".join(f"{k}={v!r}" for k, v in row.items()) + ")" for row in e.keys[:5]
        )
        e.args = (
            f"duplicate key in the {e.side} table: {e.count:,} row(s) repeat a key, e.g. "
            f"{shown} at row(s) {e.rows[:5]}; pass duplicate_keys='match' to pair "
            "repeated keys in order",
        )
        raise
    return _build(raw, old_t, new_t, keys)


def _build(raw: Mapping[str, Any], old: pa.Table, new: pa.Table, keys: list[str]) -> Diff:
    compared: list[str] = list(raw["compared"])
    added_rows, removed_rows = _u64(raw["added"]), _u64(raw["removed"])
    changed_old, changed_new = _u64(raw["changed_old"]), _u64(raw["changed_new"])
    n_changed = len(changed_new)
    changed_cols: dict[str, pa.Array[Any] | pa.ChunkedArray[Any]] = {}
    if keys:
        new_part = pa.Table.from_batches([raw["changed_new_table"]])
        old_part = pa.Table.from_batches([raw["changed_old_table"]])
        for k in keys:
            changed_cols[k] = new_part.column(k)
        for c in compared:
            changed_cols[f"{c}_old"] = old_part.column(c)
            changed_cols[f"{c}_new"] = new_part.column(c)
        clash = [n for n in changed_cols if n == "changed_columns"]
        if clash or len(changed_cols) != len(keys) + 2 * len(compared):
            raise InvalidArgumentError(
                "the changed table would have clashing column names: rename a column that ends "
                "in _old/_new or is called changed_columns"
            )
        offsets = pa.Array.from_buffers(
            pa.int64(), n_changed + 1, [None, pa.py_buffer(raw["changed_offsets"])]
        )
        assert isinstance(offsets, pa.Int64Array)
        idx = pa.Array.from_buffers(
            pa.int32(),
            len(raw["changed_columns"]) // 4,
            [None, pa.py_buffer(raw["changed_columns"])],
        )
        names = pa.array(compared, pa.string()).take(idx)
        lists = pa.LargeListArray.from_arrays(offsets, names).cast(pa.list_(pa.string()))
        changed_cols["changed_columns"] = lists
    changed = pa.Table.from_arrays(list(changed_cols.values()), names=list(changed_cols))
    counts = dict(zip(compared, raw["column_changes"], strict=True))
    summary = {
        "added-records": len(added_rows),
        "deleted-records": len(removed_rows),
        "changed-records": n_changed,
        "unchanged-records": raw["unchanged"],
        "old-records": old.num_rows,
        "new-records": new.num_rows,
        "pruned-records": raw["pruned_rows"],
        "columns": counts,
    }
    return Diff(
        added=pa.Table.from_batches([raw["added_table"]]),
        removed=pa.Table.from_batches([raw["removed_table"]]),
        changed=changed,
        summary=summary,
        schema=SchemaChanges(
            added=dict(raw["added_columns"]),
            removed=dict(raw["removed_columns"]),
            type_changed={n: (a, b) for n, a, b in raw["type_changed"]},
            common=tuple(raw["common_columns"]),
        ),
        key=tuple(keys) if keys else None,
        compared=tuple(compared),
        added_rows=added_rows,
        removed_rows=removed_rows,
        changed_rows=pa.table({"old_row": changed_old, "new_row": changed_new}),
    )


@dataclass(frozen=True, slots=True)
class Hunk:
    """A region where two hashes differ: rows ``old_start:old_stop`` of the old version became
    rows ``new_start:new_stop`` of the new one. ``columns`` are the common columns that may
    differ there (exact when both sides cut the region into chunks of the same sizes, otherwise
    every common column)."""

    old_start: int
    old_stop: int
    new_start: int
    new_stop: int
    columns: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ChunkDiff:
    """Where two versions differ, from their hashes alone (:func:`diff_chunks`).

    Attributes:
        hunks: the differing regions, in row order.
        shared_chunks: chunks matched in order between the versions.
        changed_columns: common columns whose column digests differ.
        schema: the schema changes.
        identical: the roots are equal.
    """

    hunks: tuple[Hunk, ...]
    shared_chunks: int
    changed_columns: tuple[str, ...]
    schema: SchemaChanges
    identical: bool

    @property
    def old_rows_to_check(self) -> int:
        """Rows of the old version inside hunks."""
        return sum(h.old_stop - h.old_start for h in self.hunks)

    @property
    def new_rows_to_check(self) -> int:
        """Rows of the new version inside hunks."""
        return sum(h.new_stop - h.new_start for h in self.hunks)


def diff_chunks(old_hash: TableHash, new_hash: TableHash) -> ChunkDiff:
    """Where two versions differ, from their ordered hashes alone (no data access).

    Chunks are matched in order by digest; each run of unmatched chunks is a :class:`Hunk` with
    its row ranges on both sides and the columns that may differ there.

    Example:
        >>> import pyarrow as pa, lineage_fast as lf
        >>> old = pa.table({"id": list(range(100_000)), "x": [0] * 100_000})
        >>> new = old.set_column(1, "x", pa.array([0] * 50_000 + [1] + [0] * 49_999))
        >>> cd = lf.diff_chunks(lf.hash_table(old), lf.hash_table(new))
        >>> [(h.columns, h.old_start <= 50_000 < h.old_stop) for h in cd.hunks]
        [(('x',), True)]
    """
    for h, role in ((old_hash, "old"), (new_hash, "new")):
        if not isinstance(h, TableHash):
            raise InvalidArgumentError(f"{role}_hash must be a TableHash, got {type(h).__name__}")
        if h.row_order != "ordered":
            raise InvalidArgumentError(
                f"{role}_hash is unordered: its chunks are not row ranges; hash with "
                "row_order='ordered'"
            )
    ot, nt = old_hash.column_types, new_hash.column_types
    schema = SchemaChanges(
        added={n: t for n, t in nt.items() if n not in ot},
        removed={n: t for n, t in ot.items() if n not in nt},
        type_changed={n: (t, nt[n]) for n, t in ot.items() if n in nt and nt[n] != t},
        common=tuple(n for n, t in ot.items() if nt.get(n) == t),
    )
    common = schema.common

    def raw(h: TableHash) -> list[tuple[bytes, int, int, list[bytes]]]:
        return [
            (_unhex(c.digest), c.start, c.num_rows, [_unhex(c.columns[n]) for n in common])
            for c in h.chunks
        ]

    hunks = _core.diff_chunks(raw(old_hash), raw(new_hash), len(common))
    matched = len(new_hash.chunks) - sum(
        1 for c in new_hash.chunks if any(h[2] <= c.start < h[3] for h in hunks)
    )
    return ChunkDiff(
        hunks=tuple(
            Hunk(os_, oe, ns, ne, tuple(common[i] for i in cols)) for os_, oe, ns, ne, cols in hunks
        ),
        shared_chunks=matched,
        changed_columns=tuple(n for n in common if old_hash.columns[n] != new_hash.columns[n]),
        schema=schema,
        identical=old_hash.root == new_hash.root,
    )
