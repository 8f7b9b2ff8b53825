"""Golden vectors of hash scheme 1: the format never changes silently (docs/hash-spec.md §12)."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import lineage_fast as lf
import pytest

sys.path.insert(0, str(Path(__file__).parent / "vectors"))
import generate

COMMITTED: dict[str, Any] = json.loads(generate.VECTORS.read_text(encoding="utf-8"))
CASES = {c.name: c for c in generate.cases()}
RECORDS = {r["name"]: r for r in COMMITTED["cases"]}


def test_there_are_enough_cases() -> None:
    assert len(RECORDS) >= 40
    assert set(RECORDS) == set(CASES)


def test_vectors_file_is_pinned() -> None:
    """scheme1.json.sha256 pins the vectors: scheme 1 is released, so the file is immutable.

    A failing pin means the vectors were rewritten: only legitimate with a new scheme number.
    """
    digest = hashlib.sha256(generate.VECTORS.read_bytes()).hexdigest()
    pin = (Path(__file__).parent / "vectors" / "scheme1.json.sha256").read_text().split()[0]
    assert digest == pin, "tests/vectors/scheme1.json changed: scheme 1 vectors are immutable"


@pytest.mark.parametrize("name", sorted(CASES))
def test_regenerated_case_matches(name: str) -> None:
    """Rebuild the case from code, hash it, and compare every field with the committed vector."""
    assert generate.compute(CASES[name]) == RECORDS[name]


@pytest.mark.parametrize("name", sorted(n for n, r in RECORDS.items() if r["input"]))
def test_committed_input_hashes_to_vector(name: str) -> None:
    """The committed Arrow IPC input (read, never rewritten) hashes to the committed vector."""
    table = generate.read_input(name)
    assert generate.compute(CASES[name], table) == RECORDS[name]


@pytest.mark.parametrize("name", sorted(CASES))
def test_single_thread_matches(name: str) -> None:
    case = CASES[name]
    h = lf.hash_table(case.build(), row_order=case.row_order, threads=1)  # type: ignore[arg-type]
    assert h.root == RECORDS[name]["root"]


def test_declared_equalities_and_differences() -> None:
    for rec in RECORDS.values():
        for other in rec["equal_to"]:
            assert RECORDS[other]["root"] == rec["root"], (rec["name"], other)
        for other in rec["differs_from"]:
            assert RECORDS[other]["root"] != rec["root"], (rec["name"], other)


def test_roots_are_well_formed() -> None:
    for rec in RECORDS.values():
        assert rec["root"].startswith("blake3:")
        assert len(rec["root"]) == 71
        assert int(rec["root"][7:], 16) >= 0
        assert sum(c[2] for c in rec["chunks"]) == rec["num_rows"]
