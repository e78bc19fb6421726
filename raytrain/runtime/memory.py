"""Component actors keep the memory they free, for the next training run to reuse.

A training run gathers its rows into fresh arrays (a year of flights: 25-45 MB per run) and frees them
when it returns. glibc's malloc serves such sizes by mmap, or from the heap top that it trims right
after the free, so every run faults its pages in again, zero-filled by the kernel. In a component actor
that was most of a retrain's cost: on the flights year a 300,000-row gather took 30-50 ms there against
~5 ms in a plain loop, and a backtest of a trivial model retrained every 30 days went from 0.28 to
0.20 s (`benchmarks/overhead.py`); the 10-million-event replay of `benchmarks/memory.py` from 2.1 to
1.2 s. So component actors serve allocations below 128 MB from the heap and keep up to 128 MB of freed
heap for reuse; larger blocks are still mapped and unmapped as before. The limit is measured both ways:
at 64 MB a flights training run's rows (freed when the next run's are gathered) were handed
back to the kernel again (trivial model, every 30 days: 0.23-0.26 s at 128 or 256 MB, 0.25-0.40 s at
64 MB); at 256 MB the serving actor of the 10M replay peaked 60 MB higher than at 128 MB or 64 MB (the
outputs buffer grows by copying, and the old buffers stay in the heap). Trimming the heap whenever an
actor goes idle in the pool was measured too: the next backtest then faults the same pages in again
(+70 ms per flights backtest), so an idle actor keeps them.

Only glibc has these knobs; elsewhere (macOS, musl) ``keep_freed_memory`` does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util

__all__ = ["keep_freed_memory"]

# mallopt parameters, from glibc's malloc.h
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
KEEP_BYTES = 128 << 20


def keep_freed_memory(limit_bytes: int = KEEP_BYTES) -> bool:
    """Serve allocations below ``limit_bytes`` from the heap and keep up to that much of it once freed.
    Returns whether it took effect (False where the C library is not glibc)."""
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, limit_bytes)) and bool(mallopt(_M_TRIM_THRESHOLD, limit_bytes))
