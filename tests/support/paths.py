"""Where things are in the checkout, for tests that start subprocesses or read fixtures."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
DAGS = ROOT / "dags"
