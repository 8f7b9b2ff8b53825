"""The store: commits, refs, runs, lineage queries, integrity, concurrency and crash safety."""

from __future__ import annotations

import itertools
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import lineage_fast as lf
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from lineage_fast import store as store_mod
from lineage_fast.manifest import canonical_json, load_json
from strategies import json_values


def _t(*xs: int) -> pa.Table:
    return pa.table({"x": list(xs)})


@pytest.fixture
def store(tmp_path: Path) -> lf.Store:
    return lf.Store(tmp_path / ".lineage")


# --- commits, refs, get ---------------------------------------------------------------------


def test_commit_records_manifest_chain_and_stats(store: lf.Store, tmp_path: Path) -> None:
    src = tmp_path / "events.csv"
    src.write_bytes(b"x\n1\n")
    table = pa.table({"x": [1, None, 3], "s": ["a", "b", None]})
    v1 = store.commit(table, "raw/events", metadata={"owner": "me"}, files=[src])
    assert v1.version_id == lf.hash_table(table).root
    assert v1.parent is None
    m = v1.manifest.to_dict()
    assert m["stats"]["columns"] == {"x": {"null_count": 1}, "s": {"null_count": 1}}
    assert m["stats"]["total-bytes"] == table.nbytes
    assert m["files"] == [{"uri": src.resolve().as_uri(), "digest": lf.file_digest(src), "size": 4}]
    assert m["metadata"] == {"owner": "me"}
    v2 = store.commit(_t(1, 2), "raw/events")
    assert v2.parent == v1.manifest_id
    assert store.get("raw/events") == v2
    assert store.get(v1.manifest_id) == v1
    assert store.get(v1.version_id) == v1
    # the chunk list is its own object and rebuilds the full TableHash
    assert store.chunks(v1) == lf.hash_table(table)


def test_commit_accepts_a_table_hash_and_other_inputs(store: lf.Store) -> None:
    import pandas as pd
    import polars as pl

    th = lf.hash_table(_t(1, 2, 3))
    a = store.commit(th, "a")
    b = store.commit(pd.DataFrame({"x": [1, 2, 3]}), "b")
    c = store.commit(pl.DataFrame({"x": [1, 2, 3]}), "c")
    assert a.version_id == b.version_id == c.version_id == th.root
    assert b.manifest.to_dict()["stats"]["columns"] == {"x": {"null_count": 0}}
    u = store.commit(_t(3, 2, 1), "u", row_order="unordered")
    assert store.verify(u, _t(1, 2, 3))
    assert not store.verify(u, _t(1, 2))


def test_id_prefixes(store: lf.Store, monkeypatch: pytest.MonkeyPatch) -> None:
    v = store.commit(_t(1), "t")
    for key in (v.manifest_id[7:19], v.manifest_id[:19], v.version_id[7:19].upper()):
        assert store.get(key) == v
    with pytest.raises(lf.NotFoundError, match="12 hex digits"):
        store.get(v.manifest_id[7:18])
    with pytest.raises(lf.NotFoundError):
        store.get("f" * 12)
    with pytest.raises(lf.NotFoundError, match="no dataset named 'nope'"):
        store.get("nope")
    # ambiguity: with 1-digit prefixes allowed, 20 versions must share a first digit
    monkeypatch.setattr(store_mod, "MIN_PREFIX", 1)
    ids = [store.commit(_t(i), f"n{i}").manifest_id for i in range(20)]
    first = max("0123456789abcdef", key=lambda c: sum(i[7] == c for i in ids))
    with pytest.raises(lf.AmbiguousIdError) as e:
        store.get(first)
    assert len(e.value.candidates) >= 2
    assert isinstance(e.value, LookupError)


def test_same_data_committed_twice_resolves_to_the_latest(store: lf.Store) -> None:
    a = store.commit(_t(7), "a")
    b = store.commit(_t(7), "b")
    assert a.version_id == b.version_id
    assert a.manifest_id != b.manifest_id
    assert store.get(a.version_id) == b


