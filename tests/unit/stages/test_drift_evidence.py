"""Drift beyond the per-column statistics: minimum evidence, the newest day on its own, the domain
classifier, per-class score drift. Each rule has a case that must alert and one that must not."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from monitor.config import DriftConfig
from monitor.errors import DataError
from monitor.stages.drift import Day, ReferenceProfile, detect_drift, fit_profile
from monitor.stages.drift.multivariate import auc_delong


def _config(**kw) -> DriftConfig:
    kw.setdefault("multivariate", {"enabled": False})
    kw.setdefault("workers", 1)
    return DriftConfig(**kw)


def _reference(n: int = 20_000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    a = rng.normal(size=n)
    return pd.DataFrame({
        "a": a,
        "b": a + rng.normal(scale=0.3, size=n),  # strongly tied to a
        "c": rng.lognormal(size=n),
        "k": rng.choice(["x", "y", "z"], n, p=[0.5, 0.3, 0.2]),
    })


KINDS = {"a": "numerical", "b": "numerical", "c": "numerical", "k": "categorical"}


# --------------------------------------------------------------------------- minimum evidence


def test_one_row_partition_never_gives_dataset_drift():
    ref = _reference()
    cfg = _config()
    prof = fit_profile(ref, KINDS, cfg)
    one = pd.DataFrame({"a": [9.0], "b": [-9.0], "c": [100.0], "k": ["z"]})
    res = detect_drift(prof, one, cfg)
    d = res.to_dict()
    assert not res.dataset_drift and d["verdict"] == "too few rows" and res.alerts() == []
    assert all(f["verdict"] == "too few rows" and not f["drifted"] for f in d["features"].values())
    assert "too few rows" in d["features"]["a"]["note"]
    # the same shift with enough rows: drift, named
    rng = np.random.default_rng(1)
    many = pd.DataFrame({"a": rng.normal(3, size=200), "b": rng.normal(-3, size=200), "c": rng.lognormal(3, size=200),
                         "k": ["z"] * 200})
    res = detect_drift(prof, many, cfg)
    assert res.dataset_drift and res.to_dict()["verdict"] == "drift"
    assert any(a.subject == "dataset" for a in res.alerts())


def test_min_rows_is_configurable():
    ref = _reference(2000)
    cur = pd.DataFrame({"a": np.full(20, 5.0), "b": np.full(20, 5.0), "c": np.full(20, 50.0), "k": ["z"] * 20})
    low = _config(min_rows=10)
    assert detect_drift(fit_profile(ref, KINDS, low), cur, low).dataset_drift
    high = _config(min_rows=21)
    assert not detect_drift(fit_profile(ref, KINDS, high), cur, high).dataset_drift


# --------------------------------------------------------------------------- the newest day


def _window(ref_seed: int, days: int = 30, per_day: int = 165, shift_last: float = 0.0, seed: int = 5):
    rng = np.random.default_rng(seed)
    frames = []
    for d in range(days):
        n = per_day
        a = rng.normal(size=n) + (shift_last if d == days - 1 else 0.0)
        frames.append(pd.DataFrame({"a": a, "b": a + rng.normal(scale=0.3, size=n), "c": rng.lognormal(size=n),
                                    "k": rng.choice(["x", "y", "z"], n, p=[0.5, 0.3, 0.2])}))
    window = pd.concat(frames, ignore_index=True)
    return window, window.iloc[len(window) - per_day:]


def test_abrupt_shift_is_named_the_morning_after():
    ref = _reference()
    cfg = _config()
    prof = fit_profile(ref, KINDS, cfg)
    window, last = _window(0, shift_last=0.8)
    res = detect_drift(prof, window, cfg, newest_day=Day("2026-03-30", last))
    # the 30-day window has barely moved ...
    assert not res.features["a"].drifted
    # ... the newest day on its own has
    nd = res.to_dict()["newest_day"]
    assert nd["date"] == "2026-03-30" and nd["rows"] == 165
    assert set(nd["drifted"]) >= {"a", "b"} and "c" not in nd["drifted"] and "k" not in nd["drifted"]
    assert nd["features"]["a"]["method"] == "wasserstein" and nd["features"]["a"]["statistic"] > 0.5
    alerts = [a for a in res.alerts() if a.subject == "newest day"]
    assert len(alerts) == 1 and "2026-03-30" in alerts[0].message and "`a`" in alerts[0].message


def test_small_healthy_days_stay_quiet():
    ref = _reference()
    cfg = _config()
    prof = fit_profile(ref, KINDS, cfg)
    for seed in range(12):  # twelve healthy nights at 165 rows: distances of ~0.1 are normal at this size
        window, last = _window(0, seed=100 + seed)
        res = detect_drift(prof, window, cfg, newest_day=Day(f"2026-04-{seed + 1:02d}", last))
        assert res.newest_day is not None and res.newest_day.drifted == [], res.newest_day.to_dict()
        assert res.alerts() == []


def test_newest_day_too_small_or_switched_off():
    ref = _reference(5000)
    prof = fit_profile(ref, KINDS, _config())
    window, last = _window(0, shift_last=3.0)
    tiny = last.iloc[:10]
    res = detect_drift(prof, window, _config(), newest_day=Day("2026-03-30", tiny))
    assert res.newest_day is not None and res.newest_day.drifted == [] and "too few rows" in (res.newest_day.note or "")
    off = _config(newest_day={"enabled": False})
    assert detect_drift(prof, window, off, newest_day=Day("2026-03-30", last)).newest_day is None


def test_newest_day_categorical_shift():
    ref = _reference()
    cfg = _config()
    prof = fit_profile(ref, KINDS, cfg)
    window, last = _window(0)
    last = last.assign(k=["z"] * 120 + ["x"] * 45)  # z was 20% of rows, now 73%
    res = detect_drift(prof, window, cfg, newest_day=Day("2026-03-30", last))
    assert res.newest_day is not None and res.newest_day.drifted == ["k"]
    assert res.newest_day.features["k"].method == "jensenshannon"


# --------------------------------------------------------------------------- the domain classifier


def _mv_config(**kw) -> DriftConfig:
    return DriftConfig(workers=1, multivariate={"max_rows": 1500, "folds": 4, **kw})


def test_domain_classifier_catches_a_wrong_key_join_and_stays_quiet_when_stable():
    ref = _reference(6000)
    cfg = _mv_config()
    prof = fit_profile(ref, KINDS, cfg)
    stable = _reference(1500, seed=9)
    res = detect_drift(prof, stable, cfg)
    mv = res.to_dict()["multivariate"]
    assert mv["method"] == "domain_classifier" and not mv["drifted"] and mv["ci_low"] < 0.55
    assert 0.4 < mv["statistic"] < 0.6 and res.alerts() == []

    broken = stable.assign(b=stable["b"].to_numpy()[np.random.default_rng(3).permutation(len(stable))])
    res = detect_drift(prof, broken, cfg)
    assert not any(c.drifted for c in res.features.values())  # every marginal is intact ...
    mv = res.to_dict()["multivariate"]
    assert mv["drifted"] and mv["ci_low"] > mv["threshold"] == 0.55 and mv["statistic"] > 0.7  # ... the joint is not
    assert {t["column"] for t in mv["top_features"][:2]} == {"a", "b"}
    alert = [a for a in res.alerts() if a.subject == "multivariate"]
    assert len(alert) == 1 and "ROC AUC" in alert[0].message


def test_domain_classifier_too_few_rows_has_no_verdict():
    ref = _reference(3000)
    cfg = _mv_config()
    prof = fit_profile(ref, KINDS, cfg)
    mv = detect_drift(prof, _reference(12, seed=4), cfg).multivariate
    assert mv is not None and mv.statistic is None and not mv.drifted and mv.verdict == "too few rows"


def test_auc_delong_matches_sklearn_and_known_variance():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    s = rng.normal(size=400) + y * 0.8
    s[::5] = np.round(s[::5], 1)  # ties
    auc, se = auc_delong(y, s)
    assert abs(auc - roc_auc_score(y, s)) < 1e-12
    assert 0.01 < se < 0.05


# --------------------------------------------------------------------------- multiclass: score drift per class


def test_score_drift_per_class():
    rng = np.random.default_rng(0)
    n = 4000
    p = rng.dirichlet([4, 3, 2], n)
    ref = pd.DataFrame({"p_gold": p[:, 0], "p_silver": p[:, 1], "p_bronze": p[:, 2]})
    q = rng.dirichlet([4, 3, 2], n)
    cur = pd.DataFrame({"p_gold": np.clip(q[:, 0] + 0.2, 0, 1), "p_silver": q[:, 1], "p_bronze": q[:, 2]})
    roles = {c: "prediction" for c in ref.columns}
    cfg = _config()
    res = detect_drift(fit_profile(ref, {c: "numerical" for c in ref.columns}, cfg), cur, cfg, roles)
    assert res.prediction["p_gold"].drifted and not res.prediction["p_silver"].drifted
    assert not res.prediction["p_bronze"].drifted
    assert [a.subject for a in res.alerts()] == ["p_gold"]


# --------------------------------------------------------------------------- the cached profile


def test_profile_of_an_older_format_is_refused_with_the_fix():
    buf = io.BytesIO()
    np.savez(buf, header=np.zeros(3, dtype=np.uint8))  # version 2 was an .npz archive
    with pytest.raises(DataError, match="fitted again"):
        ReferenceProfile.from_bytes(buf.getvalue())
    blob = fit_profile(_reference(500), KINDS, _config()).to_bytes()
    with pytest.raises(DataError, match="fitted again"):
        ReferenceProfile.from_bytes(blob[: len(blob) // 2])  # truncated


# --------------------------------------------------------------------------- distance verdicts at the window's size


def test_window_distance_alerts_only_when_improbable_at_its_size():
    """A distance method's threshold (0.1) is reached by chance at small n: 60 healthy rows from the
    reference are at a normed Wasserstein of ~0.1. The column drifts only when the distance is also
    improbable for a sample of its size (resampled reference, BH, newest_day.alpha)."""
    prof = fit_profile(_reference(), KINDS, _config())
    cfg = _config()
    chance, flagged = 0, 0
    for seed in range(20):  # must not alert: healthy windows of 60 rows
        rng = np.random.default_rng(300 + seed)
        a = rng.normal(size=60)
        cur = pd.DataFrame({"a": a, "b": a + rng.normal(scale=0.3, size=60), "c": rng.lognormal(size=60),
                            "k": rng.choice(["x", "y", "z"], 60, p=[0.5, 0.3, 0.2])})
        res = detect_drift(prof, cur, cfg)
        chance += sum(bool(c.drifted_evidently) for c in res.features.values())
        flagged += sum(c.drifted for c in res.features.values())
        for c in res.features.values():
            assert (c.p_value_resampled is not None) == bool(c.drifted_evidently)  # resampled only above the threshold
    assert chance >= 10 and flagged == 0
    # must alert: the same size, shifted by one standard deviation
    rng = np.random.default_rng(1)
    a = rng.normal(1.0, size=60)
    cur = pd.DataFrame({"a": a, "b": a + rng.normal(scale=0.3, size=60), "c": rng.lognormal(size=60), "k": ["x"] * 60})
    d = detect_drift(prof, cur, cfg).to_dict()["features"]
    assert d["a"]["method"] == "wasserstein" and d["a"]["drifted"] and d["a"]["p_value_adjusted"] < 0.001
    assert d["a"]["p_value"] is None and d["a"]["p_value_resampled"] <= d["a"]["p_value_adjusted"]
    assert d["k"]["method"] == "jensenshannon" and d["k"]["drifted"] and not d["c"]["drifted"]


def test_resampled_null_counts_the_references_own_noise():
    """Two samples of 300 from one distribution: the test rejects at about its level (the reference is a
    sample too); measured against the reference as if it were the population, it rejects far more often."""
    from monitor.stages.drift.newest_day import sample_p_value, tail_p_value, wasserstein_day, wasserstein_null
    from monitor.stages.drift.pair import prepare

    cfg = _config()
    two, one = [], []
    for seed in range(150):
        rng = np.random.default_rng(1000 + seed)
        cp = fit_profile(pd.DataFrame({"a": rng.normal(size=300)}), {"a": "numerical"}, cfg).columns["a"]
        pair = prepare(cp, pd.Series(rng.normal(size=300)))[0]
        two.append(sample_p_value(cp, pair, 400)[2])
        ref, scale = cp.sorted_values(), cp.std
        stat = wasserstein_day(ref, pair.y) / scale
        one.append(tail_p_value(stat, wasserstein_null(ref, 300, 400, np.random.default_rng(seed)) / scale))
    assert np.mean(np.array(two) < 0.05) <= 0.09
    assert np.mean(np.array(one) < 0.05) >= 2 * max(np.mean(np.array(two) < 0.05), 0.03)
    # must reject: a shift of half a standard deviation at the same sizes
    rng = np.random.default_rng(5)
    cp = fit_profile(pd.DataFrame({"a": rng.normal(size=300)}), {"a": "numerical"}, cfg).columns["a"]
    assert sample_p_value(cp, prepare(cp, pd.Series(rng.normal(0.5, size=300)))[0], 400)[2] < 0.001


def test_small_reference_p_value_verdicts_hold_the_nightly_level():
    """A reference of a few hundred rows gets p-value methods (KS, chi-square, z). At BH 0.05 per role,
    healthy windows drawn from the reference's own distribution warned on ~15% of nights (features,
    prediction and target each a family); the verdict now also needs newest_day.alpha, as distances do."""
    cfg = _config()
    kinds = {**KINDS, "pred": "numerical", "y": "numerical"}
    roles = {"a": "feature", "b": "feature", "c": "feature", "k": "feature", "pred": "prediction", "y": "target"}

    def frame(n, rng, shift=0.0):
        f = _reference(n, int(rng.integers(1 << 30)))
        return f.assign(a=f["a"] + shift, pred=rng.normal(size=n) + shift, y=rng.normal(size=n))

    rng = np.random.default_rng(11)
    evidently, flagged = 0, 0
    for _ in range(40):  # must not alert: 60 healthy rows against 243 reference rows
        prof = fit_profile(frame(243, rng), kinds, cfg)
        res = detect_drift(prof, frame(60, rng), cfg, roles)
        cols = [*res.features.values(), *res.prediction.values(), *res.target.values()]
        assert all(c.method in ("ks", "chisquare") for c in cols)
        evidently += any(c.p_value_adjusted is not None and c.p_value_adjusted < 0.05 for c in cols)
        flagged += any(c.drifted for c in cols)
    assert evidently >= 2 and flagged == 0
    # must alert: the same sizes, a feature and the prediction moved by one standard deviation
    prof = fit_profile(frame(243, rng), kinds, cfg)
    res = detect_drift(prof, frame(60, rng, shift=1.0), cfg, roles)
    assert res.features["a"].drifted and res.prediction["pred"].drifted and res.features["a"].p_value_adjusted < 0.001
    assert not res.target["y"].drifted and not res.features["c"].drifted


def test_anderson_alerts_at_its_smallest_p_value():
    """Anderson-Darling's p-value table stops at 0.001: a shift far beyond it still drifts; a same-distribution
    sample does not."""
    rng = np.random.default_rng(3)
    cfg = _config(method="anderson")
    prof = fit_profile(pd.DataFrame({"a": rng.normal(size=300)}), {"a": "numerical"}, cfg)
    moved = detect_drift(prof, pd.DataFrame({"a": rng.normal(2.0, size=100)}), cfg).features["a"]
    same = detect_drift(prof, pd.DataFrame({"a": rng.normal(size=100)}), cfg).features["a"]
    assert moved.p_value == 0.001 and moved.drifted
    assert not same.drifted


def _scored(n: int, rng, in_sample: bool = False, squash: float = 1.0) -> pd.DataFrame:
    """Rows with a model score; in-sample scores are sharper (a forest on its own training rows)."""
    f = _reference(n, int(rng.integers(1 << 30)))
    logit = 1.5 * f["a"] + rng.normal(scale=0.5, size=n)
    logit = logit * (3.0 if in_sample else 1.0) * squash
    return f.assign(score=1 / (1 + np.exp(-logit)))


def test_model_outputs_are_compared_with_the_held_out_baseline():
    """The training snapshot's own scores are in-sample: every healthy day 'drifted' from them. With the
    baseline's held-out scores as the outputs' reference, healthy days are quiet and a real score change
    is still named (and the domain classifier samples the baseline's rows, features and score together)."""
    rng = np.random.default_rng(21)
    cfg = _config(multivariate={"enabled": True, "max_rows": 1500})
    kinds = {**KINDS, "score": "numerical"}
    roles = {**{c: "feature" for c in KINDS}, "score": "prediction"}
    train, baseline = _scored(20_000, rng, in_sample=True), _scored(5_000, rng)
    healthy, squashed = _scored(2_000, rng), _scored(2_000, rng, squash=0.4)
    # before: the training snapshot's scores as the reference: a healthy day's score drifts
    old = detect_drift(fit_profile(train, kinds, cfg), healthy, cfg, roles)
    assert old.prediction["score"].drifted
    prof = fit_profile(train, kinds, cfg, held_out=baseline, held_out_columns=("score",))
    assert prof.columns["score"].n_rows == 5_000 and prof.columns["a"].n_rows == 20_000
    res = detect_drift(prof, healthy, cfg, roles)
    assert not res.prediction["score"].drifted and not any(c.drifted for c in res.features.values())
    assert res.multivariate is not None and not res.multivariate.drifted
    res = detect_drift(prof, squashed, cfg, roles)
    assert res.prediction["score"].drifted and not any(c.drifted for c in res.features.values())
    # a baseline without the feature columns: its scores still serve; the classifier sees the features only
    prof = fit_profile(train, kinds, cfg, held_out=baseline[["score"]], held_out_columns=("score",))
    assert prof.sample_columns == tuple(KINDS) and not detect_drift(prof, healthy, cfg, roles).prediction["score"].drifted


def test_many_drifted_class_scores_make_one_alert():
    """A multiclass model's scores move together when it degrades: seven 'prediction drift' warnings for one
    incident (field test: digits, one cohort served noise) become one alert naming the largest shifts."""
    rng = np.random.default_rng(2)
    n, k = 3000, 8
    ref = pd.DataFrame(rng.dirichlet(np.ones(k) * 2, n), columns=[f"p_{j}" for j in range(k)])
    noisy = pd.DataFrame(rng.dirichlet(np.ones(k) * 0.3, n), columns=ref.columns)  # much less/more confident
    roles = {c: "prediction" for c in ref.columns}
    cfg = _config()
    prof = fit_profile(ref, {c: "numerical" for c in ref.columns}, cfg)
    res = detect_drift(prof, noisy, cfg, roles)
    assert sum(c.drifted for c in res.prediction.values()) > 3
    alerts = res.alerts()
    assert [a.subject for a in alerts] == ["model outputs"]
    assert f"of {k} output columns drifted" in alerts[0].message and "more" in alerts[0].message
    # must not group: two drifted columns keep their own alerts
    two = ref.sample(n, random_state=1, replace=True).reset_index(drop=True)
    two[["p_0", "p_1"]] = np.clip(two[["p_0", "p_1"]] + 0.3, 0, 1)
    assert sorted(a.subject for a in detect_drift(prof, two, cfg, roles).alerts()) == ["p_0", "p_1"]


def test_wasserstein_day_in_blocks_equals_the_whole_day(monkeypatch):
    """A day larger than DAY_BLOCK is measured block by block (bounded memory) with the value the
    one-pass computation gives; a day within one block takes the one-pass path unchanged."""
    from monitor.stages.drift import newest_day as nd

    rng = np.random.default_rng(3)
    ref = np.sort(rng.lognormal(size=5_000))
    whole = {}
    for n in (300, 4_097):  # 300 rows: 2 atoms per row; 4097: one atom per row
        y = np.sort(rng.normal(1.0, 2.0, size=n))
        q = n * max(1, -(-nd.ATOMS // n))
        whole[n] = (y, float(nd._block_wasserstein(nd._quantiles(ref, q), y)))
    monkeypatch.setattr(nd, "DAY_BLOCK", 1_000)
    calls = []
    monkeypatch.setattr(nd, "_block_wasserstein", lambda a, y: calls.append(y.size) or np.abs(y[:, None] - a.reshape(y.size, -1)).mean())
    y, expected = whole[4_097]
    assert nd.wasserstein_day(ref, y) == pytest.approx(expected, rel=1e-12, abs=0)
    assert calls == []  # must block: 4097 values > DAY_BLOCK
    y, expected = whole[300]
    assert nd.wasserstein_day(ref, y) == pytest.approx(expected, rel=1e-12, abs=0)
    assert calls == [300]  # must not block: 600 atoms <= DAY_BLOCK
