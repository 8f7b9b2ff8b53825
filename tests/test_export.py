"""Exports: OpenLineage events (validated against the vendored 2-0-2 schemas), PROV-JSON,
Mermaid and Graphviz."""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import jsonschema
import lineage_fast as lf
import pyarrow as pa
import pytest
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SCHEMAS = Path(__file__).parent / "schemas" / "openlineage"
CORE = "https://openlineage.io/spec/2-0-2/OpenLineage.json"


def _registry() -> tuple[Registry, dict[str, Any]]:
    core = json.loads((SCHEMAS / "OpenLineage-2-0-2.json").read_text())
    res = Resource.from_contents(core, default_specification=DRAFT202012)
    # Older facet schemas $ref the base facets of core 1-0-1/1-0-2; those definitions
    # (BaseFacet, DatasetFacet, RunFacet, JobFacet...) are unchanged in 2-0-2.
    pairs = [(CORE, res)] + [
        (f"https://openlineage.io/spec/{v}/OpenLineage.json", res) for v in ("1-0-1", "1-0-2")
    ]
    for f in sorted((SCHEMAS / "facets").glob("*.json")):
        doc = json.loads(f.read_text())
        pairs.append((doc["$id"], Resource.from_contents(doc, default_specification=DRAFT202012)))
    return Registry().with_resources(pairs), core


REGISTRY, CORE_SCHEMA = _registry()


def _validate_event(event: dict[str, Any]) -> None:
    fc = jsonschema.Draft202012Validator.FORMAT_CHECKER
    jsonschema.Draft202012Validator(CORE_SCHEMA, registry=REGISTRY, format_checker=fc).validate(
        event
    )
    datetime.strptime(event["eventTime"], "%Y-%m-%dT%H:%M:%S.%fZ")
    facets: list[dict[str, Any]] = [
        *event["run"].get("facets", {}).values(),
        *event["job"].get("facets", {}).values(),
    ]
    for ds in (*event.get("inputs", []), *event.get("outputs", [])):
        for key in ("facets", "inputFacets", "outputFacets"):
            facets.extend(ds.get(key, {}).values())
    checked = 0
    for facet in facets:
        url = facet["_schemaURL"]
        if url.startswith(lf.lineage.PRODUCER) or "ParentRunFacet" in url:
            assert facet["_producer"] == lf.lineage.PRODUCER  # custom facet: base fields only
            continue
        jsonschema.Draft202012Validator(
            {"$ref": url}, registry=REGISTRY, format_checker=fc
        ).validate(facet)
        checked += 1
    assert checked > 0


@pytest.fixture
def store(tmp_path: Path) -> lf.Store:
    return lf.Store(tmp_path / ".lineage")


@pytest.fixture
def git_script(git_repo: Callable[[dict[str, str], str], Path]) -> Path:
    """A committed script in a git repository with a remote."""
    return git_repo({"train.py": "pass\n"}, "git@github.com:acme/pipes.git") / "train.py"


def test_openlineage_events_are_valid_and_complete(
    store: lf.Store, tmp_path: Path, git_script: Path
) -> None:
    raw = store.commit(pa.table({"x": [1, None, 3]}), "raw", namespace="file")
    out = store.commit(pa.table({"x": [1, 3]}), "clean")
    model = tmp_path / "model.bin"
    model.write_bytes(b"w")
    run = store.record_run(
        "train",
        inputs=[raw],
        outputs=[out, model],
        params={"lr": 0.01, "name": "x", "layers": [2, 3]},
        code=git_script,
    )
    start, end = store.export_openlineage(run)
    for e in (start, end):
        _validate_event(e)
        assert e["run"]["runId"] == run.run_id
        assert e["schemaURL"].startswith(CORE)
    assert (start["eventType"], end["eventType"]) == ("START", "COMPLETE")
    assert (start["eventTime"], end["eventTime"]) == (run.started_at, run.ended_at)
    (inp,) = end["inputs"]
    assert (inp["namespace"], inp["name"]) == ("file", "raw")
    assert inp["facets"]["version"]["datasetVersion"] == raw.version_id
    assert inp["facets"]["schema"]["fields"] == [{"name": "x", "type": "int64"}]
    dq = inp["inputFacets"]["dataQualityMetrics"]
    assert dq["rowCount"] == 3
    assert dq["columnMetrics"] == {"x": {"nullCount": 1}}
    assert inp["facets"]["lineageFast_manifest"]["manifestId"] == raw.manifest_id
    o, art = end["outputs"]
    assert o["facets"]["version"]["datasetVersion"] == out.version_id
    assert o["outputFacets"]["outputStatistics"]["rowCount"] == 2
    assert art["facets"]["version"]["datasetVersion"] == lf.file_digest(model)
    assert art["name"] == str(model.resolve())
    sc = end["job"]["facets"]["sourceCodeLocation"]
    assert sc["type"] == "git"
    assert sc["version"] == run.code["commit"]
    assert sc["url"].startswith("https://github.com/acme/pipes/blob/")
    params = end["run"]["facets"]["executionParameters"]["parameters"]
    assert params == [
        {"key": "layers", "value": "[2,3]"},
        {"key": "lr", "value": "0.01"},
        {"key": "name", "value": "x"},
    ]
    assert end["run"]["facets"]["lineageFast_run"]["recordId"] == run.record_id
    # also appended to events/openlineage.jsonl, one event per line
    lines = (store.root / "events" / "openlineage.jsonl").read_text().splitlines()
    assert [json.loads(x) for x in lines] == [start, end]


