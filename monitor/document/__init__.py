"""The metrics document: one typed shape that the pipeline writes as metrics.json, the report reads
and the test fixtures are built from (the metrics.json contract of DESIGN.md).

    doc = MetricsDocument.model_validate(json.loads(raw))      # read (clear errors on a bad shape)
    doc.drift.features["age"].drifted, doc.performance.overall["roc_auc"].delta
    doc.to_json()                                                # plain JSON again, same keys

Known keys are typed; every object also keeps keys it does not know (`extra="allow"`), so a
stage can add a figure without a change here and older documents in the history still read.
Values are plain JSON: no NaN or infinity (null instead). A key that is absent reads as its
default, and so does a null where the contract has a list or an object (`alerts: null` -> []).
`SCHEMA_VERSION` changes only when the JSON changes.

    metrics.py      MetricsDocument (the whole file, its header: window, rows, alerts, errors) and read_document
    part.py         Part (the base of every object) and the shared value types
    drift.py        Drift and its columns, the newest day, the domain classifier
    quality.py      Quality: findings and the schema diff
    performance.py  Performance, MetricResult, Cohort
    business.py     Business: money and guardrails
    analysis.py     Analysis: worst rows, top cohorts
"""

from monitor.document.analysis import Analysis, TopCohort, WorstRow
from monitor.document.business import Business, Guardrail, Money
from monitor.document.drift import ColumnDrift, DayColumn, Drift, FeatureWeight, Histogram, MultivariateDrift, NewestDayDrift
from monitor.document.metrics import SCHEMA_VERSION, AlertEntry, MetricsDocument, Rows, StageError, Window, read_document
from monitor.document.part import Part
from monitor.document.performance import Cohort, MetricResult, Performance
from monitor.document.quality import Finding, Quality, SchemaDiff

__all__ = [
    "SCHEMA_VERSION", "MetricsDocument", "read_document", "Part", "Window", "Rows", "AlertEntry",
    "StageError", "Histogram", "ColumnDrift", "MultivariateDrift", "FeatureWeight", "NewestDayDrift",
    "DayColumn", "Drift", "Finding", "SchemaDiff", "Quality", "MetricResult", "Performance", "Cohort",
    "Money", "Guardrail", "Business", "WorstRow", "TopCohort", "Analysis",
]
