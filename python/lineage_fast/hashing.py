"""Content identity of tabular data: :func:`hash_table` and :func:`row_fingerprints`.

The hash is defined in ``docs/hash-spec.md`` (scheme 1). It depends only on the logical content:
batching, slicing, string/large_string/string_view, dictionary encoding and the presence of a
validity bitmap never change it; column order does not either (columns are hashed by name).
"""

from __future__ import annotations

import dataclasses
import os
import weakref
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import pyarrow as pa

from lineage_fast import _core
from lineage_fast.exceptions import InvalidArgumentError, LineageError, SchemaMismatchError

__all__ = [
    "Chunk",
    "RowOrder",
    "SourceFile",
    "TableHash",
    "bytes_digest",
    "cached_hash",
    "chunk_digest",
    "file_digest",
    "hash_table",
    "row_fingerprints",
]

RowOrder = Literal["ordered", "unordered"]

_PREFIX = "blake3:"


def _hex(digest: bytes) -> str:
    return _PREFIX + digest.hex()


@dataclass(frozen=True, slots=True)
class Chunk:
    """One content-defined chunk of a table: a range of rows and its BLAKE3 digest.

    ``columns`` maps each column name to the digest of that column's segment within the chunk,
    which lets :func:`lineage_fast.diff_chunks` say *which* columns of a chunk changed.
    """

    digest: str
    start: int
    num_rows: int
    columns: Mapping[str, str] = field(repr=False, compare=True)

    @property
    def stop(self) -> int:
        """One past the last row of the chunk."""
        return self.start + self.num_rows


@dataclass(frozen=True, slots=True)
class SourceFile:
    """A file a table was read from: what a manifest records to tie an identity to raw bytes.

    ``digest`` is the plain BLAKE3 of the file's bytes (:func:`file_digest`); ``num_rows`` rows of
    the table came from it, following the rows of the files before it.
    """

    path: str
    size: int
    num_rows: int
    digest: str


