"""How a run's process allocates: Arrow's buffers from jemalloc, and one glibc malloc arena.

Both give back what a run frees, where the defaults kept it (the peak RSS is what a worker must be
sized for; neither changes a result or the CPU time, measured on the 1M-row bench):

- Arrow allocates every column it reads, and the pages it decodes them from, from its default
  memory pool: mimalloc in the Linux wheels, which kept what was freed (1M rows: peak 756 MB with
  it, 666 MB with jemalloc; the 10M-row streamed run 1871 MB and 1716 MB). The pool is chosen once,
  when pyarrow is first imported, from ARROW_DEFAULT_MEMORY_POOL. Imported already (a test session,
  a worker that read Arrow before), pyarrow's own functions are pointed at jemalloc instead.
- glibc gives each thread that allocates its own arena (up to 8 per core), and memory freed in
  one stays there: the drift stage's column threads, the classifier's and the stages beside it
  (monitor.run.runner) each left their temporaries behind (1M rows: 636 MB with the default arenas,
  585 MB with one). numpy allocates its arrays with malloc; Python's small objects and Arrow's
  buffers do not use it, so the threads seldom wait for the one arena.

A choice the operator made (ARROW_DEFAULT_MEMORY_POOL, MALLOC_ARENA_MAX) is kept.
"""

from __future__ import annotations

import os
import sys

__all__ = ["POOL_ENV", "ARENA_ENV", "lean_allocators", "prefer_jemalloc", "one_malloc_arena"]

POOL_ENV = "ARROW_DEFAULT_MEMORY_POOL"
ARENA_ENV = "MALLOC_ARENA_MAX"
_M_ARENA_MAX = -8  # glibc's mallopt parameter number (malloc.h)


def lean_allocators() -> None:
    """Both, at the start of a run's computation: before pyarrow is imported and before its threads start."""
    prefer_jemalloc()
    one_malloc_arena()


def prefer_jemalloc() -> None:
    """Arrow's default memory pool as jemalloc, unless ARROW_DEFAULT_MEMORY_POOL says otherwise (Linux only:
    other wheels may be built without it)."""
    if os.environ.get(POOL_ENV) or not sys.platform.startswith("linux"):
        return
    if "pyarrow" not in sys.modules:
        os.environ[POOL_ENV] = "jemalloc"
        return
    import pyarrow as pa

    if "jemalloc" in pa.supported_memory_backends() and pa.default_memory_pool().backend_name != "jemalloc":
        pa.set_memory_pool(pa.jemalloc_memory_pool())


def one_malloc_arena() -> bool:
    """Threads created from now on share glibc's arenas instead of making their own (mallopt M_ARENA_MAX 1);
    False where there is no glibc (musl, macOS) or MALLOC_ARENA_MAX is set."""
    import ctypes

    if os.environ.get(ARENA_ENV) or not _glibc():
        return False
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    return mallopt is not None and mallopt(_M_ARENA_MAX, 1) == 1


def _glibc() -> bool:
    try:
        return os.confstr("CS_GNU_LIBC_VERSION").startswith("glibc")  # type: ignore[union-attr]
    except (ValueError, OSError, AttributeError):  # not glibc (or not POSIX)
        return False
