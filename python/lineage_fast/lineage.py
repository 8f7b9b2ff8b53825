"""Run records (``lineage_fast.run/v1``): what a job read, what it wrote, with which code,
parameters and environment.

A run record is written once, when the run ends (``COMPLETE`` or ``FAIL``), as an immutable
canonical-JSON object named by ``record_id`` = BLAKE3 of its bytes. Runs are identified by a UUIDv7
``run_id`` (time-ordered, and the ``runId`` OpenLineage requires). Lineage edges are derived from
run records: every input version → run → every output version or artifact.
"""

from __future__ import annotations

import functools
import os
import platform
import re
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lineage_fast._core import __version__
from lineage_fast.exceptions import CanonicalJSONError
from lineage_fast.hashing import bytes_digest, file_digest
from lineage_fast.manifest import (
    CanonicalObject,
    _Check,
    canonical_json,
    check_time,
)

__all__ = ["RUN_FORMAT", "Run", "capture_code", "capture_environment", "uuid7"]

RUN_FORMAT = "lineage_fast.run/v1"
#: Identifies lineage_fast as the producer of manifests, run records and OpenLineage events.
PRODUCER = f"https://pypi.org/project/lineage-fast/{__version__}/"

RUN_STATUSES = ("COMPLETE", "FAIL", "ABORT")
_UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
_LOCKFILES = (
    "uv.lock",
    "poetry.lock",
    "pdm.lock",
    "Pipfile.lock",
    "pixi.lock",
    "conda-lock.yml",
    "requirements.lock",
    "requirements.txt",
)

_uuid_lock = threading.Lock()
_uuid_last = [0, 0]  # last millisecond, last 12-bit counter


def uuid7() -> str:
    """A new UUIDv7 (RFC 9562): 48-bit Unix milliseconds, then random bits.

    Ids made by one process are strictly increasing (a 12-bit counter orders ids within one
    millisecond), so sorting run ids sorts runs by start time.

    Example:
        >>> from lineage_fast.lineage import uuid7
        >>> a, b = uuid7(), uuid7()
        >>> a < b, a[14], len(a)
        (True, '7', 36)
    """
    with _uuid_lock:
        ms = time.time_ns() // 1_000_000
        if ms <= _uuid_last[0]:
            ms = _uuid_last[0]
            counter = _uuid_last[1] + 1
            if counter > 0xFFF:  # 4096 ids in one millisecond: borrow the next one
                ms += 1
                counter = 0
        else:
            counter = int.from_bytes(os.urandom(2), "big") & 0x7FF  # leave room to count up
        _uuid_last[0], _uuid_last[1] = ms, counter
    rand_b = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
    value = (ms << 80) | (0x7 << 76) | (counter << 64) | (0b10 << 62) | rand_b
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def is_run_id(value: object) -> bool:
    """True for a lowercase UUIDv7 string."""
    return isinstance(value, str) and _UUID_RE.match(value) is not None


# --- code and environment -------------------------------------------------------------------


def _git_all(cwd: Path, *commands: tuple[str, ...]) -> list[bytes | None]:
    """Run git commands in ``cwd`` concurrently (code capture is on the path of every run);
    the stdout of each, or None when it failed or git is missing."""
    env = dict(os.environ, GIT_OPTIONAL_LOCKS="0", LC_ALL="C")
    procs: list[subprocess.Popen[bytes] | None] = []
    for args in commands:
        try:
            procs.append(
                subprocess.Popen(
                    ["git", "-C", str(cwd), *args],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                    stdin=subprocess.DEVNULL,
                    env=env,
                )
            )
        except OSError:
            procs.append(None)
    out: list[bytes | None] = []
    for p in procs:
        if p is None:
            out.append(None)
            continue
        try:
            stdout, _ = p.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()
            out.append(None)
            continue
        out.append(stdout if p.returncode == 0 else None)
    return out


def _strip_credentials(url: str) -> str:
    # https://user:token@host/repo.git -> https://host/repo.git (never store secrets).
    return re.sub(r"^([a-z][a-z0-9+.-]*://)[^/@]*@", r"\1", url)


