"""Canonical JSON (RFC 8785), manifests and run records: format, validation, fuzzing."""

from __future__ import annotations

import json
import math

import blake3
import lineage_fast as lf
import pyarrow as pa
import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st
from lineage_fast.lineage import Run, build_run, uuid7
from lineage_fast.manifest import Manifest, canonical_json, load_json
from strategies import json_values

# --- canonical JSON -------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_canonical_json_equals_an_independent_jcs_implementation(value: object) -> None:
    assert canonical_json(value) == rfc8785.dumps(value)


@settings(max_examples=300, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_numbers_use_the_ecmascript_form(x: float) -> None:
    out = canonical_json(x)
    assert out == rfc8785.dumps(x)
    assert float(out) == x  # round-trips


@pytest.mark.parametrize(
    ("value", "expected"),
    [  # RFC 8785 appendix B and the ECMAScript rules
        (0.0, b"0"),
        (-0.0, b"0"),
        (5e-324, b"5e-324"),
        (1.7976931348623157e308, b"1.7976931348623157e+308"),
        (9007199254740991, b"9007199254740991"),
        (-9007199254740991, b"-9007199254740991"),
        (1e21, b"1e+21"),
        (1e20, b"100000000000000000000"),
        (295147905179352830000.0, b"295147905179352830000"),
        (333333333.3333333, b"333333333.3333333"),
        (0.000001, b"0.000001"),
        (1e-7, b"1e-7"),
        (4.5, b"4.5"),
        (2e-3, b"0.002"),
        (1.0, b"1"),
        (-1.5e-10, b"-1.5e-10"),
    ],
)
def test_number_vectors(value: float, expected: bytes) -> None:
    assert canonical_json(value) == expected


def test_keys_sort_by_utf16_code_units() -> None:
    # RFC 8785 §3.2.3: U+1F600 (a surrogate pair in UTF-16) sorts before U+FB33.
    keys = ["\u20ac", "\r", "\ufb33", "1", "\U0001f600", "\u0080", "\u00f6"]
    out = json.loads(canonical_json(dict.fromkeys(keys, 0)))
    assert list(out) == ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]


def test_strings_are_minimally_escaped() -> None:
    s = 'a"\\\b\f\n\r\t\x01\x1f\x7f é\u2028\U0001f600'
    assert canonical_json(s) == rfc8785.dumps(s)
    assert (
        canonical_json(s)
        == ('"a\\"\\\\\\b\\f\\n\\r\\t\\u0001\\u001f\x7f é\u2028\U0001f600"').encode()
    )


@pytest.mark.parametrize(
    ("value", "where"),
    [
        (math.nan, "$"),
        ({"x": [math.inf]}, "$.x[0]"),
        ({"big": 2**53}, "$.big"),
        ({"neg": -(2**53)}, "$.neg"),
        ({1: "a"}, "$"),
        ({"s": {1, 2}}, "$.s"),
        ({"b": b"bytes"}, "$.b"),
    ],
)
def test_unrepresentable_values_are_refused_naming_the_place(value: object, where: str) -> None:
    with pytest.raises(lf.CanonicalJSONError) as e:
        canonical_json(value)
    assert e.value.path == where
    assert isinstance(e.value, ValueError)


@pytest.mark.parametrize("value", ["\ud800", {"\udfff": 1}])
def test_lone_surrogates_are_refused(value: object) -> None:
    with pytest.raises(lf.CanonicalJSONError, match="surrogate"):
        canonical_json(value)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"b":1,"a":2}',  # unsorted
        b'{"a": 1}',  # whitespace
        b'{"a":1.0}',  # not the shortest number form
        b'{"a":"\\u0041"}',  # needless escape
        b'{"a":1,"a":1}',  # duplicate key
        b'{"a":NaN}',
        b"\xff",
        b'{"a":',
        b"",
        b"[" * 100_000,
    ],
)
def test_load_json_refuses_non_canonical_or_invalid_bytes(raw: bytes) -> None:
    with pytest.raises(lf.InvalidObjectError):
        load_json(raw)


def test_bytes_digest_is_plain_blake3() -> None:
    for data in (b"", b"abc", bytes(range(256)) * 5000):
        assert lf.bytes_digest(data) == "blake3:" + blake3.blake3(data).hexdigest()
    with pytest.raises(TypeError):
        lf.bytes_digest("text")  # type: ignore[arg-type]


# --- manifests ------------------------------------------------------------------------------


def _manifest(**kw: object) -> Manifest:
    th = lf.hash_table(pa.table({"id": [1, 2, 3], "s": ["a", None, "c"]}))
    args: dict[str, object] = {
        "name": "demo",
        "chunks_digest": lf.bytes_digest(b"x"),
        "chunks_size": 1,
        "created_at": "2026-01-01T00:00:00.000000Z",
        "created_by": "tester",
    }
    args.update(kw)
    return Manifest.build(th, **args)  # type: ignore[arg-type]


