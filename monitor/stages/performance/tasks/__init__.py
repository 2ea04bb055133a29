"""One strategy per model task: how rows are prepared, which metrics exist, what a confusion matrix is.

`task_for(model)` is the one place that looks at `model.task`; every other
module asks the strategy (`prepare`, `metrics`, `confusion_counts`,
`abs_errors`, `row_loss`, `uncertainty`, `estimate_unlabelled`, and the
capability flags `classifier` / `binary`).

    base.py        Prepared (the encoded rows), PreparedPair, the Task base class, labelled_mask
    binary.py      BinaryTask, sort_scores
    multiclass.py  MulticlassTask
    regression.py  RegressionTask
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from monitor.errors import UnknownMethodError as _UnknownMethodError
from monitor.stages.performance.tasks.base import Prepared, PreparedPair, Task, labelled_mask
from monitor.stages.performance.tasks.binary import BinaryTask, sort_scores
from monitor.stages.performance.tasks.multiclass import MulticlassTask
from monitor.stages.performance.tasks.regression import RegressionTask

if TYPE_CHECKING:
    from monitor.config import ModelConfig

__all__ = ["Prepared", "PreparedPair", "Task", "sort_scores", "BinaryTask", "MulticlassTask", "RegressionTask", "task_for", "labelled_mask"]

_TASKS: dict[str, type[Task]] = {t.name: t for t in (BinaryTask, MulticlassTask, RegressionTask)}


def task_for(model: ModelConfig) -> Task:
    """The strategy for the model's task."""
    cls = _TASKS.get(model.task)
    if cls is None:
        raise _UnknownMethodError(f"unknown model task {model.task!r}; known: {sorted(_TASKS)}")
    return cls(model)
