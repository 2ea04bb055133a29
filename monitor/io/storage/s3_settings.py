"""The S3 client's settings: from the Airflow aws_default connection (AIRFLOW_CONN_AWS_DEFAULT, JSON or URI
form) or boto3's own environment variables. No message quotes the connection: it may hold the secret."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any, Optional
from urllib.parse import parse_qsl, unquote, urlsplit

from monitor.errors import StorageError

__all__ = ["aws_settings_from_env"]


def _json_extra(text: str) -> dict:
    # the message never quotes the text: it may hold the secret
    try:
        out = json.loads(text or "{}")
    except ValueError:
        raise StorageError("AIRFLOW_CONN_AWS_DEFAULT: the extra is not valid JSON; use the JSON or URI connection form") from None
    if not isinstance(out, dict):
        raise StorageError("AIRFLOW_CONN_AWS_DEFAULT: the extra must be a JSON object")
    return out


def _conn_from_env(env: Mapping[str, str]) -> dict:
    raw = env.get("AIRFLOW_CONN_AWS_DEFAULT", "").strip()
    if not raw:
        return {}
    if raw.startswith("{"):
        try:
            conn = json.loads(raw)
        except ValueError as exc:
            raise StorageError(f"AIRFLOW_CONN_AWS_DEFAULT: not valid JSON ({exc}); use the JSON or URI connection form") from None
        extra = (conn.get("extra") or {}) if isinstance(conn, dict) else None
        if isinstance(extra, str):
            extra = _json_extra(extra)
        if not isinstance(extra, dict):
            raise StorageError("AIRFLOW_CONN_AWS_DEFAULT: the JSON form must be an object with login, password and an extra object")
        return {"login": conn.get("login"), "password": conn.get("password"), **extra}
    parts = urlsplit(raw)
    extra = dict(parse_qsl(parts.query))
    if "__extra__" in extra:
        extra.update(_json_extra(extra.pop("__extra__")))
    return {
        "login": unquote(parts.username) if parts.username else None,
        "password": unquote(parts.password) if parts.password else None,
        **extra,
    }


def aws_settings_from_env(env: Optional[Mapping[str, str]] = None) -> dict:
    """boto3 client kwargs from AIRFLOW_CONN_AWS_DEFAULT, falling back to boto3's own env handling."""
    env = os.environ if env is None else env
    conn = _conn_from_env(env)
    kw: dict[str, Any] = {}
    endpoint = conn.get("endpoint_url") or env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL")
    if endpoint:
        kw["endpoint_url"] = endpoint
    region = conn.get("region_name") or env.get("AWS_DEFAULT_REGION") or env.get("AWS_REGION")
    if region:
        kw["region_name"] = region
    if conn.get("login"):
        kw["aws_access_key_id"] = conn["login"]
        kw["aws_secret_access_key"] = conn.get("password")
    if conn.get("aws_session_token"):
        kw["aws_session_token"] = conn["aws_session_token"]
    return kw
