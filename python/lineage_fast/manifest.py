"""Version manifests (``lineage_fast.manifest/v1``) and RFC 8785 canonical JSON.

A manifest records one version of a dataset: its identity (``version_id``, the table's Merkle
root), the previous manifest of the same name (``parent``), the hash scheme, the schema, statistics,
column digests, a pointer to the chunk list (stored as its own object), optional source files with
their BLAKE3 digests, who created it and when, and free user metadata. It is stored as canonical
JSON (RFC 8785, "JCS") and named by ``manifest_id`` = BLAKE3 of those exact bytes, so the same
manifest always has the same id and any change to its bytes is detected.

Canonical JSON here is JCS with one documented restriction: integers must lie within
±(2**53 - 1), the range a JSON number (an IEEE double) represents exactly; store larger integers as
strings. Floats are written with the ECMAScript shortest round-trip form JCS requires
(``1.0`` → ``1``, ``1e21`` → ``1e+21``); NaN and infinities are refused.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from json.encoder import encode_basestring
from typing import Any, Self

from lineage_fast.exceptions import CanonicalJSONError, InvalidObjectError
from lineage_fast.hashing import TableHash, bytes_digest

__all__ = [
    "CHUNKS_FORMAT",
    "MANIFEST_FORMAT",
    "Manifest",
    "canonical_json",
    "load_json",
]

MANIFEST_FORMAT = "lineage_fast.manifest/v1"
CHUNKS_FORMAT = "lineage_fast.chunks/v1"
CHUNKS_MEDIA_TYPE = "application/vnd.lineage-fast.chunk-index.v1+json"
HASH_SCHEME_NAME = "lineage_fast.tabular"

_MAX_INT = 2**53 - 1
_HEX = frozenset("0123456789abcdef")


def is_digest(value: object) -> bool:
    """True for a ``"blake3:"`` + 64 lowercase hex digits string."""
    return (
        isinstance(value, str)
        and len(value) == 71
        and value.startswith("blake3:")
        and _HEX.issuperset(value[7:])
    )


# --- RFC 8785 canonical JSON ----------------------------------------------------------------


def _es_number(x: float, path: str) -> str:
    """ECMAScript Number.prototype.toString of a finite double (RFC 8785 §3.2.2.3)."""
    if math.isnan(x) or math.isinf(x):
        raise CanonicalJSONError("NaN and infinities have no JSON form", path=path)
    if x == 0:
        return "0"  # also for -0.0
    sign = "-" if x < 0 else ""
    # repr gives the shortest digits that round-trip, as ECMAScript does.
    mantissa, _, exp = repr(abs(x)).partition("e")
    int_part, _, frac = mantissa.partition(".")
    digits = int_part + frac
    n = len(int_part) + (int(exp) if exp else 0)
    stripped = digits.lstrip("0")
    n -= len(digits) - len(stripped)
    digits = stripped.rstrip("0")
    k = len(digits)
    if k <= n <= 21:
        return sign + digits + "0" * (n - k)
    if 0 < n <= 21:
        return sign + digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return sign + "0." + "0" * (-n) + digits
    e = n - 1
    es = f"e+{e}" if e >= 0 else f"e-{-e}"
    if k == 1:
        return sign + digits + es
    return sign + digits[0] + "." + digits[1:] + es


def _utf16_key(item: tuple[str, Any]) -> bytes:
    return item[0].encode("utf-16-be", "surrogatepass")


def _encode(value: Any, out: list[str], path: str) -> None:
    if isinstance(value, str):
        out.append(encode_basestring(value))
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        if not -_MAX_INT <= value <= _MAX_INT:
            raise CanonicalJSONError(
                f"integer {value} is beyond ±(2**53 - 1), which JSON numbers cannot hold "
                "exactly: store it as a string",
                path=path,
            )
        out.append(str(int(value)))
    elif isinstance(value, float):
        out.append(_es_number(value, path))
    elif isinstance(value, Mapping):
        items = list(value.items())
        for k, _ in items:
            if not isinstance(k, str):
                raise CanonicalJSONError(
                    f"object keys must be strings, not {type(k).__name__} ({k!r})", path=path
                )
        items.sort(key=_utf16_key)
        out.append("{")
        first = True
        for k, v in items:
            if not first:
                out.append(",")
            first = False
            out.append(encode_basestring(k))
            out.append(":")
            _encode(v, out, f"{path}.{k}")
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for i, v in enumerate(value):
            if i:
                out.append(",")
            _encode(v, out, f"{path}[{i}]")
        out.append("]")
    else:
        raise CanonicalJSONError(
            f"{type(value).__name__} is not a JSON type (use str, int, float, bool, None, "
            "list or dict)",
            path=path,
        )


def canonical_json(value: Any) -> bytes:
    """The RFC 8785 (JCS) canonical JSON bytes of ``value``.

    Keys are sorted by their UTF-16 code units, there is no whitespace, strings are minimally
    escaped and numbers use the ECMAScript form. Integers must be within ±(2**53 - 1).

    Raises:
        CanonicalJSONError: NaN/infinity, an out-of-range integer, a non-string key, a lone
            surrogate or a non-JSON type (``path`` says where).

    Example:
        >>> from lineage_fast.manifest import canonical_json
        >>> canonical_json({"b": [1.0, 1e21, "é"], "a": None})
        b'{"a":null,"b":[1,1e+21,"\\xc3\\xa9"]}'
    """
    out: list[str] = []
    try:
        _encode(value, out, "$")
    except RecursionError:
        raise CanonicalJSONError("value is nested too deeply") from None
    except UnicodeEncodeError:
        raise CanonicalJSONError("an object key contains a lone surrogate") from None
    try:
        return "".join(out).encode("utf-8")
    except UnicodeEncodeError:
        raise CanonicalJSONError("a string contains a lone surrogate (not Unicode)") from None


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    d = dict(pairs)
    if len(d) != len(pairs):
        seen: set[str] = set()
        dup = next(k for k, _ in pairs if k in seen or seen.add(k))  # type: ignore[func-returns-value]
        raise ValueError(f"duplicate key {dup!r}")
    return d


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def load_json(data: bytes, *, object_id: str | None = None, canonical: bool = True) -> Any:
    """Parse JSON bytes strictly: UTF-8, no duplicate keys, no NaN/Infinity, and (by default)
    the bytes must be exactly the canonical form of what they hold.

    Raises:
        InvalidObjectError: the bytes are not (canonical) JSON; ``object_id`` is passed through.

    Example:
        >>> from lineage_fast.manifest import load_json
        >>> load_json(b'{"a":1,"b":[true,null]}')
        {'a': 1, 'b': [True, None]}
        >>> load_json(b'{"b":1, "a":2}')
        Traceback (most recent call last):
        ...
        lineage_fast.exceptions.InvalidObjectError: not canonical JSON (RFC 8785): ...
    """
    try:
        text = bytes(data).decode("utf-8")
        value = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_refuse_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise InvalidObjectError(f"not valid JSON: {e}", object_id=object_id) from None
    if canonical:
        try:
            again = canonical_json(value)
        except CanonicalJSONError as e:
            raise InvalidObjectError(
                f"not canonical JSON (RFC 8785): {e}", object_id=object_id
            ) from None
        if again != data:
            raise InvalidObjectError(
                "not canonical JSON (RFC 8785): keys must be sorted, without whitespace, with "
                "minimal escapes and ECMAScript numbers",
                object_id=object_id,
            )
    return value


# --- field validation -----------------------------------------------------------------------


class _Check:
    """Typed access to a parsed JSON object, raising InvalidObjectError naming the field."""

    def __init__(self, value: Any, where: str, object_id: str | None) -> None:
        self.object_id = object_id
        self.where = where
        if not isinstance(value, dict):
            self.fail(where, f"expected an object, got {_json_type(value)}")
        self.value: dict[str, Any] = value

    def fail(self, field: str, message: str) -> Any:
        raise InvalidObjectError(message, object_id=self.object_id, field=field)

    def _get(self, key: str, optional: bool) -> Any:
        if key not in self.value:
            if optional:
                return None
            self.fail(f"{self.where}.{key}", "missing")
        return self.value[key]

    def text(self, key: str, *, optional: bool = False, digest: bool = False) -> Any:
        v = self._get(key, optional)
        if v is None and optional:
            return None
        if not isinstance(v, str):
            self.fail(f"{self.where}.{key}", f"expected a string, got {_json_type(v)}")
        if digest and not is_digest(v):
            self.fail(f"{self.where}.{key}", f"expected 'blake3:' + 64 hex digits, got {v!r}")
        return v

    def integer(self, key: str, *, optional: bool = False) -> Any:
        v = self._get(key, optional)
        if v is None and optional:
            return None
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            self.fail(f"{self.where}.{key}", f"expected a non-negative integer, got {v!r}")
        return v

    def obj(self, key: str, *, optional: bool = False) -> Any:
        v = self._get(key, optional)
        if v is None and optional:
            return None
        return _Check(v, f"{self.where}.{key}", self.object_id)

    def array(self, key: str, *, optional: bool = False) -> Any:
        v = self._get(key, optional)
        if v is None and optional:
            return []
        if not isinstance(v, list):
            self.fail(f"{self.where}.{key}", f"expected an array, got {_json_type(v)}")
        return v

    def literal(self, key: str, allowed: Iterable[Any]) -> Any:
        v = self._get(key, False)
        allowed = tuple(allowed)
        if v not in allowed:
            self.fail(f"{self.where}.{key}", f"expected one of {allowed!r}, got {v!r}")
        return v


def _json_type(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, int | float):
        return "a number"
    if isinstance(v, str):
        return "a string"
    if isinstance(v, list):
        return "an array"
    return "an object"


def utc_now() -> str:
    """The current UTC time as RFC 3339 with microseconds (``2026-05-04T12:00:00.123456Z``)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


