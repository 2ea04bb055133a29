"""Storage and input/output: local paths and s3:// behind one interface."""

from monitor.io.storage import (
    STAGING_DIR,
    TABLE_SUFFIXES,
    LocalStorage,
    ObjectInfo,
    S3Storage,
    Storage,
    aws_settings_from_env,
    format_uri,
    join_uri,
    read_table,
    read_tables,
    storage_for,
)

__all__ = [
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
    "STAGING_DIR",
]
