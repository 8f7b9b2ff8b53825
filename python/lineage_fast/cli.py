"""The ``lineage-fast`` command line.

Exit codes: 0 success, 1 a difference (``diff``) or a failed check (``verify``, ``fsck``, a failed
``run``), 2 a usage or input error. Errors are one line on stderr; ``--debug`` shows the
traceback. Ids may be abbreviated to a unique prefix of at least 12 hex digits.

Example:
    >>> from lineage_fast.cli import main
    >>> main(["--version"])  # doctest: +ELLIPSIS
    lineage-fast ...
    0
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from lineage_fast import _core
from lineage_fast.exceptions import InvalidArgumentError, LineageError

__all__ = ["main"]

#: Suffixes read as Arrow IPC files and as CSV; everything else is read as Parquet.
_IPC = {".arrow", ".feather", ".ipc"}
_CSV = {".csv"}


class _Usage(Exception):
    """A usage error (exit code 2)."""


def _print_json(obj: Any) -> None:
    json.dump(obj, sys.stdout, indent=2, ensure_ascii=False, default=str)
    sys.stdout.write("\n")


def _is_tabular_path(p: Path) -> bool:
    return p.is_dir() or p.suffix.lower() in {".parquet", ".parq", *_IPC, *_CSV}


def _read(path: str) -> pa.Table:
    """Read a Parquet file or directory, an Arrow IPC file or a CSV file into memory, rows in the
    order :func:`lineage_fast.hash_parquet` hashes them."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(2, "No such file or directory", path)
    suffix = p.suffix.lower()
    if p.is_file() and suffix in _IPC:
        import pyarrow.ipc as ipc

        try:
            with ipc.open_file(str(p)) as f:
                return f.read_all()
        except pa.ArrowInvalid:
            with ipc.open_stream(pa.OSFile(str(p), "rb")) as s:
                return s.read_all()
    if p.is_file() and suffix in _CSV:
        import pyarrow.csv as csv

        return csv.read_csv(p)
    import pyarrow.parquet as pq

    from lineage_fast.parquet import _open_files, _paths

    files = _open_files(_paths(path))
    tables = [pq.read_table(f.path) for f in files]
    return pa.concat_tables(tables) if tables else pa.table({})


def _hash_path(path: str, *, row_order: str, progress: bool, threads: int | None) -> Any:
    """The :class:`TableHash` of the data at ``path`` (Parquet streams; other formats are read)."""
    from lineage_fast.hashing import hash_table
    from lineage_fast.parquet import hash_parquet

    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(2, "No such file or directory", path)
    if p.is_file() and p.suffix.lower() in _IPC | _CSV:
        return hash_table(_read(path), row_order=row_order, threads=threads)  # type: ignore[arg-type]
    return hash_parquet(path, row_order=row_order, progress=progress, threads=threads)  # type: ignore[arg-type]


def _store(args: argparse.Namespace) -> Any:
    from lineage_fast.store import Store

    return Store(args.store)


def _pairs(items: Sequence[str] | None, what: str) -> dict[str, Any]:
    """``k=v`` options as a dict; values are parsed as JSON when they parse, else kept as text."""
    out: dict[str, Any] = {}
    for item in items or ():
        k, sep, v = item.partition("=")
        if not sep or not k:
            raise _Usage(f"{what} must look like key=value, got {item!r}")
        try:
            out[k] = json.loads(v)
        except json.JSONDecodeError:
            out[k] = v
    return out


# --- commands -----------------------------------------------------------------------------------


def cmd_hash(args: argparse.Namespace) -> int:
    order = "unordered" if args.unordered else "ordered"
    h = _hash_path(args.path, row_order=order, progress=not args.quiet, threads=args.threads)
    if args.json:
        _print_json(h.to_dict() if args.chunks else _hash_summary(h))
    else:
        print(h.root)
        if not args.quiet:
            print(
                f"{h.num_rows:,} rows, {len(h.columns)} columns, {len(h.chunks):,} chunks, "
                f"{h.row_order}",
                file=sys.stderr,
            )
    return 0