_TIME_RE = re.compile(
    r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d\.\d{6}Z$"
)


def check_time(c: _Check, key: str, *, optional: bool = False) -> Any:
    v = c.text(key, optional=optional)
    if v is None:
        return None
    if not _TIME_RE.match(v):
        c.fail(f"{c.where}.{key}", f"expected an RFC 3339 UTC time like {utc_now()!r}, got {v!r}")
    return v


# --- chunk lists ----------------------------------------------------------------------------


def chunk_list(th: TableHash) -> dict[str, Any]:
    """The chunk list object of a table hash (stored separately from the manifest)."""
    return {
        "format": CHUNKS_FORMAT,
        "version_id": th.root,
        "chunks": [
            {"digest": c.digest, "start": c.start, "num_rows": c.num_rows, "columns": c.columns}
            for c in th.chunks
        ],
    }


def validate_chunk_list(value: Any, object_id: str | None = None) -> dict[str, Any]:
    """Check the fields of a chunk list object; return it."""
    c = _Check(value, "chunks", object_id)
    c.literal("format", [CHUNKS_FORMAT])
    c.text("version_id", digest=True)
    expected = 0
    for i, raw in enumerate(c.array("chunks")):
        ch = _Check(raw, f"chunks.chunks[{i}]", object_id)
        ch.text("digest", digest=True)
        start = ch.integer("start")
        rows = ch.integer("num_rows")
        if start != expected:
            ch.fail(f"chunks.chunks[{i}].start", f"expected {expected}, got {start}")
        expected = start + rows
        cols = ch.obj("columns")
        for name in cols.value:
            cols.text(name, digest=True)
    return c.value