@dataclass(frozen=True, slots=True)
class TableHash:
    """The scheme-1 identity of a table.

    Attributes:
        root: ``"blake3:"`` + 64 lowercase hex digits; the table's identity (its version id).
        num_rows: number of rows hashed.
        schema_digest: digest of the column names and logical types.
        columns: column name → column digest, in canonical (bytewise name) order.
        column_types: column name → logical type (``"int64"``, ``"string"``, ``"list<int32>"``...).
        chunks: the content-defined chunks, in row order.
        scheme: hash scheme number (1).
        row_order: ``"ordered"`` or ``"unordered"`` (multiset identity).
        source_files: the files the rows were read from, in order (:func:`hash_parquet` fills
            it; empty otherwise). Not part of the identity: equality ignores it.
        increasing_columns: integer columns without nulls whose values strictly increase down
            the table, as the ordered hash saw them (empty for unordered and merged hashes, and
            for hashes read back from a store). Not part of the identity: equality ignores it.
            :func:`~lineage_fast.diff` given this hash trusts it, as it trusts the chunk digests:
            a key among these columns is known never to repeat, without a scan.
    """

    root: str
    num_rows: int
    schema_digest: str
    columns: Mapping[str, str]
    column_types: Mapping[str, str]
    chunks: tuple[Chunk, ...]
    scheme: int = 1
    row_order: RowOrder = "ordered"
    source_files: tuple[SourceFile, ...] = field(default=(), compare=False)
    increasing_columns: tuple[str, ...] = field(default=(), compare=False)

    def __str__(self) -> str:
        return (
            f"TableHash({self.root[:19]}…, rows={self.num_rows:,}, columns={len(self.columns)}, "
            f"chunks={len(self.chunks)}, {self.row_order})"
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the manifest-to-be: root, schema, column digests and chunks)."""
        return {
            "scheme": self.scheme,
            "row_order": self.row_order,
            "root": self.root,
            "num_rows": self.num_rows,
            "schema_digest": self.schema_digest,
            "columns": [
                {"name": n, "type": self.column_types[n], "digest": d}
                for n, d in self.columns.items()
            ],
            "chunks": [
                {
                    "digest": c.digest,
                    "start": c.start,
                    "num_rows": c.num_rows,
                    "columns": dict(c.columns),
                }
                for c in self.chunks
            ],
            **(
                {"source_files": [dataclasses.asdict(f) for f in self.source_files]}
                if self.source_files
                else {}
            ),
            **(
                {"increasing_columns": list(self.increasing_columns)}
                if self.increasing_columns
                else {}
            ),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TableHash:
        """Rebuild a :class:`TableHash` from :meth:`to_dict` output."""
        cols = d["columns"]
        return cls(
            root=d["root"],
            num_rows=int(d["num_rows"]),
            schema_digest=d["schema_digest"],
            columns={c["name"]: c["digest"] for c in cols},
            column_types={c["name"]: c["type"] for c in cols},
            chunks=tuple(
                Chunk(
                    digest=c["digest"],
                    start=int(c["start"]),
                    num_rows=int(c["num_rows"]),
                    columns=dict(c["columns"]),
                )
                for c in d["chunks"]
            ),
            scheme=int(d["scheme"]),
            row_order=d["row_order"],
            source_files=tuple(
                SourceFile(
                    path=f["path"],
                    size=int(f["size"]),
                    num_rows=int(f["num_rows"]),
                    digest=f["digest"],
                )
                for f in d.get("source_files", ())
            ),
            increasing_columns=_names(d.get("increasing_columns", ()), "increasing_columns"),
        )


def _check_names(schema: pa.Schema) -> None:
    """Refuse NUL in field names: the Arrow C data interface ends names at NUL, so ``"a\\0b"``
    would silently be hashed as ``"a"``."""

    def walk(fields: Any, prefix: str) -> None:
        for f in fields:
            path = prefix + f.name
            if "\x00" in f.name:
                from lineage_fast.exceptions import InvalidDataError

                err = InvalidDataError(
                    f"column {path!r}: a name containing NUL cannot cross the Arrow C data "
                    "interface (it would be cut at the NUL); rename it"
                )
                err.column = path
                raise err
            t = f.type
            if pa.types.is_struct(t):
                walk(t.fields, path + ".")
            elif hasattr(t, "value_field"):
                walk([t.value_field], path + ".")

    walk(schema, "")


def _arrow_input(data: Any) -> Any:
    """Return an object exporting the Arrow PyCapsule interface for ``data``."""
    if isinstance(data, pa.Table | pa.RecordBatch | pa.RecordBatchReader):
        _check_names(data.schema)
    if hasattr(data, "__arrow_c_stream__") or hasattr(data, "__arrow_c_array__"):
        return data
    module = type(data).__module__.split(".")[0]
    if module == "pandas":
        return pa.Table.from_pandas(data)
    if module == "polars" and hasattr(data, "collect"):
        from lineage_fast.exceptions import UnsupportedInputError

        raise UnsupportedInputError(
            "a polars LazyFrame has no data yet: call .collect() first and hash the DataFrame"
        )
    return data  # the core raises UnsupportedInputError naming the type


def _names(value: Any, what: str) -> tuple[str, ...]:
    """``value`` as a tuple of column names, or :class:`InvalidArgumentError` naming ``what``."""
    if not isinstance(value, tuple | list) or not all(isinstance(v, str) for v in value):
        raise InvalidArgumentError(f"{what} must be a list of column names, got {value!r}")
    return tuple(value)


def _from_raw(raw: dict[str, Any]) -> TableHash:
    names = [name for name, _, _ in raw["columns"]]
    return TableHash(
        root=_hex(raw["root"]),
        num_rows=raw["num_rows"],
        schema_digest=_hex(raw["schema_digest"]),
        columns={name: _hex(d) for name, _, d in raw["columns"]},
        column_types={name: t for name, t, _ in raw["columns"]},
        chunks=tuple(
            Chunk(
                digest=digest,
                start=start,
                num_rows=n,
                columns=dict(zip(names, segs, strict=True)),
            )
            for start, n, digest, segs in raw["chunks"]
        ),
        scheme=raw["scheme"],
        row_order=raw["row_order"],
        increasing_columns=tuple(raw["increasing"]),
    )


def hash_table(
    data: Any, *, row_order: RowOrder = "ordered", threads: int | None = None
) -> TableHash:
    """Hash a table under scheme 1 and return its :class:`TableHash`.

    Args:
        data: anything exporting ``__arrow_c_stream__`` or ``__arrow_c_array__`` (a pyarrow
            Table, RecordBatch or RecordBatchReader, a polars DataFrame, a DuckDB relation...) or a
            pandas DataFrame. Data is imported zero-copy and fully validated before hashing.
        row_order: ``"ordered"`` (row order is part of the identity) or ``"unordered"`` (a multiset
            identity, equal for every permutation of the rows; duplicates count).
        threads: number of worker threads; ``None`` uses all cores. The result never depends on it.

    Streams: with ``row_order="ordered"``, an ``__arrow_c_stream__`` input (a RecordBatchReader,
    a DuckDB relation...) is hashed batch by batch as it is read, in bounded memory: the next
    batch is read (with the GIL released) while the previous one is hashed, and every batch is
    validated before it is hashed. ``row_order="unordered"`` needs all rows at once: a stream is
    read into memory first. Either way the root is the one of the same rows in one table.

    Raises:
        UnsupportedTypeError: a column has a type scheme 1 does not define (names the column).
        DuplicateColumnError: two columns share a name.
        InvalidDataError: the Arrow data is malformed (names the column).
        SchemaMismatchError: a batch of a pyarrow RecordBatchReader does not have the reader's
            schema (names the column).
        UnsupportedInputError: ``data`` is not tabular Arrow data.
        Exception: an exception raised by the code producing a RecordBatchReader's batches is
            raised as itself.

    Example:
        >>> import pyarrow as pa, lineage_fast as lf
        >>> h = lf.hash_table(pa.table({"id": [1, 2, 3], "name": ["a", "b", None]}))
        >>> h.root.startswith("blake3:") and len(h.root) == 71
        True
        >>> h.num_rows
        3
        >>> t = pa.table({"id": [1, 2, 3], "name": ["a", "b", None]})
        >>> reader = pa.RecordBatchReader.from_batches(t.schema, t.to_batches(max_chunksize=2))
        >>> lf.hash_table(reader) == h  # streamed batch by batch: the same identity
        True
    """
    if isinstance(data, pa.RecordBatchReader):
        checked = _CheckedReader(data)
        reader = pa.RecordBatchReader.from_batches(data.schema, iter(checked))
        return _from_raw(_hash_stream(reader, checked, row_order, threads))
    raw = _core.hash_table(_arrow_input(data), row_order=row_order, threads=threads)
    result = _from_raw(raw)
    if row_order == "ordered":
        _remember(data, result)
    return result


# Ordered hashes of immutable pyarrow tables and batches, so that `diff` of two versions that were
# already hashed can prune without hashing again. Entries die with their table.
_CACHE: dict[int, tuple[weakref.ref[Any], TableHash]] = {}


def _remember(data: Any, h: TableHash) -> None:
    if not isinstance(data, pa.Table | pa.RecordBatch):
        return
    key = id(data)
    _CACHE[key] = (weakref.ref(data, lambda _: _CACHE.pop(key, None)), h)


def cached_hash(data: Any) -> TableHash | None:
    """The ordered :class:`TableHash` last computed by :func:`hash_table` for this very object.

    Only pyarrow ``Table`` and ``RecordBatch`` objects are remembered (they are immutable), for as
    long as they are alive. :func:`lineage_fast.diff` uses this to prune without hashing again.
    """
    entry = _CACHE.get(id(data))
    if entry is None or entry[0]() is not data:
        return None
    return entry[1]


class _CheckedReader:
    """The batches of a pyarrow RecordBatchReader, each checked against the reader's schema.

    pyarrow exports a batch whose schema differs from its reader's under the reader's schema (its
    buffers would be misread, e.g. doubles as int64), so the check must happen before the C stream.
    The first exception raised while reading is kept: the C stream carries only its message.
    """

    def __init__(self, reader: pa.RecordBatchReader) -> None:
        self.reader = reader
        self.error: BaseException | None = None

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        expected = [(f.name, f.type) for f in self.reader.schema]
        try:
            for k, batch in enumerate(self.reader):
                got = [(f.name, f.type) for f in batch.schema]
                if got != expected:
                    raise _schema_changed(k, self.reader.schema, batch.schema)
                yield batch
        except GeneratorExit:  # the hasher stopped reading (it failed): not our error
            raise
        except BaseException as e:
            self.error = e
            raise


def _schema_changed(k: int, expected: pa.Schema, got: pa.Schema) -> SchemaMismatchError:
    want = {f.name: f.type for f in expected}
    have = {f.name: f.type for f in got}
    column = next(
        (n for n in [*want, *have] if want.get(n) != have.get(n)),
        None,
    )
    what = (
        f"column {column!r} is {have.get(column, 'missing')}, the stream's schema says "
        f"{want.get(column, 'no such column')}"
        if column is not None
        else "the columns are in a different order"
    )
    err = SchemaMismatchError(f"the schema changed at batch {k} of the stream: {what}")
    err.column = column
    return err


def _hash_stream(
    reader: pa.RecordBatchReader,
    source: Any,
    row_order: RowOrder,
    threads: int | None,
) -> dict[str, Any]:
    """``_core.hash_table`` over a stream fed by ``source`` (an object with an ``error``
    attribute): a failure while reading is raised as the reader's own exception."""
    try:
        return _core.hash_table(reader, row_order=row_order, threads=threads)
    except LineageError as e:
        err: BaseException | None = source.error
        if err is not None and err is not e:
            raise err.with_traceback(err.__traceback__) from err.__cause__
        raise


