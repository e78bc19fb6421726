"""Which labeled rows a training run sees: everything visible (expanding), or a sliding window.

A row is visible at now iff its event time < now and its label time < now. Windows only narrow that.
"""

from __future__ import annotations

import numpy as np

__all__ = ["Expanding", "visible_rows"]


class Expanding:
    """Train on every labeled row visible at the simulated now."""

    def select(self, times_ns: np.ndarray, label_times_ns: np.ndarray, now_ns: int) -> np.ndarray:
        return visible_rows(times_ns, label_times_ns, now_ns)

    def __repr__(self) -> str:
        return "Expanding()"


def visible_rows(times_ns: np.ndarray, label_times_ns: np.ndarray, now_ns: int) -> np.ndarray:
    """Indices of rows whose event and label are both known strictly before now (times sorted)."""
    stop = int(np.searchsorted(times_ns, now_ns, side="left"))
    return np.flatnonzero(label_times_ns[:stop] < now_ns)
