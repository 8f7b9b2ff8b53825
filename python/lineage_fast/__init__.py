"""lineage_fast: cryptographic, layout-independent identities for tabular data.

>>> import pyarrow as pa, lineage_fast as lf
>>> lf.hash_table(pa.table({"x": [1, 2]})).num_rows
2
"""

from __future__ import annotations

from lineage_fast._core import __version__
from lineage_fast.exceptions import (
    DuplicateColumnError,
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
    chunk_digest,
    file_digest,
    hash_table,
    row_fingerprints,
)

__all__ = [
    "Chunk",
    "DuplicateColumnError",
    "InternalError",
    "InvalidArgumentError",
    "InvalidDataError",
    "LineageError",
    "MergeError",
    "RowOrder",
    "SchemaMismatchError",
    "TableHash",
    "UnsupportedInputError",
    "UnsupportedTypeError",
    "ValueOutOfRangeError",
    "__version__",
    "chunk_digest",
    "file_digest",
    "hash_table",
    "row_fingerprints",
]
