"""Drift engine: every method against scipy and Evidently, the verdict rules, robustness, the profile."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats
from scipy.spatial import distance

from monitor.alerts import Alert
from monitor.config import DRIFT_METHODS, DriftConfig, DriftOverride, parse_config
from monitor.errors import ConfigError, DataError, UnknownMethodError
from monitor.stages.drift import (
    METHODS,
    ReferenceProfile,
    detect_drift,
    fit_profile,
    ks_sorted,
    profile_cache_key,
    wasserstein_sorted,
)
from monitor.stages.performance.intervals import bh_adjust

TOL = 1e-9


def _config(**kw) -> DriftConfig:
    """These tests are about the statistics and verdict rules: no minimum sample size, no domain classifier
    (both have tests of their own)."""
    kw.setdefault("min_rows", 1)
    kw.setdefault("multivariate", {"enabled": False})
    return DriftConfig(**kw)


def run_one(ref, cur, method="auto", kind="numerical", **cfg):
    """Drift of a single column `x` given as arrays/lists; returns the column's dict."""
    config = _config(method=method, workers=1, **cfg)
    profile = fit_profile(pd.DataFrame({"x": ref}), {"x": kind}, config)
    res = detect_drift(profile, pd.DataFrame({"x": cur}), config, {"x": "feature"})
    return res.to_dict()["features"]["x"]


def finite(a):
    a = np.asarray(pd.to_numeric(pd.Series(a), errors="coerce"), dtype=float)
    return a[np.isfinite(a)]


def samples():
    """Seeded (name, ref, cur) pairs: ties, tiny samples, NaNs, unequal sizes, both KS regimes."""
    rng = np.random.default_rng(7)
    with_nan = rng.normal(size=400)
    with_nan[::17] = np.nan
    cur_nan = rng.normal(0.3, 1.2, size=300)
    cur_nan[::11] = np.nan
    return [
        ("normal", rng.normal(size=500), rng.normal(0.2, 1, size=700)),
        ("ties", rng.normal(size=800).round(1), rng.normal(0.1, 1, size=600).round(1)),
        ("integers", rng.integers(0, 30, 900).astype(float), rng.integers(2, 33, 1100).astype(float)),
        ("tiny", np.array([1.0, 2.0, 2.0, 5.0]), np.array([2.0, 3.0, 7.0])),
        ("nans", with_nan, cur_nan),
        ("large_asymptotic", rng.exponential(size=12000), rng.exponential(1.05, size=11000)),
    ]


SAMPLES = samples()
IDS = [s[0] for s in SAMPLES]


# --------------------------------------------------------------------------- against scipy


@pytest.mark.parametrize("name,ref,cur", SAMPLES, ids=IDS)
def test_ks_matches_scipy(name, ref, cur):
    got = run_one(ref, cur, "ks")
    want = stats.ks_2samp(finite(ref), finite(cur))
    assert abs(got["statistic"] - want.statistic) < TOL
    assert abs(got["p_value"] - want.pvalue) < TOL
    assert got["effect_size"] == pytest.approx(want.statistic, abs=TOL)


@pytest.mark.parametrize("name,ref,cur", SAMPLES, ids=IDS)
def test_wasserstein_matches_scipy(name, ref, cur):
    got = run_one(ref, cur, "wasserstein")
    r, c = finite(ref), finite(cur)
    want = stats.wasserstein_distance(r, c) / max(float(np.std(r)), 0.001)
    assert abs(got["statistic"] - want) < TOL
    assert got["p_value"] is None


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(-5, 5), min_size=1, max_size=40),
    st.lists(st.integers(-5, 8), min_size=1, max_size=40),
)
def test_wasserstein_sorted_any_sizes_and_ties(a, b):
    x = np.sort(np.asarray(a, dtype=float) / 2)
    y = np.sort(np.asarray(b, dtype=float) / 3)
    assert abs(wasserstein_sorted(x, y) - stats.wasserstein_distance(x, y)) < 1e-12