def capture_code(path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Describe the code of a run: the script and, when it is in a git work tree, the commit,
    whether the tree is dirty and the BLAKE3 digest of ``git diff HEAD`` (tracked files).

    ``path`` is the script or directory; ``None`` means the running script (``__main__``), or the
    current directory in an interactive session. Credentials in the remote URL are dropped.

    Example:
        >>> from lineage_fast.lineage import capture_code
        >>> capture_code("/nonexistent/job.py")["type"]
        'none'
    """
    if path is None:
        main = sys.modules.get("__main__")
        script = getattr(main, "__file__", None)
        target = Path(script).resolve() if script else Path.cwd()
    else:
        target = Path(path).resolve()
    info: dict[str, Any] = {"type": "none", "path": str(target)}
    if not target.exists():
        return info
    if target.is_file():
        info["digest"] = file_digest(target)
    where = target.parent if target.is_file() else target
    # A dirty tree is one whose tracked files differ from HEAD: the diff is empty otherwise.
    head, diff, remote = _git_all(
        where,
        ("rev-parse", "--show-toplevel", "HEAD", "--abbrev-ref", "HEAD"),
        ("diff", "HEAD", "--binary", "--no-ext-diff", "--no-color"),
        ("config", "--get", "remote.origin.url"),
    )
    if head is None:
        return info
    lines = head.decode("utf-8", "surrogateescape").splitlines()
    if len(lines) < 3:
        return info
    top, commit, branch = Path(lines[0]), lines[1], lines[2]
    dirty = bool(diff)
    diff_digest = bytes_digest(diff) if diff else None
    try:
        rel = str(target.relative_to(top))
    except ValueError:
        rel = str(target)
    info.update(
        {
            "type": "git",
            "commit": commit,
            "branch": None if branch == "HEAD" else branch,
            "dirty": dirty,
            "diff_digest": diff_digest,
            "path": rel,
            "repo_root": str(top),
            "repo_url": (
                _strip_credentials(remote.decode("utf-8", "replace").strip()) if remote else None
            ),
        }
    )
    return info


def capture_environment(root: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Python, lineage_fast and platform versions, and the digest of the first lockfile found in
    ``root`` (default: the current directory): ``uv.lock``, ``poetry.lock``, ``pdm.lock``,
    ``Pipfile.lock``, ``pixi.lock``, ``conda-lock.yml``, ``requirements.lock`` or
    ``requirements.txt``.

    Example:
        >>> from lineage_fast.lineage import capture_environment
        >>> sorted(capture_environment())
        ['implementation', 'lineage_fast', 'lockfile', 'platform', 'python']
    """
    base = os.fspath(root) if root is not None else os.getcwd()
    lockfile = None
    for name in _LOCKFILES:
        p = os.path.join(base, name)
        if os.path.isfile(p):
            lockfile = {"path": name, "digest": file_digest(p)}
            break
    return {**_platform_info(), "lockfile": lockfile}


@functools.cache
def _platform_info() -> dict[str, str]:
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "lineage_fast": __version__,
        "platform": f"{sys.platform}-{platform.machine()}",
    }


# --- run records ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, eq=False)
class Run(CanonicalObject):
    """A finished run (``lineage_fast.run/v1``), immutable.

    Attributes follow the record: ``run_id``, ``job``, ``namespace``, ``status``
    (``"COMPLETE"``/``"FAIL"``/``"ABORT"``), ``started_at``/``ended_at``, ``inputs`` and ``outputs``
    (lists of dicts), ``params``, ``code``, ``environment``; ``record_id`` is the digest of
    :meth:`to_json`.
    """

    @classmethod
    def _validate(cls, data: Any, object_id: str | None) -> None:
        validate_run(data, object_id)

    def __repr__(self) -> str:
        return f"Run({self.job!r}, {self.status}, run_id={self.run_id})"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, object_id: str | None = None) -> Run:
        """Validate a run record JSON object (raises :class:`InvalidObjectError`)."""
        validate_run(data, object_id)
        return cls(dict(data), canonical_json(data))

    @property
    def record_id(self) -> str:
        """BLAKE3 of the canonical bytes."""
        return self._id

    @property
    def run_id(self) -> str:
        """The UUIDv7 of the run."""
        v: str = self.data["run_id"]
        return v

    @property
    def job(self) -> str:
        """The job name."""
        v: str = self.data["job"]["name"]
        return v

    @property
    def namespace(self) -> str:
        """The job namespace."""
        v: str = self.data["job"]["namespace"]
        return v

    @property
    def status(self) -> str:
        """``"COMPLETE"``, ``"FAIL"`` or ``"ABORT"``."""
        v: str = self.data["status"]
        return v

    @property
    def started_at(self) -> str:
        """RFC 3339 UTC start time."""
        v: str = self.data["started_at"]
        return v

    @property
    def ended_at(self) -> str:
        """RFC 3339 UTC end time."""
        v: str = self.data["ended_at"]
        return v

    @property
    def inputs(self) -> list[dict[str, Any]]:
        """``[{"version_id", "manifest_id", "dataset", "role"}]``."""
        v: list[dict[str, Any]] = self.data["inputs"]
        return v

    @property
    def outputs(self) -> list[dict[str, Any]]:
        """Versions as for inputs, or ``{"artifact": {"digest", "size", "uri"}, "role"}``."""
        v: list[dict[str, Any]] = self.data["outputs"]
        return v

    @property
    def params(self) -> Mapping[str, Any]:
        """The run's parameters."""
        v: Mapping[str, Any] = self.data["config"]["params"]
        return v

    @property
    def code(self) -> Mapping[str, Any] | None:
        """What :func:`capture_code` recorded, or ``None``."""
        v: Mapping[str, Any] | None = self.data["code"]
        return v


