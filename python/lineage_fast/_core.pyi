"""Type stubs of the Rust extension module ``lineage_fast._core`` (private: use the facade)."""

import os
from typing import Any

__all__ = [
    "__version__",
    "bytes_digest",
    "chunk_digest",
    "file_digest",
    "hash_table",
    "row_fingerprints",
    "scheme_constants",
]

__version__: str

def hash_table(
    data: Any, *, row_order: str = "ordered", threads: int | None = None
) -> dict[str, Any]: ...
def row_fingerprints(data: Any, *, threads: int | None = None) -> tuple[int, bytes]: ...
def chunk_digest(
    data: Any, *, threads: int | None = None
) -> tuple[bytes, int, list[tuple[str, bytes]]]: ...
def file_digest(path: str | os.PathLike[str], *, threads: int | None = None) -> bytes: ...
def bytes_digest(data: bytes) -> bytes: ...
def scheme_constants() -> dict[str, int]: ...
