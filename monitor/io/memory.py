"""Where Arrow's buffers come from: jemalloc, which gives freed memory back to the system.

Arrow allocates every column it reads (and the pages it decodes them from) from its default
memory pool, mimalloc in the Linux wheels. mimalloc kept what a run freed: the 1M-row bench
peaked at 756 MB with it and at 666 MB with jemalloc (the same CPU time), the 10M-row streamed
run at 1871 MB and 1716 MB. The pool is chosen once, when pyarrow is first imported, from
ARROW_DEFAULT_MEMORY_POOL; `prefer_jemalloc()` sets that variable when nobody has (a value set
by the operator is kept). Imported already (a test session, a worker that read Arrow before),
pyarrow's own functions are pointed at jemalloc instead, which covers the parquet reads.
"""

from __future__ import annotations

import os
import sys

__all__ = ["POOL_ENV", "prefer_jemalloc"]

POOL_ENV = "ARROW_DEFAULT_MEMORY_POOL"


def prefer_jemalloc() -> None:
    """Arrow's default memory pool as jemalloc, unless ARROW_DEFAULT_MEMORY_POOL says otherwise (Linux only:
    other wheels may be built without it). Changes no result: only where buffers are allocated."""
    if os.environ.get(POOL_ENV) or not sys.platform.startswith("linux"):
        return
    if "pyarrow" not in sys.modules:
        os.environ[POOL_ENV] = "jemalloc"
        return
    import pyarrow as pa

    if "jemalloc" in pa.supported_memory_backends() and pa.default_memory_pool().backend_name != "jemalloc":
        pa.set_memory_pool(pa.jemalloc_memory_pool())
