"""Data quality and silent failures: the checks that notice what nobody else does.

One pure entry point, `check_quality`, takes what the pipeline read for the window
(the current rows with labels joined, the reference snapshot, the partitions it
looked for, the history of past metrics.json) and returns a `QualityResult`:
findings with a severity and a one-line message, per-column statistics, and the
feature columns the rest of the run can still use.

Every check compares with what is normal for this model: the reference's own rates
(with a significance test, so a small day is not news) and the monitor's own history;
fixed limits only for hard invariants (a probability outside [0, 1], a missing column).
The checks live in a registry (`registry.CHECKS`), by group (each switchable with
`quality.checks: {name: false}`, groups too; a check switched off never runs):

    arrival      missing, empty or unreadable daily partitions, named by date      arrival.py
    volume       row count vs the last runs (by weekday when traffic has a weekly cycle)
    reference    an empty reference snapshot                                        registry.py
    schema       missing_columns, added_columns, renamed_columns, type_changed      schema.py
    values       null_rate, out_of_range, unseen_categories, duplicate_ids,         values.py
                 timestamp_window
    predictions  score_invalid, score_range, constant_prediction, positive_rate,    predictions.py
                 prediction_score_mismatch
    labels       label_coverage, labels_due, orphan_labels, label_values            labels.py

The run continues on what it can: `result.usable_columns` are the features still fit
for drift and performance (present, not all-null, of the training type or convertible to
it), and `coerce_types(current, result)` converts the retyped ones (e.g. an int column
arriving as strings) back to the training type.

Bad data never raises: each check is guarded, so one undigestible column becomes a
finding and the other checks (arrival above all) still report. Everything is
vectorised pandas/numpy (no per-row Python).
"""

from monitor.stages.quality.arrival import reference_weekday_factors
from monitor.stages.quality.result import CHECK_KIND, Finding, QualityResult
from monitor.stages.quality.stage import check_quality, coerce_types

__all__ = ["CHECK_KIND", "Finding", "QualityResult", "check_quality", "coerce_types", "reference_weekday_factors"]
