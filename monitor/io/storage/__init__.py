"""One small interface over local paths and s3://bucket/key.

All I/O of the monitor goes through here. S3 settings (endpoint, region,
credentials) come from the environment or from an Airflow `aws_default`
connection given as AIRFLOW_CONN_AWS_DEFAULT (JSON or URI form), never from the
monitor config. Foreign errors are wrapped in StorageError/NotFoundError naming
the URI.
"""

from monitor.io.storage.base import (
    FILE_MODE_ENV,
    STAGING_DIR,
    TABLE_SUFFIXES,
    ObjectInfo,
    Storage,
    file_mode,
    format_uri,
    join_uri,
    writer_gone,
    writer_tag,
)
from monitor.io.storage.deadlines import check_deadline, time_limits
from monitor.io.storage.local import LocalStorage
from monitor.io.storage.s3 import S3Storage, aws_settings_from_env
from monitor.io.storage.tables import read_table, read_tables, storage_for

__all__ = [
    "FILE_MODE_ENV",
    "ObjectInfo",
    "Storage",
    "LocalStorage",
    "S3Storage",
    "storage_for",
    "join_uri",
    "format_uri",
    "read_table",
    "read_tables",
    "aws_settings_from_env",
    "TABLE_SUFFIXES",
    "file_mode",
    "STAGING_DIR",
    "time_limits",
    "check_deadline",
    "writer_tag",
    "writer_gone",
]
