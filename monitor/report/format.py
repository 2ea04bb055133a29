"""How numbers, metric and method names read in the report (also the Jinja filters)."""

from __future__ import annotations

import re
import textwrap
from typing import Any, Optional

from monitor.jsonutil import finite
from monitor.textcut import cut

__all__ = [
    "DASH", "fmt_num", "fmt_int", "fmt_delta", "fmt_pct", "fmt_p", "fmt_money", "fmt_size", "short_delta",
    "metric_name", "method_name", "one_line", "wrap_text", "LOWER_IS_BETTER",
]

DASH = "\u2013"  # what a missing figure reads as
LOWER_IS_BETTER = frozenset({"log_loss", "brier", "mae", "rmse", "mse", "mape"})
_METRIC_NAMES = {
    "roc_auc": "ROC AUC", "pr_auc": "PR AUC", "average_precision": "avg precision", "accuracy": "accuracy",
    "balanced_accuracy": "balanced accuracy", "f1": "F1", "f1_macro": "F1 macro", "f1_micro": "F1 micro",
    "f1_weighted": "F1 weighted", "precision": "precision", "recall": "recall", "log_loss": "log loss",
    "brier": "Brier", "mae": "MAE", "rmse": "RMSE", "mse": "MSE", "mape": "MAPE", "r2": "R\u00b2",
}
_METHOD_NAMES = {
    "ks": "K-S", "psi": "PSI", "wasserstein": "Wasserstein", "chisquare": "chi-square", "chi2": "chi-square",
    "jensenshannon": "Jensen-Shannon", "js": "Jensen-Shannon", "kl_div": "KL divergence", "hellinger": "Hellinger",
    "z": "z-test", "ztest": "z-test", "fisher_exact": "Fisher exact", "g_test": "G-test", "tvd": "TVD",
    "energy": "energy distance", "anderson": "Anderson-Darling", "cramer_von_mises": "Cram\u00e9r-von Mises",
    "empirical_mmd": "MMD", "t_test": "t-test", "mannw": "Mann-Whitney", "cbpe": "CBPE", "dle": "DLE",
}


def fmt_num(x: Any, digits: int = 3) -> str:
    """A figure as a person reads it: integers with separators, small values in e-notation."""
    if isinstance(x, bool):
        return str(x).lower()
    f = finite(x)
    if f is None:
        return x if isinstance(x, str) else DASH
    if isinstance(x, int) or (f.is_integer() and abs(f) >= 1000):
        return f"{int(f):,}"
    if f != 0 and abs(f) < 10 ** (-digits):
        return f"{f:.1e}"
    if abs(f) >= 1000:
        return f"{f:,.0f}"
    if abs(f) >= 10:  # a latency or an amount: no spurious trailing zeros
        return f"{f:.{1 if abs(f) >= 100 else 2}f}".rstrip("0").rstrip(".")
    return f"{f:.{digits}f}"


def fmt_int(x: Any) -> str:
    f = finite(x)
    return DASH if f is None else f"{int(round(f)):,}"


def fmt_delta(x: Any, digits: int = 3) -> str:
    f = finite(x)
    if f is None:
        return DASH
    if f != 0 and abs(f) < 10 ** (-digits):
        return f"{f:+.1e}"
    return f"{f:+.{digits}f}"


def fmt_pct(x: Any, digits: int = 1) -> str:
    f = finite(x)
    return DASH if f is None else f"{f * 100:.{digits}f}%"


def fmt_p(x: Any) -> str:
    f = finite(x)
    if f is None:
        return DASH
    if f < 1e-3:
        return f"{f:.0e}" if f > 0 else "<1e-300"
    return f"{f:.3f}" if f < 0.1 else f"{f:.2f}"


def fmt_money(x: Any, currency: str = "$", signed: bool = False) -> str:
    f = finite(x)
    if f is None:
        return DASH
    sign = ("+" if f > 0 else "-" if f < 0 else "") if signed else ("-" if f < 0 else "")
    body = f"{abs(f):,.0f}" if abs(f) >= 100 else f"{abs(f):,.2f}"
    cur = currency or ""
    return f"{sign}{cur}{body}" if len(cur) <= 1 else f"{sign}{body} {cur}"


def fmt_size(x: Any) -> str:
    """Bytes in decimal units (kB, MB, ...)."""
    f = finite(x)
    if f is None:
        return DASH
    for unit in ("B", "kB", "MB", "GB"):
        if f < 1000:
            return f"{f:.0f} {unit}" if unit == "B" else f"{f:.1f} {unit}"
        f /= 1000
    return f"{f:.1f} TB"


def short_delta(x: Optional[float]) -> str:
    """A change for the subject line: two decimals, three when it is small."""
    f = finite(x)
    if f is None:
        return ""
    return f"{f:+.2f}" if abs(f) >= 0.01 else f"{f:+.3f}"


def metric_name(key: Any) -> str:
    return _METRIC_NAMES.get(str(key), str(key).replace("_", " "))


def method_name(key: Any) -> str:
    return _METHOD_NAMES.get(str(key).lower(), str(key)) if key else DASH


def one_line(s: Any, limit: int = 0) -> str:
    """Control characters and line breaks folded to spaces (safe in a header), cut to `limit` with an ellipsis."""
    text = re.sub(r"[\r\n\t\v\f\x00-\x1f\x7f\u2028\u2029]+", " ", str(s if s is not None else "")).strip()
    text = re.sub(r" {2,}", " ", text)
    return cut(text, limit, tag=False) if limit else text


def wrap_text(text: Any, width: int = 76, indent: str = "  ") -> str:
    return textwrap.fill(str(text), width=width, subsequent_indent=indent, break_long_words=False, break_on_hyphens=False)
