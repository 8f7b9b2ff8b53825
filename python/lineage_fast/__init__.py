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
    InvalidFileError,
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
    SourceFile,
    TableHash,
    cached_hash,
    chunk_digest,
    file_digest,
    hash_table,
    row_fingerprints,
)
from lineage_fast.parquet import Progress, ProgressBar, hash_parquet

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
    "InvalidFileError",
    "LineageError",
    "MergeError",
    "Progress",
    "ProgressBar",
    "RowOrder",
    "SchemaChanges",
    "SchemaMismatchError",
    "SourceFile",
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
    "hash_parquet",
    "hash_table",
    "row_fingerprints",
]
