"""The ``lineage-fast`` command line: every command, exit codes (0 ok, 1 difference or failed
check, 2 usage or input error) and one-line errors, each through a subprocess (``python -m
lineage_fast``), plus the installed ``lineage-fast`` entry point."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import lineage_fast as lf
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from lineage_fast.cli import main


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A store and two Parquet versions of a table in tmp_path; cwd is tmp_path."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LINEAGE_FAST_STORE", str(tmp_path / "store"))
    old = pa.table({"id": list(range(1000)), "x": [float(i) for i in range(1000)]})
    new = old.set_column(1, "x", pa.array([float(i) + (i == 500) for i in range(1000)]))
    pq.write_table(old, tmp_path / "old.parquet")
    pq.write_table(new, tmp_path / "new.parquet")
    return tmp_path


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Run ``lineage-fast ARGS`` in a subprocess (``python -m lineage_fast``): exit code, stdout,
    stderr. (``capsys`` is kept so that in-process calls of ``main`` stay quiet.)"""
    p = subprocess.run(
        [sys.executable, "-m", "lineage_fast", *args], capture_output=True, text=True, check=False
    )
    return p.returncode, p.stdout, p.stderr


def test_hash_json_gives_the_root_of_the_rows(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(["-q", "hash", "old.parquet", "--json"], capsys)
    assert code == 0
    d = json.loads(out)
    assert d["root"] == lf.hash_table(pq.read_table(env / "old.parquet")).root
    assert d["num_rows"] == 1000
    code, out, _ = run(["-q", "hash", "old.parquet"], capsys)
    assert out.strip() == d["root"]


def test_hash_errors_are_one_line_with_exit_2(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _out, err = run(["hash", "missing.parquet"], capsys)
    assert code == 2
    assert err.count("\n") == 1
    assert "missing.parquet" in err
    assert "Traceback" not in err
    (env / "bad.parquet").write_bytes(b"PAR1 this is not parquet")
    code, _, err = run(["hash", "bad.parquet"], capsys)
    assert code == 2
    assert "bad.parquet" in err
    assert err.count("\n") == 1


def test_diff_exit_codes_and_outputs(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["diff", "old.parquet", "old.parquet", "--key", "id"], capsys)
    assert code == 0
    assert re.search(r"changed +0\n", out)
    code, out, _ = run(["diff", "old.parquet", "new.parquet", "--key", "id"], capsys)
    assert code == 1
    assert "id=500: x 500.0 → 501.0" in out
    code, out, _ = run(["diff", "old.parquet", "new.parquet", "-k", "id", "--json"], capsys)
    s = json.loads(out)["summary"]
    assert code == 1
    assert s["changed-records"] == 1
    assert s["unchanged-records"] == 999
    code, _, _ = run(
        ["diff", "old.parquet", "new.parquet", "-k", "id", "--output", "d.parquet"], capsys
    )
    rows = pq.read_table(env / "d.parquet").to_pylist()
    assert code == 1
    assert len(rows) == 1
    assert rows[0]["_change"] == "changed"
    code, _, err = run(["diff", "old.parquet", "new.parquet", "--key", "nope"], capsys)
    assert code == 2
    assert "nope" in err
    assert err.count("\n") == 1


def test_commit_log_show_verify(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["-q", "commit", "old.parquet", "--name", "events", "--json"], capsys)
    assert code == 0
    v1 = json.loads(out)
    code, out, _ = run(["-q", "commit", "new.parquet", "--name", "events", "--meta", "n=2"], capsys)
    assert code == 0
    assert out.startswith("events blake3:")
    code, out, _ = run(["log", "events", "--json"], capsys)
    log = json.loads(out)
    assert [e["reason"] for e in log] == ["commit", "commit"]
    assert log[1]["version_id"] == v1["version_id"]
    prefix = v1["manifest_id"].removeprefix("blake3:")[:12]
    code, out, _ = run(["show", prefix], capsys)
    manifest = json.loads(out)
    assert code == 0
    assert manifest["version_id"] == v1["version_id"]
    (source,) = manifest["files"]  # the Parquet file, digested while it was hashed
    assert source["digest"] == lf.file_digest(env / "old.parquet")
    assert source["uri"].endswith("/old.parquet")
    assert run(["-q", "verify", "events", "new.parquet"], capsys)[0] == 0
    code, _, err = run(["-q", "verify", "events", "old.parquet"], capsys)
    assert code == 1
    assert "MISMATCH" in err
    code, _, err = run(["show", "0123456789ab"], capsys)
    assert code == 2
    assert err.count("\n") == 1


def test_run_records_lineage_and_exports(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["-q", "commit", "old.parquet", "--name", "events"], capsys)[0] == 0
    script = "import pathlib; pathlib.Path('model.bin').write_bytes(b'weights')"
    code, _, err = run(
        [
            "-q", "run", "--job", "train", "--input", "events", "--output", "model.bin",
            "--param", "lr=0.01", "--", sys.executable, "-c", script,
        ],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    code, out, _ = run(["lineage", "events", "--down"], capsys)
    assert code == 0
    assert "train" in out
    assert "flowchart" in out
    code, out, _ = run(["lineage", "events", "--format", "dot"], capsys)
    assert code == 0
    assert out.startswith("digraph")
    code, out, _ = run(["export-openlineage", "--no-append"], capsys)
    events = [json.loads(line) for line in out.splitlines()]
    assert code == 0
    assert [e["eventType"] for e in events] == ["START", "COMPLETE"]
    assert events[1]["job"]["name"] == "train"
    code, _, err = run(
        ["-q", "run", "--job", "fails", "--", sys.executable, "-c", "raise SystemExit(3)"], capsys
    )
    assert code == 1
    assert "FAIL" in err
    assert run(["fsck"], capsys)[0] == 0


def test_usage_errors_exit_2(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2  # in-process too: main returns the code, it never exits
    assert run([], capsys)[0] == 2
    assert run(["diff", "old.parquet"], capsys)[0] == 2
    assert run(["run", "--input", "events"], capsys)[0] == 2
    assert run(["--version"], capsys)[0] == 0


def test_installed_entry_point(env: Path) -> None:
    exe = shutil.which("lineage-fast", path=str(Path(sys.executable).parent))
    assert exe, "the lineage-fast entry point is installed next to the interpreter"
    p = subprocess.run([exe, "-q", "hash", "old.parquet", "--json"], capture_output=True, text=True)
    assert p.returncode == 0
    assert json.loads(p.stdout)["num_rows"] == 1000
    p = subprocess.run([exe, "hash", "nope.parquet"], capture_output=True, text=True)
    assert p.returncode == 2
    assert p.stderr.startswith("lineage-fast: error:")
    assert "Traceback" not in p.stderr
    p = subprocess.run([exe, "--debug", "hash", "nope.parquet"], capture_output=True, text=True)
    assert p.returncode != 0
    assert "Traceback" in p.stderr