def test_manifest_fields_and_identity() -> None:
    m = _manifest(metadata={"team": "ranking", "ratio": 0.25})
    th = lf.hash_table(pa.table({"id": [1, 2, 3], "s": ["a", None, "c"]}))
    d = m.to_dict()
    assert d["format"] == "lineage_fast.manifest/v1"
    assert d["dataset"] == {"namespace": "lineage_fast", "name": "demo"}
    assert d["version_id"] == th.root
    assert m.version_id == th.root
    assert d["schema"]["digest"] == th.schema_digest
    assert d["columns"] == dict(th.columns)
    assert d["hash_scheme"]["version"] == 1
    assert d["hash_scheme"]["row_order"] == "ordered"
    assert d["stats"]["total-records"] == 3
    assert m.manifest_id == "blake3:" + blake3.blake3(m.to_json()).hexdigest()
    assert m.to_json() == canonical_json(d)
    assert Manifest.from_json(m.to_json()) == m
    # any change of content is a new manifest id
    assert _manifest(metadata={"team": "other", "ratio": 0.25}).manifest_id != m.manifest_id
    assert _manifest(parent=m.manifest_id).manifest_id != m.manifest_id


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d.pop("version_id"), "manifest.version_id"),
        (lambda d: d.update(version_id="sha256:00"), "manifest.version_id"),
        (lambda d: d.update(format="lineage_fast.manifest/v9"), "manifest.format"),
        (lambda d: d["stats"].update({"total-records": -1}), "manifest.stats.total-records"),
        (lambda d: d["stats"].update({"total-records": True}), "manifest.stats.total-records"),
        (lambda d: d["dataset"].pop("name"), "manifest.dataset.name"),
        (lambda d: d["created"].update(at="yesterday"), "manifest.created.at"),
        (lambda d: d.update(metadata=[1]), "manifest.metadata"),
        (lambda d: d["columns"].update(id="blake3:xyz"), "manifest.columns.id"),
        (lambda d: d["schema"]["fields"].append({"name": 1}), "manifest.schema.fields[2].name"),
    ],
)
def test_malformed_manifests_name_the_field(mutate: object, field: str) -> None:
    d = _manifest().to_dict()
    mutate(d)  # type: ignore[operator]
    with pytest.raises(lf.InvalidObjectError) as e:
        Manifest.from_dict(d, object_id="blake3:" + "0" * 64)
    assert e.value.field == field
    assert "blake3:000" in str(e.value)
    with pytest.raises(lf.InvalidObjectError):
        Manifest.from_json(canonical_json(d))


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_loader_fuzz_arbitrary_json_is_refused_cleanly(value: object) -> None:
    raw = canonical_json(value)
    for loader in (Manifest.from_json, Run.from_json):
        with pytest.raises(lf.InvalidObjectError):
            loader(raw)


def _paths(d: object, prefix: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    out = [prefix]
    if isinstance(d, dict):
        for k, v in d.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(d, list):
        for i, v in enumerate(d):
            out += _paths(v, (*prefix, i))
    return out


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_loader_fuzz_mutated_manifests_load_or_fail_cleanly(data: st.DataObject) -> None:
    d = _manifest(metadata={"a": [1, {"b": "c"}]}).to_dict()
    paths = [p for p in _paths(d) if p]
    path = data.draw(st.sampled_from(paths))
    replacement = data.draw(json_values)
    target = d
    for key in path[:-1]:
        target = target[key]  # type: ignore[index]
    target[path[-1]] = replacement  # type: ignore[index]
    try:
        m = Manifest.from_json(canonical_json(d))
    except lf.InvalidObjectError:
        return
    assert m.to_dict() == d  # whatever loads, loads exactly


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_loader_fuzz_random_bytes(raw: bytes) -> None:
    with pytest.raises(lf.InvalidObjectError):
        Manifest.from_json(raw)


# --- run records ----------------------------------------------------------------------------


def _run(**kw: object) -> Run:
    args: dict[str, object] = {
        "run_id": uuid7(),
        "job": "train",
        "namespace": "ns",
        "status": "COMPLETE",
        "started_at": "2026-01-01T00:00:00.000000Z",
        "ended_at": "2026-01-01T00:00:01.000000Z",
        "inputs": [],
        "outputs": [],
        "params": {"lr": 0.001, "seed": 42},
        "code": None,
        "environment": {"python": "3.11", "lineage_fast": "0.1.0", "platform": "linux"},
    }
    args.update(kw)
    return build_run(**args)  # type: ignore[arg-type]


def test_run_record_round_trip_and_params_digest() -> None:
    r = _run()
    assert Run.from_json(r.to_json()) == r
    assert r.data["config"]["digest"] == lf.bytes_digest(canonical_json({"lr": 0.001, "seed": 42}))
    assert r.record_id == lf.bytes_digest(r.to_json())
    d = r.to_dict()
    d["config"]["params"]["seed"] = 43  # params changed but not their digest
    with pytest.raises(lf.InvalidObjectError, match="does not match"):
        Run.from_dict(d)
    with pytest.raises(lf.InvalidObjectError, match="UUIDv7"):
        _run(run_id="not-a-uuid")
    with pytest.raises(lf.InvalidObjectError, match="status"):
        _run(status="DONE")
    with pytest.raises(lf.CanonicalJSONError, match="params"):
        _run(params={"x": math.nan})


def test_uuid7_is_version_7_and_increasing() -> None:
    ids = [uuid7() for _ in range(5000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    for u in ids[:10]:
        assert u[14] == "7"
        assert u[19] in "89ab"
