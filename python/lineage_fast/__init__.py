"""lineage_fast: cryptographic, layout-independent identities for tabular data.

>>> import pyarrow as pa, lineage_fast as lf
>>> lf.hash_table(pa.table({"x": [1, 2]})).num_rows
2
"""

from __future__ import annotations

from lineage_fast._core import __version__
from lineage_fast.diff import ChunkDiff, Diff, Hunk, SchemaChanges, diff, diff_chunks
from lineage_fast.exceptions import (
    AmbiguousIdError,
    CanonicalJSONError,
    ColumnNotFoundError,
    DuplicateColumnError,
    DuplicateKeyError,
    IntegrityError,
    InternalError,
    InvalidArgumentError,
    InvalidDataError,
    InvalidFileError,
    InvalidNameError,
    InvalidObjectError,
    LineageError,
    MergeError,
    NotFoundError,
    SchemaMismatchError,
    StoreError,
    UnsupportedInputError,
    UnsupportedTypeError,
    ValueOutOfRangeError,
)
from lineage_fast.hashing import (
    Chunk,
    RowOrder,
    SourceFile,
    TableHash,
    bytes_digest,
    cached_hash,
    chunk_digest,
    file_digest,
    hash_table,
    row_fingerprints,
)
from lineage_fast.lineage import Run
from lineage_fast.manifest import Manifest, canonical_json
from lineage_fast.merge import (
    PartitionSummary,
    TableRoot,
    chunk_offsets,
    merge_compact,
    merge_summaries,
    partition_summary,
)
from lineage_fast.parquet import Progress, ProgressBar, hash_parquet
from lineage_fast.store import ActiveRun, LineageNode, LogEntry, Problem, Store, Version

__all__ = [
    "ActiveRun",
    "AmbiguousIdError",
    "CanonicalJSONError",
    "Chunk",
    "ChunkDiff",
    "ColumnNotFoundError",
    "Diff",
    "DuplicateColumnError",
    "DuplicateKeyError",
    "Hunk",
    "IntegrityError",
    "InternalError",
    "InvalidArgumentError",
    "InvalidDataError",
    "InvalidFileError",
    "InvalidNameError",
    "InvalidObjectError",
    "LineageError",
    "LineageNode",
    "LogEntry",
    "Manifest",
    "MergeError",
    "NotFoundError",
    "PartitionSummary",
    "Problem",
    "Progress",
    "ProgressBar",
    "RowOrder",
    "Run",
    "SchemaChanges",
    "SchemaMismatchError",
    "SourceFile",
    "Store",
    "StoreError",
    "TableHash",
    "TableRoot",
    "UnsupportedInputError",
    "UnsupportedTypeError",
    "ValueOutOfRangeError",
    "Version",
    "__version__",
    "bytes_digest",
    "cached_hash",
    "canonical_json",
    "chunk_digest",
    "chunk_offsets",
    "diff",
    "diff_chunks",
    "file_digest",
    "hash_parquet",
    "hash_table",
    "merge_compact",
    "merge_summaries",
    "partition_summary",
    "row_fingerprints",
]
