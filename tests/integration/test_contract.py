"""metrics.json and the output layout as DESIGN.md promises them to users and acceptance checks."""

import datetime as dt
import json
import math

import pytest

from monitor.cli import main

END = dt.date(2026, 11, 25)
KINDS = {"no_data", "quality", "volume", "drift", "performance", "cohort", "business"}


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    work = tmp_path_factory.mktemp("contract")
    assert main(["demo", "--workdir", str(work), "--end", END.isoformat(), "--days", "6"]) == 0
    return work / "monitoring" / "car_loan"


def _no_nan(obj):
    if isinstance(obj, float):
        assert math.isfinite(obj)
    elif isinstance(obj, dict):
        for v in obj.values():
            _no_nan(v)
    elif isinstance(obj, list):
        for v in obj:
            _no_nan(v)


@pytest.mark.parametrize("offset", [0, 2])  # the last day (no labels yet) and a labelled one
def test_metrics_json_contract(outputs, offset):
    day = END - dt.timedelta(days=offset)
    folder = outputs / f"date={day}"
    assert {"metrics.json", "report.html", "manifest.json"} <= {p.name for p in folder.iterdir()}
    raw = (folder / "metrics.json").read_text()
    assert "NaN" not in raw and "Infinity" not in raw
    m = json.loads(raw)
    _no_nan(m)
    assert m["schema_version"] == 1 and m["monitor"] == "car_loan" and m["date"] == day.isoformat()
    assert m["window"] == {"start": day.isoformat(), "end": day.isoformat()}
    assert m["status"] in {"ok", "warning", "alert", "no_data"}
    assert set(m["rows"]) >= {"current", "reference", "labelled"}
    for a in m["alerts"]:
        assert set(a) >= {"kind", "subject", "severity", "message", "new"} and a["kind"] in KINDS
        assert a["severity"] in {"warning", "critical"} and isinstance(a["new"], bool)
    d = m["drift"]
    assert isinstance(d["dataset_drift"], bool) and 0 <= d["share_drifted"] <= 1
    for col, f in d["features"].items():
        assert set(f) >= {"method", "statistic", "p_value", "threshold", "drifted"}, col
    assert "findings" in m["quality"]
    p = m["performance"]
    assert set(p) >= {"label_coverage", "final", "overall"}
    for name, v in p["overall"].items():
        assert set(v) >= {"value", "baseline", "delta", "ci_low", "ci_high", "regressed"}, name
    assert isinstance(m["cohorts"], list)
    for c in m["cohorts"]:
        assert set(c) >= {"cohort", "rows", "labelled", "metrics"}
        for v in c["metrics"].values():
            assert set(v) >= {"value", "baseline", "delta", "ci_low", "ci_high", "p_value", "regressed"}
    assert isinstance(m["business"], dict)


def test_manifest_contract(outputs):
    man = json.loads((outputs / f"date={END - dt.timedelta(days=2)}" / "manifest.json").read_text())
    assert {"inputs", "rows", "config_hash", "code_version", "timings", "email"} <= set(man)
    assert all({"uri", "size"} <= set(i) and (i.get("etag") or i.get("mtime")) for i in man["inputs"])
    assert man["email"]["sent"] and man["email"]["sent_at"] and man["email"]["to"]


@pytest.mark.parametrize("offset", [0, 2])
def test_metrics_json_is_the_typed_document(outputs, offset):
    """metrics.json validates against MetricsDocument, and dumping it again gives the same JSON (keys and order)."""
    from monitor.document import MetricsDocument

    raw = (outputs / f"date={END - dt.timedelta(days=offset)}" / "metrics.json").read_text()
    doc = MetricsDocument.model_validate_json(raw)
    assert json.dumps(doc.to_json()) == json.dumps(json.loads(raw))
    assert doc.performance is not None and doc.drift is not None and doc.drift.features
