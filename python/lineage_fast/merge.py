"""Hashing across workers: :func:`partition_summary` on each worker, :func:`merge_summaries` on one
coordinator, and the result is exactly :func:`lineage_fast.hash_table` of the whole table.

A table split into consecutive partitions (any sizes, empty ones included) is summarised partition
by partition; the coordinator merges the summaries *in partition order*. The protocol is
specified in ``docs/hash-spec.md`` §11: each worker hashes the chunks it can decide alone and keeps
its seam rows (the rows before its first and after its last content boundary), and the
coordinator finishes the chunk boundaries at each seam and hashes the chunks there.

Summaries cross process boundaries as bytes (:meth:`PartitionSummary.to_bytes` /
:meth:`PartitionSummary.from_bytes`, a versioned format with a checksum).

When the coordinator must not receive every interior chunk digest (very large tables, many
workers), use the compact protocol: :func:`chunk_offsets` over ``summary.compact()`` (no interior
digests), then :func:`merge_compact` over ``summary.compact(offset)`` (O(log m) digests each). It
gives the root and column digests (a :class:`TableRoot`), not the chunk list.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, NoReturn

from lineage_fast import _core
from lineage_fast.exceptions import InvalidArgumentError
from lineage_fast.hashing import RowOrder, TableHash, _arrow_input, _from_raw, _hex

__all__ = [
    "PartitionSummary",
    "TableRoot",
    "chunk_offsets",
    "merge_compact",
    "merge_summaries",
    "partition_summary",
]

SummaryForm = Literal["chunks", "compact", "unplaced"]


class PartitionSummary:
    """What one worker reports about its partition (immutable).

    Build one with :func:`partition_summary`; ship it as bytes with :meth:`to_bytes` and
    :meth:`from_bytes` (it cannot be pickled: the byte form is versioned and validated).

    Attributes:
        num_rows: rows of the partition.
        row_order: ``"ordered"`` or ``"unordered"``.
        schema_digest: ``"blake3:"`` + hex of the partition's schema digest.
        seam_rows: rows kept for the coordinator (before the first and after the last content
            boundary the worker could decide; the whole partition when it has none).
        interior_chunks: number of chunks the worker hashed completely.
        form: ``"chunks"`` (every interior digest: merge with :func:`merge_summaries`),
            ``"compact"`` (a compact range: :func:`merge_compact`) or ``"unplaced"`` (only the
            interior count: :func:`chunk_offsets`).
    """

    __slots__ = ("_inner",)

    def __init__(self, inner: _core.PartitionSummary) -> None:
        if not isinstance(inner, _core.PartitionSummary):
            raise TypeError(
                "PartitionSummary objects come from partition_summary() or "
                "PartitionSummary.from_bytes()"
            )
        self._inner = inner

    @property
    def num_rows(self) -> int:
        return self._inner.num_rows

    @property
    def row_order(self) -> RowOrder:
        order: RowOrder = "ordered" if self._inner.row_order == "ordered" else "unordered"
        return order

    @property
    def schema_digest(self) -> str:
        return _hex(self._inner.schema_digest)

    @property
    def seam_rows(self) -> int:
        return self._inner.seam_rows

    @property
    def interior_chunks(self) -> int:
        return self._inner.interior_chunks

    @property
    def form(self) -> SummaryForm:
        form = self._inner.form
        if form == "chunks":
            return "chunks"
        return "compact" if form == "compact" else "unplaced"

    @property
    def first_chunk_index(self) -> int | None:
        """Global index of the first interior chunk, for a ``"compact"`` summary."""
        return self._inner.first_chunk_index

    def compact(self, first_chunk_index: int | None = None) -> PartitionSummary:
        """The same summary with its interior digests replaced by a compact range.

        With ``first_chunk_index`` (this partition's entry of :func:`chunk_offsets`): the
        O(log m) Merkle subtree hashes covering the interior chunks at that global position, for
        :func:`merge_compact`. Without it: only the number of interior chunks, for
        :func:`chunk_offsets`. The seam rows are kept either way.
        """
        if first_chunk_index is not None and first_chunk_index < 0:
            raise InvalidArgumentError(f"first_chunk_index must be >= 0, got {first_chunk_index}")
        return PartitionSummary(self._inner.compact(first_chunk_index))

    def to_bytes(self) -> bytes:
        """The serialized summary (format version 1, ``docs/hash-spec.md`` §11).

        Example:
            >>> import pyarrow as pa, lineage_fast as lf
            >>> s = lf.partition_summary(pa.table({"x": [1, 2, 3]}))
            >>> lf.PartitionSummary.from_bytes(s.to_bytes()).num_rows
            3
        """
        return self._inner.to_bytes()

    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview) -> PartitionSummary:
        """Read a summary written by :meth:`to_bytes`.

        Raises:
            InvalidDataError: the bytes are not a summary, are truncated or corrupted (checksum),
                are of another format version, or hold malformed Arrow data.
        """
        if not isinstance(data, bytes | bytearray | memoryview):
            raise TypeError(f"from_bytes needs bytes, not {type(data).__name__}")
        return cls(_core.PartitionSummary.from_bytes(bytes(data)))

    def __reduce__(self) -> NoReturn:
        raise TypeError(
            "a PartitionSummary is not pickled: ship summary.to_bytes() and read it back with "
            "PartitionSummary.from_bytes()"
        )

    def __repr__(self) -> str:
        return (
            f"PartitionSummary(rows={self.num_rows:,}, seam_rows={self.seam_rows:,}, "
            f"interior_chunks={self.interior_chunks}, form={self.form!r}, {self.row_order})"
        )


@dataclass(frozen=True, slots=True)
class TableRoot:
    """The identity of a table without its chunk list: what :func:`merge_compact` computes.

    Every field equals the field of the same name of the table's :class:`TableHash`;
    ``num_chunks`` is ``len(TableHash.chunks)``. ``TableRoot.of(h)`` takes them from a hash.
    """

    root: str
    num_rows: int
    num_chunks: int
    schema_digest: str
    columns: Mapping[str, str]
    column_types: Mapping[str, str]
    scheme: int = 1
    row_order: RowOrder = "ordered"

    @classmethod
    def of(cls, h: TableHash) -> TableRoot:
        """The parts of ``h`` that a compact merge computes."""
        return cls(
            root=h.root,
            num_rows=h.num_rows,
            num_chunks=len(h.chunks),
            schema_digest=h.schema_digest,
            columns=dict(h.columns),
            column_types=dict(h.column_types),
            scheme=h.scheme,
            row_order=h.row_order,
        )


def partition_summary(
    data: Any, *, row_order: RowOrder = "ordered", threads: int | None = None
) -> PartitionSummary:
    """Summarise one partition (consecutive rows of a bigger table) for :func:`merge_summaries`.

    Args:
        data: the partition's rows, as for :func:`lineage_fast.hash_table` (anything exporting
            the Arrow PyCapsule interface, or a pandas DataFrame); validated the same way.
        row_order: ``"ordered"``, or ``"unordered"`` for the multiset identity. Unordered
            partitions must be *ranges of the fingerprints' lo lane* (rows routed by the first 8
            bytes of :func:`lineage_fast.row_fingerprints` read as a little-endian integer, as a
            distributed sort does), merged in increasing range order; each is sorted locally.
        threads: worker threads; ``None`` uses all cores.

    Example:
        >>> import pyarrow as pa, lineage_fast as lf
        >>> t = pa.table({"x": list(range(10))})
        >>> parts = [t.slice(0, 4), t.slice(4, 0), t.slice(4)]
        >>> lf.merge_summaries([lf.partition_summary(p) for p in parts]) == lf.hash_table(t)
        True
    """
    return PartitionSummary(
        _core.partition_summary(_arrow_input(data), row_order=row_order, threads=threads)
    )


def _inner(summaries: Iterable[PartitionSummary]) -> list[_core.PartitionSummary]:
    out = []
    for s in summaries:
        if not isinstance(s, PartitionSummary):
            raise TypeError(f"expected PartitionSummary objects, got {type(s).__name__}")
        out.append(s._inner)
    return out


def merge_summaries(
    summaries: Iterable[PartitionSummary], *, threads: int | None = None
) -> TableHash:
    """Merge the summaries of all partitions, **in partition order**, into the table's hash.

    The result equals :func:`lineage_fast.hash_table` of the concatenated partitions in every
    field: root, schema digest, row count, column digests and the chunk list (global starts).
    Partitions may store a column in different layouts of one logical type (string,
    large_string or string_view; list or large_list; dictionary-encoded or not), as workers
    reading through different engines do: the seam rows are brought to one layout first.

    Raises:
        MergeError: no summaries, summaries of different row orders, a compacted summary (use
            :func:`merge_compact`), unordered partitions not in increasing fingerprint ranges.
        SchemaMismatchError: two partitions have different columns or logical types (names the
            partitions).
    """
    return _from_raw(_core.merge_summaries(_inner(summaries), threads=threads))


def chunk_offsets(summaries: Iterable[PartitionSummary]) -> list[int]:
    """The global index of each partition's first interior chunk (the first step of the compact
    protocol): pass ``summary.compact()`` (no interior digests) of every partition, in order.
    """
    return _core.chunk_offsets(_inner(summaries))


def merge_compact(
    summaries: Iterable[PartitionSummary], *, threads: int | None = None
) -> TableRoot:
    """Merge summaries compacted at their :func:`chunk_offsets` into the table's root.

    Example:
        >>> import pyarrow as pa, lineage_fast as lf
        >>> t = pa.table({"x": list(range(50_000))})
        >>> full = [lf.partition_summary(t.slice(i, 20_000)) for i in range(0, 50_000, 20_000)]
        >>> offsets = lf.chunk_offsets([s.compact() for s in full])
        >>> compact = [s.compact(o) for s, o in zip(full, offsets)]
        >>> lf.merge_compact(compact) == lf.TableRoot.of(lf.hash_table(t))
        True
    """
    raw = _core.merge_compact(_inner(summaries), threads=threads)
    return TableRoot(
        root=_hex(raw["root"]),
        num_rows=raw["num_rows"],
        num_chunks=raw["num_chunks"],
        schema_digest=_hex(raw["schema_digest"]),
        columns={name: _hex(d) for name, _, d in raw["columns"]},
        column_types={name: t for name, t, _ in raw["columns"]},
        scheme=raw["scheme"],
        row_order=raw["row_order"],
    )
