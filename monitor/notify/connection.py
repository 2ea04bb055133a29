"""The SMTP connection: Airflow's `smtp_default`, read from AIRFLOW_CONN_SMTP_DEFAULT (no metadata DB).

It follows the Airflow SMTP provider, with the provider's extra names and defaults:
SSL on unless `disable_ssl`, STARTTLS on unless `disable_tls` (STARTTLS only applies
to a plain connection), `timeout` 30 s, `retry_limit` 5, `from_email` as the sender.
Both of Airflow's forms are read: JSON, and a URI whose query parameters are the extras.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Optional
from urllib.parse import parse_qsl, unquote, urlsplit

from monitor.errors import NotifyError

__all__ = ["ENV_VAR", "SmtpSettings", "parse_smtp_connection", "smtp_settings_from_env"]

ENV_VAR = "AIRFLOW_CONN_SMTP_DEFAULT"
_TRUE = {"1", "true", "yes", "on", "y", "t"}
_FALSE = {"0", "false", "no", "off", "n", "f", ""}


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to send. Defaults are the Airflow SMTP provider's."""

    host: str
    port: Optional[int] = None  # None: 465 with SSL, else 25 (smtplib's defaults)
    login: Optional[str] = None
    password: Optional[str] = None
    use_ssl: bool = True
    starttls: bool = True
    timeout: float = 30.0
    retries: int = 5  # extra attempts after the first, on transient errors
    sender: Optional[str] = None  # the connection's from_email
    backoff: float = 1.0  # seconds before the first retry, doubled each time (capped at 30 s)

    @property
    def effective_port(self) -> int:
        return self.port or (465 if self.use_ssl else 25)

    @property
    def where(self) -> str:
        return f"{self.host}:{self.effective_port}"

    def __repr__(self) -> str:  # never print the password into logs
        return (f"SmtpSettings(host={self.host!r}, port={self.port!r}, login={self.login!r}, password={'***' if self.password else None}, "
                f"use_ssl={self.use_ssl}, starttls={self.starttls}, timeout={self.timeout}, retries={self.retries}, sender={self.sender!r})")


def _bool(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise NotifyError(f"{ENV_VAR}: extra {name}={value!r} is not a boolean (use true or false)")


def _number(value: Any, name: str, kind=float):
    try:
        out = kind(value)
    except (TypeError, ValueError):
        raise NotifyError(f"{ENV_VAR}: {name}={value!r} is not a number") from None
    if out < 0:
        raise NotifyError(f"{ENV_VAR}: {name}={value!r} must not be negative")
    return out


def _from_fields(host: Any, port: Any, login: Any, password: Any, extra: Mapping[str, Any]) -> SmtpSettings:
    if not host:
        raise NotifyError(f"{ENV_VAR}: the connection has no host (e.g. smtp://user:pass@smtp.example.com:587)")
    return SmtpSettings(
        host=str(host),
        port=_number(port, "port", int) if port not in (None, "") else None,
        login=str(login) if login else None,
        password=str(password) if password else None,
        use_ssl=not _bool(extra.get("disable_ssl", False), "disable_ssl"),
        starttls=not _bool(extra.get("disable_tls", False), "disable_tls"),
        timeout=_number(extra.get("timeout", 30), "timeout"),
        retries=_number(extra.get("retry_limit", 5), "retry_limit", int),
        sender=str(extra["from_email"]) if extra.get("from_email") else None,
    )


def parse_smtp_connection(value: str) -> SmtpSettings:
    """An Airflow connection in JSON form or URI form (query parameters are the extras)."""
    value = value.strip()
    if value.startswith("{"):
        try:
            data = json.loads(value)
        except json.JSONDecodeError as exc:
            raise NotifyError(f"{ENV_VAR}: not valid JSON ({exc.msg} at position {exc.pos})") from None
        if not isinstance(data, dict):
            raise NotifyError(f"{ENV_VAR}: the JSON form must be an object with host, port, login, password, extra")
        extra = data.get("extra") or {}
        if isinstance(extra, str):
            try:
                extra = json.loads(extra) if extra.strip() else {}
            except json.JSONDecodeError:
                raise NotifyError(f"{ENV_VAR}: extra is a string but not JSON") from None  # its text may hold a secret
        if not isinstance(extra, dict):
            raise NotifyError(f"{ENV_VAR}: extra must be an object, got {type(extra).__name__}")
        return _from_fields(data.get("host"), data.get("port"), data.get("login"), data.get("password"), extra)
    parts = urlsplit(value)
    if not parts.scheme or "://" not in value:
        # never quote the value: it holds the password
        raise NotifyError(f"{ENV_VAR}: expected JSON or a URI like smtp://user:pass@host:587?disable_ssl=true, "
                          f"got a value of {len(value)} characters that is neither")
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    if "__extra__" in query:  # Airflow's form for nested extras in a URI
        try:
            query = json.loads(query["__extra__"])
        except json.JSONDecodeError:
            raise NotifyError(f"{ENV_VAR}: __extra__ is not JSON") from None
    try:
        port = parts.port
    except ValueError:
        raise NotifyError(f"{ENV_VAR}: the port in {parts.netloc.rsplit('@', 1)[-1]!r} is not a number") from None
    return _from_fields(unquote(parts.hostname or ""), port, unquote(parts.username or ""),
                        unquote(parts.password or ""), query)


def smtp_settings_from_env(env: Mapping[str, str] = os.environ) -> Optional[SmtpSettings]:
    """The `smtp_default` connection from AIRFLOW_CONN_SMTP_DEFAULT, or None when it is unset or empty."""
    value = env.get(ENV_VAR)
    if value is None or not value.strip():
        return None
    return parse_smtp_connection(value)
