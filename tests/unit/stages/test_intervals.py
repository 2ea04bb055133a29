"""Analytic intervals: equal to reference implementations, honest at small n, cover at nominal rate."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn import metrics as skm

from monitor.stages.performance.intervals import (
    bh_adjust,
    contrast_p_value,
    delong,
    difference_p_value,
    material_p_value,
    moment_delta_se,
    multinomial_delta_se,
    proportion_se,
    wilson_interval,
)


def counts(y: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    u, inv = np.unique(s, return_inverse=True)
    pos = np.bincount(inv, weights=y, minlength=u.size)
    return pos, np.bincount(inv, minlength=u.size) - pos


def delong_by_rows(y: np.ndarray, s: np.ndarray) -> tuple[float, float]:
    """DeLong's variance written out pair by pair (O(P x N)), as in the 1988 paper."""
    xp, xn = s[y == 1], s[y == 0]
    psi = (xp[:, None] > xn[None, :]) + 0.5 * (xp[:, None] == xn[None, :])
    v10, v01 = psi.mean(axis=1), psi.mean(axis=0)
    return float(psi.mean()), float(v10.var(ddof=1) / xp.size + v01.var(ddof=1) / xn.size)


def test_wilson_matches_statsmodels_and_is_never_zero_width():
    from statsmodels.stats.proportion import proportion_confint

    for k, n in [(0, 3), (3, 3), (1, 1), (17, 40), (790, 1000)]:
        lo, hi = wilson_interval(k, n, 0.95)
        ref = proportion_confint(k, n, alpha=0.05, method="wilson")
        assert (lo, hi) == pytest.approx(ref, abs=1e-12)
        assert hi - lo > 0.05 if n <= 40 else hi - lo > 0
    assert wilson_interval(0, 0, 0.95) == (None, None)
    assert proportion_se(0, 3, 0.95) > 0.1  # 0 of 3 is not evidence of an accuracy of exactly 0
    assert proportion_se(400, 1000, 0.95) == pytest.approx(math.sqrt(0.4 * 0.6 / 1000), rel=0.01)


def test_delong_equals_the_pairwise_definition_with_ties():
    rng = np.random.default_rng(0)
    y = (rng.random(300) < 0.3).astype(float)
    s = np.round(rng.normal(size=300) + y, 1)  # ties across classes
    auc, var = delong(*counts(y, s))
    ref_auc, ref_var = delong_by_rows(y, s)
    assert auc == pytest.approx(skm.roc_auc_score(y, s), abs=1e-12)
    assert auc == pytest.approx(ref_auc, abs=1e-12)
    assert var == pytest.approx(ref_var, rel=1e-10)


def test_delong_is_honest_on_few_rows_and_undefined_on_one_class():
    auc, var = delong(np.array([0, 0, 1.0]), np.array([1.0, 1, 0]))  # 3 rows, perfectly separated
    assert auc == 1.0 and math.sqrt(var) > 0.05
    assert delong(np.array([1.0, 2]), np.array([0.0, 0])) == (None, None)


def test_delong_interval_covers_at_nominal_rate():
    """Binormal scores with a known AUC: the 95% DeLong interval covers in ~95% of 400 repetitions."""
    true_auc = 0.5 * (1 + math.erf(1 / math.sqrt(2) / math.sqrt(2)))  # Phi(1/sqrt(2))
    rng = np.random.default_rng(1)
    hits = 0
    for _ in range(400):
        y = (rng.random(200) < 0.4).astype(float)
        auc, var = delong(*counts(y, rng.normal(size=200) + y))
        hits += abs(auc - true_auc) <= 1.96 * math.sqrt(var)
    assert 0.92 <= hits / 400 <= 0.98


def test_wilson_covers_at_small_n():
    rng = np.random.default_rng(2)
    for p, n in [(0.9, 15), (0.5, 8), (0.97, 60)]:
        ks = rng.binomial(n, p, 2000)
        cover = np.mean([lo <= p <= hi for lo, hi in (wilson_interval(k, n, 0.95) for k in ks)])
        assert cover >= 0.90, (p, n, cover)