def _hash_summary(h: Any) -> dict[str, Any]:
    d = h.to_dict()
    d.pop("chunks")
    d["num_chunks"] = len(h.chunks)
    return dict(d)


def cmd_diff(args: argparse.Namespace) -> int:
    from lineage_fast.diff import diff

    old, new = _read(args.old), _read(args.new)
    key = args.key or None
    columns = [c for part in args.columns or () for c in part.split(",") if c] or None
    d = diff(old, new, key=key, columns=columns, duplicate_keys=args.duplicate_keys)
    if args.output:
        _write_diff(d, args.output)
    if args.json:
        _print_json(
            {
                "summary": dict(d.summary),
                "schema": {
                    "added": dict(d.schema.added),
                    "removed": dict(d.schema.removed),
                    "type_changed": {k: list(v) for k, v in d.schema.type_changed.items()},
                },
                "key": list(d.key) if d.key else None,
                "compared": list(d.compared),
            }
        )
    else:
        print(d.render(max_rows=args.max_rows))
    return 0 if d.is_empty else 1


def _write_diff(d: Any, path: str) -> None:
    """One Parquet file with every differing row: ``_change`` (added / deleted / changed)."""
    import pyarrow.parquet as pq

    parts = []
    for label, t in (("added", d.added), ("deleted", d.removed), ("changed", d.changed)):
        if t.num_rows:
            parts.append(t.append_column("_change", pa.array([label] * t.num_rows, pa.string())))
    out = pa.concat_tables(parts, promote_options="permissive") if parts else pa.table({})
    pq.write_table(out, path)


def cmd_commit(args: argparse.Namespace) -> int:
    store = _store(args)
    h = _hash_path(args.path, row_order="ordered", progress=not args.quiet, threads=args.threads)
    v = store.commit(h, args.name, metadata=_pairs(args.meta, "--meta") or None)
    if args.json:
        _print_json({"name": v.name, "version_id": v.version_id, "manifest_id": v.manifest_id})
    else:
        print(f"{v.name} {v.version_id} (manifest {v.manifest_id[:19]}…, {v.num_rows:,} rows)")
    return 0


def cmd_log(args: argparse.Namespace) -> int:
    store = _store(args)
    names = [args.name] if args.name else store.names()
    rows = [e for n in names for e in store.log(n)]
    if args.json:
        _print_json(
            [
                {
                    "name": e.name,
                    "version_id": e.version_id,
                    "manifest_id": e.manifest_id,
                    "at": e.at,
                    "by": e.by,
                    "reason": e.reason,
                }
                for e in rows
            ]
        )
        return 0
    for e in rows:
        print(f"{e.at}  {e.name:<20} {e.reason:<8} {e.version_id[:23]}…  by {e.by}")
    if not rows:
        print("(no versions yet)", file=sys.stderr)
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from lineage_fast.exceptions import NotFoundError

    store = _store(args)
    try:
        v = store.get(args.id)
    except NotFoundError:
        run = store.get_run(args.id)
        _print_json(dict(run.data))
        return 0
    _print_json(dict(v.manifest.data))
    return 0


def cmd_lineage(args: argparse.Namespace) -> int:
    from lineage_fast.export import dot, mermaid

    store = _store(args)
    nodes, edges = store.graph(args.id)
    if args.up or args.down:
        keep = {store._node(args.id)}
        for n in store.ancestors(args.id) if args.up else store.descendants(args.id):
            keep.add("run:" + n.id if n.kind == "run" else n.id)
        nodes = [n for n in nodes if ("run:" + n.id if n.kind == "run" else n.id) in keep]
        edges = [e for e in edges if e[0] in keep and e[1] in keep]
    if args.format == "mermaid":
        text = mermaid(nodes, edges)
    elif args.format == "dot":
        text = dot(nodes, edges)
    else:
        from lineage_fast.export import render_dot

        out = Path(args.output or "lineage.svg")
        render_dot(dot(nodes, edges), out)
        print(out)
        return 0
    if args.output:
        Path(args.output).write_text(text + "\n", encoding="utf-8")
    else:
        print(text)
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    store = _store(args)
    v = store.get(args.name)
    h = _hash_path(args.path, row_order=v.manifest.row_order, progress=not args.quiet, threads=None)
    ok = h.root == v.version_id
    if ok:
        print(f"OK {args.path} is {v.name} {v.version_id}")
        return 0
    print(
        f"MISMATCH {args.path} hashes to {h.root}, {v.name} is {v.version_id}",
        file=sys.stderr,
    )
    return 1


