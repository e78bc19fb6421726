"""Policies on a schedule: never, every so often, every N events, every N new labels.

They read nothing but the clock and counts, so they are the baselines every other policy is compared
with. All of them count from the last retrain (``view.last_retrain_ns``), whatever triggered it.
"""

from __future__ import annotations

import bisect

import numpy as np

from raytrain.errors import ConfigError
from raytrain.policies._checks import duration_ns, format_duration, positive_int
from raytrain.policies.base import Policy

__all__ = ["Never", "Every", "EveryLabels"]


class Never(Policy):
    """Never retrain: the model trained at the end of warm-up serves the whole stream.

    >>> Never().decide(None) is None
    True
    """

    def decide(self, view) -> None:
        return None

    def __repr__(self) -> str:
        return "Never()"


class Every(Policy):
    """Retrain on a schedule: every ``duration`` of simulated time, or every ``events`` served events.

    ``Every("30D")`` fires at the end of the first tick whose end is at least 30 days after the last
    retrain: with daily ticks, exactly 30, 60, 90... days after warm-up when nothing else retrains.
    ``Every(events=10_000)`` fires once 10,000 events have been served since the last retrain.

    >>> Every("30D")
    Every('30D')
    >>> Every(events=10_000)
    Every(events=10000)
    """

    def __init__(self, duration=None, *, events: int | None = None):
        if (duration is None) == (events is None):
            raise ConfigError(
                f"Every takes a duration or events=, exactly one of them; got duration={duration!r}, "
                f"events={events!r}. For example: Every('30D') or Every(events=10_000).")
        self.duration = duration
        self.events = events
        self._duration_ns = None if duration is None else duration_ns(duration, "Every(duration)")
        if events is not None:
            self.events = positive_int(events, "Every(events=)", "Every(events=10_000)")

    def decide(self, view) -> str | None:
        since = view.last_retrain_ns
        if self._duration_ns is not None:
            elapsed = view.now_ns - since
            if elapsed >= self._duration_ns:
                return f"{format_duration(elapsed)} since the last retrain (every {self.duration})"
            return None
        times = view.history.times.view(np.int64)
        served = len(times) - int(np.searchsorted(times, since, side="left"))
        if served >= self.events:
            return f"{served:,} events served since the last retrain (every {self.events:,})"
        return None

    def __repr__(self) -> str:
        return f"Every({self.duration!r})" if self.duration is not None else f"Every(events={self.events})"


class EveryLabels(Policy):
    """Retrain once ``labels`` new labels have become visible since the last retrain.

    A label counts when it is visible at the simulated now and was not visible when the last retrain
    ran (its label time is at or after that retrain): labels still in flight never count, so with
    delayed labels this fires later than ``Every(events=N)``.

    >>> EveryLabels(5_000)
    EveryLabels(5000)
    """

    def __init__(self, labels: int):
        self.labels = positive_int(labels, "EveryLabels(labels)", "EveryLabels(5_000)")
        self._reset()

    def _reset(self) -> None:
        self._marks_now: list = []   # the simulated now of each decide ...
        self._marks_seen: list = []  # ... and how many labels were visible then
        self._since = None           # the retrain counted from, the count, and how far it has read
        self._count = 0
        self._read = 0

    def bind(self, context) -> None:
        self._reset()

    def new_labels(self, view) -> int:
        """How many labels became visible since the last retrain (exact, and cheap on long streams)."""
        history = view.history
        order = history.known_order
        since = view.last_retrain_ns
        if not self._marks_now or view.now_ns > self._marks_now[-1]:
            self._marks_now.append(view.now_ns)
            self._marks_seen.append(len(order))
        if since != self._since:
            # Labels already visible at a decide at or before the retrain have label time < that now <=
            # the retrain: never new. Only the ones revealed after that decide need a look.
            i = bisect.bisect_right(self._marks_now, since) - 1
            self._since, self._count, self._read = since, 0, self._marks_seen[i] if i >= 0 else 0
            if i > 0:  # marks before the retrain's are never needed again
                del self._marks_now[:i], self._marks_seen[:i]
        if self._read < len(order):
            label_times = history._label_times.view()[order[self._read:]]
            self._count += int(np.count_nonzero(label_times >= since))
            self._read = len(order)
        return self._count

    def decide(self, view) -> str | None:
        new = self.new_labels(view)
        if new >= self.labels:
            return f"{new:,} new labels since the last retrain (every {self.labels:,})"
        return None

    def __repr__(self) -> str:
        return f"EveryLabels({self.labels})"
