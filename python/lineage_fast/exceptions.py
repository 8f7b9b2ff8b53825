"""The exception hierarchy of lineage_fast.

Every error raised by lineage_fast derives from :class:`LineageError`. Most also derive from the
builtin a caller would naturally catch (``TypeError`` for unsupported types, ``ValueError`` for bad
values), so ``except ValueError`` keeps working. The Rust core raises these same classes.
"""

from __future__ import annotations

__all__ = [
    "AmbiguousIdError",
    "CanonicalJSONError",
    "ColumnNotFoundError",
    "DuplicateColumnError",
    "DuplicateKeyError",
    "IntegrityError",
    "InternalError",
    "InvalidArgumentError",
    "InvalidDataError",
    "InvalidFileError",
    "InvalidNameError",
    "InvalidObjectError",
    "LineageError",
    "MergeError",
    "NotFoundError",
    "SchemaMismatchError",
    "StoreError",
    "UnsupportedInputError",
    "UnsupportedTypeError",
    "ValueOutOfRangeError",
]


class LineageError(Exception):
    """Base class of every lineage_fast error."""


class UnsupportedTypeError(LineageError, TypeError):
    """A column has an Arrow type that hash scheme 1 does not define.

    Attributes: ``column`` (the column, with a dotted path for nested fields) and ``data_type``.
    """

    column: str
    data_type: str


class UnsupportedInputError(LineageError, TypeError):
    """The object is not tabular Arrow data (no ``__arrow_c_stream__`` / ``__arrow_c_array__``)."""


class DuplicateColumnError(LineageError, ValueError):
    """Two columns share one name. Attribute: ``column``."""

    column: str


class SchemaMismatchError(LineageError, ValueError):
    """Batches of one input, or two inputs that must agree, have different schemas.

    Attributes (set when known, e.g. by :func:`lineage_fast.hash_parquet`): ``paths``, the two
    files that disagree, and ``column``, the first column (by name) that differs.
    """

    paths: tuple[str, ...] = ()
    column: str | None = None


class InvalidDataError(LineageError, ValueError):
    """The Arrow data is malformed (bad offsets, invalid UTF-8, out-of-range dictionary keys...).

    Attribute: ``column``, the column at fault, or ``None`` when the data could not even be
    imported as columns.
    """

    column: str | None = None


class InvalidFileError(InvalidDataError):
    """A file is not valid in its format (a corrupt or truncated Parquet file...).

    Attribute: ``path``, the file at fault.
    """

    path: str


class ValueOutOfRangeError(LineageError, ValueError):
    """A value exceeds what scheme 1 can encode (e.g. a single value of 4 GiB or more)."""

    column: str


class InvalidArgumentError(LineageError, ValueError):
    """An argument has an invalid value."""


class MergeError(LineageError, ValueError):
    """Partition summaries cannot be merged."""


class ColumnNotFoundError(LineageError, LookupError):
    """A column named by the caller (a diff key, a compared column) does not exist.

    Attribute: ``column``.
    """

    column: str


class DuplicateKeyError(LineageError, ValueError):
    """A diff key occurs more than once on one side (and ``duplicate_keys="error"``).

    Attributes: ``side`` (``"old"`` or ``"new"``), ``count`` (the number of rows of that side
    found repeating a key: later occurrences among the rows that differ, and differing rows whose
    key also belongs to a row identical in both versions), ``rows`` (up to 10 such row numbers)
    and ``keys`` (their key values, as dicts). See ``docs/diff.md`` for which repeats are
    reported.
    """

    side: str
    count: int
    rows: list[int]
    keys: list[dict[str, object]]


class InternalError(LineageError, RuntimeError):
    """A bug in lineage_fast: a Rust panic, caught before it reached Python. Please report it."""


class InvalidNameError(InvalidArgumentError):
    """A dataset or job name is not allowed (empty, too long, control characters, a ``..``
    segment, an absolute path...). Attribute: ``name``."""

    def __init__(self, message: str, *, name: str) -> None:
        super().__init__(message)
        self.name = name


class CanonicalJSONError(LineageError, ValueError):
    """A value cannot be written as RFC 8785 canonical JSON (NaN or infinity, an integer beyond
    ±(2**53 - 1), a non-string key, a lone surrogate, an unsupported type). ``path`` is where in
    the value the problem is (``"$.metadata.x"``)."""

    def __init__(self, message: str, *, path: str = "$") -> None:
        super().__init__(f"{path}: {message}")
        self.path = path


class InvalidObjectError(LineageError, ValueError):
    """A manifest, run record, chunk list or log line is malformed: not canonical JSON, a missing
    or mistyped field, an unknown format. ``object_id`` names the stored object (``None`` for an
    object that does not come from a store); ``field`` is the path of the bad field."""

    def __init__(
        self, message: str, *, object_id: str | None = None, field: str | None = None
    ) -> None:
        where = f"object {object_id}: " if object_id else ""
        at = f"{field}: " if field else ""
        super().__init__(f"{where}{at}{message}")
        self.object_id = object_id
        self.field = field


class StoreError(LineageError, OSError):
    """The store cannot be used: the directory is not a lineage_fast store, its format version is
    unknown, or a file of the store cannot be read or written."""


class IntegrityError(StoreError):
    """A stored object does not match its digest (the file was changed or truncated), or the store
    refers to an object that is missing. ``object_id`` and ``path`` name the object."""

    def __init__(
        self, message: str, *, object_id: str | None = None, path: str | None = None
    ) -> None:
        super().__init__(message)
        self.object_id = object_id
        self.path = path


class NotFoundError(LineageError, LookupError):
    """No version, run or name matches what was asked for. Attribute: ``key``."""

    def __init__(self, message: str, *, key: str) -> None:
        super().__init__(message)
        self.key = key


class AmbiguousIdError(LineageError, LookupError):
    """An abbreviated id matches several objects. ``prefix`` is what was given and ``candidates``
    the full ids it matches: give more digits."""

    def __init__(self, message: str, *, prefix: str, candidates: tuple[str, ...]) -> None:
        super().__init__(message)
        self.prefix = prefix
        self.candidates = candidates