# --- manifests ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, eq=False)
class CanonicalObject:
    """Validated, immutable JSON kept as its canonical bytes, identified by their BLAKE3 digest:
    the common part of :class:`Manifest` and :class:`lineage_fast.Run`. Equal exactly when the
    canonical bytes are."""

    data: Mapping[str, Any]
    _bytes: bytes
    _id: str = field(default="", repr=False)

    def __post_init__(self) -> None:
        if not self._id:
            object.__setattr__(self, "_id", bytes_digest(self._bytes))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CanonicalObject) and (type(other), other._bytes) == (
            type(self),
            self._bytes,
        )

    def __hash__(self) -> int:
        return hash(self._bytes)

    @classmethod
    def _validate(cls, data: Any, object_id: str | None) -> None:
        """Check ``data`` against the format (raises :class:`InvalidObjectError`)."""
        raise NotImplementedError

    @classmethod
    def from_json(cls, raw: bytes, *, object_id: str | None = None) -> Self:
        """Parse and validate canonical bytes."""
        data = load_json(raw, object_id=object_id)
        cls._validate(data, object_id)
        return cls(data, bytes(raw))

    def to_json(self) -> bytes:
        """The canonical JSON bytes (what the object's id is the digest of)."""
        return self._bytes

    def to_dict(self) -> dict[str, Any]:
        """A deep copy of the JSON object."""
        copy: dict[str, Any] = json.loads(self._bytes)
        return copy