def _ks_raw(x, y):
    """scipy.stats.ks_2samp's D before its exact-mode lattice rounding."""
    z = np.concatenate([x, y])
    c = np.searchsorted(x, z, "right") / x.size - np.searchsorted(y, z, "right") / y.size
    lo, hi = np.clip(-c.min(), 0, 1), c.max()
    return lo if lo > hi else hi


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.integers(-4, 4), min_size=1, max_size=60),
    st.lists(st.integers(-4, 6), min_size=1, max_size=60),
    st.sampled_from([2, 3, 8192]),
)
def test_ks_sorted_is_bit_equal_to_scipy_formula(a, b, block):
    x = np.sort(np.asarray(a, dtype=float) / 3)
    y = np.sort(np.asarray(b, dtype=float) / 3)
    assert ks_sorted(x, y, block) == _ks_raw(x, y)


@pytest.mark.parametrize("name,ref,cur", SAMPLES, ids=IDS)
def test_cramer_von_mises_matches_scipy(name, ref, cur):
    got = run_one(ref, cur, "cramer_von_mises")
    want = stats.cramervonmises_2samp(finite(ref), finite(cur))
    assert abs(got["statistic"] - want.statistic) < TOL
    assert abs(got["p_value"] - want.pvalue) < TOL


@pytest.mark.parametrize("name,ref,cur", SAMPLES, ids=IDS)
def test_anderson_matches_scipy(name, ref, cur):
    got = run_one(ref, cur, "anderson")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = stats.anderson_ksamp([finite(ref), finite(cur)], variant="midrank")
    assert abs(got["statistic"] - want.statistic) < TOL
    assert abs(got["p_value"] - want.pvalue) < TOL


def _counts(ref, cur):
    keys = sorted(set(ref) | set(cur))
    r = np.array([list(ref).count(k) for k in keys], dtype=float)
    c = np.array([list(cur).count(k) for k in keys], dtype=float)
    return keys, r, c


CATS = [
    ("three", list("aabbbccccc") * 7, list("abbbcccccc") * 5),
    ("unseen_in_reference", list("aabbbc") * 9, list("aabbbd") * 8),
    ("tiny", ["x", "y", "y"], ["x", "x", "y", "y"]),
]


@pytest.mark.parametrize("name,ref,cur", CATS, ids=[c[0] for c in CATS])
def test_chisquare_matches_scipy(name, ref, cur):
    got = run_one(ref, cur, "chisquare", kind="categorical")
    _, r, c = _counts(ref, cur)
    with np.errstate(divide="ignore", invalid="ignore"):
        want = stats.chisquare(c, r * (len(cur) / len(ref)))
    assert got["p_value"] == pytest.approx(want.pvalue, abs=TOL)
    if math.isfinite(want.statistic):
        assert abs(got["statistic"] - want.statistic) < TOL
    else:
        assert got["statistic"] is None  # inf: a category never seen in training (JSON has no inf)
        assert "never seen in training" in got["note"]


@pytest.mark.parametrize("name,ref,cur", CATS, ids=[c[0] for c in CATS])
def test_jensenshannon_matches_scipy(name, ref, cur):
    got = run_one(ref, cur, "jensenshannon", kind="categorical")
    _, r, c = _counts(ref, cur)
    assert abs(got["statistic"] - distance.jensenshannon(r / len(ref), c / len(cur))) < TOL


def test_z_test_matches_two_proportion_formula():
    ref = [0] * 70 + [1] * 30
    cur = [0] * 45 + [1] * 55
    got = run_one(ref, cur, "z", kind="categorical")
    p1, p2 = 0.30, 55 / 100
    pooled = (30 + 55) / 200
    z = (p1 - p2) / math.sqrt(pooled * (1 - pooled) * (1 / 100 + 1 / 100))
    assert abs(got["p_value"] - 2 * stats.norm.sf(abs(z))) < TOL
    assert got["effect_size"] == pytest.approx(0.25)