def test_log_and_rollback_keep_history(store: lf.Store) -> None:
    v1 = store.commit(_t(1), "t")
    v2 = store.commit(_t(2), "t")
    back = store.rollback("t", v1.manifest_id[:20])
    assert back == v1 == store.get("t")
    log = store.log("t")
    assert [e.reason for e in log] == ["rollback", "commit", "commit"]
    assert [e.manifest_id for e in log] == [v1.manifest_id, v2.manifest_id, v1.manifest_id]
    assert log[0].prev == v2.manifest_id
    v3 = store.commit(_t(3), "t")
    assert v3.parent == v1.manifest_id  # the next commit builds on the rolled-back version
    other = store.commit(_t(9), "other")
    with pytest.raises(lf.InvalidArgumentError, match="not of 't'"):
        store.rollback("t", other)
    with pytest.raises(lf.NotFoundError):
        store.log("missing")
    assert store.names() == ["other", "t"]
    assert store.fsck() == []


@pytest.mark.parametrize(
    "name",
    ["", " x", "../x", "a/../b", "/etc/passwd", "a//b", "./a", "a\\b", "x\x00", "a\nb", "C:x", 5],
)
def test_bad_names_are_refused(store: lf.Store, name: object) -> None:
    with pytest.raises(lf.InvalidNameError) as e:
        store.commit(_t(1), name)  # type: ignore[arg-type]
    assert isinstance(e.value, ValueError)
    with pytest.raises(lf.InvalidNameError):
        store.record_run(name, code=None)  # type: ignore[arg-type]


def test_names_never_become_paths(store: lf.Store) -> None:
    for name in ("a/b/c", "ünï cödé", "s3:x", "..a", "a..", "~/x", "$HOME"):
        store.commit(_t(1), name)
    root = store.root
    for p in root.rglob("*"):
        assert p.resolve().is_relative_to(root.resolve())
    top = {p.name for p in root.iterdir()}
    assert top <= {
        "STORE",
        "objects",
        "tmp",
        "events",
        "lock",
        "refs.jsonl",
        "runs.jsonl",
        "index.sqlite",
        "index.sqlite-wal",
        "index.sqlite-shm",
    }
    assert set(store.names()) == {"a/b/c", "ünï cödé", "s3:x", "..a", "a..", "~/x", "$HOME"}


def test_opening_something_that_is_not_a_store(tmp_path: Path) -> None:
    (tmp_path / "data.txt").write_text("hello")
    with pytest.raises(lf.StoreError, match="not a lineage_fast store"):
        lf.Store(tmp_path)
    with pytest.raises(lf.StoreError, match="no lineage_fast store"):
        lf.Store(tmp_path / "new", create=False)
    s = tmp_path / "s"
    lf.Store(s).close()
    (s / "STORE").write_text('{"format":"lineage_fast.store/v99"}')
    with pytest.raises(lf.StoreError, match="unknown store format"):
        lf.Store(s)


# --- runs -----------------------------------------------------------------------------------


def test_record_run_inputs_outputs_artifacts(store: lf.Store, tmp_path: Path) -> None:
    raw = store.commit(_t(1, 2, 3), "raw")
    model = tmp_path / "model.bin"
    model.write_bytes(b"weights")
    config = tmp_path / "config.yaml"
    config.write_bytes(b"lr: 1")
    run = store.record_run(
        "train",
        inputs={"training": raw, "config": str(config)},
        outputs=[model],
        params={"lr": 0.001, "layers": [64, 32]},
        code=None,
    )
    assert run.status == "COMPLETE"
    assert run.job == "train"
    assert run.inputs[0] == {
        "version_id": raw.version_id,
        "manifest_id": raw.manifest_id,
        "dataset": {"namespace": "lineage_fast", "name": "raw"},
        "role": "training",
    }
    assert run.inputs[1]["artifact"]["digest"] == lf.file_digest(config)
    assert run.outputs[0]["artifact"] == {
        "digest": lf.file_digest(model),
        "size": 7,
        "uri": model.resolve().as_uri(),
    }
    assert run.params == {"lr": 0.001, "layers": [64, 32]}
    assert store.get_run(run.run_id) == run == store.get_run(run.run_id[:13])
    assert store.runs("train") == [run]
    assert store.runs() == [run]
    env = run.data["environment"]
    assert env["lineage_fast"] == lf.__version__
    assert env["python"]
    assert [n.kind for n in store.descendants(raw)] == ["run", "artifact"]
    assert store.ancestors(model)[0].kind == "run"
    with pytest.raises(lf.NotFoundError, match="neither"):
        store.record_run("j", inputs=["no-such-thing"], code=None)
    with pytest.raises(lf.InvalidArgumentError):
        store.record_run("j", inputs=[42], code=None)
    with pytest.raises(lf.NotFoundError):
        store.get_run("0" * 12)


