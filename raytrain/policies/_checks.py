"""Parameter checks and small helpers shared by the built-in policies (private)."""

from __future__ import annotations

import math
import numbers

import numpy as np
import pandas as pd

from raytrain.clock import parse_duration
from raytrain.errors import ConfigError


def duration_ns(value, name: str) -> int:
    """A positive duration in ns; a ConfigError naming ``name`` otherwise."""
    return int(parse_duration(value, name).value)


def positive_int(value, name: str, example: str) -> int:
    """An int >= 1 (numpy ints too; bools and floats are refused)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or int(value) < 1:
        raise ConfigError(f"{name} must be a whole number of at least 1; got {value!r}. For example: {example}.")
    return int(value)


def real(value, name: str, low: float | None = None, high: float | None = None, *, open_low: bool = False,
         open_high: bool = False, example: str = "") -> float:
    """A finite real number within [low, high] (ends open when asked)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(float(value)):
        raise ConfigError(f"{name} must be a finite number; got {value!r}.{' For example: ' + example + '.' if example else ''}")
    v = float(value)
    below = low is not None and (v <= low if open_low else v < low)
    above = high is not None and (v >= high if open_high else v > high)
    if below or above:
        lo = "" if low is None else f"{'>' if open_low else '>='} {low:g}"
        hi = "" if high is None else f"{'<' if open_high else '<='} {high:g}"
        rng = " and ".join(x for x in (lo, hi) if x)
        raise ConfigError(f"{name} must be {rng}; got {value!r}.{' For example: ' + example + '.' if example else ''}")
    return v


def format_duration(ns: int) -> str:
    """A compact duration for reasons and reprs: '30D', '36h', '90min', '1D 06:00:00'."""
    td = pd.Timedelta(int(ns))
    for unit, size in (("D", 86_400_000_000_000), ("h", 3_600_000_000_000), ("min", 60_000_000_000),
                       ("s", 1_000_000_000)):
        if td.value % size == 0:
            return f"{td.value // size}{unit}"
    return str(td)


def retrain_pending(view) -> bool:
    """A retrain was decided after the serving model was trained: its model is on its way (latency)."""
    return view.last_retrain_ns > view.trained_at_ns


def last_known(known: np.ndarray, start: int, n: int) -> np.ndarray:
    """Indices of the last ``n`` True entries of ``known[start:]``; reads only as far back as needed."""
    stop = len(known)
    size = max(2 * n, 1024)
    while True:
        lo = max(start, stop - size)
        idx = np.flatnonzero(known[lo:stop]) + lo
        if len(idx) >= n or lo == start:
            return idx[-n:] if n else idx[:0]
        size *= 4


def version_start(versions: np.ndarray, version: int, cache: dict) -> int:
    """First row of the suffix of rows produced by ``version`` (versions only grow along the history)."""
    start = cache.get(version)
    if start is None or start > len(versions):
        # Scan back from the end: the suffix is short next to the whole history.
        stop, size = len(versions), 1024
        while True:
            lo = max(0, stop - size)
            other = np.flatnonzero(versions[lo:stop] != version)
            if len(other):
                start = lo + int(other[-1]) + 1
                break
            if lo == 0:
                start = 0
                break
            stop, size = lo, size * 4
        if start < len(versions):  # cache only once the version has rows; until then it may still start later
            cache.clear()
            cache[version] = start
    return start