@dataclass(frozen=True, slots=True, eq=False)
class Manifest(CanonicalObject):
    """A version manifest (``lineage_fast.manifest/v1``): validated, immutable JSON.

    ``data`` is the JSON object; the properties give typed access to its main fields.
    ``manifest_id`` is the BLAKE3 digest of :meth:`to_json`.

    Example:
        >>> import pyarrow as pa, lineage_fast as lf
        >>> from lineage_fast.manifest import Manifest
        >>> th = lf.hash_table(pa.table({"x": [1, 2, 3]}))
        >>> m = Manifest.build(th, name="demo", chunks_digest=lf.bytes_digest(b"[]"),
        ...                    chunks_size=2, created_at="2026-01-01T00:00:00.000000Z",
        ...                    created_by="alice")
        >>> m.version_id == th.root, m.num_rows, m.parent
        (True, 3, None)
        >>> Manifest.from_json(m.to_json()).manifest_id == m.manifest_id
        True
    """

    @classmethod
    def _validate(cls, data: Any, object_id: str | None) -> None:
        validate_manifest(data, object_id)

    def __repr__(self) -> str:
        return (
            f"Manifest({self.name!r}, version_id={self.version_id[:19]}…, "
            f"manifest_id={self.manifest_id[:19]}…)"
        )

    @classmethod
    def build(
        cls,
        table_hash: TableHash,
        *,
        name: str,
        chunks_digest: str,
        chunks_size: int,
        namespace: str = "lineage_fast",
        parent: str | None = None,
        stats: Mapping[str, Any] | None = None,
        files: Iterable[Mapping[str, Any]] = (),
        created_at: str | None = None,
        created_by: str = "unknown",
        producer: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> Manifest:
        """Assemble and validate a manifest for ``table_hash``."""
        from lineage_fast import _core as core
        from lineage_fast.lineage import PRODUCER

        consts = core.scheme_constants()
        th = table_hash
        st: dict[str, Any] = {"total-records": th.num_rows, "chunk-count": len(th.chunks)}
        if stats:
            st.update(stats)
        data: dict[str, Any] = {
            "format": MANIFEST_FORMAT,
            "dataset": {"namespace": namespace, "name": name},
            "version_id": th.root,
            "parent": parent,
            "hash_scheme": {
                "name": HASH_SCHEME_NAME,
                "version": th.scheme,
                "algorithm": "blake3",
                "row_order": th.row_order,
                "chunking": {
                    "kind": "content_defined",
                    "candidate_bits": consts["candidate_bits"],
                    "min_rows": consts["min_rows"],
                    "max_rows": consts["max_rows"],
                },
            },
            "schema": {
                "digest": th.schema_digest,
                "fields": [{"name": n, "type": t} for n, t in th.column_types.items()],
            },
            "stats": st,
            "columns": dict(th.columns),
            "chunks": {
                "mediaType": CHUNKS_MEDIA_TYPE,
                "digest": chunks_digest,
                "size": chunks_size,
                "count": len(th.chunks),
            },
            "files": [dict(f) for f in files],
            "created": {
                "at": created_at or utc_now(),
                "by": created_by,
                "producer": producer or PRODUCER,
            },
            "metadata": dict(metadata or {}),
        }
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, object_id: str | None = None) -> Manifest:
        """Validate a manifest JSON object (raises :class:`InvalidObjectError`)."""
        validate_manifest(data, object_id)
        try:
            raw = canonical_json(data)
        except CanonicalJSONError as e:
            raise InvalidObjectError(str(e), object_id=object_id, field=e.path) from None
        return cls(dict(data), raw)

    @property
    def manifest_id(self) -> str:
        """BLAKE3 of the canonical bytes."""
        return self._id

    @property
    def version_id(self) -> str:
        """The table's identity (``TableHash.root``)."""
        v: str = self.data["version_id"]
        return v

    @property
    def name(self) -> str:
        """The dataset name."""
        v: str = self.data["dataset"]["name"]
        return v

    @property
    def namespace(self) -> str:
        """The dataset namespace (OpenLineage naming)."""
        v: str = self.data["dataset"]["namespace"]
        return v

    @property
    def parent(self) -> str | None:
        """The ``manifest_id`` of the previous version of this name, or ``None``."""
        v: str | None = self.data["parent"]
        return v

    @property
    def num_rows(self) -> int:
        """Number of rows."""
        v: int = self.data["stats"]["total-records"]
        return v

    @property
    def row_order(self) -> str:
        """``"ordered"`` or ``"unordered"``."""
        v: str = self.data["hash_scheme"]["row_order"]
        return v

    @property
    def created_at(self) -> str:
        """RFC 3339 UTC creation time."""
        v: str = self.data["created"]["at"]
        return v

    @property
    def chunks_digest(self) -> str:
        """Digest of the chunk list object."""
        v: str = self.data["chunks"]["digest"]
        return v

    @property
    def metadata(self) -> Mapping[str, Any]:
        """The user metadata."""
        v: Mapping[str, Any] = self.data["metadata"]
        return v