def test_benjamini_hochberg_matches_scipy():
    ps = [0.0001, 0.5, 0.02, 0.03, 0.9, 0.04, 0.2]
    assert np.allclose(bh_adjust(ps), stats.false_discovery_control(ps), atol=1e-15)


# --------------------------------------------------------------------------- against Evidently


@pytest.fixture(scope="module")
def evidently_stattest():
    """Evidently's own stattest function for a method name (imported here only: a slow import)."""
    from evidently.legacy.calculations.stattests import registry
    from evidently.legacy.core import ColumnType

    def run(method, ref, cur, kind):
        ct = ColumnType.Numerical if kind == "numerical" else ColumnType.Categorical
        # Evidently's data drift drops NaN and inf before the test
        r = pd.Series(ref).replace([np.inf, -np.inf], np.nan).dropna().reset_index(drop=True)
        c = pd.Series(cur).replace([np.inf, -np.inf], np.nan).dropna().reset_index(drop=True)
        if method == "auto":
            return registry._get_default_stattest(r, c, ct).name
        if method in ("chisquare", "z"):
            ct = ColumnType.Categorical  # Evidently registers these for categorical only; auto uses them on numbers
        test = registry.get_registered_stattest(method, ct)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return float(test(r, c, ct, 0.05).drift_score)

    return run


NUMERIC_METHODS = ["ks", "wasserstein", "psi", "jensenshannon", "hellinger", "cramer_von_mises", "anderson", "chisquare", "z"]


@pytest.mark.parametrize("method", NUMERIC_METHODS)
@pytest.mark.parametrize("name,ref,cur", SAMPLES[:5], ids=IDS[:5])
def test_numeric_methods_match_evidently(evidently_stattest, method, name, ref, cur):
    if method == "cramer_von_mises" and max(len(finite(ref)), len(finite(cur))) <= 20:
        pytest.skip("Evidently's exact Cramer-von Mises fails under numpy 2 (uint16 cast); scipy comparison covers it")
    got = run_one(ref, cur, method)
    score = got["p_value"] if METHODS[method].kind == "p_value" else got["statistic"]
    want = evidently_stattest(method, ref, cur, "numerical")
    assert abs(score - want) < TOL, (score, want)


def test_few_valued_numeric_matches_evidently(evidently_stattest):
    rng = np.random.default_rng(3)
    ref = rng.choice([1, 2, 3, 4], 3000, p=[0.4, 0.3, 0.2, 0.1])
    cur = rng.choice([1, 2, 3, 4, 5], 2000, p=[0.3, 0.3, 0.2, 0.1, 0.1])
    for method in ("jensenshannon", "psi", "hellinger"):
        got = run_one(ref, cur, method)["statistic"]
        assert abs(got - evidently_stattest(method, ref, cur, "numerical")) < TOL, method


def test_integer_sturges_bins_match_evidently(evidently_stattest):
    # 21 integer values over > 2**19 rows: numpy widens Sturges bins to 1 for integer data
    rng = np.random.default_rng(5)
    ref = rng.integers(0, 21, 300_000)
    cur = rng.integers(0, 21, 290_000)
    for method in ("psi", "jensenshannon"):
        got = run_one(ref, cur, method)["statistic"]
        assert abs(got - evidently_stattest(method, ref, cur, "numerical")) < TOL, method


@pytest.mark.parametrize("method", ["psi", "jensenshannon", "hellinger", "chisquare", "z"])
@pytest.mark.parametrize("name,ref,cur", CATS, ids=[c[0] for c in CATS])
def test_categorical_methods_match_evidently(evidently_stattest, method, name, ref, cur):
    got = run_one(ref, cur, method, kind="categorical")
    score = got["p_value"] if METHODS[method].kind == "p_value" else got["statistic"]
    want = evidently_stattest(method, ref, cur, "categorical")
    assert abs(score - want) < TOL, (score, want)