def test_multinomial_delta_for_accuracy_and_f1():
    # accuracy from a 2x2 confusion matrix: the delta method gives the binomial standard error
    cm = np.array([[400.0, 100.0], [60.0, 440.0]])  # [[tn, fp], [fn, tp]]
    acc = lambda c: np.array([(c[0] + c[3]) / c.sum()])  # noqa: E731
    se = multinomial_delta_se(cm, acc, 0.95)[0]
    assert se == pytest.approx(math.sqrt(0.84 * 0.16 / 1000), rel=0.01)
    # F1 = 2tp / (2tp + fp + fn): against a large simulation of the same multinomial
    f1 = lambda c: np.array([2 * c[3] / (2 * c[3] + c[1] + c[2])])  # noqa: E731
    se_f1 = multinomial_delta_se(cm, f1, 0.95)[0]
    rng = np.random.default_rng(3)
    sims = rng.multinomial(1000, cm.ravel() / 1000, 20000).astype(float)
    ref = (2 * sims[:, 3] / (2 * sims[:, 3] + sims[:, 1] + sims[:, 2])).std()
    assert se_f1 == pytest.approx(ref, rel=0.05)
    # a perfect 5-row confusion matrix still has a spread
    assert multinomial_delta_se(np.array([2.0, 0, 0, 3]), f1, 0.95)[0] > 0.02


def test_moment_delta_for_mean_rmse_and_r2():
    rng = np.random.default_rng(4)
    e = rng.normal(loc=0.3, scale=2.0, size=5000)
    X = np.c_[e, e**2]
    sums, cross = X.sum(axis=0), X.T @ X
    se_mean = moment_delta_se(sums[:1], cross[:1, :1], e.size, lambda m: m)[0]
    assert se_mean == pytest.approx(e.std(ddof=1) / math.sqrt(e.size), rel=1e-6)
    # RMSE = sqrt(mean e^2): delta method against a bootstrap of the same rows
    se_rmse = moment_delta_se(sums[1:], cross[1:, 1:], e.size, np.sqrt)[0]
    boot = [np.sqrt((e[rng.integers(0, e.size, e.size)] ** 2).mean()) for _ in range(2000)]
    assert se_rmse == pytest.approx(np.std(boot), rel=0.08)
    assert np.isnan(moment_delta_se(sums[:1], cross[:1, :1], 1, lambda m: m)[0])


def test_difference_and_contrast_tests():
    assert difference_p_value(0.0, [0.1, 0.1]) == pytest.approx(1.0)
    assert difference_p_value(1.96 * math.sqrt(2) * 0.1, [0.1, 0.1]) == pytest.approx(0.05, abs=1e-3)
    assert difference_p_value(None, [0.1]) is None and difference_p_value(0.1, [None, 0.1]) is None
    # the whole model dropped 0.1 and so did the cohort: no contrast
    diff, p = contrast_p_value(-0.1, -0.1, [0.02, 0.02, 0.01, 0.01])
    assert diff == pytest.approx(0.0) and p == pytest.approx(1.0)
    # the cohort dropped 0.1 more than the rest: a strong contrast
    diff, p = contrast_p_value(-0.2, -0.1, [0.02, 0.02, 0.01, 0.01])
    assert diff == pytest.approx(-0.1) and p < 0.01


