"""Which labeled rows a training run sees: everything visible (expanding), or a sliding window.

A row is visible at now iff its event time < now and its label time < now. Windows only narrow that:

    Expanding()             every visible row (the default)
    Sliding("90D")          visible rows whose event time is within the last 90 days before now
    Sliding(rows=50_000)    the 50,000 most recent visible rows (by event time)
"""

from __future__ import annotations

import numbers

import numpy as np

from raytrain.clock import parse_duration
from raytrain.errors import ConfigError

__all__ = ["Expanding", "Sliding", "visible_rows"]


class Expanding:
    """Train on every labeled row visible at the simulated now.

    >>> Expanding().select(np.array([1, 2, 3]), np.array([1, 5, 3]), now_ns=4)
    array([0, 2])
    """

    def select(self, times_ns: np.ndarray, label_times_ns: np.ndarray, now_ns: int) -> np.ndarray:
        return visible_rows(times_ns, label_times_ns, now_ns)

    def __repr__(self) -> str:
        return "Expanding()"


class Sliding:
    """Train on the recent visible rows only: those of the last ``duration``, or the last ``rows`` of them.

    ``Sliding("90D")`` keeps the visible rows whose event time is in ``[now - 90 days, now)``;
    ``Sliding(rows=50_000)`` the 50,000 visible rows with the latest event times.

    >>> w = Sliding(rows=2)
    >>> w, w.select(np.array([1, 2, 3, 4]), np.array([1, 2, 9, 4]), now_ns=5)
    (Sliding(rows=2), array([1, 3]))
    >>> Sliding("90D")
    Sliding('90D')
    """

    def __init__(self, duration=None, *, rows: int | None = None):
        if (duration is None) == (rows is None):
            raise ConfigError(
                f"Sliding takes a duration or rows=, exactly one of them; got duration={duration!r}, rows={rows!r}. "
                f"For example: Sliding('90D') or Sliding(rows=50_000).")
        if rows is not None and (isinstance(rows, bool) or not isinstance(rows, numbers.Integral) or rows < 1):
            raise ConfigError(f"Sliding rows= must be a whole number of at least 1; got {rows!r}. "
                              f"For example: Sliding(rows=50_000).")
        self.duration = duration
        self.rows = None if rows is None else int(rows)
        self._duration_ns = None if duration is None else int(parse_duration(duration, "Sliding duration").value)

    def select(self, times_ns: np.ndarray, label_times_ns: np.ndarray, now_ns: int) -> np.ndarray:
        if self._duration_ns is None:
            return _last_visible(times_ns, label_times_ns, now_ns, self.rows)
        first = int(np.searchsorted(times_ns, now_ns - self._duration_ns, side="left"))
        stop = int(np.searchsorted(times_ns, now_ns, side="left"))
        return np.flatnonzero(label_times_ns[first:stop] < now_ns) + first

    def __repr__(self) -> str:
        return f"Sliding({self.duration!r})" if self.duration is not None else f"Sliding(rows={self.rows})"


def _last_visible(times_ns, label_times_ns, now_ns: int, n: int) -> np.ndarray:
    """The last ``n`` of visible_rows(), reading back from now only as far as needed (O(n), not O(rows))."""
    stop = int(np.searchsorted(times_ns, now_ns, side="left"))
    size = 2 * n
    while True:
        lo = max(0, stop - size)
        idx = np.flatnonzero(label_times_ns[lo:stop] < now_ns) + lo
        if len(idx) >= n or lo == 0:
            return idx[-n:]
        size *= 4


def visible_rows(times_ns: np.ndarray, label_times_ns: np.ndarray, now_ns: int) -> np.ndarray:
    """Indices of rows whose event and label are both known strictly before now (times sorted)."""
    stop = int(np.searchsorted(times_ns, now_ns, side="left"))
    return np.flatnonzero(label_times_ns[:stop] < now_ns)