def test_code_capture_in_a_git_repo(
    store: lf.Store, git_repo: Callable[[dict[str, str], str], Path]
) -> None:
    repo = git_repo(
        {"job.py": "print(1)\n", "uv.lock": "locked\n"},
        "https://user:secret@github.com/acme/pipes.git",
    )
    script, lock = repo / "job.py", repo / "uv.lock"
    clean = store.record_run("job", code=script)
    code = clean.code
    assert code is not None
    assert code["type"] == "git"
    assert code["dirty"] is False
    assert code["diff_digest"] is None
    assert code["path"] == "job.py"
    assert len(code["commit"]) == 40
    assert code["repo_url"] == "https://github.com/acme/pipes.git"  # credentials dropped
    assert code["digest"] == lf.file_digest(script)
    assert clean.data["environment"]["lockfile"] == {
        "path": "uv.lock",
        "digest": lf.file_digest(lock),
    }
    script.write_text("print(2)\n")
    dirty = store.record_run("job", code=script)
    assert dirty.code is not None
    assert dirty.code["dirty"] is True
    assert dirty.code["diff_digest"].startswith("blake3:")
    assert "secret" not in json.dumps(dirty.to_dict())


def test_run_context_manager_complete_and_fail(store: lf.Store, tmp_path: Path) -> None:
    raw = store.commit(_t(3, 1, 2), "raw")
    with store.run("sort", params={"key": "x"}, code=None) as run:
        run.input("raw")
        out = run.output(_t(1, 2, 3), name="sorted")
        run.params["extra"] = True
    assert run.record is not None
    assert run.record.status == "COMPLETE"
    assert run.record.params == {"key": "x", "extra": True}
    assert run.record.outputs[0]["version_id"] == out.version_id
    assert [n.label for n in store.ancestors(out)] == ["sort", "raw"]

    class Boom(Exception):
        pass

    bad = store.run("fails", code=None)

    def job() -> None:
        with bad:
            bad.input(raw)
            raise Boom("disk on fire")

    with pytest.raises(Boom):
        job()
    assert bad.record is not None
    assert bad.record.status == "FAIL"
    assert bad.record.data["error"] == {"type": "Boom", "message": "disk on fire"}
    assert store.get_run(bad.run_id).status == "FAIL"
    with (
        pytest.raises(lf.InvalidArgumentError, match="needs a name"),
        store.run("x", code=None) as r,
    ):
        r.output(_t(1))


# --- lineage queries ------------------------------------------------------------------------


def test_ancestors_and_descendants_are_transitive(store: lf.Store) -> None:
    a1 = store.commit(_t(1), "a")
    a2 = store.commit(_t(1, 2), "a")  # parent a1
    b = store.commit(_t(5), "b")
    c = store.commit(_t(6), "c")
    r1 = store.record_run("make_b", inputs=[a2], outputs=[b], code=None)
    r2 = store.record_run("make_c", inputs=[b, a1], outputs=[c], code=None)
    anc = store.ancestors(c)
    assert {(n.kind, n.id) for n in anc} == {
        ("run", r2.run_id),
        ("version", b.version_id),
        ("version", a1.version_id),
        ("run", r1.run_id),
        ("version", a2.version_id),
    }
    assert anc[0] == lf.LineageNode("run", r2.run_id, "make_c")  # nearest first
    desc = store.descendants(a1)
    assert {n.id for n in desc} == {a2.version_id, r1.run_id, b.version_id, r2.run_id, c.version_id}
    assert store.ancestors(a1) == []
    assert {n.id for n in store.descendants(r1)} == {b.version_id, r2.run_id, c.version_id}
    assert store.ancestors(r1.run_id)[0].id == a2.version_id
    assert store.ancestors("c") == anc


