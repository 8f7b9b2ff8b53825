"""lineage_fast: cryptographic, layout-independent identities for tabular data.

>>> import pyarrow as pa, lineage_fast as lf
>>> lf.hash_table(pa.table({"x": [1, 2]})).num_rows
2
"""

from __future__ import annotations

from lineage_fast._core import __version__
from lineage_fast.diff import ChunkDiff, Diff, Hunk, SchemaChanges, diff, diff_chunks
from lineage_fast.exceptions import (
    ColumnNotFoundError,
    DuplicateColumnError,
    DuplicateKeyError,
    InternalError,
    InvalidArgumentError,
    InvalidDataError,
    LineageError,
    MergeError,
    SchemaMismatchError,
    UnsupportedInputError,
    UnsupportedTypeError,
    ValueOutOfRangeError,
)
from lineage_fast.hashing import (
    Chunk,
    RowOrder,
    TableHash,
    cached_hash,
    chunk_digest,
    file_digest,
    hash_table,
    row_fingerprints,
)

__all__ = [
    "Chunk",
    "ChunkDiff",
    "ColumnNotFoundError",
    "Diff",
    "DuplicateColumnError",
    "DuplicateKeyError",
    "Hunk",
    "InternalError",
    "InvalidArgumentError",
    "InvalidDataError",
    "LineageError",
    "MergeError",
    "RowOrder",
    "SchemaChanges",
    "SchemaMismatchError",
    "TableHash",
    "UnsupportedInputError",
    "UnsupportedTypeError",
    "ValueOutOfRangeError",
    "__version__",
    "cached_hash",
    "chunk_digest",
    "diff",
    "diff_chunks",
    "file_digest",
    "hash_table",
    "row_fingerprints",
]
