"""Type stubs of the Rust extension module ``lineage_fast._core`` (private: use the facade)."""

import os
from typing import Any

__all__ = [
    "__version__",
    "bytes_digest",
    "chunk_digest",
    "diff",
    "diff_chunks",
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
def diff(
    old: Any,
    new: Any,
    *,
    key: list[str],
    columns: list[str] | None = None,
    duplicate_keys: str = "error",
    hashes: tuple[
        tuple[bytes, list[tuple[bytes, int, int]]], tuple[bytes, list[tuple[bytes, int, int]]]
    ]
    | None = None,
    validated: tuple[bool, bool] = ...,
    threads: int | None = None,
) -> dict[str, Any]: ...
def diff_chunks(
    old: list[tuple[bytes, int, int, list[bytes]]],
    new: list[tuple[bytes, int, int, list[bytes]]],
    ncols: int,
) -> list[tuple[int, int, int, int, list[int]]]: ...
def file_digest(path: str | os.PathLike[str], *, threads: int | None = None) -> bytes: ...
def bytes_digest(data: bytes) -> bytes: ...
def scheme_constants() -> dict[str, int]: ...