def cmd_run(args: argparse.Namespace) -> int:
    store = _store(args)
    if not args.command:
        raise _Usage("run needs a command after --, e.g. run --input raw -- python train.py")
    command = args.command[1:] if args.command[0] == "--" else args.command
    inputs = [_io(store, spec, commit=True, quiet=args.quiet) for spec in args.input or ()]
    params = {**_pairs(args.param, "--param"), "command": command}
    job = args.job or Path(command[0]).name
    started = _now()
    t0 = time.perf_counter()
    proc = subprocess.run(command, check=False)
    ended = _now()
    status = "COMPLETE" if proc.returncode == 0 else "FAIL"
    outputs = []
    if status == "COMPLETE":
        outputs = [_io(store, spec, commit=True, quiet=args.quiet) for spec in args.output or ()]
    error = None if proc.returncode == 0 else RuntimeError(f"exit status {proc.returncode}")
    run = store.record_run(
        job,
        inputs=inputs,
        outputs=outputs,
        params=params,
        code=os.getcwd(),
        status=status,
        started_at=started,
        ended_at=ended,
        error=error,
    )
    print(f"run {run.run_id} {job} {status} in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
    return 0 if status == "COMPLETE" else 1


def _now() -> str:
    from lineage_fast.manifest import utc_now

    return utc_now()


def _io(store: Any, spec: str, *, commit: bool, quiet: bool) -> Any:
    """A run input or output: ``name=path`` or a tabular path (committed under ``name``, by
    default the file's stem), a store name or id, or any other file (an artifact)."""
    name, sep, path = spec.partition("=")
    if not sep:
        name, path = "", spec
    p = Path(path)
    if p.exists() and _is_tabular_path(p):
        h = _hash_path(path, row_order="ordered", progress=not quiet, threads=None)
        return store.commit(h, name or p.name.split(".")[0])
    if p.is_file():
        return (p, name) if name else p
    return store.get(spec)


def cmd_export_openlineage(args: argparse.Namespace) -> int:
    store = _store(args)
    runs = [store.get_run(args.run)] if args.run else store.runs()
    events = [e for r in runs for e in store.export_openlineage(r, append=not args.no_append)]
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            for e in events:
                f.write(json.dumps(e, ensure_ascii=False) + "\n")
    else:
        for e in events:
            print(json.dumps(e, ensure_ascii=False))
    return 0


def cmd_fsck(args: argparse.Namespace) -> int:
    problems = _store(args).fsck()
    for p in problems:
        print(p)
    if not problems:
        print("store is healthy", file=sys.stderr)
    return 1 if problems else 0


# --- parser -------------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="lineage-fast",
        description="Cryptographic identities, row-level diffs and lineage for tabular data.",
    )
    top.add_argument("--version", action="version", version=f"lineage-fast {_core.__version__}")
    top.add_argument(
        "--store",
        default=os.environ.get("LINEAGE_FAST_STORE", ".lineage"),
        help="store directory (default: $LINEAGE_FAST_STORE or ./.lineage)",
    )
    top.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    top.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    sub = top.add_subparsers(dest="command_name", metavar="COMMAND", required=True)

    def add(name: str, fn: Callable[[argparse.Namespace], int], help: str) -> Any:
        p = sub.add_parser(name, help=help, description=help)
        p.set_defaults(fn=fn)
        return p

    p = add("hash", cmd_hash, "hash a Parquet file or directory (or an Arrow IPC / CSV file)")
    p.add_argument("path")
    p.add_argument("--unordered", action="store_true", help="multiset identity (row order free)")
    p.add_argument("--json", action="store_true", help="print the hash as JSON")
    p.add_argument("--chunks", action="store_true", help="with --json: include every chunk")
    p.add_argument("--threads", type=int, default=None)

    p = add("diff", cmd_diff, "compare two versions row by row (exit 1 when they differ)")
    p.add_argument("old")
    p.add_argument("new")
    p.add_argument("-k", "--key", action="append", help="key column (repeat for a composite key)")
    p.add_argument("--columns", action="append", help="compare only these columns (a,b,...)")
    p.add_argument("--duplicate-keys", choices=["error", "match"], default="error")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print the summary as JSON")
    out.add_argument("--output", metavar="FILE.parquet", help="write the differing rows")
    p.add_argument("--max-rows", type=int, default=10, help="changed rows shown (default 10)")

    p = add("commit", cmd_commit, "hash data and record it as the next version of a name")
    p.add_argument("path")
    p.add_argument("--name", required=True)
    p.add_argument("--meta", action="append", metavar="KEY=VALUE", help="user metadata")
    p.add_argument("--json", action="store_true")
    p.add_argument("--threads", type=int, default=None)

    p = add("log", cmd_log, "the versions of a name (or of every name), newest first")
    p.add_argument("name", nargs="?")
    p.add_argument("--json", action="store_true")

    p = add("show", cmd_show, "print a version's manifest (or a run record) as JSON")
    p.add_argument("id", help="a name, a version or manifest id, or a run id")

    p = add("lineage", cmd_lineage, "draw the lineage graph around a version or run")
    p.add_argument("id")
    way = p.add_mutually_exclusive_group()
    way.add_argument("--up", action="store_true", help="only what it derives from")
    way.add_argument("--down", action="store_true", help="only what derives from it")
    p.add_argument("--format", choices=["mermaid", "dot", "svg"], default="mermaid")
    p.add_argument("--output", help="write to this file (svg: default lineage.svg)")

    p = add("verify", cmd_verify, "re-hash data and compare it with a recorded version")
    p.add_argument("name", help="a name or a version id")
    p.add_argument("path")

    p = add("run", cmd_run, "run a command and record it as a run with its inputs and outputs")
    p.add_argument(
        "--input", action="append", metavar="[NAME=]PATH|NAME|ID", help="an input (repeat)"
    )
    p.add_argument(
        "--output", action="append", metavar="[NAME=]PATH", help="an output, after the run"
    )
    p.add_argument("--job", help="job name (default: the program's name)")
    p.add_argument("--param", action="append", metavar="KEY=VALUE", help="a parameter")
    p.add_argument("command", nargs=argparse.REMAINDER, help="-- CMD [ARGS...]")

    p = add("export-openlineage", cmd_export_openlineage, "OpenLineage events of runs (JSONL)")
    p.add_argument("run", nargs="?", help="a run id (default: every run)")
    p.add_argument("--output", help="write to this file instead of stdout")
    p.add_argument(
        "--no-append", action="store_true", help="do not append to events/openlineage.jsonl"
    )

    add("fsck", cmd_fsck, "check the store (exit 1 when problems are found)")
    return top


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # argparse exits 2 on usage errors, 0 on --help / --version
        return int(e.code or 0)
    try:
        return int(args.fn(args))
    except KeyboardInterrupt:
        print("lineage-fast: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except (_Usage, LineageError, OSError, InvalidArgumentError, pa.ArrowException) as e:
        if args.debug:
            raise
        print(f"lineage-fast: error: {_one_line(e)}", file=sys.stderr)
        return 2


def _one_line(e: BaseException) -> str:
    if isinstance(e, OSError) and e.filename is not None and e.strerror:
        return f"{e.filename}: {e.strerror}"
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__


if __name__ == "__main__":
    sys.exit(main())
