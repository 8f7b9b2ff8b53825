"""The embedded store: content-addressed objects, append-only logs, a derived SQLite index.

Layout (``docs/store-format.md`` is the reference)::

    <store>/STORE                       {"format":"lineage_fast.store/v2"}
    <store>/objects/blake3/<2 hex>/<62 hex>   manifests, chunk lists (canonical JSON)
    <store>/refs.jsonl                  append-only ref moves: name → manifest (commit, rollback)
    <store>/runs.jsonl                  append-only finished runs, each line carrying its record
    <store>/events/openlineage.jsonl    OpenLineage events written by export_openlineage
    <store>/index.sqlite                derived index (WAL), rebuilt by reindex()
    <store>/lock, <store>/tmp/          writer lock; temporary files of atomic writes

Objects and log lines are the truth; the index only makes queries fast. A commit writes its
objects first (temp file, fsync, rename, directory fsync), then one log line (under an exclusive
``flock``, fsync), then the index. A run record is written inline in its runs.jsonl line (with
its digest), so recording a run is one append and one fsync. A writer killed at any point leaves
at worst an unreferenced object, a temp file or a torn last line nobody was told about; the next
store operation brings the index up to date from the logs.
"""

from __future__ import annotations

import contextlib
import functools
import getpass
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Concatenate, Literal, ParamSpec, TypeVar

import pyarrow as pa

from lineage_fast.exceptions import (
    AmbiguousIdError,
    IntegrityError,
    InvalidArgumentError,
    InvalidNameError,
    InvalidObjectError,
    LineageError,
    NotFoundError,
    StoreError,
)
from lineage_fast.hashing import (
    RowOrder,
    TableHash,
    _arrow_input,
    bytes_digest,
    file_digest,
    hash_table,
)
from lineage_fast.lineage import (
    RUN_FORMAT,
    Run,
    build_run,
    capture_code,
    capture_environment,
    is_run_id,
    uuid7,
    validate_run,
)
from lineage_fast.manifest import (
    CHUNKS_FORMAT,
    MANIFEST_FORMAT,
    Manifest,
    canonical_json,
    chunk_list,
    is_digest,
    load_json,
    utc_now,
    validate_chunk_list,
)

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["ActiveRun", "LineageNode", "LogEntry", "Problem", "Store", "Version"]

STORE_FORMAT = "lineage_fast.store/v2"
# v1 stores (run records only as objects) are read as they are; the first run recorded in one
# upgrades its STORE file to v2, so that older readers refuse it clearly instead of failing on
# a run object they cannot find.
_READABLE_FORMATS = ("lineage_fast.store/v1", STORE_FORMAT)
INDEX_SCHEMA_VERSION = 2
MIN_PREFIX = 12
_MAX_NAME = 512
_HEXDIGITS = frozenset("0123456789abcdef")
P = ParamSpec("P")
R = TypeVar("R")


# --- public value types ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Version:
    """A committed dataset version: a manifest stored under a name.

    Example:
        >>> import tempfile, pyarrow as pa, lineage_fast as lf
        >>> store = lf.Store(tempfile.mkdtemp())
        >>> v = store.commit(pa.table({"x": [1, 2]}), "demo")
        >>> v.name, v.version_id == lf.hash_table(pa.table({"x": [1, 2]})).root
        ('demo', True)
    """

    manifest: Manifest

    @property
    def manifest_id(self) -> str:
        """BLAKE3 of the manifest's canonical JSON (the storage key)."""
        return self.manifest.manifest_id

    @property
    def version_id(self) -> str:
        """The data's identity (the table's Merkle root)."""
        return self.manifest.version_id

    @property
    def name(self) -> str:
        """The dataset name."""
        return self.manifest.name

    @property
    def parent(self) -> str | None:
        """The ``manifest_id`` of the previous version of this name, or ``None``."""
        return self.manifest.parent

    @property
    def num_rows(self) -> int:
        """Number of rows."""
        return self.manifest.num_rows

    def __repr__(self) -> str:
        return f"Version({self.name!r}, {self.version_id[:19]}…, rows={self.num_rows:,})"


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One move of a name in the refs log (a commit or a rollback)."""

    seq: int
    name: str
    manifest_id: str
    version_id: str
    prev: str | None
    at: str
    by: str
    reason: str


@dataclass(frozen=True, slots=True)
class LineageNode:
    """A node of the lineage graph.

    ``kind`` is ``"version"`` (``id`` is a version id), ``"run"`` (``id`` is the run id) or
    ``"artifact"`` (``id`` is a file digest); ``label`` is a dataset name, job name or file URI.
    """

    kind: Literal["version", "run", "artifact"]
    id: str
    label: str


@dataclass(frozen=True, slots=True)
class Problem:
    """One finding of :meth:`Store.fsck`: ``kind``, the ``object`` at fault and a message."""

    kind: str
    object: str
    message: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.object}: {self.message}"


# --- helpers --------------------------------------------------------------------------------


def validate_name(name: object, what: str = "dataset name") -> str:
    """Refuse names that are empty, too long, hold control characters or backslashes, are
    absolute, or have empty, ``.`` or ``..`` segments. Names never become paths, but a name that
    looks like a path escape is a mistake (or an attack) worth stopping early.

    Example:
        >>> from lineage_fast.store import validate_name
        >>> validate_name("raw/events")
        'raw/events'
        >>> validate_name("../etc/passwd")
        Traceback (most recent call last):
        ...
        lineage_fast.exceptions.InvalidNameError: dataset name '../etc/passwd': ...
    """
    if not isinstance(name, str):
        raise InvalidNameError(
            f"{what} must be a string, not {type(name).__name__}", name=repr(name)
        )

    def bad(why: str) -> InvalidNameError:
        return InvalidNameError(f"{what} {name!r}: {why}", name=name)

    if not name or name != name.strip():
        raise bad("must be non-empty without leading or trailing spaces")
    if len(name) > _MAX_NAME:
        raise bad(f"longer than {_MAX_NAME} characters")
    if any(ord(ch) < 32 or ord(ch) == 127 or 0xD800 <= ord(ch) <= 0xDFFF for ch in name):
        raise bad("contains a control character or a lone surrogate")
    if "\\" in name:
        raise bad("contains a backslash")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":" and name[0].isalpha()):
        raise bad("is an absolute path (names are relative: 'raw/events')")
    if any(seg in ("", ".", "..") for seg in name.split("/")):
        raise bad("has an empty, '.' or '..' segment")
    return name


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _hex_prefix(s: str) -> str | None:
    """The hex digits of an id or abbreviated id (``blake3:`` optional), or None."""
    h = s[7:] if s.startswith("blake3:") else s
    h = h.lower()
    if 0 < len(h) <= 64 and _HEXDIGITS.issuperset(h):
        return h
    return None


def _table_stats(arrow: Any) -> dict[str, Any]:
    if isinstance(arrow, pa.Table | pa.RecordBatch):
        return {
            "total-bytes": int(arrow.nbytes),
            "columns": {
                name: {"null_count": int(arrow.column(i).null_count)}
                for i, name in enumerate(arrow.column_names)
            },
        }
    return {}


_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS versions(
    manifest_id TEXT PRIMARY KEY, version_id TEXT NOT NULL, namespace TEXT NOT NULL,
    name TEXT NOT NULL, parent TEXT, created_at TEXT NOT NULL, num_rows INTEGER NOT NULL,
    seq INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS versions_vid ON versions(version_id, seq);
CREATE TABLE IF NOT EXISTS refs(
    seq INTEGER PRIMARY KEY, name TEXT NOT NULL, manifest_id TEXT NOT NULL, prev TEXT,
    at TEXT NOT NULL, by TEXT NOT NULL, reason TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS refs_name ON refs(name, seq);
CREATE TABLE IF NOT EXISTS heads(name TEXT PRIMARY KEY, manifest_id TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs(
    run_id TEXT PRIMARY KEY, record_id TEXT NOT NULL, namespace TEXT NOT NULL, job TEXT NOT NULL,
    status TEXT NOT NULL, started_at TEXT NOT NULL, ended_at TEXT NOT NULL, seq INTEGER NOT NULL,
    log_offset INTEGER NOT NULL, log_length INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS runs_job ON runs(job, seq);
CREATE INDEX IF NOT EXISTS runs_seq ON runs(seq);
CREATE TABLE IF NOT EXISTS run_io(
    run_id TEXT NOT NULL, dir TEXT NOT NULL, pos INTEGER NOT NULL, node TEXT NOT NULL,
    manifest_id TEXT, role TEXT, PRIMARY KEY(run_id, dir, pos));
CREATE TABLE IF NOT EXISTS artifacts(digest TEXT PRIMARY KEY, uri TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS edges(child TEXT NOT NULL, parent TEXT NOT NULL, kind TEXT NOT NULL,
    PRIMARY KEY(child, parent, kind)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS edges_parent ON edges(parent, child);
"""
_TABLES = ("versions", "refs", "heads", "runs", "run_io", "artifacts", "edges")