def test_failed_run_gives_a_fail_event_with_the_error(store: lf.Store) -> None:
    v = store.commit(pa.table({"x": [1]}), "t")
    run = store.run("bad", code=None)

    def job() -> None:
        with run:
            run.input(v)
            raise RuntimeError("out of memory")

    with pytest.raises(RuntimeError, match="out of memory"):
        job()
    assert run.record is not None
    start, end = store.export_openlineage(run.record, append=False)
    _validate_event(start)
    _validate_event(end)
    assert end["eventType"] == "FAIL"
    assert end["run"]["facets"]["errorMessage"]["message"] == "RuntimeError: out of memory"
    assert not (store.root / "events" / "openlineage.jsonl").exists()


def test_the_validator_rejects_invalid_events(store: lf.Store) -> None:
    v = store.commit(pa.table({"x": [1]}), "t")
    (_, end) = store.export_openlineage(store.record_run("j", outputs=[v], code=None))
    for breaks in (
        lambda e: e.pop("producer"),
        lambda e: e["run"].update(runId="not-a-uuid"),
        lambda e: e["outputs"][0]["facets"]["version"].pop("datasetVersion"),
        lambda e: e["outputs"][0]["facets"]["version"].pop("_producer"),
        lambda e: e.update(eventType="DONE"),
    ):
        bad = copy.deepcopy(end)
        breaks(bad)
        with pytest.raises(jsonschema.ValidationError):
            _validate_event(bad)


def test_parent_run_facet(store: lf.Store) -> None:
    parent = store.record_run("dag", code=None)
    child = store.record_run("task", code=None, parent_run_id=parent.run_id)
    _, end = store.export_openlineage(child, append=False)
    _validate_event(end)
    assert end["run"]["facets"]["parent"]["run"] == {"runId": parent.run_id}
    assert end["run"]["facets"]["parent"]["job"]["name"] == "dag"


def _lineage(store: lf.Store) -> tuple[lf.Version, lf.Version, lf.Version, lf.Run]:
    a1 = store.commit(pa.table({"x": [1]}), "a")
    a2 = store.commit(pa.table({"x": [1, 2]}), "a")
    b = store.commit(pa.table({"y": [5]}), 'b "quoted"')
    run = store.record_run("make_b", inputs=[a2], outputs=[b], code=None)
    return a1, a2, b, run


def test_prov_json(store: lf.Store) -> None:
    a1, a2, b, run = _lineage(store)
    doc = store.export_prov()
    ents, acts = doc["entity"], doc["activity"]
    assert set(ents) == {"b3:" + v.version_id[7:] for v in (a1, a2, b)}
    assert set(acts) == {"run:" + run.run_id}
    assert acts["run:" + run.run_id]["prov:startTime"] == run.started_at
    assert doc["prefix"]["run"] == "urn:uuid:"
    for rel in doc["used"].values():
        assert rel["prov:activity"] in acts
        assert rel["prov:entity"] in ents
    for rel in doc["wasGeneratedBy"].values():
        assert rel["prov:activity"] in acts
        assert rel["prov:entity"] in ents
    derived = list(doc["wasDerivedFrom"].values())
    revision = [d for d in derived if d.get("prov:type", {}).get("$") == "prov:Revision"]
    assert [(d["prov:generatedEntity"], d["prov:usedEntity"]) for d in revision] == [
        ("b3:" + a2.version_id[7:], "b3:" + a1.version_id[7:])
    ]
    through_run = [d for d in derived if "prov:activity" in d]
    assert [(d["prov:generatedEntity"], d["prov:usedEntity"]) for d in through_run] == [
        ("b3:" + b.version_id[7:], "b3:" + a2.version_id[7:])
    ]
    # restricted to one node's lineage
    assert set(store.export_prov(a1)["entity"]) == set(ents)
    json.dumps(doc)


def test_mermaid_and_dot(store: lf.Store, tmp_path: Path) -> None:
    _a1, a2, b, run = _lineage(store)
    mm = store.to_mermaid()
    assert mm.startswith("flowchart LR")
    assert mm.count(" -.-> ") == 1
    assert mm.count(" --> ") == 2
    assert "#quot;" in mm
    assert '"quoted"' not in mm
    dot = store.to_dot(b)
    assert dot.startswith("digraph lineage {")
    assert dot.endswith("}")
    assert f'"{a2.version_id}" -> "run:{run.run_id}";' in dot
    assert f'"run:{run.run_id}" -> "{b.version_id}";' in dot
    assert '\\"quoted\\"' in dot


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz (dot) is not installed")
@pytest.mark.parametrize("suffix", [".svg", ".png"])
def test_render_with_graphviz(store: lf.Store, tmp_path: Path, suffix: str) -> None:
    _lineage(store)
    out = store.render_graph(tmp_path / f"lineage{suffix}")
    data = out.read_bytes()
    assert data.startswith(b"\x89PNG") if suffix == ".png" else b"<svg" in data


def test_render_errors(store: lf.Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(lf.InvalidArgumentError, match="svg"):
        store.render_graph(tmp_path / "x.gif")
    monkeypatch.setattr(shutil, "which", lambda _: None)
    with pytest.raises(FileNotFoundError, match="Graphviz"):
        store.render_graph(tmp_path / "x.svg")


def test_prov_associates_runs_with_their_code(store: lf.Store, git_script: Path) -> None:
    script = git_script
    a = store.commit(pa.table({"x": [1]}), "a")
    run = store.record_run("train", inputs=[a], code=script)
    doc = store.export_prov(a)
    (assoc,) = doc["wasAssociatedWith"].values()
    assert assoc["prov:activity"] == "run:" + run.run_id
    assert assoc["prov:agent"] in doc["agent"]
    plan = doc["entity"][assoc["prov:plan"]]
    assert plan["prov:type"]["$"] == "prov:Plan"
    assert assoc["prov:plan"] == f"lf:git-{run.code['commit']}"  # type: ignore[index]
    assert plan["lf:path"] == "train.py"