def row_fingerprints(data: Any, *, threads: int | None = None) -> pa.FixedSizeBinaryArray:
    """The 128-bit fingerprint of every row, as a ``fixed_size_binary(16)`` array.

    Fingerprints are fast and stable (defined in ``docs/hash-spec.md`` §5) but not cryptographic:
    use them to match rows, never as an identity. Equal rows always have equal fingerprints.

    Example:
        >>> import pyarrow as pa, lineage_fast as lf
        >>> fp = lf.row_fingerprints(pa.table({"x": [1, 1, 2]}))
        >>> fp[0] == fp[1], fp[0] == fp[2]
        (True, False)
    """
    return _core.row_fingerprints(_arrow_input(data), threads=threads)


def chunk_digest(data: Any, *, threads: int | None = None) -> Chunk:
    """Hash all rows of ``data`` as ONE chunk (the chunk function of ``docs/hash-spec.md`` §8).

    :func:`hash_table` cuts a table into content-defined chunks; this function hashes rows you
    choose as a single chunk, whatever their number. Use it to check a chunk of a
    :class:`TableHash` against data, or to hash the seam chunks when merging partition results.

    Example:
        >>> import pyarrow as pa, lineage_fast as lf
        >>> t = pa.table({"x": [1, 2, 3]})
        >>> lf.chunk_digest(t).digest == lf.hash_table(t).chunks[0].digest
        True
    """
    digest, num_rows, segments = _core.chunk_digest(_arrow_input(data), threads=threads)
    return Chunk(
        digest=_hex(digest),
        start=0,
        num_rows=num_rows,
        columns={name: _hex(s) for name, s in segments},
    )


