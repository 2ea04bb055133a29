"""A monitor run allocates Arrow's buffers from jemalloc and uses one glibc malloc arena (both give freed
memory back), unless the operator chose otherwise. Each case runs in a fresh interpreter: Arrow's pool is
fixed at pyarrow's import, and the arena limit must be set before threads allocate."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
import yaml

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="both are Linux (glibc) settings")


# how many arenas glibc's malloc_info lists, after threads allocated 1 MB each
ARENAS = """
import ctypes, re, tempfile, threading
def _arenas():
    def work():
        block = ctypes.create_string_buffer(1 << 20)
        del block
    threads = [threading.Thread(target=work) for _ in range(4)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    libc = ctypes.CDLL(None)
    libc.fopen.restype = ctypes.c_void_p
    with tempfile.NamedTemporaryFile("r") as f:
        fp = libc.fopen(f.name.encode(), b"w")
        libc.malloc_info(0, ctypes.c_void_p(fp))
        libc.fclose(ctypes.c_void_p(fp))
        return len(re.findall(r'<heap nr="', f.read()))
"""


def _python(code: str, *, arenas: bool = False, **env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if k not in ("ARROW_DEFAULT_MEMORY_POOL", "MALLOC_ARENA_MAX")}
    res = subprocess.run([sys.executable, "-c", (ARENAS if arenas else "") + textwrap.dedent(code)], capture_output=True, text=True, timeout=120,
                         env={**clean, "PYTHONPATH": os.pathsep.join(sys.path), **env})
    assert res.returncode == 0, res.stderr[-2000:]
    return res.stdout.strip().splitlines()[-1]


def test_a_run_reads_arrow_through_jemalloc_with_one_malloc_arena(tmp_path):
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
        print(pa.default_memory_pool().backend_name, _arenas())
    """, arenas=True)
    assert out == "jemalloc 1"


def test_without_prefer_jemalloc_the_wheel_default_stays():
    assert _python("import pyarrow as pa; print(pa.default_memory_pool().backend_name)") != "jemalloc"


def test_a_pool_the_operator_chose_is_kept():
    out = _python("""
        from monitor.run.memory import prefer_jemalloc
        prefer_jemalloc()
        import pyarrow as pa
        print(pa.default_memory_pool().backend_name)
    """, ARROW_DEFAULT_MEMORY_POOL="system")
    assert out == "system"


def test_pyarrow_imported_already_is_pointed_at_jemalloc():
    out = _python("""
        import pyarrow as pa
        before = pa.default_memory_pool().backend_name
        from monitor.run.memory import prefer_jemalloc
        prefer_jemalloc()
        print(before, pa.default_memory_pool().backend_name)
    """)
    assert out.split()[1] == "jemalloc" and out.split()[0] != "jemalloc"


def test_threads_make_their_own_arenas_unless_limited():
    assert int(_python("print(_arenas())", arenas=True)) > 1  # what one_malloc_arena() changes
    assert _python("""
        from monitor.run.memory import one_malloc_arena
        print(one_malloc_arena(), _arenas())
    """, arenas=True) == "True 1"
    assert _python("""
        from monitor.run.memory import one_malloc_arena
        print(one_malloc_arena(), _arenas() > 1)
    """, arenas=True, MALLOC_ARENA_MAX="4") == "False True"  # the operator's choice is kept