@pytest.mark.parametrize(
    "ref,cur,kind",
    [
        (np.arange(500.0), np.arange(400.0), "numerical"),  # small reference -> ks
        (np.arange(3000.0), np.arange(400.0), "numerical"),  # large -> wasserstein
        (np.tile([1.0, 2.0, 3.0], 100), np.tile([1.0, 2.0], 50), "numerical"),  # few values, small -> chisquare
        (np.tile([1.0, 2.0], 100), np.tile([1.0, 2.0], 50), "numerical"),  # binary, small -> z
        (np.tile([1.0, 2.0, 3.0], 1000), np.tile([1.0, 2.0], 50), "numerical"),  # few values, large -> JS
        (list("abc") * 100, list("ab") * 10, "categorical"),  # small -> chisquare
        (list("ab") * 100, list("ab") * 10, "categorical"),  # small binary -> z
        (list("abc") * 1000, list("ab") * 10, "categorical"),  # large -> JS
    ],
)
def test_auto_chooses_like_evidently(evidently_stattest, ref, cur, kind):
    got = run_one(ref, cur, "auto", kind=kind)["method"]
    assert got == evidently_stattest("auto", ref, cur, kind)


# --------------------------------------------------------------------------- properties


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    values=st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=2, max_size=300),
    method=st.sampled_from(["auto"] + sorted(METHODS)),
    seed=st.integers(0, 2**16),
)
def test_identical_data_never_drifts(values, method, seed):
    cur = np.random.default_rng(seed).permutation(values)
    got = run_one(values, cur, method)
    assert got["drifted"] is False, got


@settings(max_examples=40, deadline=None)
@given(
    values=st.lists(st.sampled_from(list("abcdefg")), min_size=1, max_size=200),
    method=st.sampled_from(["auto", "psi", "psi_quantile", "jensenshannon", "hellinger", "chisquare", "z"]),
)
def test_identical_categories_never_drift(values, method):
    got = run_one(values, list(reversed(values)), method, kind="categorical")
    assert got["drifted"] is False, got


@settings(max_examples=40, deadline=None)
@given(
    values=st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=8, max_size=400, unique=True),
    method=st.sampled_from(["auto", "ks", "wasserstein", "psi", "psi_quantile", "jensenshannon", "hellinger", "cramer_von_mises", "anderson"]),
)
def test_shifted_copy_always_drifts(values, method):
    ref = np.asarray(values)
    cur = ref + (ref.max() - ref.min()) + 1.0  # a copy shifted past the reference
    got = run_one(ref, cur, method)
    assert got["drifted"] is True, got


def test_large_shift_drifts_with_auto_on_large_reference():
    rng = np.random.default_rng(0)
    ref = rng.normal(size=5000)
    got = run_one(ref, ref + 0.5)
    assert got["method"] == "wasserstein" and got["drifted"] and got["statistic"] == pytest.approx(0.5 / np.std(ref), rel=1e-9)


# --------------------------------------------------------------------------- verdict rules


def test_pvalue_alone_does_not_alert_below_effect_floor():
    rng = np.random.default_rng(1)
    ref = rng.normal(size=200_000)
    cur = rng.normal(0.04, 1, size=200_000)  # significant at this n, but D ~ 0.016
    got = run_one(ref, cur, "ks")
    assert got["p_value"] < 1e-10 and got["drifted_evidently"] is True
    assert got["effect_size"] < 0.05 and got["drifted"] is False
    assert run_one(ref, cur, "ks", min_effect=0.0)["drifted"] is True


def _frames(n=3000, seed=0):
    rng = np.random.default_rng(seed)
    ref = pd.DataFrame({f"f{i}": rng.normal(size=n) for i in range(4)})
    ref["cat"] = rng.choice(list("abc"), n)
    ref["score"] = rng.uniform(size=n)
    ref["label"] = rng.integers(0, 2, n)
    cur = pd.DataFrame({f"f{i}": rng.normal(1.0 if i < 3 else 0.0, 1, size=n) for i in range(4)})
    cur["cat"] = rng.choice(list("abc"), n)
    cur["score"] = rng.uniform(0.3, 1.0, size=n)
    cur["label"] = (rng.random(n) < 0.8).astype(int)
    kinds = {**{f"f{i}": "numerical" for i in range(4)}, "cat": "categorical", "score": "numerical", "label": "categorical"}
    roles = {**{c: "feature" for c in kinds}, "score": "prediction", "label": "target"}
    return ref, cur, kinds, roles


