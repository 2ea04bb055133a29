"""Config rules owned by the output side: outputs never inside inputs, and bounded time limits."""

from __future__ import annotations

from typing import Any

import pytest

from monitor.config import parse_config
from monitor.errors import ConfigError


def _cfg(**over: Any) -> dict:
    data: dict[str, Any] = {
        "name": "m",
        "reference": {"uri": "s3://data/m/train.parquet"},
        "production": {"uri": "s3://data/m/predictions/dt={date}/"},
        "labels": {"uri": "s3://labels/m/dt={date}/"},
        "model": {"task": "binary_classification", "target": "y", "prediction": "p"},
        "output": {"uri": "s3://monitoring/"},
    }
    data.update(over)
    return data


@pytest.mark.parametrize("output", [
    "s3://data/",                       # around every input
    "s3://data/m/predictions/dt=x/",    # inside the production prefix
    "s3://labels/m/dt=2026-01-01/out",  # inside the labels prefix
])
def test_output_inside_or_around_an_input_is_refused(output):
    with pytest.raises(ConfigError, match=r"output\.uri .* the input (production|labels|reference)\.uri"):
        parse_config(_cfg(output={"uri": output}), "m.yaml")


def test_output_beside_the_inputs_is_fine(tmp_path):
    parse_config(_cfg(output={"uri": "s3://data/m/monitoring/"}), "m.yaml")
    local = _cfg(reference={"uri": str(tmp_path / "ref.parquet")}, production={"uri": str(tmp_path / "prod" / "dt={date}") + "/"},
                 labels=None, output={"uri": str(tmp_path / "out")})
    parse_config(local, "m.yaml")
    local["production"] = {"uri": str(tmp_path) + "/"}  # a production prefix holding the outputs
    with pytest.raises(ConfigError, match="production"):
        parse_config(local, "m.yaml")


def test_limits_have_defaults_and_bounds():
    cfg = parse_config(_cfg(), "m.yaml")
    assert cfg.limits.read_seconds > 0 and cfg.limits.run_seconds >= cfg.limits.read_seconds
    assert parse_config(_cfg(limits={"read_seconds": 2, "run_seconds": 30}), "m.yaml").limits.read_seconds == 2
    for bad in ({"read_seconds": 0}, {"run_seconds": 10**9}, {"read_seconds": -1}, {"timeout": 3}):
        with pytest.raises(ConfigError, match="limits"):
            parse_config(_cfg(limits=bad), "m.yaml")
