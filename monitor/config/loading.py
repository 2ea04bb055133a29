"""Reading a monitor YAML safely: bounded size, no aliases, `${VAR}` only where it is safe.

- The file is read up to MAX_CONFIG_BYTES; a larger file is refused before parsing.
- YAML anchors and aliases (`&a`, `*a`, `<<: *a`) are refused while composing,
  before anything is expanded: nine levels of `[*a, *a, ...]` in 1 KB would
  otherwise expand to billions of nodes.
- `${VAR}` / `${VAR:-default}` expands only in storage locations
  (`reference.uri`, `baseline.uri`, `production.uri`, `labels.uri`,
  `output.uri`, `email.outbox`) and only for names that are safe: `DEMO_DIR`,
  names starting with `MONITOR_`, and names listed in the `MONITOR_ENV_ALLOW`
  variable (comma or space separated). A name that looks like a secret
  (SECRET, PASS, TOKEN, KEY, CREDENTIAL, ..., any AIRFLOW_*) is never expanded,
  even when listed. A `${VAR}` anywhere else is an error (email fields say so
  explicitly), so a config can never read a secret into an address, a subject,
  the manifest or the console.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Optional, Union

import yaml
from pydantic import BaseModel, ValidationError

from monitor.config.schema import MonitorConfig
from monitor.errors import ConfigError
from monitor.redact import is_secret_name
from monitor.stages.cohort_filter import parse_filter

__all__ = [
    "load_config",
    "parse_config",
    "check_columns",
    "MAX_CONFIG_BYTES",
    "ENV_ALLOW_VAR",
    "ENV_LOCATIONS",
    "read_config_text",
    "safe_load_yaml",
    "expand_env",
]

MAX_CONFIG_BYTES = 1_000_000
ENV_ALLOW_VAR = "MONITOR_ENV_ALLOW"
ENV_LOCATIONS = (
    "reference.uri",
    "baseline.uri",
    "production.uri",
    "labels.uri",
    "output.uri",
    "email.outbox",
)
_EMAIL_FIELDS = ("email.to", "email.sender", "email.subject_prefix")
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def read_config_text(path: Any) -> str:
    """The text of a config file, refused when larger than MAX_CONFIG_BYTES (read no further than that)."""
    with open(path, "rb") as fh:
        data = fh.read(MAX_CONFIG_BYTES + 1)
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(f"the config file is larger than {MAX_CONFIG_BYTES // 1000} KB; a monitor config is a few KB")
    return data.decode("utf-8")


class _NoAliasLoader(yaml.SafeLoader):
    """yaml.SafeLoader that refuses anchors and aliases while composing (before any expansion)."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            what = f"aliases (*{anchor})" if isinstance(event, yaml.AliasEvent) else f"anchors (&{anchor})"
            mark: Any = event.start_mark
            raise yaml.composer.ComposerError(None, None, f"YAML {what} are not allowed in a monitor config; write the value out", mark)
        return super().compose_node(parent, index)


def safe_load_yaml(text: str) -> Any:
    """yaml.safe_load without anchors/aliases; raises yaml.YAMLError, or ConfigError when nested too deeply."""
    loader = _NoAliasLoader(text)
    try:
        return loader.get_single_data()
    except RecursionError:
        raise ConfigError("the YAML nests too deeply for a monitor config") from None
    finally:
        loader.dispose()


def _allowed(env: Mapping[str, str]) -> set[str]:
    listed = re.split(r"[\s,]+", env.get(ENV_ALLOW_VAR, "").strip())
    return {n for n in listed if n}


def _path(parts: tuple) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def _field(parts: tuple) -> str:
    """The key path without list indexes: production.uri[1] -> production.uri."""
    return ".".join(str(p) for p in parts if not isinstance(p, int))


def expand_env(data: Any, env: Mapping[str, str], _at: tuple = ()) -> Any:
    """Expand `${VAR}` and `${VAR:-default}` in storage locations only; refuse it anywhere else (one line)."""
    if isinstance(data, dict):
        return {k: expand_env(v, env, (*_at, k)) for k, v in data.items()}
    if isinstance(data, list):
        return [expand_env(v, env, (*_at, i)) for i, v in enumerate(data)]
    if not isinstance(data, str) or not _ENV_REF.search(data):
        return data
    where, field = _path(_at), _field(_at)
    if field in _EMAIL_FIELDS:
        raise ConfigError(f"{where}: ${{...}} is never expanded in email fields (to, sender, subject_prefix); write the value itself")
    if field not in ENV_LOCATIONS:
        raise ConfigError(f"{where}: ${{...}} expands only in storage locations ({', '.join(ENV_LOCATIONS)})")
    allowed = _allowed(env)

    def sub(m: re.Match[str]) -> str:
        name = m.group(1)
        if is_secret_name(name):
            raise ConfigError(
                f"{where}: ${{{name}}} looks like a secret (SECRET, PASS, TOKEN, KEY, CREDENTIAL, AIRFLOW_* ...) and is never expanded in a config"
            )
        if not (name == "DEMO_DIR" or name.startswith("MONITOR_") or name in allowed):
            raise ConfigError(
                f"{where}: ${{{name}}} is not an allowed variable: use DEMO_DIR, a MONITOR_* name, "
                f"or list it in {ENV_ALLOW_VAR} (e.g. {ENV_ALLOW_VAR}={name})"
            )
        if name in env:
            return env[name]
        if m.group(2) is not None:
            return m.group(2)
        raise ConfigError(f"{where}: environment variable {name} is not set (used as ${{{name}}}); set it or write ${{{name}:-default}}")

    return _ENV_REF.sub(sub, data)