def test_dataset_verdict_ranking_roles_and_alerts():
    ref, cur, kinds, roles = _frames()
    cfg = _config()
    res = detect_drift(fit_profile(ref, kinds, cfg), cur, cfg, roles)
    d = res.to_dict()
    json.dumps(d, allow_nan=False)  # plain JSON
    assert set(d["features"]) == {"f0", "f1", "f2", "f3", "cat"}
    assert set(d["prediction"]) == {"score"} and set(d["target"]) == {"label"}
    assert d["n_features"] == 5 and d["n_drifted"] == 3 and d["share_drifted"] == pytest.approx(0.6)
    assert d["dataset_drift"] is True
    assert d["ranking"][:3] == sorted(["f0", "f1", "f2"], key=lambda c: -d["features"][c]["effect_size"])
    assert set(d["ranking"]) == set(d["features"])
    f0 = d["features"]["f0"]
    for key in ("method", "kind", "statistic", "p_value", "p_value_adjusted", "threshold", "drifted", "effect_size",
                "n_reference", "n_current", "nulls_current", "nulls_reference", "note", "histogram"):
        assert key in f0
    assert len(f0["histogram"]["edges"]) - 1 == len(f0["histogram"]["reference"]) == len(f0["histogram"]["current"]) <= 20
    assert d["features"]["cat"]["histogram"]["categories"] == ["a", "b", "c"] or len(d["features"]["cat"]["histogram"]["categories"]) == 3
    alerts = res.alerts()
    assert all(isinstance(a, Alert) and a.kind == "drift" for a in alerts)
    by = {(a.subject, a.severity) for a in alerts}
    assert {("f0", "warning"), ("f1", "warning"), ("f2", "warning"), ("dataset", "critical")} <= by
    assert ("score", "warning") in by and ("label", "warning") in by
    assert ("f3", "warning") not in by and ("cat", "warning") not in by
    msg = next(a.message for a in alerts if a.subject == "f0")
    assert msg.startswith("`f0`: normed Wasserstein") and ">= 0.1" in msg


def test_bh_adjusts_feature_pvalues_together():
    ref, cur, kinds, roles = _frames(n=600)
    cfg = _config(method="ks")
    d = detect_drift(fit_profile(ref, kinds, cfg), cur, cfg, roles).to_dict()
    feats = {c: f for c, f in d["features"].items() if f["p_value"] is not None}
    adjusted = bh_adjust([f["p_value"] for f in feats.values()])
    for f, adj in zip(feats.values(), adjusted):
        assert f["p_value_adjusted"] == pytest.approx(adj)
        assert f["p_value_adjusted"] >= f["p_value"]
    assert d["features"]["cat"]["method"] == "chisquare"  # ks does not apply to categories: auto's choice, noted
    assert "does not apply" in d["features"]["cat"]["note"]
    msg = next(a.message for a in detect_drift(fit_profile(ref, kinds, cfg), cur, cfg, roles).alerts() if a.subject == "f0")
    assert "K-S" in msg and "after BH" in msg


def test_overrides_threshold_method_and_disabled():
    ref, cur, kinds, roles = _frames()
    cfg = _config(features={
        "f0": DriftOverride(threshold=5.0),
        "f1": DriftOverride(method="psi"),
        "f2": DriftOverride(enabled=False),
    })
    d = detect_drift(fit_profile(ref, kinds, cfg), cur, cfg, roles).to_dict()
    assert d["features"]["f0"]["threshold"] == 5.0 and d["features"]["f0"]["drifted"] is False
    assert d["features"]["f1"]["method"] == "psi"
    assert "f2" not in d["features"] and "disabled" in d["skipped"]["f2"]


