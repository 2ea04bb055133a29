"""The optional Evidently deep-dive on a capped sample."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from monitor.errors import DataError
from monitor.report.evidently import _sample, build_evidently_html


def _frames():
    rng = np.random.default_rng(0)
    ref = pd.DataFrame({"income": rng.normal(size=3000), "region": rng.choice(["north", "south"], 3000)})
    cur = pd.DataFrame({"income": rng.normal(0.8, 1, size=2000), "region": rng.choice(["north", "east"], 2000)})
    return ref, cur


def test_sample_is_capped_and_seeded():
    ref, _ = _frames()
    a, b = _sample(ref, 500, 3), _sample(ref, 500, 3)
    assert len(a) == 500 and a.equals(b)
    assert _sample(ref, 10_000, 3) is ref


@pytest.mark.slow
def test_builds_a_self_contained_drift_page():
    ref, cur = _frames()
    html = build_evidently_html(ref, cur, ["income", "region", "not_there"], sample_rows=1000).decode("utf-8")
    assert html.lstrip().lower().startswith("<!doctype html") or "<html" in html[:500].lower()
    assert "income" in html and "region" in html
    assert "<script src=" not in html.replace("'", '"')  # no external script: opens offline


def test_refuses_unusable_input():
    ref, cur = _frames()
    with pytest.raises(DataError, match="none of the columns"):
        build_evidently_html(ref, cur, ["nope"])
    with pytest.raises(DataError, match="no rows"):
        build_evidently_html(ref, cur.iloc[:0], ["income"])
