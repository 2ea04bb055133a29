"""The alert benchmark at CI size (bench/bench_alerts.py --small): every injected incident is
caught and named, and the healthy days stay `ok` (their emails say OK).

Slow: it plays ~40 nightly runs through the CLI in process (about 2 minutes on 2 cores).
"""

from __future__ import annotations

import pytest

from bench.bench_alerts import INCIDENTS, SMALL, run_bench

pytestmark = pytest.mark.slow


def test_every_incident_is_caught_and_named_and_healthy_days_are_ok(tmp_path):
    lines: list[str] = []
    result = run_bench(SMALL, INCIDENTS, tmp_path, seed=11, out=lines.append)
    report = "\n".join(lines)
    assert len(result.outcomes) == len(INCIDENTS) >= 15
    missed = [o.incident.name for o in result.outcomes if o.named_night is None or o.caught_night is None]
    assert not missed, report
    assert not [o.errors for o in result.outcomes if o.errors], report
    # every healthy day ok, on its night and once its labels are final, and its email says OK
    assert result.false_alarm_days == [], report
    assert report.splitlines()[-1] == f"incidents={len(INCIDENTS)} caught={len(INCIDENTS)} healthy_days={SMALL.healthy} false_alarm_days=0"
    # incidents that only touch the labels leave the production data as healthy as before: no drift alert
    # but on the target itself (inverted labels are a real target drift)
    labels_only = {o.incident.name: [t for t in o.tags if t.startswith("drift:") and t != "drift:repaid"] for o in result.outcomes if o.incident.partition is None
                   and o.incident.labels is not None}
    assert labels_only and not any(labels_only.values()), (labels_only, report)
    # Abrupt data incidents are named the morning after they start.
    abrupt = {"partial_nulls", "recoded_categories", "partial_arrival", "double_written", "dropped_column",
              "renamed_column", "numbers_as_text", "nan_scores", "late_partition", "wrong_day_timestamps", "constant_score"}
    late = {o.incident.name: o.named_night for o in result.outcomes if o.incident.name in abrupt and o.named_night != 0}
    assert not late, report
