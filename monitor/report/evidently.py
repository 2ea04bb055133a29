"""The optional deep-dive: an Evidently 0.7 data-drift report on a capped sample.

Evidently is slow on large frames (DataDriftPreset took 26 s on 100k rows x 25 columns
and 210 s on 1M here), so both sides are sampled down to `sample_rows` first. It is
imported inside the function: the import alone takes several seconds. The caller runs
this after the email went out and treats any failure as non-fatal.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Optional

from monitor.errors import DataError

__all__ = ["build_evidently_html"]


def _sample(df, n: int, seed: int):
    return df if len(df) <= n else df.sample(n=n, random_state=seed).sort_index()


def build_evidently_html(reference, current, columns: list[str], sample_rows: int = 20000, seed: int = 0, *,
                         numerical: Optional[Sequence[str]] = None, categorical: Optional[Sequence[str]] = None) -> bytes:
    """A self-contained Evidently HTML page comparing `columns` of reference vs current (at most `sample_rows` each).

    `numerical` / `categorical` pin column types; otherwise Evidently infers them.
    """
    cols = [c for c in dict.fromkeys(columns) if c in reference.columns and c in current.columns]
    if not cols:
        raise DataError(f"evidently deep-dive: none of the columns {list(columns)[:10]} is in both the reference and today's data")
    if len(current) == 0 or len(reference) == 0:
        raise DataError("evidently deep-dive: the reference or today's data has no rows")
    if sample_rows < 1:
        raise DataError(f"evidently deep-dive: sample_rows must be positive, got {sample_rows}")
    ref = _sample(reference[cols], sample_rows, seed).reset_index(drop=True)
    cur = _sample(current[cols], sample_rows, seed + 1).reset_index(drop=True)

    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    def dataset(df):
        if numerical is None and categorical is None:
            return df
        definition = DataDefinition(
            numerical_columns=[c for c in (numerical or []) if c in cols] or None,
            categorical_columns=[c for c in (categorical or []) if c in cols] or None,
        )
        return Dataset.from_pandas(df, data_definition=definition)

    report = Report([DataDriftPreset(columns=cols)])
    snapshot = report.run(current_data=dataset(cur), reference_data=dataset(ref))
    return snapshot.get_html_str(as_iframe=False).encode("utf-8")
