"""A run starts scikit-learn's import (for the domain classifier) before it reads the parquet, so the
import overlaps the reads; a monitor with the classifier switched off never starts it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from monitor.config import load_config
from monitor.errors import DataError
from monitor.run import phases
from monitor.stages.drift import multivariate


def _config(tmp_path: Path, enabled: bool) -> Path:
    path = tmp_path / "m.yaml"
    path.write_text(
        f"""name: m
reference: {{uri: "{tmp_path}/ref.parquet"}}
production: {{uri: "{tmp_path}/prod/dt={{date}}/"}}
model: {{task: binary_classification, target: y, prediction: p, score: s, id: id}}
drift: {{multivariate: {{enabled: {str(enabled).lower()}}}}}
output: {{uri: "{tmp_path}/out/"}}
email: {{outbox: "{tmp_path}/outbox"}}
"""
    )
    return path


@pytest.mark.parametrize("enabled", [True, False])
def test_the_import_starts_before_the_reads_only_when_the_classifier_runs(tmp_path, monkeypatch, enabled):
    started: list[int] = []
    monkeypatch.setattr(multivariate, "_prefetch", None)
    monkeypatch.setattr(multivariate, "prefetch_classifier", lambda: started.append(1))
    seen: list[int] = []

    def read_inputs(*_a, **_k):
        seen.append(len(started))  # how many prefetches had begun when the reading began
        raise DataError("stop here: the test looks at what came before the reads")

    monkeypatch.setattr(phases, "read_inputs", read_inputs)
    cfg = load_config(_config(tmp_path, enabled))
    with pytest.raises(DataError):
        phases.compute(cfg, dt.date(2026, 1, 15), phases.RunOptions(send_email=False, failure_notice=False))
    assert seen == ([1] if enabled else [0])
