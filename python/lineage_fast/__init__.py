"""lineage_fast: cryptographic, layout-independent identities for tabular data.

>>> import pyarrow as pa, lineage_fast as lf
>>> lf.hash_table(pa.table({"x": [1, 2]})).num_rows
2
"""

from __future__ import annotations

from lineage_fast._core import __version__
from lineage_fast.exceptions import (
    AmbiguousIdError,
    CanonicalJSONError,
    DuplicateColumnError,
    IntegrityError,
    InternalError,
    InvalidArgumentError,
    InvalidDataError,
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
    TableHash,
    bytes_digest,
    chunk_digest,
    file_digest,
    hash_table,
    row_fingerprints,
)
from lineage_fast.lineage import Run
from lineage_fast.manifest import Manifest, canonical_json
from lineage_fast.store import ActiveRun, LineageNode, LogEntry, Problem, Store, Version

__all__ = [
    "ActiveRun",
    "AmbiguousIdError",
    "CanonicalJSONError",
    "Chunk",
    "DuplicateColumnError",
    "IntegrityError",
    "InternalError",
    "InvalidArgumentError",
    "InvalidDataError",
    "InvalidNameError",
    "InvalidObjectError",
    "LineageError",
    "LineageNode",
    "LogEntry",
    "Manifest",
    "MergeError",
    "NotFoundError",
    "Problem",
    "RowOrder",
    "Run",
    "SchemaMismatchError",
    "Store",
    "StoreError",
    "TableHash",
    "UnsupportedInputError",
    "UnsupportedTypeError",
    "ValueOutOfRangeError",
    "Version",
    "__version__",
    "bytes_digest",
    "canonical_json",
    "chunk_digest",
    "file_digest",
    "hash_table",
    "row_fingerprints",
]