def params_digest(params: Mapping[str, Any]) -> str:
    """BLAKE3 of the canonical JSON of the parameters."""
    return bytes_digest(canonical_json(params))


def validate_run(value: Any, object_id: str | None = None) -> None:
    """Check every field of a run record JSON object (raises :class:`InvalidObjectError`)."""
    c = _Check(value, "run", object_id)
    c.literal("format", [RUN_FORMAT])
    rid = c.text("run_id")
    if not is_run_id(rid):
        c.fail("run.run_id", f"expected a lowercase UUIDv7, got {rid!r}")
    job = c.obj("job")
    job.text("namespace")
    job.text("name")
    c.literal("status", RUN_STATUSES)
    check_time(c, "started_at")
    check_time(c, "ended_at")
    for key in ("inputs", "outputs"):
        for i, item in enumerate(c.array(key)):
            ic = _Check(item, f"run.{key}[{i}]", object_id)
            ic.text("role", optional=True)
            if "artifact" in ic.value:
                art = ic.obj("artifact")
                art.text("digest", digest=True)
                art.integer("size")
                art.text("uri")
            else:
                ic.text("version_id", digest=True)
                ic.text("manifest_id", optional=True, digest=True)
                ds = ic.obj("dataset", optional=True)
                if ds is not None:
                    ds.text("namespace")
                    ds.text("name")
    cfg = c.obj("config")
    params = cfg.obj("params")
    digest = cfg.text("digest", digest=True)
    if digest != params_digest(params.value):
        cfg.fail("run.config.digest", "does not match the parameters")
    code = c.value.get("code")
    if code is not None:
        c.obj("code").text("type")
    env = c.obj("environment")
    env.text("python")
    env.text("lineage_fast")
    env.text("platform")
    err = c.value.get("error")
    if err is not None:
        ec = c.obj("error")
        ec.text("type")
        ec.text("message")
    parent = c.value.get("parent_run_id")
    if parent is not None and not is_run_id(parent):
        c.fail("run.parent_run_id", f"expected a UUIDv7 or null, got {parent!r}")
    c.text("producer")


def build_run(
    *,
    run_id: str,
    job: str,
    namespace: str,
    status: str,
    started_at: str,
    ended_at: str,
    inputs: list[dict[str, Any]],
    outputs: list[dict[str, Any]],
    params: Mapping[str, Any],
    code: Mapping[str, Any] | None,
    environment: Mapping[str, Any],
    error: Mapping[str, str] | None = None,
    parent_run_id: str | None = None,
) -> Run:
    """Assemble and validate a run record."""
    try:
        digest = params_digest(params)
    except CanonicalJSONError as e:  # name the parameter: "params.lr", not "$.lr"
        reason = str(e).split(": ", 1)[-1]
        raise CanonicalJSONError(reason, path="params" + e.path[1:]) from None
    data: dict[str, Any] = {
        "format": RUN_FORMAT,
        "run_id": run_id,
        "job": {"namespace": namespace, "name": job},
        "status": status,
        "started_at": started_at,
        "ended_at": ended_at,
        "inputs": inputs,
        "outputs": outputs,
        "config": {"params": dict(params), "digest": digest},
        "code": dict(code) if code is not None else None,
        "environment": dict(environment),
        "error": dict(error) if error is not None else None,
        "parent_run_id": parent_run_id,
        "producer": PRODUCER,
    }
    return Run.from_dict(data)
