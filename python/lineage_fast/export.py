"""Exports of the lineage: OpenLineage 2-0-2 events, W3C PROV-JSON, Mermaid and Graphviz DOT.

OpenLineage mapping (see ``docs/store-format.md``): the version id goes in the standard
``version`` dataset facet, the Arrow schema in ``schema``, statistics in ``dataQualityMetrics``
(inputs) and ``outputStatistics`` (outputs), git in the ``sourceCodeLocation`` job facet,
parameters in ``executionParameters``; everything else in the custom facets
``lineageFast_manifest`` (datasets) and ``lineageFast_run`` (runs).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

from lineage_fast._core import __version__
from lineage_fast.exceptions import InvalidArgumentError, NotFoundError
from lineage_fast.lineage import PRODUCER, Run
from lineage_fast.manifest import canonical_json

if TYPE_CHECKING:
    from lineage_fast.store import LineageNode, Store

__all__ = ["dot", "mermaid", "openlineage_events", "prov_document", "render_dot"]

OL_SCHEMA_URL = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
_FACETS = {
    "version": "https://openlineage.io/spec/facets/1-0-0/DatasetVersionDatasetFacet.json"
    "#/$defs/DatasetVersionDatasetFacet",
    "schema": "https://openlineage.io/spec/facets/1-0-0/SchemaDatasetFacet.json"
    "#/$defs/SchemaDatasetFacet",
    "dataQualityMetrics": "https://openlineage.io/spec/facets/1-0-2/"
    "DataQualityMetricsInputDatasetFacet.json#/$defs/DataQualityMetricsInputDatasetFacet",
    "outputStatistics": "https://openlineage.io/spec/1-0-1/OutputStatisticsOutputDatasetFacet.json"
    "#/$defs/OutputStatisticsOutputDatasetFacet",
    "sourceCodeLocation": "https://openlineage.io/spec/1-0-1/SourceCodeLocationJobFacet.json"
    "#/$defs/SourceCodeLocationJobFacet",
    "jobType": "https://openlineage.io/spec/facets/2-0-4/JobTypeJobFacet.json"
    "#/$defs/JobTypeJobFacet",
    "executionParameters": "https://openlineage.io/spec/facets/1-0-0/"
    "ExecutionParametersRunFacet.json#/$defs/ExecutionParametersRunFacet",
    "errorMessage": "https://openlineage.io/spec/facets/1-0-0/ErrorMessageRunFacet.json"
    "#/$defs/ErrorMessageRunFacet",
    # lineage_fast's own facets (OpenLineage custom facets: prefix "lineageFast").
    "lineageFast_manifest": f"{PRODUCER}#/$defs/LineageFastManifestDatasetFacet",
    "lineageFast_run": f"{PRODUCER}#/$defs/LineageFastRunRunFacet",
}


def _facet(key: str, **fields: Any) -> dict[str, Any]:
    return {"_producer": PRODUCER, "_schemaURL": _FACETS[key], **fields}


def _param_value(v: Any) -> str:
    return v if isinstance(v, str) else canonical_json(v).decode("utf-8")


def _source_code(code: dict[str, Any]) -> dict[str, Any] | None:
    if code.get("type") != "git":
        return None
    repo = code.get("repo_url")
    path = str(code.get("path", ""))
    commit = str(code["commit"])
    m = re.match(r"^(?:https://|git@)(github\.com|gitlab\.com)[/:](.+?)(?:\.git)?/?$", repo or "")
    if m:
        url = f"https://{m.group(1)}/{m.group(2)}/blob/{commit}/{path}"
    else:
        url = (Path(str(code.get("repo_root", "/"))) / path).as_uri()
    fields: dict[str, Any] = {"type": "git", "url": url, "path": path, "version": commit}
    if repo:
        fields["repoUrl"] = repo
    if code.get("branch"):
        fields["branch"] = code["branch"]
    return _facet("sourceCodeLocation", **fields)


def _dataset(store: Store, item: dict[str, Any], *, output: bool) -> dict[str, Any]:
    art = item.get("artifact")
    if art is not None:
        uri = urlparse(art["uri"])
        return {
            "namespace": "file",
            "name": unquote(uri.path),
            "facets": {"version": _facet("version", datasetVersion=art["digest"])},
        }
    mid = item.get("manifest_id")
    if mid is None:  # a TableHash that was never committed
        return {
            "namespace": "lineage_fast",
            "name": item["version_id"],
            "facets": {"version": _facet("version", datasetVersion=item["version_id"])},
        }
    m = store._load_manifest(mid)
    d = m.data
    stats = d["stats"]
    ds: dict[str, Any] = {
        "namespace": m.namespace,
        "name": m.name,
        "facets": {
            "version": _facet("version", datasetVersion=m.version_id),
            "schema": _facet(
                "schema",
                fields=[{"name": f["name"], "type": f["type"]} for f in d["schema"]["fields"]],
            ),
            "lineageFast_manifest": _facet(
                "lineageFast_manifest",
                manifestId=mid,
                parent=m.parent,
                hashScheme=d["hash_scheme"],
                schemaDigest=d["schema"]["digest"],
                chunks=d["chunks"],
            ),
        },
    }
    if output:
        out_stats: dict[str, Any] = {"rowCount": stats["total-records"]}
        if "total-bytes" in stats:
            out_stats["size"] = stats["total-bytes"]
        ds["outputFacets"] = {"outputStatistics": _facet("outputStatistics", **out_stats)}
    else:
        metrics: dict[str, Any] = {
            "rowCount": stats["total-records"],
            "columnMetrics": {
                name: {"nullCount": c["null_count"]}
                for name, c in stats.get("columns", {}).items()
                if "null_count" in c
            },
        }
        if "total-bytes" in stats:
            metrics["bytes"] = stats["total-bytes"]
        ds["inputFacets"] = {"dataQualityMetrics": _facet("dataQualityMetrics", **metrics)}
    return ds


def openlineage_events(store: Store, run: Run) -> list[dict[str, Any]]:
    """The OpenLineage 2-0-2 ``RunEvent``s of a run: ``START`` at its start time, then
    ``COMPLETE``, ``FAIL`` or ``ABORT`` at its end, with the same ``runId``.

    Example:
        >>> import tempfile, pyarrow as pa, lineage_fast as lf
        >>> from lineage_fast.export import openlineage_events
        >>> store = lf.Store(tempfile.mkdtemp())
        >>> v = store.commit(pa.table({"x": [1]}), "t")
        >>> run = store.record_run("job", outputs=[v], code=None)
        >>> [e["eventType"] for e in openlineage_events(store, run)]
        ['START', 'COMPLETE']
    """
    rec = run.data
    run_facets: dict[str, Any] = {
        "lineageFast_run": _facet(
            "lineageFast_run",
            recordId=run.record_id,
            status=run.status,
            paramsDigest=rec["config"]["digest"],
            environment=rec["environment"],
            code=rec["code"],
        )
    }
    if run.params:
        run_facets["executionParameters"] = _facet(
            "executionParameters",
            parameters=[
                {"key": k, "value": _param_value(v)} for k, v in sorted(run.params.items())
            ],
        )
    job_facets: dict[str, Any] = {
        "jobType": _facet(
            "jobType", processingType="BATCH", integration="LINEAGE_FAST", jobType="TASK"
        )
    }
    if rec["code"]:
        sc = _source_code(rec["code"])
        if sc is not None:
            job_facets["sourceCodeLocation"] = sc
    parent = rec.get("parent_run_id")
    if parent:
        try:
            p = store.get_run(parent)
            run_facets["parent"] = {
                "_producer": PRODUCER,
                "_schemaURL": "https://openlineage.io/spec/facets/1-0-1/ParentRunFacet.json"
                "#/$defs/ParentRunFacet",
                "run": {"runId": p.run_id},
                "job": {"namespace": p.namespace, "name": p.job},
            }
        except NotFoundError:
            pass
    inputs = [_dataset(store, i, output=False) for i in run.inputs]
    outputs = [_dataset(store, o, output=True) for o in run.outputs]
    job = {"namespace": run.namespace, "name": run.job, "facets": job_facets}

    def event(kind: str, time: str, facets: dict[str, Any]) -> dict[str, Any]:
        return {
            "eventType": kind,
            "eventTime": time,
            "producer": PRODUCER,
            "schemaURL": OL_SCHEMA_URL,
            "run": {"runId": run.run_id, "facets": facets},
            "job": job,
            "inputs": inputs,
            "outputs": outputs if kind != "START" else [],
        }

    end_facets = dict(run_facets)
    if rec.get("error"):
        end_facets["errorMessage"] = _facet(
            "errorMessage",
            message=f"{rec['error']['type']}: {rec['error']['message']}",
            programmingLanguage="PYTHON",
        )
    return [
        event("START", run.started_at, run_facets),
        event(run.status, run.ended_at, end_facets),
    ]


def _b3(node: str) -> str:
    return "b3:" + node[7:] if node.startswith("blake3:") else node


def prov_document(store: Store, x: Any = None) -> dict[str, Any]:
    """A W3C PROV-JSON document: versions and artifacts are entities, runs are activities
    (``urn:uuid:<run_id>``), with ``used``, ``wasGeneratedBy``, ``wasDerivedFrom`` (parent
    versions, ``prov:Revision``; outputs from inputs through their run) and, for runs whose code
    was captured, ``wasAssociatedWith`` the ``lineage_fast`` software agent with the code (a git
    commit or a script digest) as ``prov:Plan``.

    Example:
        >>> import tempfile, pyarrow as pa, lineage_fast as lf
        >>> store = lf.Store(tempfile.mkdtemp())
        >>> a = store.commit(pa.table({"x": [1]}), "a")
        >>> b = store.commit(pa.table({"x": [2]}), "b")
        >>> run = store.record_run("job", inputs=[a], outputs=[b], code=None)
        >>> doc = store.export_prov()
        >>> sorted(doc), len(doc["entity"]), len(doc["activity"])
        (['activity', 'entity', 'prefix', 'used', 'wasDerivedFrom', 'wasGeneratedBy'], 2, 1)
    """
    nodes, edges = store.graph(x)
    doc: dict[str, Any] = {
        "prefix": {
            "lf": "urn:lineage-fast:",
            "b3": "urn:lineage-fast:blake3:",
            "run": "urn:uuid:",
        },
        "entity": {},
        "activity": {},
        "used": {},
        "wasGeneratedBy": {},
        "wasDerivedFrom": {},
    }
    runs: dict[str, Run] = {}
    associations: list[dict[str, Any]] = []
    for n in nodes:
        if n.kind == "run":
            r = store.get_run(n.id)
            runs["run:" + n.id] = r
            doc["activity"]["run:" + n.id] = {
                "prov:startTime": r.started_at,
                "prov:endTime": r.ended_at,
                "prov:label": r.job,
                "lf:status": r.status,
            }
            code = r.code or {}
            plan = None
            if code.get("type") == "git":
                plan = f"lf:git-{code['commit']}"
                attrs = {"lf:path": str(code.get("path", "")), "lf:dirty": bool(code["dirty"])}
            elif code.get("digest"):
                plan = f"lf:file-{str(code['digest'])[7:]}"
                attrs = {"lf:path": str(code.get("path", ""))}
            if plan is not None:
                doc["entity"][plan] = {
                    "prov:type": {"$": "prov:Plan", "type": "prov:QUALIFIED_NAME"},
                    **attrs,
                }
                associations.append(
                    {
                        "prov:activity": "run:" + n.id,
                        "prov:agent": "lf:lineage_fast",
                        "prov:plan": plan,
                    }
                )
        else:
            doc["entity"][_b3(n.id)] = {
                "prov:type": {
                    "$": "lf:DatasetVersion" if n.kind == "version" else "lf:Artifact",
                    "type": "prov:QUALIFIED_NAME",
                },
                "prov:label": n.label,
            }
    counter = 0

    def rel(kind: str, body: dict[str, Any]) -> None:
        nonlocal counter
        counter += 1
        doc.setdefault(kind, {})[f"_:{kind}{counter}"] = body

    if associations:
        doc["agent"] = {
            "lf:lineage_fast": {
                "prov:type": {"$": "prov:SoftwareAgent", "type": "prov:QUALIFIED_NAME"},
                "prov:label": f"lineage_fast {__version__}",
            }
        }
        for a in associations:
            rel("wasAssociatedWith", a)

    for child, parent, kind in edges:
        if kind == "used":
            rel("used", {"prov:activity": child, "prov:entity": _b3(parent)})
        elif kind == "generated_by":
            gen_run = runs.get(parent)
            body = {"prov:entity": _b3(child), "prov:activity": parent}
            if gen_run is not None:
                body["prov:time"] = gen_run.ended_at
            rel("wasGeneratedBy", body)
            if gen_run is not None:
                for i in gen_run.inputs:
                    src = i.get("version_id") or i["artifact"]["digest"]
                    rel(
                        "wasDerivedFrom",
                        {
                            "prov:generatedEntity": _b3(child),
                            "prov:usedEntity": _b3(src),
                            "prov:activity": parent,
                        },
                    )
        else:
            rel(
                "wasDerivedFrom",
                {
                    "prov:generatedEntity": _b3(child),
                    "prov:usedEntity": _b3(parent),
                    "prov:type": {"$": "prov:Revision", "type": "prov:QUALIFIED_NAME"},
                },
            )
    return {k: v for k, v in doc.items() if v}


def _short(node: LineageNode) -> str:
    if node.kind == "run":
        return f"{node.label} ({node.id[:13]}…)"
    return f"{node.label or '?'} ({node.id[7:19]}…)"


def mermaid(nodes: Sequence[LineageNode], edges: Sequence[tuple[str, str, str]]) -> str:
    """A Mermaid flowchart (data flows left to right: input → run → output; dashed arrows link
    a version to the next version of the same name).

    Example:
        >>> from lineage_fast.export import mermaid
        >>> from lineage_fast.store import LineageNode
        >>> print(mermaid([LineageNode("run", "0190", "train")], []))
        flowchart LR
          n0(["train (0190…)"])
    """
    ids = {("run:" + n.id if n.kind == "run" else n.id): f"n{i}" for i, n in enumerate(nodes)}
    lines = ["flowchart LR"]
    for i, n in enumerate(nodes):
        label = _short(n).replace('"', "#quot;")
        shape = {"run": '(["{}"])', "version": '["{}"]', "artifact": '[/"{}"/]'}[n.kind]
        lines.append(f"  n{i}{shape.format(label)}")
    for child, parent, kind in edges:
        if child in ids and parent in ids:
            arrow = "-.->" if kind == "revision" else "-->"
            lines.append(f"  {ids[parent]} {arrow} {ids[child]}")
    return "\n".join(lines)


def _dot_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def dot(nodes: Sequence[LineageNode], edges: Sequence[tuple[str, str, str]]) -> str:
    """A Graphviz DOT digraph of the lineage graph (same drawing as :func:`mermaid`).

    Example:
        >>> from lineage_fast.export import dot
        >>> from lineage_fast.store import LineageNode
        >>> print(dot([LineageNode("run", "0190", 'a "job"')], []))
        digraph lineage {
          rankdir=LR;
          node [fontname="Helvetica"];
          "run:0190" [label="a \\"job\\" (0190…)", shape=ellipse];
        }
    """
    shapes = {"run": "ellipse", "version": "box", "artifact": "note"}
    lines = ["digraph lineage {", "  rankdir=LR;", '  node [fontname="Helvetica"];']
    for n in nodes:
        key = "run:" + n.id if n.kind == "run" else n.id
        lines.append(f"  {_dot_str(key)} [label={_dot_str(_short(n))}, shape={shapes[n.kind]}];")
    for child, parent, kind in edges:
        style = " [style=dashed]" if kind == "revision" else ""
        lines.append(f"  {_dot_str(parent)} -> {_dot_str(child)}{style};")
    lines.append("}")
    return "\n".join(lines)


def render_dot(source: str, path: str | os.PathLike[str]) -> Path:
    """Render DOT source to ``path`` (``.svg``, ``.png`` or ``.pdf``) with Graphviz.

    Raises:
        FileNotFoundError: the ``dot`` program of Graphviz is not installed.
        InvalidArgumentError: the suffix is not svg, png or pdf, or ``dot`` failed.
    """
    out = Path(path)
    fmt = out.suffix.lower().lstrip(".")
    if fmt not in ("svg", "png", "pdf"):
        raise InvalidArgumentError(f"cannot render {out.name!r}: use a .svg, .png or .pdf path")
    exe = shutil.which("dot")
    if exe is None:
        raise FileNotFoundError(
            "Graphviz is not installed (no 'dot' on PATH): install it (apt install graphviz) or "
            "use to_dot()/to_mermaid() and render elsewhere"
        )
    p = subprocess.run(
        [exe, f"-T{fmt}", "-o", str(out)], input=source.encode(), capture_output=True, check=False
    )
    if p.returncode != 0:
        raise InvalidArgumentError(f"dot failed: {p.stderr.decode(errors='replace').strip()}")
    return out
