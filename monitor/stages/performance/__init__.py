"""Model performance on the labelled rows against the baseline, with intervals.

    tasks/        one strategy per model task (binary, multiclass, regression): rows, metrics, confusion matrix
    registry.py   the metrics, each a formula over one family of sufficient statistics, with its materiality
    summary.py    sufficient statistics of row groups in one pass (confusion counts, moments, ranking counts)
    estimates.py  values, intervals and standard errors of the metrics from a summary
    intervals.py  Wilson, DeLong, delta method, contrast tests, Benjamini-Hochberg
    bootstrap.py  the Poisson bootstrap over score cells (PR AUC, calibration error, CBPE)
    cbpe.py       confidence-based estimates while labels are pending (binary and multiclass)
    stage.py      evaluate_performance: comparison with the baseline, minimum evidence, materiality
"""

from monitor.stages.performance.estimates import MetricEstimate
from monitor.stages.performance.intervals import bh_adjust
from monitor.stages.performance.stage import PerformanceResult, evaluate_performance
from monitor.stages.performance.tasks import Prepared, Task, labelled_mask, task_for

__all__ = [
    "PerformanceResult",
    "evaluate_performance",
    "MetricEstimate",
    "Prepared",
    "Task",
    "task_for",
    "labelled_mask",
    "bh_adjust",
]