# --------------------------------------------------------------------------- robustness


def test_robust_to_messy_columns():
    ref = pd.DataFrame({
        "nan": [1.0, np.nan, 3.0, None, 5.0, 6.0] * 50,
        "inf": [1.0, 2.0, np.inf, 4.0, -np.inf, 6.0] * 50,
        "const": [7.0] * 300,
        "text": ["1.5", "2", "x", None, "4", "5"] * 50,
        "mixed": pd.Series([1, 2.5, 3, 4.25, None, 6] * 50, dtype=object),
        "cat": ["a", "b", None, "a", "b", "a"] * 50,
        "intcat": [1, 2, 3, 1, 2, 3] * 50,
    })
    cur = pd.DataFrame({
        "nan": [np.nan] * 100,  # empty current window for this column
        "inf": [np.inf, 1.0, 2.0, 3.0] * 25,
        "const": [7.0] * 100,
        "text": ["3", "4", "oops", "5"] * 25,
        "mixed": pd.Series([1, 2, 3.5, 4] * 25, dtype=object),
        "cat": ["a", "z", "b", np.nan] * 25,
        "intcat": [1.0, 2.0, 3.0, 3.0] * 25,  # floats meet the reference's ints
    })
    kinds = {c: "numerical" for c in ("nan", "inf", "const", "text", "mixed")} | {"cat": "categorical", "intcat": "categorical"}
    cfg = _config()
    prof = fit_profile(ref, kinds, cfg)
    res = detect_drift(prof, cur, cfg, {c: "feature" for c in kinds} | {"gone": "feature"})
    d = res.to_dict()
    json.dumps(d, allow_nan=False)
    f = d["features"]
    assert f["nan"]["statistic"] is None and f["nan"]["drifted"] is False
    assert "no usable values" in f["nan"]["note"] and f["nan"]["nulls_current"] == 100
    assert f["nan"]["nulls_reference"] == 100
    assert "infinite current values" in f["inf"]["note"] and "infinite reference values" in f["inf"]["note"]
    assert f["inf"]["n_current"] == 75
    assert f["const"]["statistic"] == 0 and f["const"]["drifted"] is False and "constant" in f["const"]["note"]
    assert "as text" in f["text"]["note"] and f["text"]["nulls_current"] == 25 and f["text"]["n_current"] == 75
    assert f["mixed"]["statistic"] is not None
    assert "reference values of mixed" in f["mixed"]["note"] and "current values of mixed" in f["mixed"]["note"]
    assert "never seen in training" in f["cat"]["note"] and "'z'" in f["cat"]["note"]
    assert f["cat"]["nulls_current"] == 25
    assert f["intcat"]["statistic"] is not None and "never seen" not in (f["intcat"]["note"] or "")
    assert "gone" in d["skipped"] and "not in the reference profile" in d["skipped"]["gone"]
    assert d["n_features"] == 6  # the empty-window column is reported but not counted


def test_empty_current_frame_and_missing_column():
    ref, cur, kinds, roles = _frames(n=200)
    cfg = _config()
    prof = fit_profile(ref, kinds, cfg)
    d = detect_drift(prof, cur.iloc[:0], cfg, roles).to_dict()
    assert d["n_features"] == 0 and d["dataset_drift"] is False and d["share_drifted"] == 0.0
    assert all("no usable values" in f["note"] for f in d["features"].values())
    d = detect_drift(prof, cur.drop(columns=["f1"]), cfg, roles).to_dict()
    assert d["skipped"]["f1"] == "not in the current data" and "f1" not in d["features"]


