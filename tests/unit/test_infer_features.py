"""Which columns are features: given by the config, a kind left out inferred from the reference."""

from __future__ import annotations

import numpy as np
import pandas as pd

from monitor.config import parse_config
from monitor.run.computation import infer_features


def _cfg(features: dict | None = None, multiclass: bool = False):
    model = ({"task": "multiclass_classification", "target": "y", "prediction": "p", "id": "id",
              "scores": {"a": "p_a", "b": "p_b"}} if multiclass else
             {"task": "binary_classification", "target": "y", "prediction": "p", "score": "s", "id": "id"})
    raw = {"name": "m", "reference": {"uri": "/data/ref.parquet"}, "production": {"uri": "/data/p/{date}/"},
           "model": model, "output": {"uri": "/out"}}
    if features is not None:
        raw["features"] = features
    return parse_config(raw, "t.yaml")


REF = pd.DataFrame({
    "id": np.arange(4), "px_0": [0.0, 1, 2, 3], "px_1": [1, 2, 3, 4], "zip": [101, 102, 101, 103],
    "channel": ["web", "app", "web", "app"], "p": [0, 1, 0, 1], "s": [0.1, 0.9, 0.2, 0.8], "y": [0, 1, 0, 1],
    "p_a": [0.9, 0.1, 0.8, 0.2], "p_b": [0.1, 0.9, 0.2, 0.8],
})


def test_only_categorical_listed_keeps_the_numerical_features():
    # must keep: the numerical columns are still monitored when only `categorical` is given
    got = infer_features(_cfg({"categorical": ["zip", "channel"]}), REF)
    assert got == {"zip": "categorical", "channel": "categorical", "px_0": "numerical", "px_1": "numerical",
                   "p_a": "numerical", "p_b": "numerical"}
    # only `numerical` given: the text columns are inferred as categorical, the numbers not listed stay out
    got = infer_features(_cfg({"numerical": ["px_0"]}), REF)
    assert got == {"px_0": "numerical", "channel": "categorical"}


def test_an_empty_list_means_none_of_that_kind():
    assert infer_features(_cfg({"numerical": ["px_0"], "categorical": []}), REF) == {"px_0": "numerical"}
    assert infer_features(_cfg({"numerical": [], "categorical": ["channel"]}), REF) == {"channel": "categorical"}


def test_class_probabilities_are_outputs_not_features():
    got = infer_features(_cfg(multiclass=True), REF)
    assert "p_a" not in got and "p_b" not in got and "p" not in got and "id" not in got
    assert got == {"px_0": "numerical", "px_1": "numerical", "zip": "numerical", "s": "numerical", "channel": "categorical"}


def test_a_lazily_read_reference_is_typed_from_its_schema(tmp_path):
    """Kinds from the parquet schema, as a read would give them (nulls widen ints to floats, bools to
    objects: the same kinds); only columns the schema cannot tell (objects, e.g. decimals) are read."""
    from decimal import Decimal

    from monitor.io.columns import ColumnFrame
    from tests.support.column_reads import spied_columns

    path = tmp_path / "ref.parquet"
    df = REF.assign(n_null=pd.array([1, None, 3, 4], dtype="Int64"), flag=pd.array([True, None, False, True], dtype="boolean"),
                    amount=[Decimal("1.5"), Decimal("2"), None, Decimal("3")],
                    seen=pd.to_datetime(["2026-01-01"] * 4))
    df.to_parquet(path, index=False)
    src, reads = spied_columns(path)
    for features in ({"categorical": ["zip"]}, {"numerical": ["px_0"]}, None):
        cfg = _cfg(features)
        assert infer_features(cfg, ColumnFrame(src)) == infer_features(cfg, pd.read_parquet(path))
    assert set(reads) == {"amount"}