# --- the store ------------------------------------------------------------------------------


def _serialised(method: Callable[Concatenate[Store, P], R]) -> Callable[Concatenate[Store, P], R]:
    """Run a read of the index under the store's thread lock (one SQLite connection per store)."""

    def wrapper(self: Store, /, *args: P.args, **kwargs: P.kwargs) -> R:
        with self._tlock:
            return method(self, *args, **kwargs)

    functools.update_wrapper(wrapper, method)
    return wrapper


class Store:
    """A lineage store in a directory (created on first use).

    Args:
        path: the store directory (``".lineage"`` by default).
        create: create the store if the directory does not exist or is empty.
        durable: ``fsync`` every object and log line (the default). ``False`` keeps every write
            atomic (a killed process never leaves a partial object) but a power loss may lose the
            last writes; use it only for bulk imports you can redo.

    Several processes may use one store at once: writes are serialised by a file lock and
    nothing is lost. ``Store`` objects may be shared by threads of one process.

    Example:
        >>> import tempfile, pyarrow as pa, lineage_fast as lf
        >>> store = lf.Store(tempfile.mkdtemp() + "/.lineage")
        >>> raw = store.commit(pa.table({"x": [1, 2, 3]}), "raw")
        >>> clean = store.commit(pa.table({"x": [1, 2]}), "clean")
        >>> run = store.record_run("dedupe", inputs=[raw], outputs=[clean], code=None)
        >>> [n.kind for n in store.ancestors(clean)]
        ['run', 'version']
        >>> store.get("raw") == raw, store.fsck()
        (True, [])
    """

    def __init__(
        self,
        path: str | os.PathLike[str] = ".lineage",
        *,
        create: bool = True,
        durable: bool = True,
    ) -> None:
        if fcntl is None:  # pragma: no cover
            raise StoreError("lineage_fast.Store needs POSIX file locks (fcntl)")
        self.root = Path(path).absolute()
        self._objects = str(self.root / "objects" / "blake3")
        self._refs_log = str(self.root / "refs.jsonl")
        self._runs_log = str(self.root / "runs.jsonl")
        self.durable = durable
        self._tlock = threading.RLock()
        self._depth = 0
        self._batching = False
        self._seen: tuple[int, int] = (-1, -1)
        self._open_layout(create)
        self._lock_fd = os.open(self.root / "lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            self._db = self._connect(self.root / "index.sqlite")
            with self._locked(catch_up=False):
                self._db.executescript(_SCHEMA)
                self._check_index_version()
                self._catch_up(self._db)
        except BaseException:
            os.close(self._lock_fd)
            raise

    # -- opening ------------------------------------------------------------------------------

    def _open_layout(self, create: bool) -> None:
        marker = self.root / "STORE"
        if not marker.exists():
            if self.root.exists() and not self.root.is_dir():
                raise StoreError(f"{self.root} is not a directory")
            if self.root.exists() and any(
                p.name not in ("objects", "tmp", "events", "lock") for p in self.root.iterdir()
            ):
                raise StoreError(
                    f"{self.root} is not a lineage_fast store (no STORE file) and is not empty"
                )
            if not create:
                raise StoreError(f"no lineage_fast store at {self.root}")
            self.root.mkdir(parents=True, exist_ok=True)
            (self.root / "tmp").mkdir(exist_ok=True)
            self._atomic_write(marker, canonical_json({"format": STORE_FORMAT}))
            self._format = STORE_FORMAT
        else:
            self._format = self._read_format()
        for sub in ("objects/blake3", "tmp", "events"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        # The 256 fan-out directories exist from the start, so writing an object never has to
        # create (and fsync) a directory on the way.
        fanout = self.root / "objects" / "blake3"
        if not (fanout / "ff").is_dir():
            for i in range(256):
                (fanout / f"{i:02x}").mkdir(exist_ok=True)
            if self.durable:
                _fsync_dir(fanout)
        # Both logs exist from the start, so an append never creates a file (whose directory
        # entry would need its own fsync). The store directory is synced at every durable open:
        # a log created by a writer killed before its directory fsync is then durable before
        # anything is appended to it and acknowledged.
        for log in (self._refs_log, self._runs_log):
            os.close(os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644))
        if self.durable:
            _fsync_dir(self.root)

    def _read_format(self) -> str:
        marker = self.root / "STORE"
        try:
            content = marker.read_bytes()
        except OSError as e:
            raise StoreError(f"cannot read {marker}: {e}") from e
        for fmt in _READABLE_FORMATS:
            if content == canonical_json({"format": fmt}):
                return fmt
        raise StoreError(
            f"{self.root} holds an unknown store format {content[:80]!r} "
            f"(this lineage_fast reads {', '.join(_READABLE_FORMATS)})"
        )

    def _upgrade_format(self) -> None:
        """Mark a v1 store v2 before its first inline run record (caller holds the lock)."""
        if self._read_format() != STORE_FORMAT:
            self._atomic_write(self.root / "STORE", canonical_json({"format": STORE_FORMAT}))
        self._format = STORE_FORMAT

    @staticmethod
    def _connect(path: Path | str) -> sqlite3.Connection:
        db = sqlite3.connect(path, timeout=60.0, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA busy_timeout = 60000")
        if str(path) != ":memory:":
            db.execute("PRAGMA journal_mode = WAL")
            # The index is derived from the logs: a lost index transaction is replayed from them.
            db.execute("PRAGMA synchronous = NORMAL")
        return db

    def _check_index_version(self) -> None:
        row = self._db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        if row is None:
            self._db.execute(
                "INSERT INTO meta VALUES ('schema', ?), ('refs_offset', 0), ('runs_offset', 0)",
                (INDEX_SCHEMA_VERSION,),
            )
        elif row[0] != INDEX_SCHEMA_VERSION:
            self._rebuild(self._db)

    def close(self) -> None:
        """Close the index and the lock file (the store stays on disk)."""
        with self._tlock:
            if self._lock_fd >= 0:
                self._db.close()
                os.close(self._lock_fd)
                self._lock_fd = -1

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({str(self.root)!r})"

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()

    # -- low level: lock, objects, logs --------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self, *, catch_up: bool = True) -> Iterator[None]:
        """Exclusive writer lock (threads of this process, then other processes); the index is
        brought up to date with the logs first."""
        with self._tlock:
            if self._lock_fd < 0:
                raise StoreError("the store is closed")
            if self._depth == 0:
                fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
            self._depth += 1
            try:
                if self._depth == 1 and catch_up:
                    self._catch_up(self._db)
                yield
            finally:
                self._depth -= 1
                if self._depth == 0:
                    fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def _atomic_write(self, path: Path, data: bytes) -> None:
        tmp = f"{self.root}/tmp/{os.getpid()}-{threading.get_ident()}-{os.urandom(6).hex()}.tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileNotFoundError:  # tmp/ was removed by hand: recreate it
            os.makedirs(f"{self.root}/tmp", exist_ok=True)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if self.durable:
                os.fsync(fd)
        except BaseException:
            os.close(fd)
            os.unlink(tmp)
            raise
        os.close(fd)
        os.replace(tmp, path)
        if self.durable:
            _fsync_dir(path.parent)

    def _object_path(self, digest: str) -> Path:
        h = digest[7:]
        return Path(f"{self._objects}/{h[:2]}/{h[2:]}")

    def _write_object(self, raw: bytes) -> str:
        digest = bytes_digest(raw)
        path = self._object_path(digest)
        try:
            if path.read_bytes() == raw:
                return digest  # content-addressed: already there, intact
        except FileNotFoundError:
            pass
        except OSError as e:
            raise StoreError(f"cannot read {path}: {e}") from e
        if not path.parent.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            if self.durable:
                _fsync_dir(path.parent.parent)
        self._atomic_write(path, raw)
        return digest

    def _read_object(self, digest: str) -> bytes:
        path = self._object_path(digest)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raise IntegrityError(
                f"object {digest} is missing ({path})", object_id=digest, path=str(path)
            ) from None
        except OSError as e:
            raise IntegrityError(
                f"object {digest} cannot be read ({path}): {e}", object_id=digest, path=str(path)
            ) from e
        actual = bytes_digest(raw)
        if actual != digest:
            raise IntegrityError(
                f"object {digest} is corrupt: its bytes hash to {actual} ({path})",
                object_id=digest,
                path=str(path),
            )
        return raw

    def _load_manifest(self, manifest_id: str) -> Manifest:
        return Manifest.from_json(self._read_object(manifest_id), object_id=manifest_id)

    def _run_of_line(self, entry: Mapping[str, Any], where: str, line: bytes | None = None) -> Run:
        """The run a runs.jsonl line (parsed: ``entry``; its bytes: ``line``, when at hand)
        records, checked: its record inline (canonical JSON whose BLAKE3 must be the line's
        ``record_id``), or, in lines written by format v1, the object ``record_id``. Raises
        :class:`IntegrityError` (or :class:`InvalidObjectError` for a record that hashes right
        but is not a valid run) naming the record."""
        rid, record_id = entry.get("run_id"), entry.get("record_id")
        if not is_run_id(rid) or not is_digest(record_id):
            raise IntegrityError(f"{where} is malformed: {dict(entry)!r}", object_id=where)
        assert isinstance(record_id, str)
        if "record" in entry:
            record = entry["record"]
            raw = _inline_record(entry, line)
            actual = bytes_digest(raw)
            if actual != record_id:
                raise IntegrityError(
                    f"run {rid}: the record in {where} is corrupt: it hashes to {actual}, "
                    f"not to its record_id {record_id}",
                    object_id=record_id,
                    path=self._runs_log,
                )
            validate_run(record, record_id)
            run = Run(record, raw, record_id)
        else:
            run = Run.from_json(self._read_object(record_id), object_id=record_id)
        if run.run_id != rid:
            raise IntegrityError(
                f"{where} says run {rid} is record {record_id}, which is run {run.run_id}",
                object_id=record_id,
                path=self._runs_log,
            )
        return run

    def _read_runs(self, rows: Iterable[tuple[str, str, int, int]]) -> list[Run]:
        """The runs of index rows ``(run_id, record_id, log_offset, log_length)``, each read
        back from its runs.jsonl line and checked (:meth:`_run_of_line`)."""
        out: list[Run] = []
        try:
            fd = os.open(self._runs_log, os.O_RDONLY)
        except FileNotFoundError:
            fd = -1
        try:
            for run_id, record_id, offset, length in rows:
                end = offset + length + 1
                where = f"runs.jsonl (line ending at byte {end})"
                line = os.pread(fd, length + 1, offset) if fd >= 0 else b""
                try:
                    if len(line) != length + 1 or not line.endswith(b"\n"):
                        raise IntegrityError(f"{where} is missing")
                    line = line[:-1]
                    entry = self._parse_line(line, "runs.jsonl", end)
                    run = self._run_of_line(entry, where, line)
                except IntegrityError as e:
                    if e.object_id == record_id:
                        raise
                    raise IntegrityError(
                        f"run {run_id} (record {record_id}) cannot be read: {e}",
                        object_id=record_id,
                        path=self._runs_log,
                    ) from None
                if (run.run_id, run.record_id) != (run_id, record_id):
                    raise IntegrityError(
                        f"{where} holds run {run.run_id} (record {run.record_id}), but the index "
                        f"expects run {run_id} (record {record_id}) there: reindex()",
                        object_id=record_id,
                        path=self._runs_log,
                    )
                out.append(run)
        finally:
            if fd >= 0:
                os.close(fd)
        return out

    def _append(self, log: str, line: bytes) -> int:
        """Append one line (canonical JSON and its ``\\n``) to a log with one ``write`` and one
        ``fsync``; return the byte offset where it starts. The caller holds the lock and is
        caught up, so nothing else moves the end of the log meanwhile."""
        path = self._refs_log if log == "refs.jsonl" else self._runs_log
        created = False
        try:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        except FileNotFoundError:  # removed by hand since the store was opened
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            created = True
        try:
            view = memoryview(line)
            while view:
                view = view[os.write(fd, view) :]
            end = os.lseek(fd, 0, os.SEEK_CUR)  # O_APPEND: the offset is now after our line
            if self.durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        if created and self.durable:
            _fsync_dir(self.root)
        key = "refs_offset" if log == "refs.jsonl" else "runs_offset"
        self._db.execute("UPDATE meta SET value = ? WHERE key = ?", (end, key))
        return end - len(line)

    def _log_sizes(self) -> tuple[int, int]:
        def size(path: str) -> int:
            try:
                return os.stat(path).st_size
            except FileNotFoundError:
                return 0

        return size(self._refs_log), size(self._runs_log)

    def _sync(self) -> None:
        """Bring the index up to date with the logs if another writer moved them."""
        if self._log_sizes() != self._seen:
            with self._locked():
                pass

    def _read_log(self, name: str, start: int, *, repair: bool) -> list[tuple[int, bytes]]:
        """Complete lines of a log from byte ``start``: ``[(offset_after_line, line)]``.

        A final line without its newline was torn by a writer that died mid-append; it was never
        acknowledged, so it is invisible, and (with ``repair``, under the lock) cut off.
        """
        path = self.root / name
        try:
            with open(path, "rb") as f:
                f.seek(start)
                data = f.read()
        except FileNotFoundError:
            return []
        out = []
        pos = 0
        while True:
            nl = data.find(b"\n", pos)
            if nl < 0:
                break
            out.append((start + nl + 1, data[pos:nl]))
            pos = nl + 1
        if pos < len(data) and repair:
            with open(path, "r+b") as f:
                f.truncate(start + pos)
                if self.durable:
                    os.fsync(f.fileno())
        return out

    def _catch_up(self, db: sqlite3.Connection, *, repair: bool = True) -> None:
        sizes = self._log_sizes()
        if db is self._db and sizes == self._seen:
            return
        offsets = dict(db.execute("SELECT key, value FROM meta").fetchall())
        refs = self._read_log("refs.jsonl", offsets.get("refs_offset", 0), repair=repair)
        runs = self._read_log("runs.jsonl", offsets.get("runs_offset", 0), repair=repair)
        if refs or runs:
            db.execute("BEGIN IMMEDIATE")
            try:
                for end, line in refs:
                    self._apply_ref(db, self._parse_line(line, "refs.jsonl", end))
                    db.execute("UPDATE meta SET value = ? WHERE key = 'refs_offset'", (end,))
                for end, line in runs:
                    entry = self._parse_line(line, "runs.jsonl", end)
                    self._apply_run(db, entry, line, end - len(line) - 1)
                    db.execute("UPDATE meta SET value = ? WHERE key = 'runs_offset'", (end,))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        if db is self._db:
            self._seen = self._log_sizes()

    @staticmethod
    def _parse_line(line: bytes, log: str, end: int) -> dict[str, Any]:
        where = f"{log} (line ending at byte {end})"
        try:
            value = load_json(line, object_id=where)
        except InvalidObjectError as e:
            raise IntegrityError(f"{where} is corrupt: {e}", object_id=where) from None
        if not isinstance(value, dict):
            raise IntegrityError(f"{where} is not a JSON object", object_id=where)
        return value

    # -- applying log entries to an index -----------------------------------------------------

    def _apply_ref(self, db: sqlite3.Connection, entry: Mapping[str, Any]) -> None:
        try:
            name = validate_name(entry["name"])
            mid = entry["manifest_id"]
            if not is_digest(mid):
                raise KeyError("manifest_id")
            at, by, reason, prev = entry["at"], entry["by"], entry["reason"], entry["prev"]
        except (KeyError, TypeError, InvalidNameError) as e:
            raise IntegrityError(
                f"refs.jsonl entry {dict(entry)!r} is malformed ({e})", object_id="refs.jsonl"
            ) from None
        (seq,) = db.execute("SELECT COALESCE(MAX(seq) + 1, 0) FROM refs").fetchone()
        if db.execute("SELECT 1 FROM versions WHERE manifest_id = ?", (mid,)).fetchone() is None:
            m = self._load_manifest(mid)
            if m.name != name:
                raise IntegrityError(
                    f"refs.jsonl moves {name!r} to manifest {mid} of dataset {m.name!r}",
                    object_id=mid,
                )
            self._index_manifest(db, m, mid, seq)
        db.execute(
            "INSERT INTO refs VALUES (?, ?, ?, ?, ?, ?, ?)", (seq, name, mid, prev, at, by, reason)
        )
        db.execute("INSERT OR REPLACE INTO heads VALUES (?, ?)", (name, mid))

    @staticmethod
    def _index_manifest(db: sqlite3.Connection, m: Manifest, mid: str, seq: int) -> None:
        db.execute(
            "INSERT INTO versions VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (mid, m.version_id, m.namespace, m.name, m.parent, m.created_at, m.num_rows, seq),
        )
        if m.parent is not None:
            row = db.execute(
                "SELECT version_id FROM versions WHERE manifest_id = ?", (m.parent,)
            ).fetchone()
            if row is not None and row[0] != m.version_id:
                db.execute(
                    "INSERT OR IGNORE INTO edges VALUES (?, ?, 'revision')", (m.version_id, row[0])
                )

    def _apply_run(
        self, db: sqlite3.Connection, entry: Mapping[str, Any], line: bytes, offset: int
    ) -> None:
        length = len(line)
        where = f"runs.jsonl (line ending at byte {offset + length + 1})"
        self._index_run(db, self._run_of_line(entry, where, line), offset, length)

    @staticmethod
    def _index_run(db: sqlite3.Connection, run: Run, offset: int, length: int) -> None:
        """Index a run whose runs.jsonl line (without its ``\\n``) is ``length`` bytes at
        ``offset``: reading the run back reads that line."""
        (seq,) = db.execute("SELECT COALESCE(MAX(seq) + 1, 0) FROM runs").fetchone()
        db.execute(
            "INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                run.run_id,
                run.record_id,
                run.namespace,
                run.job,
                run.status,
                run.started_at,
                run.ended_at,
                seq,
                offset,
                length,
            ),
        )
        node = "run:" + run.run_id
        for direction, items in (("in", run.inputs), ("out", run.outputs)):
            for pos, item in enumerate(items):
                art = item.get("artifact")
                target = art["digest"] if art else item["version_id"]
                if art:
                    db.execute(
                        "INSERT OR IGNORE INTO artifacts VALUES (?, ?)", (target, art["uri"])
                    )
                db.execute(
                    "INSERT INTO run_io VALUES (?, ?, ?, ?, ?, ?)",
                    (run.run_id, direction, pos, target, item.get("manifest_id"), item.get("role")),
                )
                if direction == "in":
                    db.execute("INSERT OR IGNORE INTO edges VALUES (?, ?, 'used')", (node, target))
                else:
                    db.execute(
                        "INSERT OR IGNORE INTO edges VALUES (?, ?, 'generated_by')", (target, node)
                    )

    def _rebuild(self, db: sqlite3.Connection) -> None:
        db.execute("BEGIN IMMEDIATE")
        try:
            for t in (*_TABLES, "meta"):
                db.execute(f"DROP TABLE IF EXISTS {t}")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.executescript(_SCHEMA)
        db.execute(
            "INSERT INTO meta VALUES ('schema', ?), ('refs_offset', 0), ('runs_offset', 0)",
            (INDEX_SCHEMA_VERSION,),
        )
        if db is self._db:
            self._seen = (-1, -1)
        self._catch_up(db, repair=db is self._db)

    def reindex(self) -> None:
        """Rebuild the SQLite index from the logs and objects (it is only a cache of them).

        Example:
            >>> import tempfile, pyarrow as pa, lineage_fast as lf
            >>> store = lf.Store(tempfile.mkdtemp())
            >>> v = store.commit(pa.table({"x": [1]}), "t")
            >>> store.reindex()
            >>> store.get("t") == v
            True
        """
        with self._locked(catch_up=False):
            self._rebuild(self._db)

    # -- commits, refs ------------------------------------------------------------------------

    def commit(
        self,
        data: Any,
        name: str,
        *,
        metadata: Mapping[str, Any] | None = None,
        namespace: str = "lineage_fast",
        files: Iterable[str | os.PathLike[str]] = (),
        row_order: RowOrder = "ordered",
        created_by: str | None = None,
        threads: int | None = None,
    ) -> Version:
        """Record a new version of ``name``; its parent is the previous head of ``name``.

        Args:
            data: a table (anything :func:`lineage_fast.hash_table` accepts) or a
                :class:`TableHash` already computed.
            name: the dataset name (``"raw/events"``); see :func:`validate_name`.
            metadata: free JSON metadata stored in the manifest (canonical JSON: integers within
                ±(2**53 - 1), finite floats).
            namespace: the OpenLineage dataset namespace (``"file"``, ``"s3://bucket"``...).
            files: source files of the data; each is recorded with its BLAKE3 file digest (the
                ``source_files`` of a :class:`TableHash` from :func:`hash_parquet` are recorded
                too, with the digests computed while reading).
            row_order: as for :func:`hash_table` (ignored when ``data`` is a ``TableHash``).
            created_by: who commits (default: the login name).
            threads: hashing threads.

        Statistics (bytes, null counts) are recorded when ``data`` is a pyarrow Table or
        RecordBatch or a pandas or polars DataFrame; the row count always (streams are read
        once, for the hash only).

        Example:
            >>> import tempfile, pyarrow as pa, lineage_fast as lf
            >>> store = lf.Store(tempfile.mkdtemp())
            >>> v1 = store.commit(pa.table({"x": [1]}), "t", metadata={"source": "api"})
            >>> v2 = store.commit(pa.table({"x": [1, 2]}), "t")
            >>> v2.parent == v1.manifest_id, v2.manifest.metadata
            (True, {})
        """
        validate_name(name)
        if not isinstance(namespace, str) or not namespace:
            raise InvalidArgumentError("namespace must be a non-empty string")
        if isinstance(data, TableHash):
            th, stats = data, {}
        else:
            arrow = _arrow_input(data)
            if type(arrow).__module__.split(".")[0] in ("pandas", "polars"):
                arrow = pa.table(arrow)  # once, to both hash and count nulls
            stats = _table_stats(arrow)
            th = hash_table(arrow, row_order=row_order, threads=threads)
        file_records = []
        if isinstance(data, TableHash):
            # hash_parquet digested the raw files while reading them.
            for sf in data.source_files:
                p = Path(sf.path).resolve()
                file_records.append({"uri": p.as_uri(), "digest": sf.digest, "size": sf.size})
        for f in files:
            p = Path(f).resolve()
            file_records.append(
                {"uri": p.as_uri(), "digest": file_digest(p), "size": p.stat().st_size}
            )
        chunks_raw = canonical_json(chunk_list(th))
        chunks_digest = self._write_object(chunks_raw)
        by = created_by if created_by is not None else _user()
        with self._locked():
            parent = self._head(name)
            m = Manifest.build(
                th,
                name=name,
                namespace=namespace,
                parent=parent,
                chunks_digest=chunks_digest,
                chunks_size=len(chunks_raw),
                stats=stats,
                files=file_records,
                created_by=by,
                metadata=metadata,
            )
            mid = self._write_object(m.to_json())
            self._move_ref(name, mid, parent, by, "commit", manifest=m)
        return Version(m)

    def _head(self, name: str) -> str | None:
        row = self._db.execute("SELECT manifest_id FROM heads WHERE name = ?", (name,)).fetchone()
        return None if row is None else str(row[0])

    def _move_ref(
        self,
        name: str,
        mid: str,
        prev: str | None,
        by: str,
        reason: str,
        manifest: Manifest | None = None,
    ) -> None:
        entry = {
            "name": name,
            "manifest_id": mid,
            "prev": prev,
            "at": utc_now(),
            "by": by,
            "reason": reason,
        }
        db = self._db
        with self._index_txn():
            self._append("refs.jsonl", canonical_json(entry) + b"\n")
            (seq,) = db.execute("SELECT COALESCE(MAX(seq) + 1, 0) FROM refs").fetchone()
            if manifest is not None and (
                db.execute("SELECT 1 FROM versions WHERE manifest_id = ?", (mid,)).fetchone()
                is None
            ):
                self._index_manifest(db, manifest, mid, seq)
            db.execute(
                "INSERT INTO refs VALUES (?, ?, ?, ?, ?, ?, ?)",
                (seq, name, mid, prev, entry["at"], by, reason),
            )
            db.execute("INSERT OR REPLACE INTO heads VALUES (?, ?)", (name, mid))

    @contextlib.contextmanager
    def _index_txn(self) -> Iterator[None]:
        """One index transaction around a log append (or nothing inside :meth:`batch`)."""
        if self._batching:
            yield
            return
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            self._seen = (-1, -1)  # the log line may be there: replay it next time
            raise
        self._db.execute("COMMIT")
        self._seen = self._log_sizes()

    @contextlib.contextmanager
    def batch(self) -> Iterator[Store]:
        """Group many commits and runs: the writer lock is held throughout and the index is
        updated in one transaction at the end (other writers wait). Every operation that
        returned is in the logs even if the block raises; the index then catches up from them.

        Example:
            >>> import tempfile, pyarrow as pa, lineage_fast as lf
            >>> store = lf.Store(tempfile.mkdtemp())
            >>> with store.batch():
            ...     vs = [store.commit(pa.table({"x": [i]}), f"t{i}") for i in range(3)]
            >>> store.names(), store.fsck()
            (['t0', 't1', 't2'], [])
        """
        with self._locked():
            if self._batching:
                yield self
                return
            self._db.execute("BEGIN IMMEDIATE")
            self._batching = True
            try:
                yield self
            except BaseException:
                self._batching = False
                self._db.execute("ROLLBACK")
                self._seen = (-1, -1)
                raise
            self._batching = False
            self._db.execute("COMMIT")
            self._seen = self._log_sizes()

    @_serialised
    def get(self, name_or_id: str | Version) -> Version:
        """The head version of a name, or the version with an id (``manifest_id`` or
        ``version_id``, full or abbreviated to at least 12 hex digits, ``blake3:`` optional).

        A ``version_id`` committed several times resolves to its latest manifest.

        Raises:
            NotFoundError: nothing matches.
            AmbiguousIdError: an abbreviated id matches several versions.

        Example:
            >>> import tempfile, pyarrow as pa, lineage_fast as lf
            >>> store = lf.Store(tempfile.mkdtemp())
            >>> v = store.commit(pa.table({"x": [1]}), "t")
            >>> store.get(v.version_id[:19]) == store.get("t") == v
            True
        """
        if isinstance(name_or_id, Version):
            return name_or_id
        if not isinstance(name_or_id, str):
            raise InvalidArgumentError(f"expected a name or an id, not {type(name_or_id).__name__}")
        self._sync()
        return Version(self._load_manifest(self._resolve_manifest(name_or_id)))

    def _resolve_manifest(self, key: str) -> str:
        head = self._head(key)
        if head is not None:
            return head
        h = _hex_prefix(key)
        if h is None:
            raise NotFoundError(f"no dataset named {key!r} and not an id", key=key)
        if len(h) < MIN_PREFIX:
            raise NotFoundError(
                f"no dataset named {key!r}; an abbreviated id needs at least {MIN_PREFIX} hex "
                "digits",
                key=key,
            )
        lo, hi = "blake3:" + h, "blake3:" + h + "g"
        db = self._db
        mids = [
            r[0]
            for r in db.execute(
                "SELECT manifest_id FROM versions WHERE manifest_id >= ? AND manifest_id < ? "
                "LIMIT 10",
                (lo, hi),
            )
        ]
        vids = [
            r[0]
            for r in db.execute(
                "SELECT DISTINCT version_id FROM versions WHERE version_id >= ? AND version_id < ? "
                "LIMIT 10",
                (lo, hi),
            )
        ]
        candidates = [*mids, *vids]
        if not candidates:
            raise NotFoundError(f"no version with id {key!r}", key=key)
        if len(candidates) > 1:
            raise AmbiguousIdError(
                f"{key!r} matches {len(candidates)} ids ({', '.join(c[:23] for c in candidates)}"
                "…): give more digits",
                prefix=key,
                candidates=tuple(candidates),
            )
        if mids:
            return str(mids[0])
        (mid,) = db.execute(
            "SELECT manifest_id FROM versions WHERE version_id = ? ORDER BY seq DESC LIMIT 1",
            (vids[0],),
        ).fetchone()
        return str(mid)

    @_serialised
    def names(self) -> list[str]:
        """Every dataset name, sorted.

        Example:
            >>> import tempfile, pyarrow as pa, lineage_fast as lf
            >>> store = lf.Store(tempfile.mkdtemp())
            >>> _ = store.commit(pa.table({"x": [1]}), "b"), store.commit(pa.table({"x": [2]}), "a")
            >>> store.names()
            ['a', 'b']
        """
        self._sync()
        return [r[0] for r in self._db.execute("SELECT name FROM heads ORDER BY name")]

    @_serialised
    def log(self, name: str) -> list[LogEntry]:
        """The moves of ``name``, newest first (commits and rollbacks; history is never lost).

        Example:
            >>> import tempfile, pyarrow as pa, lineage_fast as lf
            >>> store = lf.Store(tempfile.mkdtemp())
            >>> v1 = store.commit(pa.table({"x": [1]}), "t")
            >>> v2 = store.commit(pa.table({"x": [2]}), "t")
            >>> _ = store.rollback("t", v1)
            >>> [e.reason for e in store.log("t")]
            ['rollback', 'commit', 'commit']
        """
        validate_name(name)
        self._sync()
        rows = self._db.execute(
            "SELECT r.seq, r.name, r.manifest_id, v.version_id, r.prev, r.at, r.by, r.reason "
            "FROM refs r JOIN versions v ON v.manifest_id = r.manifest_id "
            "WHERE r.name = ? ORDER BY r.seq DESC",
            (name,),
        ).fetchall()
        if not rows:
            raise NotFoundError(f"no dataset named {name!r}", key=name)
        return [LogEntry(*r) for r in rows]

    def rollback(self, name: str, to: str | Version) -> Version:
        """Move ``name`` back to an earlier version of it. Nothing is rewritten: the move is a new
        line of the refs log, and the next commit's parent is the version rolled back to.

        Raises:
            InvalidArgumentError: ``to`` was never a version of ``name``.

        Example:
            >>> import tempfile, pyarrow as pa, lineage_fast as lf
            >>> store = lf.Store(tempfile.mkdtemp())
            >>> v1 = store.commit(pa.table({"x": [1]}), "t")
            >>> v2 = store.commit(pa.table({"x": [2]}), "t")
            >>> store.rollback("t", v1.manifest_id[:20]) == v1 == store.get("t")
            True
        """
        validate_name(name)
        target = self.get(to)
        if target.name != name:
            raise InvalidArgumentError(
                f"{target.manifest_id} is a version of {target.name!r}, not of {name!r}"
            )
        with self._locked():
            prev = self._head(name)
            if prev is None:
                raise NotFoundError(f"no dataset named {name!r}", key=name)
            self._move_ref(name, target.manifest_id, prev, _user(), "rollback")
        return target

    def verify(self, version: str | Version, data: Any, *, threads: int | None = None) -> bool:
        """Re-hash ``data`` and compare with a version: the reproducibility check.

        Example:
            >>> import tempfile, pyarrow as pa, lineage_fast as lf
            >>> store = lf.Store(tempfile.mkdtemp())
            >>> v = store.commit(pa.table({"x": [1, 2]}), "t")
            >>> store.verify("t", pa.table({"x": [1, 2]})), store.verify(v, pa.table({"x": [2]}))
            (True, False)
        """
        v = self.get(version)
        order: RowOrder = "unordered" if v.manifest.row_order == "unordered" else "ordered"
        return hash_table(data, row_order=order, threads=threads).root == v.version_id

    @_serialised
    def chunks(self, version: str | Version) -> TableHash:
        """The full :class:`TableHash` of a version (chunk list included), read from the store."""
        v = self.get(version)
        m = v.manifest
        raw = self._read_object(m.chunks_digest)
        cl = validate_chunk_list(load_json(raw, object_id=m.chunks_digest), m.chunks_digest)
        fields = m.data["schema"]["fields"]
        return TableHash.from_dict(
            {
                "scheme": m.data["hash_scheme"]["version"],
                "row_order": m.row_order,
                "root": m.version_id,
                "num_rows": m.num_rows,
                "schema_digest": m.data["schema"]["digest"],
                "columns": [
                    {"name": f["name"], "type": f["type"], "digest": m.data["columns"][f["name"]]}
                    for f in fields
                ],
                "chunks": cl["chunks"],
            }
        )

    # -- runs ---------------------------------------------------------------------------------

    def _io_item(self, item: Any, role: str | None, *, output: bool) -> dict[str, Any]:
        if isinstance(item, dict) and ("version_id" in item or "artifact" in item):
            return item  # already resolved (ActiveRun)
        if isinstance(item, tuple) and len(item) == 2 and role is None:
            return self._io_item(item[0], item[1], output=output)
        if role is not None and not isinstance(role, str):
            raise InvalidArgumentError(f"a role must be a string, not {type(role).__name__}")
        if isinstance(item, Version):
            return {
                "version_id": item.version_id,
                "manifest_id": item.manifest_id,
                "dataset": {"namespace": item.manifest.namespace, "name": item.name},
                "role": role,
            }
        if isinstance(item, TableHash):
            return {"version_id": item.root, "manifest_id": None, "dataset": None, "role": role}
        if isinstance(item, os.PathLike):
            return self._artifact(Path(item), role)
        if isinstance(item, str):
            try:
                return self._io_item(self.get(item), role, output=output)
            except NotFoundError:
                if Path(item).is_file():
                    return self._artifact(Path(item), role)
                raise NotFoundError(
                    f"{item!r} is neither a dataset name, a version id nor a file", key=item
                ) from None
        raise InvalidArgumentError(
            f"a run {'output' if output else 'input'} must be a Version, a name or id, a "
            f"TableHash or a file path, not {type(item).__name__}"
        )

    @staticmethod
    def _artifact(path: Path, role: str | None) -> dict[str, Any]:
        p = path.resolve()
        return {
            "artifact": {"digest": file_digest(p), "size": p.stat().st_size, "uri": p.as_uri()},
            "role": role,
        }

    def _io_list(self, items: Any, *, output: bool) -> list[dict[str, Any]]:
        if items is None:
            return []
        if isinstance(items, Mapping):
            return [self._io_item(v, str(k), output=output) for k, v in items.items()]
        if isinstance(items, str | Version | TableHash | os.PathLike):
            items = [items]
        return [self._io_item(x, None, output=output) for x in items]

    def record_run(
        self,
        job: str,
        inputs: Any = (),
        outputs: Any = (),
        params: Mapping[str, Any] | None = None,
        code: str | os.PathLike[str] | Mapping[str, Any] | None = "auto",
        *,
        namespace: str = "lineage_fast",
        status: Literal["COMPLETE", "FAIL", "ABORT"] = "COMPLETE",
        started_at: str | None = None,
        ended_at: str | None = None,
        error: BaseException | None = None,
        parent_run_id: str | None = None,
        run_id: str | None = None,
    ) -> Run:
        """Record a finished run of ``job``.

        Args:
            job: the job name.
            inputs, outputs: a list (or ``{role: item}`` mapping) of versions (``Version``, a name
                or an id), ``TableHash`` objects, or files (``pathlib.Path``, or a string naming an
                existing file) recorded as artifacts by BLAKE3 file digest. ``(item, role)``
                tuples give roles.
            params: the run's parameters (JSON), recorded with their digest.
            code: ``"auto"`` (the running script and its git state), a script or directory path,
                an explicit mapping, or ``None``.
            status: ``"COMPLETE"``, ``"FAIL"`` or ``"ABORT"``.
            error: the exception of a failed run (its type and message are recorded).

        Example:
            >>> import tempfile, pyarrow as pa, lineage_fast as lf
            >>> store = lf.Store(tempfile.mkdtemp())
            >>> raw = store.commit(pa.table({"x": [1, 2]}), "raw")
            >>> run = store.record_run("count", inputs={"source": raw}, params={"k": 3}, code=None)
            >>> run.status, run.inputs[0]["role"], store.get_run(run.run_id) == run
            ('COMPLETE', 'source', True)
        """
        validate_name(job, "job name")
        if status not in ("COMPLETE", "FAIL", "ABORT"):
            raise InvalidArgumentError(f"status must be COMPLETE, FAIL or ABORT, not {status!r}")
        if parent_run_id is not None and not is_run_id(parent_run_id):
            raise InvalidArgumentError(f"parent_run_id {parent_run_id!r} is not a UUIDv7")
        if params is not None and not isinstance(params, Mapping):
            raise InvalidArgumentError("params must be a mapping")
        now = utc_now()
        if code == "auto":
            code_info: Mapping[str, Any] | None = capture_code()
        elif code is None or isinstance(code, Mapping):
            code_info = code
        else:
            code_info = capture_code(code)
        env_root = code_info.get("repo_root") if code_info else None
        run = build_run(
            run_id=run_id or uuid7(),
            job=job,
            namespace=namespace,
            status=status,
            started_at=started_at or now,
            ended_at=ended_at or utc_now(),
            inputs=self._io_list(inputs, output=False),
            outputs=self._io_list(outputs, output=True),
            params=dict(params or {}),
            code=code_info,
            environment=capture_environment(env_root),
            error=(
                {"type": type(error).__name__, "message": str(error)} if error is not None else None
            ),
            parent_run_id=parent_run_id,
        )
        with self._locked():
            db = self._db
            if db.execute("SELECT 1 FROM runs WHERE run_id = ?", (run.run_id,)).fetchone():
                raise InvalidArgumentError(f"run {run.run_id} is already recorded")
            if self._format != STORE_FORMAT:
                self._upgrade_format()
            line = _run_line(utc_now(), run)
            with self._index_txn():
                offset = self._append("runs.jsonl", line)
                self._index_run(db, run, offset, len(line) - 1)
        return run

    def run(
        self,
        job: str,
        *,
        params: Mapping[str, Any] | None = None,
        code: str | os.PathLike[str] | Mapping[str, Any] | None = "auto",
        namespace: str = "lineage_fast",
        parent_run_id: str | None = None,
    ) -> ActiveRun:
        """A run as a context manager: declare inputs and outputs as the job goes; the run is
        recorded when the block ends, ``COMPLETE``, or ``FAIL`` if it raised (the exception
        propagates).

        Example:
            >>> import tempfile, pyarrow as pa, lineage_fast as lf
            >>> store = lf.Store(tempfile.mkdtemp())
            >>> raw = store.commit(pa.table({"x": [3, 1, 2]}), "raw")
            >>> with store.run("sort", params={"key": "x"}, code=None) as run:
            ...     run.input(raw)
            ...     out = run.output(pa.table({"x": [1, 2, 3]}), name="sorted")
            >>> run.record.status, [n.label for n in store.ancestors(out)]
            ('COMPLETE', ['sort', 'raw'])
        """
        validate_name(job, "job name")
        return ActiveRun(self, job, params, code, namespace, parent_run_id)

    @_serialised
    def get_run(self, run_id: str | Run) -> Run:
        """A recorded run by id (full, or a prefix of at least 12 characters).

        Raises:
            NotFoundError, AmbiguousIdError.
        """
        if isinstance(run_id, Run):
            return run_id
        self._sync()
        key = str(run_id).lower()
        if len(key) < MIN_PREFIX:
            raise NotFoundError(
                f"a run id (or prefix of at least {MIN_PREFIX} characters) is needed, got {key!r}",
                key=str(run_id),
            )
        rows = self._db.execute(
            "SELECT run_id, record_id, log_offset, log_length FROM runs "
            "WHERE run_id >= ? AND run_id < ? LIMIT 10",
            (key, key + "~"),
        ).fetchall()
        if not rows:
            raise NotFoundError(f"no run with id {run_id!r}", key=str(run_id))
        if len(rows) > 1:
            raise AmbiguousIdError(
                f"{run_id!r} matches {len(rows)} runs: give more characters",
                prefix=str(run_id),
                candidates=tuple(r[0] for r in rows),
            )
        return self._read_runs(rows)[0]

    @_serialised
    def runs(self, job: str | None = None) -> list[Run]:
        """Recorded runs (of one job, or all), oldest first."""
        self._sync()
        columns = "SELECT run_id, record_id, log_offset, log_length FROM runs"
        if job is None:
            rows = self._db.execute(f"{columns} ORDER BY seq").fetchall()
        else:
            rows = self._db.execute(f"{columns} WHERE job = ? ORDER BY seq", (job,)).fetchall()
        return self._read_runs(rows)

    # -- lineage queries ----------------------------------------------------------------------

    def _node(self, x: Any) -> str:
        if isinstance(x, Version):
            return x.version_id
        if isinstance(x, Run):
            return "run:" + x.run_id
        if isinstance(x, TableHash):
            return x.root
        if isinstance(x, LineageNode):
            return "run:" + x.id if x.kind == "run" else x.id
        if isinstance(x, os.PathLike):
            return file_digest(x)
        if not isinstance(x, str):
            raise InvalidArgumentError(
                f"expected a Version, Run, name or id, not {type(x).__name__}"
            )
        if (
            is_digest(x)
            and self._db.execute(
                "SELECT 1 FROM edges WHERE child = ? OR parent = ? LIMIT 1", (x, x)
            ).fetchone()
        ):
            return x  # any node, artifacts included
        try:
            return self.get(x).version_id
        except NotFoundError:
            if len(x) >= MIN_PREFIX and _hex_prefix(x.replace("-", "")) is not None:
                return "run:" + self.get_run(x).run_id
            raise

    @_serialised
    def _walk(self, x: Any, up: bool) -> list[LineageNode]:
        self._sync()
        start = self._node(x)
        a, b = ("child", "parent") if up else ("parent", "child")
        rows = self._db.execute(
            f"""
            WITH RECURSIVE walk(node) AS (
                SELECT {b} FROM edges WHERE {a} = :start
                UNION
                SELECT e.{b} FROM edges e JOIN walk w ON e.{a} = w.node
            )
            SELECT w.node,
                   (SELECT v.name FROM versions v WHERE v.version_id = w.node
                     ORDER BY v.seq DESC LIMIT 1),
                   (SELECT r.job FROM runs r WHERE r.run_id = substr(w.node, 5)),
                   (SELECT a.uri FROM artifacts a WHERE a.digest = w.node)
            FROM walk w WHERE w.node != :start
            """,
            {"start": start},
        ).fetchall()
        out = []
        for node, vname, job, uri in rows:
            if node.startswith("run:"):
                out.append(LineageNode("run", node[4:], job or ""))
            elif uri is not None and vname is None:
                out.append(LineageNode("artifact", node, uri))
            else:
                out.append(LineageNode("version", node, vname or ""))
        return out

    def ancestors(self, x: Any) -> list[LineageNode]:
        """Everything ``x`` derives from, transitively: the runs that produced it, their inputs,
        and earlier versions of the same name (parents). Breadth-first order, nearest first.

        ``x`` is a :class:`Version`, a name, an id (version, manifest, run, artifact digest),
        a :class:`Run`, a :class:`TableHash` or a file path.

        Example:
            >>> import tempfile, pyarrow as pa, lineage_fast as lf
            >>> store = lf.Store(tempfile.mkdtemp())
            >>> a = store.commit(pa.table({"x": [1]}), "a")
            >>> b = store.commit(pa.table({"x": [2]}), "b")
            >>> _ = store.record_run("make_b", inputs=[a], outputs=[b], code=None)
            >>> [(n.kind, n.label) for n in store.ancestors("b")]
            [('run', 'make_b'), ('version', 'a')]
        """
        return self._walk(x, up=True)

    def descendants(self, x: Any) -> list[LineageNode]:
        """Everything derived from ``x``, transitively (see :meth:`ancestors`).

        Example:
            >>> import tempfile, pyarrow as pa, lineage_fast as lf
            >>> store = lf.Store(tempfile.mkdtemp())
            >>> a = store.commit(pa.table({"x": [1]}), "a")
            >>> b = store.commit(pa.table({"x": [2]}), "b")
            >>> _ = store.record_run("make_b", inputs=[a], outputs=[b], code=None)
            >>> [(n.kind, n.label) for n in store.descendants(a)]
            [('run', 'make_b'), ('version', 'b')]
        """
        return self._walk(x, up=False)

    @_serialised
    def graph(self, x: Any = None) -> tuple[list[LineageNode], list[tuple[str, str, str]]]:
        """The lineage graph: nodes and ``(child, parent, kind)`` edges (``kind`` is ``used``,
        ``generated_by`` or ``revision``; run nodes are ``"run:<id>"``). With ``x``, only ``x``,
        its ancestors and its descendants; without, the whole store."""
        self._sync()
        if x is None:
            ids = {r[0] for r in self._db.execute("SELECT version_id FROM versions")}
            ids |= {"run:" + r[0] for r in self._db.execute("SELECT run_id FROM runs")}
            ids |= {r[0] for r in self._db.execute("SELECT node FROM run_io")}
        else:
            start = self._node(x)
            ids = {start}
            for n in (*self.ancestors(x), *self.descendants(x)):
                ids.add("run:" + n.id if n.kind == "run" else n.id)
        nodes = [self._describe(i) for i in sorted(ids)]
        edges = [
            (c, p, k)
            for c, p, k in self._db.execute("SELECT child, parent, kind FROM edges ORDER BY 1, 2")
            if c in ids and p in ids
        ]
        return nodes, edges

    def _describe(self, node: str) -> LineageNode:
        db = self._db
        if node.startswith("run:"):
            row = db.execute("SELECT job FROM runs WHERE run_id = ?", (node[4:],)).fetchone()
            return LineageNode("run", node[4:], row[0] if row else "")
        row = db.execute(
            "SELECT name FROM versions WHERE version_id = ? ORDER BY seq DESC LIMIT 1", (node,)
        ).fetchone()
        if row is not None:
            return LineageNode("version", node, row[0])
        row = db.execute("SELECT uri FROM artifacts WHERE digest = ?", (node,)).fetchone()
        if row is not None:
            return LineageNode("artifact", node, row[0])
        return LineageNode("version", node, "")

    # -- exports ------------------------------------------------------------------------------

    def export_openlineage(self, run: str | Run, *, append: bool = True) -> list[dict[str, Any]]:
        """The OpenLineage 2-0-2 ``START`` and ``COMPLETE``/``FAIL``/``ABORT`` events of a run,
        also appended (one JSON object per line) to ``events/openlineage.jsonl``.

        See :func:`lineage_fast.export.openlineage_events` for the facets used.
        """
        from lineage_fast.export import openlineage_events

        events = openlineage_events(self, self.get_run(run))
        if append:
            lines = b"".join(canonical_json(e) + b"\n" for e in events)
            with self._locked():
                path = self.root / "events" / "openlineage.jsonl"
                fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
                try:
                    os.write(fd, lines)
                    if self.durable:
                        os.fsync(fd)
                finally:
                    os.close(fd)
        return events

    def export_prov(self, x: Any = None) -> dict[str, Any]:
        """A W3C PROV-JSON document of the lineage graph (of ``x``, or of the whole store)."""
        from lineage_fast.export import prov_document

        return prov_document(self, x)

    def to_mermaid(self, x: Any = None) -> str:
        """A Mermaid ``flowchart`` of the lineage graph (of ``x``, or of the whole store)."""
        from lineage_fast.export import mermaid

        return mermaid(*self.graph(x))

    def to_dot(self, x: Any = None) -> str:
        """A Graphviz DOT digraph of the lineage graph (of ``x``, or of the whole store)."""
        from lineage_fast.export import dot

        return dot(*self.graph(x))

    def render_graph(self, path: str | os.PathLike[str], x: Any = None) -> Path:
        """Render the lineage graph to SVG or PNG (by ``path``'s suffix) with Graphviz's ``dot``.

        Raises:
            FileNotFoundError: Graphviz (``dot``) is not installed.
        """
        from lineage_fast.export import render_dot

        return render_dot(self.to_dot(x), path)

    # -- checking -----------------------------------------------------------------------------

    def fsck(self) -> list[Problem]:
        """Check the whole store; return the problems found (empty when healthy).

        Every object must match its digest and parse; every refs and runs log line must be
        well-formed and point to valid objects (manifest names, ``prev`` chains, chunk lists,
        parents, run inputs); and the index must equal one rebuilt from the logs. Temporary
        files and unreferenced objects left by killed writers are not problems.

        Example:
            >>> import tempfile, pyarrow as pa, lineage_fast as lf
            >>> store = lf.Store(tempfile.mkdtemp())
            >>> v = store.commit(pa.table({"x": [1]}), "t")
            >>> store.fsck()
            []
            >>> p = store.root / "objects" / "blake3" / v.manifest_id[7:9] / v.manifest_id[9:]
            >>> _ = p.write_bytes(p.read_bytes().replace(b'"t"', b'"u"'))
            >>> [pr.kind for pr in store.fsck()]
            ['corrupt-object', 'bad-ref', 'index']
        """
        problems: list[Problem] = []
        valid: dict[str, Any] = {}
        with self._locked(catch_up=False):
            try:
                self._catch_up(self._db)
            except LineageError as e:
                problems.append(Problem("index", "index.sqlite", f"cannot catch up: {e}"))
            self._fsck_objects(problems, valid)
            self._fsck_refs(problems, valid)
            self._fsck_runs(problems, valid)
            self._fsck_index(problems)
        return problems

    def _fsck_objects(self, problems: list[Problem], valid: dict[str, Any]) -> None:
        base = self.root / "objects" / "blake3"
        for d in sorted(base.iterdir()):
            for f in sorted(d.iterdir()) if d.is_dir() else [d]:
                name = f"{d.name}{f.name}" if d.is_dir() else d.name
                oid = "blake3:" + name
                if not (len(name) == 64 and _HEXDIGITS.issuperset(name) and f.is_file()):
                    problems.append(Problem("stray-file", str(f), "not an object name"))
                    continue
                try:
                    raw = self._read_object(oid)
                    value = load_json(raw, object_id=oid)
                    fmt = value.get("format") if isinstance(value, dict) else None
                    if fmt == MANIFEST_FORMAT:
                        valid[oid] = Manifest.from_json(raw, object_id=oid)
                    elif fmt == CHUNKS_FORMAT:
                        valid[oid] = validate_chunk_list(value, oid)
                    elif fmt == RUN_FORMAT:  # written by format v1 (v2 keeps runs in the log)
                        valid[oid] = Run.from_json(raw, object_id=oid)
                    else:
                        problems.append(Problem("unknown-object", oid, f"unknown format {fmt!r}"))
                except IntegrityError as e:
                    problems.append(Problem("corrupt-object", oid, str(e)))
                except InvalidObjectError as e:
                    problems.append(Problem("invalid-object", oid, str(e)))

    def _fsck_log_lines(
        self, log: str, problems: list[Problem]
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """``(where, entry)`` for every parseable line of ``log``; a bad line is a problem."""
        for end, line in self._read_log(log, 0, repair=False):
            where = f"{log}@{end}"
            try:
                entry = self._parse_line(line, log, end)
            except IntegrityError as err:
                problems.append(Problem("bad-log-line", where, str(err)))
                continue
            yield where, entry

    def _fsck_refs(self, problems: list[Problem], valid: dict[str, Any]) -> None:
        heads: dict[str, str] = {}
        seen_manifests: set[str] = set()
        for where, e in self._fsck_log_lines("refs.jsonl", problems):
            name, mid = e.get("name"), e.get("manifest_id")
            m = valid.get(mid) if isinstance(mid, str) else None
            if not isinstance(m, Manifest):
                problems.append(
                    Problem("bad-ref", where, f"{name!r} → {mid!r}: not a valid manifest object")
                )
                continue
            if m.name != name:
                problems.append(
                    Problem("bad-ref", where, f"{name!r} → manifest of dataset {m.name!r}")
                )
            if e.get("prev") != heads.get(str(name)):
                problems.append(
                    Problem(
                        "bad-ref",
                        where,
                        f"prev is {e.get('prev')!r} but the head of {name!r} was "
                        f"{heads.get(str(name))!r}",
                    )
                )
            if mid not in seen_manifests:
                seen_manifests.add(str(mid))
                if m.parent is not None and m.parent != heads.get(str(name)):
                    problems.append(
                        Problem("bad-manifest", str(mid), "parent is not the previous head")
                    )
                cl = valid.get(m.chunks_digest)
                if not isinstance(cl, dict):
                    problems.append(
                        Problem("bad-manifest", str(mid), f"chunk list {m.chunks_digest} is bad")
                    )
                elif (
                    cl["version_id"] != m.version_id
                    or len(cl["chunks"]) != m.data["chunks"]["count"]
                ):
                    problems.append(
                        Problem("bad-manifest", str(mid), "chunk list does not match the manifest")
                    )
            heads[str(name)] = str(mid)

    def _fsck_runs(self, problems: list[Problem], valid: dict[str, Any]) -> None:
        seen: set[str] = set()
        for where, e in self._fsck_log_lines("runs.jsonl", problems):
            rid, rec = e.get("run_id"), e.get("record_id")
            if "record" in e:
                try:
                    run: Run | None = self._run_of_line(e, where)
                except IntegrityError as err:  # names the run and its record
                    problems.append(Problem("bad-run", where, str(err)))
                    continue
                except InvalidObjectError as err:  # hashes right, but is not a valid run
                    problems.append(Problem("bad-run", where, f"run {rid}: {err}"))
                    continue
            else:  # a v1 line: the record is an object, checked with the others above
                run = valid.get(rec) if isinstance(rec, str) else None
            if not isinstance(run, Run) or run.run_id != rid:
                problems.append(Problem("bad-run", where, f"{rid!r} → {rec!r}: not a valid record"))
                continue
            if rid in seen:
                problems.append(Problem("bad-run", where, f"run {rid} is recorded twice"))
            seen.add(str(rid))
            for item in (*run.inputs, *run.outputs):
                mid = item.get("manifest_id")
                if mid is not None and not isinstance(valid.get(mid), Manifest):
                    problems.append(Problem("bad-run", str(rec), f"refers to missing {mid}"))

    def _fsck_index(self, problems: list[Problem]) -> None:
        fresh = self._connect(":memory:")
        try:
            fresh.executescript(_SCHEMA)
            fresh.execute(
                "INSERT INTO meta VALUES ('schema', ?), ('refs_offset', 0), ('runs_offset', 0)",
                (INDEX_SCHEMA_VERSION,),
            )
            try:
                self._catch_up(fresh, repair=False)
            except LineageError as e:
                problems.append(Problem("index", "index.sqlite", f"cannot be rebuilt: {e}"))
                return
            for t in (*_TABLES, "meta"):
                q = f"SELECT * FROM {t} ORDER BY 1, 2"
                if sorted(fresh.execute(q).fetchall()) != sorted(self._db.execute(q).fetchall()):
                    problems.append(
                        Problem("index", f"index.sqlite:{t}", "differs from the logs: reindex()")
                    )
        finally:
            fresh.close()


def _run_line(at: str, run: Run) -> bytes:
    """The runs.jsonl line of a run: the canonical JSON of ``{"at", "record", "record_id",
    "run_id"}`` and ``\\n``, built around the record's own canonical bytes. RFC 8785 is
    compositional (a value's canonical form does not depend on where it is nested), so this is
    exactly ``canonical_json`` of the whole line, without serialising the record a second time.
    """
    return b"".join(
        (
            b'{"at":',
            canonical_json(at),
            b',"record":',
            run.to_json(),
            b',"record_id":',
            canonical_json(run.record_id),
            b',"run_id":',
            canonical_json(run.run_id),
            b"}\n",
        )
    )


def _inline_record(entry: Mapping[str, Any], line: bytes | None) -> bytes:
    """The canonical bytes of the run record inline in a runs.jsonl line that parsed as
    canonical JSON. A canonical line with exactly the four keys of :func:`_run_line` is that
    function's output, so the record's bytes are the slice between ``"record":`` and
    ``,"record_id":`` (no second serialisation); any other line is serialised again (a value's
    canonical form does not depend on where it is nested: the same bytes)."""
    if line is not None and len(entry) == 4:
        head = b'{"at":' + canonical_json(entry.get("at")) + b',"record":'
        tail = (
            b',"record_id":'
            + canonical_json(entry.get("record_id"))
            + b',"run_id":'
            + canonical_json(entry.get("run_id"))
            + b"}"
        )
        if line.startswith(head) and line.endswith(tail):
            return line[len(head) : len(line) - len(tail)]
    return canonical_json(entry["record"])


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return "unknown"


class ActiveRun:
    """A run in progress (from :meth:`Store.run`). ``record`` is the :class:`Run` once the block
    has ended."""

    def __init__(
        self,
        store: Store,
        job: str,
        params: Mapping[str, Any] | None,
        code: str | os.PathLike[str] | Mapping[str, Any] | None,
        namespace: str,
        parent_run_id: str | None,
    ) -> None:
        self.store = store
        self.job = job
        self.params: dict[str, Any] = dict(params or {})
        self.code = code
        self.namespace = namespace
        self.parent_run_id = parent_run_id
        self.run_id = uuid7()
        self.started_at = ""
        self._inputs: list[Any] = []
        self._outputs: list[Any] = []
        self.record: Run | None = None

    def input(self, item: Any, role: str | None = None) -> None:
        """Declare an input: a version (or name, id), a ``TableHash`` or a file."""
        self._inputs.append(self.store._io_item(item, role, output=False))

    def output(
        self,
        item: Any,
        *,
        name: str | None = None,
        role: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> Any:
        """Declare an output. Table data (or a ``TableHash``) with ``name`` is committed to the
        store and its :class:`Version` returned; a version, name/id or file is recorded as is
        (files as artifacts by digest, returning the artifact record)."""
        if name is not None:
            v = self.store.commit(item, name, metadata=metadata)
            self._outputs.append(self.store._io_item(v, role, output=True))
            return v
        if hasattr(item, "__arrow_c_stream__") or hasattr(item, "__arrow_c_array__"):
            raise InvalidArgumentError(
                "table data needs a name to be committed as an output: run.output(table, name=...)"
            )
        rec = self.store._io_item(item, role, output=True)
        self._outputs.append(rec)
        return rec

    def __enter__(self) -> ActiveRun:
        self.started_at = utc_now()
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        status: Literal["COMPLETE", "FAIL", "ABORT"] = "COMPLETE"
        if exc is not None:
            status = "FAIL" if isinstance(exc, Exception) else "ABORT"
        self.record = self.store.record_run(
            self.job,
            inputs=self._inputs,
            outputs=self._outputs,
            params=self.params,
            code=self.code,
            namespace=self.namespace,
            status=status,
            started_at=self.started_at,
            error=exc,
            parent_run_id=self.parent_run_id,
            run_id=self.run_id,
        )