def test_material_p_value_tests_for_a_regression_beyond_min_delta():
    se = 0.01
    # must not alert: a drop of 2.5 SE that is only 1.5 SE beyond min_delta 0.01 (the old "significant
    # and at least min_delta" rule alerts on it: two-sided p 0.012, drop 0.025 >= 0.01)
    assert difference_p_value(-0.025, [se]) < 0.05
    assert material_p_value(-0.025, +1, 0.01, se) == pytest.approx(0.0668, abs=1e-3)
    # a drop of exactly min_delta is as likely a chance high as a chance low: p = 1/2
    assert material_p_value(-0.01, +1, 0.01, se) == pytest.approx(0.5)
    # must alert: 5 SE beyond min_delta, on either direction's scale (lower is better: a rise)
    assert material_p_value(-0.06, +1, 0.01, se) < 1e-6
    assert material_p_value(+0.06, -1, 0.01, se) < 1e-6
    # an improvement is no regression, however large
    assert material_p_value(+0.5, +1, 0.01, se) > 0.999
    # min_delta 0: the usual one-sided z test; direction 0: the two-sided one, then the interval null
    assert material_p_value(-1.645 * se, +1, 0.0, se) == pytest.approx(0.05, abs=1e-3)
    assert material_p_value(0.0196, 0, 0.0, se) == pytest.approx(0.05, abs=1e-3)
    assert material_p_value(-0.06, 0, 0.01, se) == pytest.approx(material_p_value(+0.06, 0, 0.01, se))
    assert material_p_value(-0.06, 0, 0.01, se) < 1e-6
    assert material_p_value(0.005, 0, 0.01, se) > 0.5
    # unknown inputs: no test; zero spread: decided by the change itself
    assert material_p_value(None, +1, 0.01, se) is None and material_p_value(-0.1, +1, None, se) is None
    assert material_p_value(-0.1, +1, 0.01, 0.0) == 0.0 and material_p_value(-0.005, +1, 0.01, 0.0) == 1.0


def test_material_test_false_alarm_rate_and_power_by_simulation():
    """Healthy windows against a baseline from the same model: alerts far below the nominal 5% once
    min_delta is about the standard error; a true drop of 5 min_delta is still found almost always."""
    rng = np.random.default_rng(7)
    n_cur, n_base, acc, md = 2000, 6000, 0.8, 0.01
    base = rng.binomial(n_base, acc, 4000) / n_base
    se = math.sqrt(acc * (1 - acc) / n_cur + acc * (1 - acc) / n_base)
    healthy = rng.binomial(n_cur, acc, 4000) / n_cur - base
    old = np.mean([difference_p_value(d, [se]) < 0.05 and -d >= md for d in healthy])
    new = np.mean([material_p_value(d, +1, md, se) < 0.05 for d in healthy])
    assert 0.02 < old and new < 0.01 and new < old / 3
    broken = rng.binomial(n_cur, acc - 5 * md, 4000) / n_cur - base
    assert np.mean([material_p_value(d, +1, md, se) < 0.05 for d in broken]) > 0.9


def test_bh_adjust_matches_hand_and_scipy():
    from scipy.stats import false_discovery_control

    p = np.array([0.01, 0.04, 0.03, 0.5])
    assert bh_adjust(p) == pytest.approx([0.04, 0.04 / 0.75, 0.04 / 0.75, 0.5])
    q = np.random.default_rng(0).random(50) ** 3
    assert bh_adjust(q) == pytest.approx(false_discovery_control(q, method="bh"))
    with_nan = bh_adjust([0.01, None, 0.02])
    assert np.isnan(with_nan[1]) and with_nan[0] == pytest.approx(0.02)  # None not counted in m


def test_delong_in_blocks_equals_the_whole_array_and_takes_integer_counts(monkeypatch):
    from monitor.stages.performance import intervals

    rng = np.random.default_rng(3)
    pos, neg = rng.integers(0, 3, 5000), rng.integers(0, 3, 5000)
    whole = delong(pos.astype(float), neg.astype(float))
    assert delong(pos.astype(np.int8), neg.astype(np.int8)) == whole  # one block: the same operations, bit for bit
    monkeypatch.setattr(intervals, "DELONG_BLOCK", 64)  # 79 blocks: exact cumulative counts, sums to rounding
    blocked = delong(pos.astype(np.int8), neg.astype(np.int8))
    assert blocked[0] == whole[0]  # the AUC's numerator is a sum of half-integers: exact in any order
    assert blocked[1] == pytest.approx(whole[1], rel=1e-13)
    monkeypatch.setattr(intervals, "DELONG_KEEP", 0)  # the blocks worked out again for the second pass: the same values
    assert delong(pos.astype(np.int8), neg.astype(np.int8)) == blocked
    monkeypatch.setattr(intervals, "DELONG_BLOCK", 1)
    assert delong(np.array([0, 1], np.int8), np.array([1, 0], np.int8)) == delong(np.array([0, 1.0]), np.array([1, 0.0]))