def test_pandas_categorical_and_odd_cells_do_not_crash():
    ref = pd.DataFrame({"c": pd.Categorical(list("aab") * 20, categories=list("abcd")), "d": [1.0, 2.0] * 30})
    cur = pd.DataFrame({"c": pd.Categorical(list("abb") * 10, categories=list("abcd")), "d": [[1], [2]] * 15})
    cfg = _config()
    prof = fit_profile(ref, {"c": "categorical", "d": "numerical"}, cfg)
    assert prof.columns["c"].categories == ("a", "b")  # unused categories are not values
    d = detect_drift(prof, cur, cfg, {"c": "feature", "d": "feature"}).to_dict()
    assert d["features"]["c"]["p_value"] is not None and sorted(d["features"]["c"]["histogram"]["categories"]) == ["a", "b"]
    assert d["features"]["d"]["drifted"] is False and "no usable values" in d["features"]["d"]["note"]


def test_unforeseen_error_in_a_method_becomes_a_note(monkeypatch):
    import dataclasses

    def boom(pair):
        raise FloatingPointError("unexpected")

    monkeypatch.setitem(METHODS, "ks", dataclasses.replace(METHODS["ks"], func=boom))
    got = run_one([1.0, 2.0, 3.0], [1.0, 2.0], "ks")
    assert got["drifted"] is False and "could not be computed: FloatingPointError" in got["note"]


def test_many_categories_chart_is_capped():
    rng = np.random.default_rng(0)
    ref = rng.integers(0, 60, 5000).astype(str)
    cur = rng.integers(0, 70, 5000).astype(str)
    got = run_one(ref, cur, kind="categorical")
    h = got["histogram"]
    assert len(h["categories"]) == 20 and h["categories"][-1].startswith("(other")
    assert sum(h["reference"]) == pytest.approx(1.0) and sum(h["current"]) == pytest.approx(1.0)


# --------------------------------------------------------------------------- methods registry and config


def test_unknown_method_lists_known_names():
    with pytest.raises(UnknownMethodError) as err:
        METHODS["kolmogorov"]
    assert "'kolmogorov'" in str(err.value) and "wasserstein" in str(err.value) and "jensenshannon" in str(err.value)
    with pytest.raises(ConfigError) as err:
        parse_config(
            {
                "name": "m",
                "reference": {"uri": "ref.parquet"},
                "production": {"uri": "prod/"},
                "model": {"task": "regression", "target": "y", "prediction": "p"},
                "output": {"uri": "out/"},
                "drift": {"method": "kolmogorov"},
            },
            "m.yaml",
        )
    assert "drift.method" in str(err.value) and "known methods" in str(err.value) and "wasserstein" in str(err.value)
    with pytest.raises(ValueError):
        DriftConfig(features={"x": DriftOverride(method="nope")})
    bad = DriftConfig.model_construct(method="nope", features={})
    with pytest.raises(UnknownMethodError):
        fit_profile(pd.DataFrame({"x": [1.0]}), {"x": "numerical"}, bad)


def test_config_names_and_registry_agree():
    assert set(DRIFT_METHODS) == set(METHODS) | {"auto"}


def test_numeric_only_method_on_category_override_is_a_config_error():
    cfg = _config(features={"x": DriftOverride(method="ks")})
    prof = fit_profile(pd.DataFrame({"x": list("ab") * 5}), {"x": "categorical"}, cfg)
    with pytest.raises(ConfigError, match="categorical"):
        detect_drift(prof, pd.DataFrame({"x": list("ab")}), cfg, {"x": "feature"})


def test_fit_profile_rejects_unknown_columns():
    with pytest.raises(DataError, match="not in the reference"):
        fit_profile(pd.DataFrame({"x": [1.0]}), {"y": "numerical"}, _config())


# --------------------------------------------------------------------------- profile serialisation and cache key


