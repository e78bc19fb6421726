"""A progress line while a backtest runs: simulated date, events per second, retrains so far.

Shown on a terminal (stderr is a TTY) unless turned off; never in logs or CI output.
"""

from __future__ import annotations

import sys
import time as _time

import pandas as pd
import ray

__all__ = ["wait_with_progress"]


def wait_with_progress(ref, coordinator, show: bool | None, label: str = "backtest", every_s: float = 0.5):
    """ray.get(ref), printing the coordinator's progress every ``every_s`` seconds when ``show``."""
    show = sys.stderr.isatty() if show is None else show
    if not show:
        return ray.get(ref)
    started, line = _time.perf_counter(), ""
    while True:
        ready, _ = ray.wait([ref], timeout=every_s)
        if ready:
            break
        try:
            p = ray.get(coordinator.progress.remote(), timeout=every_s)
        except Exception:  # progress is best effort; the result is what matters
            continue
        if p.get("now") is None:
            continue
        elapsed = _time.perf_counter() - started
        line = (f"{label}: {pd.Timestamp(p['now']):%Y-%m-%d %H:%M} | tick {p['tick']}/{p['ticks']} | "
                f"{p['events'] / max(elapsed, 1e-9):,.0f} events/s | {p['retrains']} retrains")
        print("\r" + line, end="", file=sys.stderr, flush=True)
    if line:
        print("\r" + " " * len(line) + "\r", end="", file=sys.stderr, flush=True)
    return ray.get(ref)
