"""A nightly batch drift-and-performance monitor for production ML models.

Importing this package is cheap: heavy modules (pandas, scipy, boto3,
evidently) load only when the stage that needs them runs.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
