"""Rebuild the report fixtures through MetricsDocument, so they keep the shape the pipeline writes.

    python -m tests.support.fixtures          # rewrites tests/fixtures/metrics_*.json and history.json

Every fixture is read, validated by the model and dumped again; a fixture that no longer fits
the document fails here (and in tests/unit/test_document.py) before any report test runs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from monitor.document import MetricsDocument
from tests.support.paths import FIXTURES

NAMES = ("metrics_ok.json", "metrics_alert.json")


def build(raw: dict[str, Any]) -> dict[str, Any]:
    """One fixture through the model: validated, then plain JSON with the keys it was given."""
    return MetricsDocument.model_validate(raw).to_json()


def write(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False, allow_nan=False) + "\n")


def main() -> None:
    for name in NAMES:
        write(FIXTURES / name, build(json.loads((FIXTURES / name).read_text())))
    history = json.loads((FIXTURES / "history.json").read_text())
    write(FIXTURES / "history.json", [build(h) for h in history])


if __name__ == "__main__":
    main()
