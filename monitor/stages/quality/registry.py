"""The check registry: every quality check declares its name, its group (the switches of
`quality.checks`), the thresholds it reads and the section of the result it fills. A check
switched off is skipped before it runs; one that fails on data it cannot digest becomes a
finding, and the others still run."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from monitor.stages.quality import arrival, labels, predictions, schema, values
from monitor.stages.quality.common import _why
from monitor.stages.quality.context import Context
from monitor.stages.quality.result import Finding

__all__ = ["Check", "CHECKS", "run_checks"]

CheckFn = Callable[[Context], tuple[dict, list[Finding]]]


@dataclass(frozen=True)
class Check:
    name: str  # its switch in `quality.checks`, and the `check` of its findings
    group: str  # the group switch that also turns it off
    section: str  # the part of the result its figures go to
    thresholds: tuple[str, ...]  # the QualityConfig fields it reads
    run: CheckFn


def _reference(ctx: Context) -> tuple[dict, list[Finding]]:
    if len(ctx.reference):
        return {}, []
    msg = (
        "The reference (training snapshot) has no rows: null-rate, range, category, "
        "positive-rate and label-class checks against it were skipped"
    )
    return {}, [Finding("reference", "reference", "critical", msg, 0, None)]


_Z = "significance_z"
CHECKS: tuple[Check, ...] = (
    Check("arrival", "arrival", "arrival", (), arrival.check_arrival),
    Check("volume", "volume", "volume",
          ("volume_history_runs", "volume_min_history", "volume_tolerance", "volume_z"), arrival.check_volume),
    Check("reference", "reference", "", (), _reference),
    Check("missing_columns", "schema", "schema", (), schema.check_missing_columns),
    Check("renamed_columns", "schema", "schema", ("rename_similarity",), schema.check_renamed_columns),
    Check("added_columns", "schema", "schema", (), schema.check_added_columns),
    Check("type_changed", "schema", "schema", ("coerce_min_share",), schema.check_type_changed),
    Check("null_rate", "values", "columns", ("null_rate_tolerance", "null_rate_critical", _Z), values.check_null_rate),
    Check("out_of_range", "values", "columns", ("out_of_range_share", "out_of_range_critical"), values.check_out_of_range),
    Check("unseen_categories", "values", "columns",
          ("unseen_category_share", "unseen_category_critical", _Z), values.check_unseen_categories),
    Check("duplicate_ids", "values", "ids", ("duplicate_id_share", _Z), values.check_ids),
    Check("timestamp_window", "values", "timestamps",
          ("timestamp_outside_share", "volume_history_runs", "volume_min_history"), values.check_timestamps),
    Check("score_invalid", "predictions", "predictions",
          ("score_invalid_share", "score_invalid_critical", _Z), predictions.check_score_invalid),
    Check("score_range", "predictions", "predictions", ("score_out_of_range_share",), predictions.check_score_range),
    Check("constant_prediction", "predictions", "predictions", ("constant_min_rows",), predictions.check_constant),
    Check("positive_rate", "predictions", "predictions",
          ("positive_rate_tolerance", "positive_rate_ratio", "positive_rate_z"), predictions.check_positive_rate),
    Check("prediction_score_mismatch", "predictions", "predictions",
          ("prediction_mismatch_share", _Z), predictions.check_mismatch),
    Check("label_coverage", "labels", "labels", ("min_label_coverage",), labels.check_label_coverage),
    Check("labels_due", "labels", "labels", ("labels_due_coverage",), labels.check_labels_due),
    Check("orphan_labels", "labels", "labels", ("orphan_label_share",), labels.check_orphan_labels),
    Check("label_values", "labels", "labels", ("unknown_label_share",), labels.check_label_values),
)


def run_checks(ctx: Context, sections: dict[str, dict], checks: tuple[Check, ...] = CHECKS) -> list[Finding]:
    """Run every check that is on, in registry order, merging its figures into `sections`."""
    findings: list[Finding] = []
    for check in checks:
        if not ctx.config.is_on(check.name):
            continue  # skipped before it runs, not filtered afterwards
        try:
            info, found = check.run(ctx)
        except Exception as exc:  # noqa: BLE001 - the other checks (arrival above all) must still report
            msg = f"The {check.name} checks could not run on this data ({_why(exc)})"
            findings.append(Finding(check.name, check.name, "warning", msg))
            continue
        findings += found
        if info and check.section:
            _merge(sections.setdefault(check.section, {}), info, nested=check.section == "columns")
    return findings


def _merge(section: dict, info: dict, *, nested: bool) -> None:
    if not nested:
        section.update(info)
        return
    for col, figures in info.items():
        section.setdefault(col, {}).update(figures)
