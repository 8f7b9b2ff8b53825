"""Type stubs of the Rust extension module ``lineage_fast._core`` (private: use the facade)."""

import os
from typing import Any, final

import pyarrow as pa

__all__ = [
    "PartitionSummary",
    "__version__",
    "bytes_digest",
    "chunk_digest",
    "chunk_offsets",
    "diff",
    "diff_chunks",
    "file_digest",
    "hash_table",
    "merge_compact",
    "merge_summaries",
    "partition_summary",
    "row_fingerprints",
    "scheme_constants",
]

__version__: str

def hash_table(
    data: Any, *, row_order: str = "ordered", threads: int | None = None
) -> dict[str, Any]: ...
def row_fingerprints(data: Any, *, threads: int | None = None) -> pa.FixedSizeBinaryArray: ...
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
        tuple[bytes, list[tuple[bytes, int, int]], list[str]],
        tuple[bytes, list[tuple[bytes, int, int]], list[str]],
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

@final
class PartitionSummary:
    @property
    def num_rows(self) -> int: ...
    @property
    def row_order(self) -> str: ...
    @property
    def schema_digest(self) -> bytes: ...
    @property
    def seam_rows(self) -> int: ...
    @property
    def interior_chunks(self) -> int: ...
    @property
    def form(self) -> str: ...
    @property
    def first_chunk_index(self) -> int | None: ...
    def compact(self, first_chunk_index: int | None = None) -> PartitionSummary: ...
    def to_bytes(self) -> bytes: ...
    @staticmethod
    def from_bytes(data: bytes) -> PartitionSummary: ...

def partition_summary(
    data: Any, *, row_order: str = "ordered", threads: int | None = None
) -> PartitionSummary: ...
def merge_summaries(
    summaries: list[PartitionSummary], *, threads: int | None = None
) -> dict[str, Any]: ...
def chunk_offsets(summaries: list[PartitionSummary]) -> list[int]: ...
def merge_compact(
    summaries: list[PartitionSummary], *, threads: int | None = None
) -> dict[str, Any]: ...