# --- integrity ------------------------------------------------------------------------------


def _object_path(store: lf.Store, digest: str) -> Path:
    return store.root / "objects" / "blake3" / digest[7:9] / digest[9:]


V1_MARKER = canonical_json({"format": "lineage_fast.store/v1"})


def _as_format_v1(root: Path) -> None:
    """Rewrite a (closed) store as lineage_fast wrote store format v1: every run record an object,
    runs.jsonl lines naming it by ``record_id`` only, a v1 ``STORE`` file and an index of schema
    1 (whose ``runs`` table had no log position)."""
    s = lf.Store(root)
    lines = []
    for line in (root / "runs.jsonl").read_bytes().splitlines():
        entry = json.loads(line)
        assert s._write_object(canonical_json(entry.pop("record"))) == entry["record_id"]
        lines.append(canonical_json(entry) + b"\n")
    s.close()
    (root / "runs.jsonl").write_bytes(b"".join(lines))
    (root / "STORE").write_bytes(V1_MARKER)
    db = sqlite3.connect(root / "index.sqlite")
    db.executescript(
        """
        DROP TABLE runs;
        CREATE TABLE runs(run_id TEXT PRIMARY KEY, record_id TEXT NOT NULL,
            namespace TEXT NOT NULL, job TEXT NOT NULL, status TEXT NOT NULL,
            started_at TEXT NOT NULL, ended_at TEXT NOT NULL, seq INTEGER NOT NULL);
        UPDATE meta SET value = 1 WHERE key = 'schema';
        """
    )
    db.close()


@pytest.mark.parametrize("which", ["manifest", "chunks", "run"])
@pytest.mark.parametrize("how", ["flip", "truncate", "delete", "append"])
def test_tampering_with_any_object_is_detected(tmp_path: Path, which: str, how: str) -> None:
    store = lf.Store(tmp_path / ".lineage")
    v = store.commit(_t(1, 2, 3), "t")
    run = store.record_run("j", outputs=[v], code=None)
    if which == "run":  # run records are objects in stores written by format v1 only
        store.close()
        _as_format_v1(store.root)
        store = lf.Store(store.root)
    target = {"manifest": v.manifest_id, "chunks": v.manifest.chunks_digest, "run": run.record_id}[
        which
    ]
    p = _object_path(store, target)
    raw = p.read_bytes()
    if how == "flip":
        i = len(raw) // 2
        p.write_bytes(raw[:i] + bytes([raw[i] ^ 1]) + raw[i + 1 :])
    elif how == "truncate":
        p.write_bytes(raw[:-5])
    elif how == "delete":
        p.unlink()
    else:
        p.write_bytes(raw + b" ")
    problems = store.fsck()
    assert problems
    assert any(target in pr.object or target in pr.message for pr in problems)
    fresh = lf.Store(store.root)
    read = {"manifest": fresh.get, "chunks": fresh.chunks, "run": fresh.get_run}[which]
    with pytest.raises(lf.IntegrityError) as e:
        read(run.run_id if which == "run" else "t")  # type: ignore[operator]
    assert e.value.object_id == target
    assert target in str(e.value)


def test_tampering_with_the_refs_log_is_detected(store: lf.Store) -> None:
    v1 = store.commit(_t(1), "t")
    store.commit(_t(2), "t")
    log = store.root / "refs.jsonl"
    lines = log.read_bytes().splitlines(keepends=True)
    # reorder history: prev pointers no longer chain
    log.write_bytes(lines[1] + lines[0])
    kinds = {p.kind for p in store.fsck()}
    assert "bad-ref" in kinds
    log.write_bytes(lines[0] + b'{"garbage":1}\n')
    assert "bad-log-line" in {p.kind for p in store.fsck()} or "bad-ref" in {
        p.kind for p in store.fsck()
    }
    assert v1


# --- run records inline in runs.jsonl -------------------------------------------------------


def _count_fsyncs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls = [0]
    real = os.fsync

    def counting(fd: int) -> None:
        calls[0] += 1
        real(fd)

    monkeypatch.setattr(os, "fsync", counting)
    return calls