def validate_manifest(value: Any, object_id: str | None = None) -> None:
    """Check every field of a manifest JSON object (raises :class:`InvalidObjectError`)."""
    c = _Check(value, "manifest", object_id)
    c.literal("format", [MANIFEST_FORMAT])
    ds = c.obj("dataset")
    ds.text("namespace")
    ds.text("name")
    c.text("version_id", digest=True)
    c.text("parent", optional=True, digest=True)
    hs = c.obj("hash_scheme")
    hs.literal("name", [HASH_SCHEME_NAME])
    hs.integer("version")
    hs.literal("algorithm", ["blake3"])
    hs.literal("row_order", ["ordered", "unordered"])
    hs.obj("chunking")
    sc = c.obj("schema")
    sc.text("digest", digest=True)
    for i, f in enumerate(sc.array("fields")):
        fc = _Check(f, f"manifest.schema.fields[{i}]", object_id)
        fc.text("name")
        fc.text("type")
    st = c.obj("stats")
    st.integer("total-records")
    st.integer("chunk-count")
    st.integer("total-bytes", optional=True)
    cols = st.obj("columns", optional=True)
    if cols is not None:
        for name in cols.value:
            cs = cols.obj(name)
            cs.integer("null_count", optional=True)
    colds = c.obj("columns")
    for name in colds.value:
        colds.text(name, digest=True)
    ch = c.obj("chunks")
    ch.text("mediaType")
    ch.text("digest", digest=True)
    ch.integer("size")
    ch.integer("count")
    for i, f in enumerate(c.array("files")):
        fc = _Check(f, f"manifest.files[{i}]", object_id)
        fc.text("uri")
        fc.text("digest", digest=True)
        fc.integer("size")
    cr = c.obj("created")
    check_time(cr, "at")
    cr.text("by")
    cr.text("producer")
    c.obj("metadata")
