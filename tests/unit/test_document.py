"""The metrics document: fixtures fit it, a dump gives back the JSON it read, bad shapes are named."""

from __future__ import annotations

import json
import math

import pytest

from monitor.document import SCHEMA_VERSION, MetricsDocument, read_document
from monitor.errors import DataError
from tests.support.fixtures import NAMES, build
from tests.support.paths import FIXTURES


@pytest.mark.parametrize("name", NAMES)
def test_fixtures_are_documents_built_through_the_model(name):
    raw = json.loads((FIXTURES / name).read_text())
    doc = MetricsDocument.model_validate(raw)
    assert doc.schema_version == SCHEMA_VERSION and doc.monitor == "car_loan"
    assert json.dumps(build(raw)) == json.dumps(raw)  # what `python -m tests.support.fixtures` writes: unchanged


def test_history_fixture_is_documents():
    history = json.loads((FIXTURES / "history.json").read_text())
    docs = [MetricsDocument.model_validate(h) for h in history]
    assert len(docs) == len(history) > 20 and all(d.date for d in docs)
    assert [build(h) for h in history] == history


def test_typed_reading_of_the_alert_fixture():
    doc = MetricsDocument.model_validate_json((FIXTURES / "metrics_alert.json").read_text())
    assert doc.performance is not None and doc.performance.overall["roc_auc"].regressed
    assert doc.drift is not None and doc.drift.prediction["y_pred_proba"].drifted
    assert doc.business is not None and doc.business.money is not None and doc.business.money.value == -48200.0
    assert [g.breached for g in doc.business.guardrails] == [True, False]
    assert doc.quality is not None and doc.quality.schema_ is not None and doc.quality.schema_.added == []


def test_unknown_keys_are_kept_in_place_and_ints_stay_ints():
    raw = {"schema_version": 1, "monitor": "m", "newest": {"x": 1},
           "drift": {"multivariate": {"method": "domain_classifier", "statistic": 0.61, "drifted": True, "extra": [1, 2],
                                     "top_features": [{"column": "age", "importance": 0.4}]},
                     "newest_day": {"p_value": 0.2}, "share_drifted": 0},
           "performance": {"overall": {"f1": {"value": 1, "too_few_labels": True}}}}
    doc = MetricsDocument.model_validate(raw)
    assert json.dumps(doc.to_json()) == json.dumps(raw)
    assert doc.drift is not None and doc.drift.multivariate is not None and doc.drift.multivariate.drifted
    assert doc.drift.multivariate.top_features[0].column == "age" and doc.drift.newest_day is not None


def test_null_reads_as_absent_where_the_contract_has_a_list_or_object():
    doc = MetricsDocument.model_validate({"alerts": None, "cohorts": None, "links": None, "drift": None})
    assert doc.alerts == [] and doc.cohorts == [] and doc.links == {} and doc.drift is None
    assert doc.status == "ok" and doc.to_json() == {"drift": None}


def test_nan_and_wrong_shapes_are_refused_with_the_key_path():
    with pytest.raises(DataError, match=r"performance\.overall\.f1\.value"):
        read_document({"performance": {"overall": {"f1": {"value": math.nan}}}})
    with pytest.raises(DataError, match=r"alerts\.0\.severity"):
        read_document({"alerts": [{"kind": "drift", "severity": "meh"}]}, "metrics.json")
    with pytest.raises(DataError, match=r"rows\.current"):
        read_document({"rows": {"current": "many"}})