def _loc(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "<root>"


def _explain(err: dict) -> str:
    kind, msg = err.get("type", ""), err.get("msg", "")
    if kind == "extra_forbidden":
        return "unknown key (check the spelling; see README 'Monitor config' for the keys allowed here)"
    if kind == "missing":
        return "required key is missing"
    if kind == "literal_error":
        return msg.replace("Input should be", "must be")
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        allowed = _allowed_range(err.get("loc", ()))
        if allowed:
            return f"{err.get('input')!r} is out of range: allowed {allowed}"
    return msg.replace("Value error, ", "")


def _allowed_range(loc: tuple) -> Optional[str]:
    """'0 to 20000' for the numeric field at `loc` of MonitorConfig, from its Field bounds."""
    import typing

    model: Any = MonitorConfig
    field = None
    for part in loc:
        if isinstance(part, int):
            continue
        fields = getattr(model, "model_fields", None)
        if not fields or part not in fields:
            return None
        field = fields[part]
        model = next((a for a in (field.annotation, *typing.get_args(field.annotation))
                      if isinstance(a, type) and issubclass(a, BaseModel)), None)
    if field is None:
        return None
    b = {k: getattr(m, k) for m in field.metadata for k in ("ge", "gt", "le", "lt") if getattr(m, k, None) is not None}
    lo = f"{b['ge']:g}" if "ge" in b else (f"above {b['gt']:g}" if "gt" in b else "any")
    hi = f"{b['le']:g}" if "le" in b else (f"below {b['lt']:g}" if "lt" in b else "any")
    return f"{lo} to {hi}"


def parse_config(data: Any, source: str = "<config>") -> MonitorConfig:
    """Validate a mapping into a MonitorConfig, or raise one ConfigError naming the key path."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the config must be a YAML mapping of keys, got {type(data).__name__}")
    try:
        cfg = MonitorConfig.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        first = errors[0]
        more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
        raise ConfigError(f"{source}: {_loc(first['loc'])}: {_explain(dict(first))}{more}") from None
    object.__setattr__(cfg, "source_path", source)
    return cfg


def load_config(path: Union[str, Path]) -> MonitorConfig:
    """Load a monitor config from a YAML file: at most 1 MB, safe YAML without aliases, `${VAR}` in locations only."""
    p = Path(path)
    try:
        text = read_config_text(p)
    except FileNotFoundError:
        raise ConfigError(f"{p}: config file not found (pass the path of a monitor YAML, e.g. monitors/demo.yaml)") from None
    except ConfigError as exc:
        raise ConfigError(f"{p}: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: cannot read the config: {exc}") from None
    try:
        data = expand_env(safe_load_yaml(text), os.environ)
    except ConfigError as exc:
        raise ConfigError(f"{p}: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = " ".join(str(getattr(exc, "problem", None) or exc).split())
        raise ConfigError(f"{p}:{where}: not valid YAML: {problem}") from None
    return parse_config(data, str(p))


def check_columns(cfg: MonitorConfig, columns: list[str]) -> None:
    """Fail with the key path when the config names a column the reference does not have."""
    have = set(columns)
    named: list[tuple[str, str]] = []
    # model columns (prediction, score, ...) may be absent from the training snapshot
    model_cols = {cfg.model.target, cfg.model.prediction, cfg.model.score, cfg.model.id, cfg.model.timestamp}
    model_cols |= set((cfg.model.scores or {}).values())
    for i, c in enumerate(cfg.cohorts):
        if c.column:
            named.append((f"cohorts[{i}].column", c.column))
        if c.where:
            named += [(f"cohorts[{i}].where", col) for col in parse_filter(c.where).columns if col not in model_cols]
    for kind in ("numerical", "categorical"):
        for i, col in enumerate(getattr(cfg.features, kind) or []):
            named.append((f"features.{kind}[{i}]", col))
    for key, col in named:
        if col not in have:
            sample = ", ".join(sorted(have)[:12])
            raise ConfigError(
                f"{cfg.where(key)}: column {col!r} is not in the reference data (columns: {sample}{', ...' if len(have) > 12 else ''})"
            )

