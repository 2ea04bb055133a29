"""Keep secrets out of messages: `redact(text)` masks every known secret value and URI password.

Known secrets are read from the environment each time (stdlib only, never raises):
- the password (and the whole value) of the Airflow connections given as
  AIRFLOW_CONN_* variables, in JSON or URI form, even when malformed;
- the AWS secret key and session token (AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN,
  and the connection extras aws_secret_access_key / aws_session_token);
- the value of any variable whose name looks like a secret (SECRET, PASS, TOKEN,
  KEY, CREDENTIAL, PRIVATE, AUTH, COOKIE, SESSION, CONN in the name).
Besides those values, `user:password@` in any URI becomes `user:***@`.

Used by the command line's error printer, the failure notice and the email
record in manifest.json.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from typing import Any, Optional
from urllib.parse import quote, unquote, urlsplit

__all__ = ["MASK", "SECRET_NAME", "is_secret_name", "known_secrets", "redact", "redact_json"]

MASK = "***"
# Environment variable names that hold (or may hold) a secret: never expanded into a config,
# and their values are masked in every message.
SECRET_NAME = re.compile(r"SECRET|PASS|TOKEN|KEY|CREDENTIAL|PRIVATE|AUTH|COOKIE|SESSION|CONN", re.IGNORECASE)
_MIN_SECRET = 4  # shorter values would mask ordinary words and digits
_AWS_SECRETS = {"AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"}
_MIN_NAMED = 8  # a value masked only for its variable's name: long enough not to be a flag or a number
_USERINFO = re.compile(r"(?P<head>(?<![A-Za-z0-9+.\-])[A-Za-z][A-Za-z0-9+.\-]{0,30}:/+[^\s:/@'\"]*):(?P<pw>[^\s@'\"]+)@")
_JSON_SECRET = re.compile(
    r"(?P<head>[\"']?(?:password|passwd|secret|aws_secret_access_key|aws_session_token|token)[\"']?\s*[:=]\s*[\"']?)"
    r"(?P<pw>[^\"'\s,}&]+)",
    re.IGNORECASE,
)


def is_secret_name(name: str) -> bool:
    """True for environment variable names that may hold a secret (AWS_SECRET_ACCESS_KEY, MY_TOKEN, any AIRFLOW_*...)."""
    return bool(SECRET_NAME.search(name)) or name.upper().startswith("AIRFLOW_")


def _connection_secrets(value: str) -> list[str]:
    """Password-like parts of an Airflow connection value, leniently (malformed values too)."""
    out: list[str] = []
    text = value.strip()
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if isinstance(data, dict):
            out.append(str(data.get("password") or ""))
            extra = data.get("extra")
            if isinstance(extra, str):
                try:
                    extra = json.loads(extra)
                except ValueError:
                    extra = {}
            if isinstance(extra, dict):
                out += [str(extra.get(k) or "") for k in ("aws_secret_access_key", "aws_session_token", "password")]
    else:
        try:
            parts = urlsplit(text)
            if parts.password:
                out += [parts.password, unquote(parts.password)]
        except ValueError:
            pass
    out += [m.group("pw") for m in _USERINFO.finditer(text)]
    out += [m.group("pw") for m in _JSON_SECRET.finditer(text)]
    # user:pass@host without a scheme, or a scheme mistyped (smtp:/user:pass@host)
    for m in re.finditer(r"[^\s:/@]*:([^\s:/@]+)@", text):
        out += [m.group(1), unquote(m.group(1))]
    return out


def known_secrets(env: Optional[Mapping[str, str]] = None) -> list[str]:
    """Secret values from the environment, longest first (so a secret inside another is masked whole)."""
    env = os.environ if env is None else env
    found: set[str] = set()
    for name, value in env.items():
        if not value:
            continue
        if name.upper().startswith("AIRFLOW_CONN_"):
            found.update(_connection_secrets(value))
            found.add(value)
            found.add(value.strip())
        elif name.upper() in _AWS_SECRETS:
            found.add(value)
        elif SECRET_NAME.search(name) and len(value) >= _MIN_NAMED and not re.fullmatch(r"[\d.:/-]+", value):
            found.add(value)
    return sorted((s for s in found if len(s) >= _MIN_SECRET), key=len, reverse=True)


def redact(text: Any, secrets: Optional[Iterable[str]] = None, env: Optional[Mapping[str, str]] = None) -> str:
    """`text` with every known secret (and its URL-quoted form) and every URI password replaced by ***."""
    out = _mask_values(str(text), secrets, env)
    out = _USERINFO.sub(lambda m: f"{m.group('head')}:{MASK}@", out)
    return _JSON_SECRET.sub(lambda m: f"{m.group('head')}{MASK}", out)


def redact_json(text: str, env: Optional[Mapping[str, str]] = None) -> str:
    """A JSON document with known secrets and URI passwords masked inside its strings (it stays valid JSON)."""
    return _USERINFO.sub(lambda m: f"{m.group('head')}:{MASK}@", _mask_values(text, None, env))


def _mask_values(out: str, secrets: Optional[Iterable[str]], env: Optional[Mapping[str, str]]) -> str:
    values = list(secrets) if secrets is not None else known_secrets(env)
    forms: set[str] = set()
    for s in values:
        if len(s) >= _MIN_SECRET:
            forms.update({s, quote(s, safe=""), quote(s), repr(s)[1:-1], json.dumps(s)[1:-1]})
    for s in sorted(forms, key=len, reverse=True):
        if s and s in out:
            out = out.replace(s, MASK)
    return out
