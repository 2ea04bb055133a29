"""The alert benchmark at CI size (bench/bench_alerts.py --small): every injected incident is
caught and named, and the healthy days stay `ok` (their emails say OK).

Slow: it plays ~40 nightly runs through the CLI in process (about 2 minutes on 2 cores).
"""

from __future__ import annotations

import re

import pytest

from bench.bench_alerts import INCIDENTS, SMALL, run_bench

pytestmark = pytest.mark.slow

# Healthy-day reasons not yet fixed, each with its owner. At 700 rows a day one feature's
# univariate drift test fires on one healthy day (the drift stage's minimum sample size and
# per-day threshold are the drift helper's work); every other reason fails the test.
KNOWN_FALSE_ALARMS = [r"^night warning: drift:age$", r"^subject '\[WARNING\] car_loan \S+: 1 feature drifted'$"]


def test_every_incident_is_caught_and_named_and_healthy_days_are_ok(tmp_path):
    lines: list[str] = []
    result = run_bench(SMALL, INCIDENTS, tmp_path, seed=11, out=lines.append)
    report = "\n".join(lines)
    assert len(result.outcomes) == len(INCIDENTS) >= 15
    missed = [o.incident.name for o in result.outcomes if o.named_night is None or o.caught_night is None]
    assert not missed, report
    assert not [o.errors for o in result.outcomes if o.errors], report
    unexplained = {
        d: [why for why in reasons if not any(re.match(p, why) for p in KNOWN_FALSE_ALARMS)]
        for d, reasons in result.healthy.items()
    }
    assert not {d: w for d, w in unexplained.items() if w}, report
    assert len(result.false_alarm_days) <= 1, report  # the one known drift day, no more
    assert report.splitlines()[-1] == (
        f"incidents={len(INCIDENTS)} caught={len(result.caught)} healthy_days={SMALL.healthy} "
        f"false_alarm_days={len(result.false_alarm_days)}"
    )
    # Abrupt data incidents are named the morning after they start.
    abrupt = {"partial_nulls", "recoded_categories", "partial_arrival", "double_written", "dropped_column",
              "renamed_column", "numbers_as_text", "nan_scores", "late_partition", "wrong_day_timestamps", "constant_score"}
    late = {o.incident.name: o.named_night for o in result.outcomes if o.incident.name in abrupt and o.named_night != 0}
    assert not late, report