def test_profile_roundtrip_without_pickle():
    ref, cur, kinds, roles = _frames(n=500)
    ref.loc[::7, "f0"] = np.nan
    cfg = _config()
    prof = fit_profile(ref, kinds, _config(multivariate={"enabled": True}))  # with its row sample
    blob = prof.to_bytes()
    assert isinstance(blob, bytes)
    back = ReferenceProfile.from_bytes(blob)
    assert list(back.columns) == list(prof.columns)
    for name, cp in prof.columns.items():
        other = back.columns[name]
        assert other.kind == cp.kind and other.n_null == cp.n_null and other.categories == cp.categories
        if cp.kind == "numerical":
            assert np.array_equal(other.sorted_values(), cp.sorted_values())
            assert other.sorted_values().dtype == np.float64
    a = detect_drift(prof, cur, cfg, roles).to_dict()
    b = detect_drift(back, cur, cfg, roles).to_dict()
    assert a == b
    # loaded without copying: read-only views into the one buffer (no pickle: a JSON header and raw arrays)
    f0 = back.columns["f0"].sorted_values()
    assert not f0.flags.owndata and not f0.flags.writeable
    assert np.shares_memory(f0, np.frombuffer(blob, dtype=np.uint8))
    assert back.sample is not None and back.sample.dtype == np.float64 and np.array_equal(back.sample, prof.sample, equal_nan=True)
    with pytest.raises(DataError, match="fitted again"):
        ReferenceProfile.from_bytes(b"not a profile")


def test_few_valued_numeric_profile_is_stored_as_runs():
    rng = np.random.default_rng(2)
    ref = pd.DataFrame({"n": rng.integers(0, 10, 50_000), "f": rng.normal(size=50_000)})
    cfg = _config()
    prof = fit_profile(ref, {"n": "numerical", "f": "numerical"}, cfg)
    n = prof.columns["n"]
    assert n.values is None and n.run_values.size == 10 and n.n_valid == 50_000
    assert np.array_equal(n.sorted_values(), np.sort(ref["n"].to_numpy().astype(float)))
    assert prof.columns["f"].values is not None
    assert len(prof.to_bytes()) < 50_000 * 8 + 100_000  # the float column, plus little for the integer one
    cur = pd.DataFrame({"n": rng.integers(0, 11, 40_000), "f": rng.normal(size=40_000)})
    got = detect_drift(ReferenceProfile.from_bytes(prof.to_bytes()), cur, _config(method="ks"), None).to_dict()
    want = stats.ks_2samp(ref["n"], cur["n"])
    assert abs(got["features"]["n"]["statistic"] - want.statistic) < TOL and abs(got["features"]["n"]["p_value"] - want.pvalue) < TOL


def test_profile_cache_key():
    cols = {"a": "numerical", "b": "categorical"}
    k = profile_cache_key("etag-1", cols, _config())
    assert len(k) <= 32 and int(k, 16) >= 0
    assert k == profile_cache_key("etag-1", dict(reversed(cols.items())), _config(method="ks", share=0.3))
    assert k != profile_cache_key("etag-2", cols, _config())
    assert k != profile_cache_key("etag-1", {"a": "categorical", "b": "categorical"}, _config())
    assert k != profile_cache_key("etag-1", cols, _config(psi_bins=20))


def test_megabyte_categories_are_profiled_by_a_short_key_with_the_same_counts():
    from monitor.stages.drift.columns import category_counts

    a, b = "A" * 1_000_000 + "1", "A" * 1_000_000 + "2"  # share their start, differ at the end
    keys, counts, n_null = category_counts(pd.Series([a, a, b, "x", None]))
    assert sorted(counts.tolist()) == [1, 1, 2] and n_null == 1
    assert max(map(len, keys)) == 200 and len(set(keys)) == 3
    ref = pd.DataFrame({"c": [a] * 50 + [b] * 50 + ["x"] * 100})
    profile = fit_profile(ref, {"c": "categorical"}, _config())
    assert max(len(k) for k in profile.columns["c"].categories) == 200
    assert len(profile.to_bytes()) < 20_000  # not 100 MB of category values
    res = detect_drift(profile, ref.copy(), _config(), {"c": "feature"}).to_dict()["features"]["c"]
    assert res["drifted"] is False and res["statistic"] == pytest.approx(0.0)
