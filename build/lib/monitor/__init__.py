"""A nightly batch drift-and-performance monitor for production ML models.

Importing this package is cheap: heavy modules (pandas, scipy, boto3,
evidently) load only when the stage that needs them runs.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("airflow-drift-monitor")
except PackageNotFoundError:  # running from a checkout that was never installed
    __version__ = "0+unknown"

__all__ = ["__version__"]