def file_digest(path: str | os.PathLike[str], *, threads: int | None = None) -> str:
    """The BLAKE3-256 digest of a file's bytes, as ``"blake3:"`` + 64 hex digits.

    This is plain BLAKE3 (the digest ``b3sum`` prints), not a table identity: it identifies the
    bytes of a file (a Parquet file, a model) and changes whenever the bytes do. Manifests record
    it for source files and runs record it for non-tabular artifacts. Large files are
    memory-mapped and hashed on all cores.

    Raises:
        FileNotFoundError, PermissionError, IsADirectoryError, OSError: the file cannot be read
            (``filename`` is set).

    Example:
        >>> import pathlib, tempfile, lineage_fast as lf
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "empty"
        >>> _ = p.write_bytes(b"")
        >>> lf.file_digest(p)
        'blake3:af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262'
    """
    return _hex(_core.file_digest(os.fspath(path), threads=threads))


def bytes_digest(data: bytes) -> str:
    """The plain BLAKE3-256 digest of ``data``, as ``"blake3:"`` + 64 hex digits.

    Like :func:`file_digest`, for bytes in memory. Stored objects are named by it: a manifest's
    id is the digest of its canonical JSON bytes.

    Example:
        >>> import lineage_fast as lf
        >>> lf.bytes_digest(b"")
        'blake3:af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262'
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"bytes_digest needs bytes, not {type(data).__name__}")
    return "blake3:" + _core.bytes_digest(bytes(data)).hex()
