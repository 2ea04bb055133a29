"""The monitor config: one typed tree, loaded once from YAML and passed down.

Light on purpose (yaml + pydantic + stdlib): the DAG file loads every config
at parse time to learn its name and schedule. `schema` holds the tree (every
key, its default and its bounds), `loading` reads a file safely (size bound,
no YAML aliases, `${VAR}` only in storage locations) and validates it.
"""

from monitor.config.loading import check_columns, load_config, parse_config
from monitor.config.schema import (
    DRIFT_METHODS,
    QUALITY_CHECK_GROUPS,
    BusinessConfig,
    CohortConfig,
    DriftConfig,
    DriftOverride,
    EmailConfig,
    FeaturesConfig,
    Guardrail,
    LabelsConfig,
    LimitsConfig,
    ModelConfig,
    MonitorConfig,
    MultivariateConfig,
    NewestDayConfig,
    OutputConfig,
    PerformanceConfig,
    QualityConfig,
    ReportConfig,
    SourceConfig,
)

__all__ = [
    "MonitorConfig",
    "SourceConfig",
    "LabelsConfig",
    "ModelConfig",
    "FeaturesConfig",
    "CohortConfig",
    "DriftConfig",
    "DriftOverride",
    "NewestDayConfig",
    "MultivariateConfig",
    "QualityConfig",
    "PerformanceConfig",
    "BusinessConfig",
    "Guardrail",
    "OutputConfig",
    "EmailConfig",
    "ReportConfig",
    "LimitsConfig",
    "DRIFT_METHODS",
    "QUALITY_CHECK_GROUPS",
    "load_config",
    "parse_config",
    "check_columns",
]
