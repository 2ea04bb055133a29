"""Arrow's buffers come from jemalloc in a monitor run (it gives freed memory back; mimalloc kept it),
unless the operator chose a pool. Each case runs in a fresh interpreter: the pool is fixed at pyarrow's import."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
import yaml

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="jemalloc is preferred on Linux only")


def _python(code: str, **env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    res = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120,
                         env={**clean, "PYTHONPATH": os.pathsep.join(sys.path), **env})
    assert res.returncode == 0, res.stderr[-2000:]
    return res.stdout.strip().splitlines()[-1]


def test_a_run_reads_arrow_through_jemalloc(tmp_path):
    from tests.support.tiny import DAY, write_store

    write_store(tmp_path)
    (tmp_path / "m.yaml").write_text(yaml.safe_dump({
        "name": "m", "window_days": 1, "reference": {"uri": f"{tmp_path}/ref.parquet"},
        "production": {"uri": f"{tmp_path}/prod/dt={{date}}/"},
        "model": {"task": "binary_classification", "target": "y", "prediction": "p", "score": "s", "id": "id"},
        "output": {"uri": f"{tmp_path}/out"}, "email": {"to": ["ml@example.com"], "outbox": f"{tmp_path}/outbox"},
    }))
    out = _python(f"""
        import datetime as dt, sys
        from monitor.config import load_config
        from monitor.run.phases import compute
        assert "pyarrow" not in sys.modules
        compute(load_config({str(tmp_path / "m.yaml")!r}), dt.date.fromisoformat({DAY.isoformat()!r}))
        import pyarrow as pa
        print(pa.default_memory_pool().backend_name)
    """)
    assert out == "jemalloc"


def test_without_prefer_jemalloc_the_wheel_default_stays():
    assert _python("import pyarrow as pa; print(pa.default_memory_pool().backend_name)") != "jemalloc"


def test_a_pool_the_operator_chose_is_kept():
    out = _python("""
        from monitor.io.memory import prefer_jemalloc
        prefer_jemalloc()
        import pyarrow as pa
        print(pa.default_memory_pool().backend_name)
    """, ARROW_DEFAULT_MEMORY_POOL="system")
    assert out == "system"


def test_pyarrow_imported_already_is_pointed_at_jemalloc():
    out = _python("""
        import pyarrow as pa
        before = pa.default_memory_pool().backend_name
        from monitor.io.memory import prefer_jemalloc
        prefer_jemalloc()
        print(before, pa.default_memory_pool().backend_name)
    """)
    assert out.split()[1] == "jemalloc" and out.split()[0] != "jemalloc"