def test_a_run_is_one_self_contained_log_line_and_one_fsync(
    store: lf.Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = store.commit(_t(1), "a")
    objects = sorted((store.root / "objects").rglob("*"))
    fsyncs = _count_fsyncs(monkeypatch)
    run = store.record_run("j", inputs=[a], params={"é": [1.5, None]}, code=None)
    assert fsyncs[0] == 1  # the log line: no object file, no directory
    assert sorted((store.root / "objects").rglob("*")) == objects
    assert not _object_path(store, run.record_id).exists()
    line = (store.root / "runs.jsonl").read_bytes()
    assert line.endswith(b"\n")
    assert line.count(b"\n") == 1
    entry = load_json(line[:-1])  # the whole line is canonical JSON
    assert sorted(entry) == ["at", "record", "record_id", "run_id"]
    assert canonical_json(entry["record"]) == run.to_json()
    assert entry["record_id"] == run.record_id == lf.bytes_digest(run.to_json())
    assert entry["run_id"] == run.run_id
    assert store.get_run(run.run_id) == run
    assert store.fsck() == []


def test_logs_exist_from_the_start_and_appends_never_sync_the_directory(tmp_path: Path) -> None:
    root = tmp_path / "s"
    lf.Store(root).close()
    assert (root / "refs.jsonl").read_bytes() == (root / "runs.jsonl").read_bytes() == b""
    (root / "runs.jsonl").unlink()  # removed by hand: recreated (and its directory synced)
    store = lf.Store(root)
    assert (root / "runs.jsonl").exists()
    (root / "runs.jsonl").unlink()
    run = store.record_run("j", code=None)
    assert store.get_run(run.run_id) == run
    assert store.fsck() == []


def test_a_run_logged_but_not_indexed_is_read_from_its_line(store: lf.Store) -> None:
    # A writer killed after the fsync of its runs.jsonl line, before its index transaction:
    # the run was durable, there is no object file, and the next operation indexes the line.
    a = store.commit(_t(1), "a")
    run = store.record_run("j", inputs=[a], code=None)
    db = sqlite3.connect(store.root / "index.sqlite")
    for table in ("runs", "run_io", "edges"):
        db.execute(f"DELETE FROM {table}")
    db.execute("UPDATE meta SET value = 0 WHERE key = 'runs_offset'")
    db.commit()
    db.close()
    fresh = lf.Store(store.root)
    assert fresh.get_run(run.run_id) == run
    assert fresh.runs() == [run]
    assert [n.kind for n in fresh.descendants(a)] == ["run"]
    assert fresh.fsck() == []


@pytest.mark.parametrize("how", ["edit", "record_id", "flip", "truncate", "delete"])
def test_tampering_with_an_inline_run_record_is_detected(store: lf.Store, how: str) -> None:
    v = store.commit(_t(1), "t")
    run = store.record_run("job-aaaa", inputs=[v], code=None)
    log = store.root / "runs.jsonl"
    line = log.read_bytes()
    if how == "edit":  # still canonical JSON, same length: only the digest tells
        bad = line.replace(b'"job-aaaa"', b'"job-bbbb"')
    elif how == "record_id":
        bad = line.replace(run.record_id.encode(), lf.bytes_digest(b"other").encode())
    elif how == "flip":
        i = line.index(b'"record":') + 40
        bad = line[:i] + bytes([line[i] ^ 1]) + line[i + 1 :]
    elif how == "truncate":
        bad = line[: len(line) // 2] + b"\n"
    else:
        bad = b""
    assert bad != line
    log.write_bytes(bad)
    problems = store.fsck()
    assert problems
    if how in ("edit", "record_id"):
        assert any(
            p.kind == "bad-run" and run.run_id in p.message and "hashes to" in p.message
            for p in problems
        ), problems
    fresh = lf.Store(store.root)
    with pytest.raises(lf.IntegrityError) as e:
        fresh.get_run(run.run_id)
    assert e.value.object_id == run.record_id
    assert run.run_id in str(e.value)
    with pytest.raises(lf.IntegrityError):
        fresh.runs()


def test_a_forged_inline_record_with_a_matching_digest_is_still_validated(
    store: lf.Store,
) -> None:
    run = store.record_run("j", code=None)
    log = store.root / "runs.jsonl"
    entry = json.loads(log.read_bytes())
    entry["record"]["status"] = "COMPLETX"  # same length: the line stays where the index says
    entry["record_id"] = lf.bytes_digest(canonical_json(entry["record"]))
    log.write_bytes(canonical_json(entry) + b"\n")
    problems = [p for p in store.fsck() if p.kind == "bad-run"]
    assert len(problems) == 1
    assert run.run_id in problems[0].message
    assert "status" in problems[0].message
    with pytest.raises(lf.InvalidObjectError, match="status"):
        lf.Store(store.root).get_run(run.run_id)


def test_a_run_line_with_another_key_is_still_read(store: lf.Store) -> None:
    # Readers slice the record out of lines shaped as they are written; any other canonical
    # line (a key added by a later version) is read by serialising its record again.
    run = store.record_run("j", code=None)
    log = store.root / "runs.jsonl"
    entry = json.loads(log.read_bytes())
    log.write_bytes(canonical_json({**entry, "zz": 1}) + b"\n")
    store.reindex()
    assert store.get_run(run.run_id) == run
    assert store.fsck() == []


def test_a_log_rewritten_under_the_index_is_refused_then_reindexed(store: lf.Store) -> None:
    r1 = store.record_run("j", code=None)
    r2 = store.record_run("j", code=None)
    log = store.root / "runs.jsonl"
    first, second = log.read_bytes().splitlines(keepends=True)
    assert len(first) == len(second)
    log.write_bytes(second + first)  # same size: nothing tells the index but the lines
    with pytest.raises(lf.IntegrityError, match="reindex"):
        store.get_run(r1.run_id)
    assert any(p.kind == "index" for p in store.fsck())
    store.reindex()
    assert store.runs() == [r2, r1]
    assert store.fsck() == []


def test_torn_run_line_is_invisible_and_repaired(store: lf.Store) -> None:
    r1 = store.record_run("j", code=None)
    line = (store.root / "runs.jsonl").read_bytes()
    with open(store.root / "runs.jsonl", "ab") as f:
        f.write(line[: len(line) // 2])  # a writer died mid-append: never acknowledged
    again = lf.Store(store.root)
    assert again.runs() == [r1]
    assert again.fsck() == []
    assert (store.root / "runs.jsonl").read_bytes() == line
    r2 = again.record_run("j", code=None)
    assert again.runs() == [r1, r2]
    assert again.fsck() == []


def test_a_format_v1_store_is_read_and_upgraded_by_its_first_new_run(tmp_path: Path) -> None:
    root = tmp_path / "s"
    s = lf.Store(root)
    a = s.commit(_t(1), "a")
    b = s.commit(_t(2), "b")
    old = s.record_run("old", inputs=[a], outputs=[b], code=None)
    s.close()
    _as_format_v1(root)
    s = lf.Store(root)  # rebuilds the schema-1 index; reading changes nothing on disk
    assert (root / "STORE").read_bytes() == V1_MARKER
    assert s.get_run(old.run_id) == old
    assert s.runs() == [old]
    assert [n.label for n in s.ancestors(b)] == ["old", "a"]
    assert s.fsck() == []
    new = s.record_run("new", inputs=[b], code=None)
    assert (root / "STORE").read_bytes() == canonical_json({"format": "lineage_fast.store/v2"})
    v1_line, v2_line = (json.loads(x) for x in (root / "runs.jsonl").read_bytes().splitlines())
    assert "record" not in v1_line
    assert "record" in v2_line
    assert s.runs() == [old, new]
    assert s.fsck() == []
    s.reindex()
    assert lf.Store(root).runs() == [old, new]
    # a v1 line whose object is gone is reported, naming the record
    _object_path(s, old.record_id).unlink()
    assert any(p.kind == "bad-run" and old.record_id in p.message for p in s.fsck())
    with pytest.raises(lf.IntegrityError) as e:
        s.get_run(old.run_id)
    assert e.value.object_id == old.record_id


def test_torn_log_tail_is_invisible_and_repaired(store: lf.Store) -> None:
    v = store.commit(_t(1), "t")
    with open(store.root / "refs.jsonl", "ab") as f:
        f.write(b'{"name":"t","manifest_id":"blake3:00')  # a writer died mid-line
    again = lf.Store(store.root)
    assert again.get("t") == v
    assert again.fsck() == []
    assert (store.root / "refs.jsonl").read_bytes().endswith(b"\n")
    again.commit(_t(2), "t")
    assert again.fsck() == []


def test_index_is_derived_and_rebuildable(store: lf.Store) -> None:
    a = store.commit(_t(1), "a")
    b = store.commit(_t(2), "b")
    store.record_run("j", inputs=[a], outputs=[b], code=None)
    before = store.ancestors(b)
    store.reindex()
    assert store.ancestors(b) == before
    assert store.fsck() == []
    store.close()
    for suffix in ("", "-wal", "-shm"):
        (store.root / f"index.sqlite{suffix}").unlink(missing_ok=True)
    fresh = lf.Store(store.root)
    assert fresh.ancestors(b) == before
    assert fresh.get("a") == a
    assert fresh.fsck() == []
    # an index that lost rows is reported, and reindex() fixes it
    db = sqlite3.connect(store.root / "index.sqlite")
    db.execute("DELETE FROM edges")
    db.commit()
    db.close()
    assert any(p.object == "index.sqlite:edges" for p in fresh.fsck())
    fresh.reindex()
    assert fresh.fsck() == []


def test_index_catches_up_with_log_lines_it_missed(store: lf.Store) -> None:
    # A writer that died after its log line but before its index transaction.
    v = store.commit(_t(1), "t")
    db = sqlite3.connect(store.root / "index.sqlite")
    db.execute("DELETE FROM refs")
    db.execute("DELETE FROM heads")
    db.execute("DELETE FROM versions")
    db.execute("UPDATE meta SET value = 0 WHERE key = 'refs_offset'")
    db.commit()
    db.close()
    fresh = lf.Store(store.root)
    assert fresh.get("t") == v
    assert fresh.fsck() == []


# --- concurrency and crashes ----------------------------------------------------------------

WORKER = textwrap.dedent(
    """
    import json, sys
    import pyarrow as pa
    import lineage_fast as lf

    root, worker, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    store = lf.Store(root)
    out = []
    for i in range(n):
        name = "shared" if i % 2 else f"w{worker}/t"
        v = store.commit(pa.table({"w": [worker], "i": [i]}), name)
        r = store.record_run(f"job{worker}", inputs=[v], params={"i": i}, code=None)
        out.append([v.manifest_id, r.run_id])
    print(json.dumps(out))
    """
)


def _run_writers(root: Path, tmp_path: Path, procs: int, each: int) -> None:
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    lf.Store(root).close()
    ps = [
        subprocess.Popen(
            [sys.executable, str(script), str(root), str(w), str(each)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for w in range(procs)
    ]
    results = []
    for p in ps:
        out, err = p.communicate(timeout=600)
        assert p.returncode == 0, err.decode()
        results.extend(json.loads(out))
    store = lf.Store(root)
    assert len(results) == procs * each
    manifests = {m for m, _ in results}
    runs = {r for _, r in results}
    assert len(manifests) == procs * each
    assert len(runs) == procs * each
    for m, r in results:
        assert store.get(m).manifest_id == m
        assert store.get_run(r).run_id == r
    db = store._db
    assert db.execute("SELECT COUNT(*) FROM versions").fetchone()[0] == procs * each
    assert db.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == procs * each
    # the shared name's history is one linear chain
    shared = store.log("shared")
    assert len(shared) == procs * (each // 2)
    for newer, older in itertools.pairwise(shared):
        assert newer.prev == older.manifest_id
    assert store.fsck() == []


def test_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    _run_writers(tmp_path / "s", tmp_path, procs=4, each=10)


@pytest.mark.slow
def test_concurrent_writers_lose_nothing_8x50(tmp_path: Path) -> None:
    _run_writers(tmp_path / "s", tmp_path, procs=8, each=50)


KILLED = textwrap.dedent(
    """
    import os, sys
    import pyarrow as pa
    import lineage_fast as lf

    store = lf.Store(sys.argv[1])
    marks = os.open(sys.argv[2], os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    lf.hash_table(pa.table({"i": [0]}))  # warm up the core, so kills land during commits
    print("ready", flush=True)
    i = 0
    while True:
        v = store.commit(pa.table({"i": [i], "s": [str(i) * 50]}), f"t{i % 3}",
                         metadata={"i": i})
        if i % 2:
            os.write(marks, b"run\\n")  # a kill from here to "ok" lands in record_run
            r = store.record_run("job", inputs=[v], params={"i": i}, code=None)
            os.write(marks, b"ok " + r.run_id.encode() + b"\\n")  # acknowledged
        i += 1
    """
)


def _kill_loop(tmp_path: Path, iterations: int) -> int:
    """Kill a writer of commits and runs ``iterations`` times at random moments; after each kill
    the store must pass fsck and hold everything acknowledged. Returns how many kills landed
    inside ``record_run``."""
    root = tmp_path / "s"
    script = tmp_path / "killed.py"
    script.write_text(KILLED)
    rng = random.Random(4)
    lf.Store(root).close()
    committed = 0
    in_record_run = 0
    acknowledged: set[str] = set()
    for it in range(iterations):
        marks = tmp_path / f"marks-{it}"
        p = subprocess.Popen(
            [sys.executable, str(script), str(root), str(marks)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert p.stdout is not None
        assert p.stdout.readline() == b"ready\n"
        time.sleep(rng.uniform(0.0, 0.4))
        p.send_signal(signal.SIGKILL)
        p.communicate()
        lines = marks.read_text().splitlines() if marks.exists() else []
        in_record_run += bool(lines) and lines[-1] == "run"
        acknowledged.update(line[3:] for line in lines if line.startswith("ok "))
        s = lf.Store(root)
        problems = s.fsck()
        assert problems == [], f"iteration {it}: {problems}"
        n = s._db.execute("SELECT COUNT(*) FROM refs").fetchone()[0]
        assert n >= committed  # nothing acknowledged is ever lost
        committed = n
        for name in s.names():
            s.get(name)
        assert {r.run_id for r in s.runs()} >= acknowledged, f"iteration {it}: a run was lost"
        s.close()
    assert committed > 0
    assert acknowledged
    return in_record_run


def test_kill_9_during_commits_and_runs_leaves_a_clean_store(tmp_path: Path) -> None:
    _kill_loop(tmp_path, iterations=6)


@pytest.mark.slow
def test_kill_9_during_commits_and_runs_leaves_a_clean_store_100(tmp_path: Path) -> None:
    # About 1 kill in 10 lands in record_run (9 of 100 when measured): at least one must.
    assert _kill_loop(tmp_path, iterations=100) >= 1


def test_threads_share_one_store(store: lf.Store) -> None:
    import threading

    errors: list[BaseException] = []

    def work(k: int) -> None:
        try:
            for i in range(10):
                v = store.commit(_t(k, i), f"th{k % 2}")
                store.record_run("j", inputs=[v], code=None)
                store.ancestors(v)
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(store.log("th0")) == len(store.log("th1")) == 20
    assert len(store.runs()) == 40
    assert store.fsck() == []


def test_batch_keeps_what_returned_even_if_the_block_fails(store: lf.Store) -> None:
    class Stop(Exception):
        pass

    def fill() -> None:
        with store.batch():
            store.commit(_t(1), "a")
            store.commit(_t(2), "b")
            raise Stop

    with pytest.raises(Stop):
        fill()
    assert store.names() == ["a", "b"]  # the logs are the truth; the index caught up
    assert store.fsck() == []


def test_missing_tmp_dir_is_recreated(store: lf.Store) -> None:
    (store.root / "tmp").rmdir()
    v = store.commit(_t(1), "t")
    assert store.get("t") == v


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(value=json_values)
def test_stored_objects_with_arbitrary_json_are_reported(store: lf.Store, value: object) -> None:
    raw = canonical_json(value)
    digest = store._write_object(raw)  # a well-named object with arbitrary content
    with pytest.raises(lf.InvalidObjectError) as e:
        store._load_manifest(digest)
    assert e.value.object_id == digest
    kinds = {p.kind for p in store.fsck() if p.object == digest}
    assert kinds & {"invalid-object", "unknown-object"}
    store._object_path(digest).unlink()
