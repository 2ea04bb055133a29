import textwrap

import pytest

from monitor.config import check_columns, load_config, parse_config
from monitor.errors import ConfigError

BASE = {
    "name": "car_loan",
    "reference": {"uri": "ref.parquet"},
    "production": {"uri": "prod/dt={date}/"},
    "model": {"task": "binary_classification", "target": "y", "prediction": "p"},
    "output": {"uri": "out/"},
}


def cfg(**over):
    return parse_config({**BASE, **over}, "m.yaml")


def test_minimal_config_gets_defaults():
    c = cfg()
    assert c.window_days == 1 and c.drift.method == "auto"
    assert c.metrics == ["roc_auc", "accuracy", "f1"]
    assert c.email.send == "always"
    assert len(c.config_hash) == 16 and c.config_hash == cfg().config_hash
    assert cfg(window_days=2).config_hash != c.config_hash


def test_demo_config_loads(monkeypatch, tmp_path):
    monkeypatch.setenv("DEMO_DIR", str(tmp_path))
    c = load_config("monitors/demo.yaml")
    assert c.name == "car_loan"
    assert c.reference.uri == f"{tmp_path}/data/car_loan/train.parquet"
    assert c.cohorts[2].bins[-1] == float("inf")
    assert c.labels.delay_days == 3


@pytest.mark.parametrize(
    "over, expect",
    [
        ({"extra_key": 1}, "extra_key: unknown key"),
        ({"model": {"task": "ranking", "target": "y", "prediction": "p"}}, "model.task: must be"),
        ({"window_days": "many"}, "window_days:"),
        ({"name": "Car Loan"}, "name:"),
        ({"cohorts": [{"column": "a", "where": "b > 1", "name": "x"}]}, "exactly one of"),
        ({"cohorts": [{"column": "a", "bins": [3, 1]}]}, "increasing"),
        ({"email": {"to": ["not-an-address"]}}, "not an email address"),
    ],
)
def test_bad_config_names_file_and_key(over, expect):
    with pytest.raises(ConfigError) as e:
        cfg(**over)
    msg = str(e.value)
    assert msg.startswith("m.yaml: ") and expect in msg
    assert "\n" not in msg


def test_missing_required_key():
    data = dict(BASE)
    del data["output"]
    with pytest.raises(ConfigError, match=r"m.yaml: output: required key is missing"):
        parse_config(data, "m.yaml")


def test_yaml_errors_and_missing_file(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("name: [unclosed\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: line \d+, column \d+: not valid YAML"):
        load_config(p)
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")
    p.write_text("- a list\n")
    with pytest.raises(ConfigError, match="must be a YAML mapping"):
        load_config(p)


def test_yaml_is_loaded_safely(tmp_path):
    p = tmp_path / "evil.yaml"
    p.write_text("name: !!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(p)


def test_env_expansion(monkeypatch, tmp_path):
    p = tmp_path / "m.yaml"
    p.write_text(textwrap.dedent("""
        name: m
        reference: {uri: "s3://${BUCKET}/ref.parquet"}
        production: {uri: "s3://${BUCKET}/p/dt={date}/"}
        model: {task: regression, target: y, prediction: p}
        output: {uri: "${OUT:-out}/"}
    """))
    monkeypatch.setenv("BUCKET", "b1")
    monkeypatch.setenv("MONITOR_ENV_ALLOW", "BUCKET,OUT")
    c = load_config(p)
    assert c.reference.uri == "s3://b1/ref.parquet" and c.output.uri == "out/"
    assert c.production.uri == "s3://b1/p/dt={date}/"
    monkeypatch.delenv("BUCKET")
    with pytest.raises(ConfigError, match="BUCKET is not set"):
        load_config(p)


def test_cohort_column_must_exist_in_data():
    c = cfg(cohorts=[{"column": "salary"}])
    check_columns(c, ["salary", "x"])
    with pytest.raises(ConfigError, match=r"m.yaml: cohorts\[0\].column: column 'salary' is not in the reference data"):
        check_columns(c, ["x", "y"])


def test_metrics_must_belong_to_the_models_task():
    with pytest.raises(ConfigError) as e:  # must fail: a multiclass metric on a binary model, at load time
        cfg(metrics=["accuracy", "f1_macro"])
    assert str(e.value).startswith("m.yaml: metrics: 'f1_macro' is not a metric of a binary_classification model")
    assert "roc_auc" in str(e.value)
    regression = {"task": "regression", "target": "y", "prediction": "p"}
    with pytest.raises(ConfigError, match="'roc_auc', 'f1' are not metrics of a regression model"):
        cfg(model=regression, metrics=["mae", "roc_auc", "f1"])
    # must not: each task's own metrics, and the defaults
    assert cfg(model=regression, metrics=["mae", "r2", "bias"]).metrics == ["mae", "r2", "bias"]
    multi = {"task": "multiclass_classification", "target": "y", "prediction": "p", "scores": {"a": "pa", "b": "pb"}}
    assert cfg(model=multi).metrics == ["accuracy", "f1_macro"] and cfg(model=multi, metrics=["roc_auc"]).metrics == ["roc_auc"]


def test_the_configs_metric_names_are_the_registrys():
    from monitor.config.stages import TASK_METRICS
    from monitor.stages.performance.registry import BINARY, MULTICLASS, REGRESSION

    assert TASK_METRICS == {"binary_classification": tuple(sorted(BINARY)),
                            "multiclass_classification": tuple(sorted(MULTICLASS)), "regression": tuple(sorted(REGRESSION))}
