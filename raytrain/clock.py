"""The simulated clock: durations, and the plan of ticks a backtest replays.

Times are int64 nanoseconds since the epoch (numpy ``datetime64[ns]`` viewed as integers) so that the
plan is cheap to compute and to ship. A tick is either a duration ("1D", "6h") or a number of events.

Tick k covers event times [start_k, end_k); ``end_k`` is the simulated *now* at the end of tick k and
``start_{k+1} == end_k``, so the clock never jumps and never goes back.

- Duration ticks: start_0 is the first event time floored to the tick (midnight for "1D"), or ``start=``.
- Count ticks of n events: boundaries fall every n rows, moved forward past events that share a time,
  so no tick ends in the middle of one instant; end_k is the time of the next tick's first event
  (for the last tick: its last event time plus 1 ns).

The first ``warmup`` (a duration or a number of events, rounded up to whole ticks) trains the first
model and is not scored.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from raytrain.errors import ConfigError

__all__ = ["parse_duration", "Tick", "TickPlan", "plan_ticks", "format_time"]


def parse_duration(value, name: str, *, allow_zero: bool = False) -> pd.Timedelta:
    """A positive duration from "1D", "6h", a Timedelta or a timedelta; a ConfigError otherwise."""
    # np.timedelta64 subclasses np.integer: it is a duration, not a bare number.
    if isinstance(value, bool) or (isinstance(value, (int, float, np.integer, np.floating))
                                   and not isinstance(value, np.timedelta64)):
        raise ConfigError(
            f"{name} must be a duration such as '2h' or '1D'; got the number {value!r}. "
            f"Pass a string with a unit, or a pandas.Timedelta.")
    try:
        duration = pd.Timedelta(value)
    except (ValueError, TypeError) as exc:
        raise ConfigError(
            f"{name}={value!r} is not a duration pandas understands. "
            f"Use a string like '30min', '6h', '1D' or '7D'.") from exc
    if pd.isna(duration):
        raise ConfigError(f"{name} must be a duration; got {value!r}.")
    if duration < pd.Timedelta(0) or (duration == pd.Timedelta(0) and not allow_zero):
        raise ConfigError(f"{name} must be a positive duration; got {value!r}.")
    return duration


def format_time(ns: int) -> str:
    """A simulated time for messages: '2013-03-02 05:00:00'."""
    return str(pd.Timestamp(int(ns)))


@dataclass(frozen=True)
class Tick:
    index: int          # position among all ticks, warm-up included
    start: int          # ns; events with start <= time < end belong to this tick
    end: int            # ns; the simulated now at the end of the tick
    row_start: int
    row_stop: int

    @property
    def events(self) -> int:
        return self.row_stop - self.row_start


@dataclass(frozen=True)
class TickPlan:
    """Every tick of a stream, and how many of the first ones are warm-up."""

    starts: np.ndarray      # int64 ns, one per tick
    ends: np.ndarray        # int64 ns
    row_starts: np.ndarray  # int64
    row_stops: np.ndarray   # int64
    warmup_ticks: int

    def __len__(self) -> int:
        return len(self.starts)

    def __getitem__(self, k: int) -> Tick:
        return Tick(int(k), int(self.starts[k]), int(self.ends[k]), int(self.row_starts[k]), int(self.row_stops[k]))

    @property
    def warmup_end(self) -> int:
        """The simulated now at which the first model is trained."""
        return int(self.ends[self.warmup_ticks - 1])

    @property
    def scored(self) -> range:
        return range(self.warmup_ticks, len(self))

    def tick_of_time(self, t_ns: int) -> int:
        """Index of the first tick that starts at or after t (len(self) if none does)."""
        return int(np.searchsorted(self.starts, t_ns, side="left"))


def plan_ticks(times_ns: np.ndarray, tick, warmup, start=None) -> TickPlan:
    """Split sorted event times into ticks.

    >>> t = pd.to_datetime(["2024-01-01 00:30", "2024-01-01 01:10", "2024-01-02 03:00"]).asi8
    >>> plan = plan_ticks(t, tick="1D", warmup="1D")
    >>> len(plan), plan.warmup_ticks, list(plan.row_stops)
    (2, 1, [2, 3])
    """
    times_ns = np.asarray(times_ns, dtype=np.int64)
    if len(times_ns) == 0:
        raise ConfigError("The stream has no events; there is nothing to replay.")
    if _is_count(tick):
        plan = _count_ticks(times_ns, _positive_count(tick, "tick"))
        if start is not None:
            raise ConfigError("start= only applies to duration ticks; with tick as a number of events, drop start=.")
    else:
        plan = _duration_ticks(times_ns, parse_duration(tick, "tick"), start)
    starts, ends, row_starts, row_stops = plan
    warmup_ticks = _warmup_ticks(warmup, starts, ends, row_stops)
    if warmup_ticks >= len(starts):
        raise ConfigError(
            f"warmup={warmup!r} covers the whole stream ({len(starts)} ticks of {tick!r}); nothing would be "
            f"scored. Use a shorter warm-up or a longer stream.")
    return TickPlan(starts, ends, row_starts, row_stops, warmup_ticks)


def _is_count(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.timedelta64))


def _positive_count(value, name: str) -> int:
    if int(value) <= 0:
        raise ConfigError(f"{name} as a number of events must be at least 1; got {value!r}.")
    return int(value)


def _duration_ticks(times_ns, tick: pd.Timedelta, start):
    step = int(tick.value)
    if start is None:
        first = pd.Timestamp(int(times_ns[0]))
        try:
            t0 = int(first.floor(tick).value)
        except ValueError:  # a tick pandas cannot floor to (non-fixed): start at the first event
            t0 = int(times_ns[0])
    else:
        t0 = int(pd.Timestamp(start).value)
        if t0 > times_ns[0]:
            raise ConfigError(
                f"start={start!r} is after the first event ({format_time(times_ns[0])}); events before the "
                f"first tick would be dropped. Pass an earlier start, or filter the stream first.")
    n_ticks = int((int(times_ns[-1]) - t0) // step) + 1
    if n_ticks > 5_000_000:
        raise ConfigError(
            f"tick={str(tick)!r} splits this stream into {n_ticks:,} ticks; use a longer tick "
            f"or a number of events per tick.")
    starts = t0 + step * np.arange(n_ticks, dtype=np.int64)
    ends = starts + step
    row_starts = np.searchsorted(times_ns, starts, side="left").astype(np.int64)
    row_stops = np.searchsorted(times_ns, ends, side="left").astype(np.int64)
    return starts, ends, row_starts, row_stops


def _count_ticks(times_ns, n: int):
    total = len(times_ns)
    boundaries = [0]
    while boundaries[-1] < total:
        stop = min(boundaries[-1] + n, total)
        if stop < total:  # never split one instant across two ticks
            stop = int(np.searchsorted(times_ns, times_ns[stop - 1], side="right"))
        boundaries.append(stop)
    bounds = np.asarray(boundaries, dtype=np.int64)
    row_starts, row_stops = bounds[:-1], bounds[1:]
    starts = times_ns[row_starts].copy()
    ends = np.empty_like(starts)
    ends[:-1] = starts[1:]
    ends[-1] = times_ns[-1] + 1
    return starts, ends, row_starts, row_stops


def _warmup_ticks(warmup, starts, ends, row_stops) -> int:
    if warmup is None:
        return 1
    if _is_count(warmup):
        wanted = _positive_count(warmup, "warmup")
        return int(np.searchsorted(row_stops, wanted, side="left")) + 1
    if isinstance(warmup, (_dt.timedelta, np.timedelta64, pd.Timedelta, str)):
        until = int(starts[0]) + int(parse_duration(warmup, "warmup").value)
        return max(1, int(np.searchsorted(ends, until, side="left")) + 1)
    raise ConfigError(f"warmup must be a duration like '30D' or a number of events; got {warmup!r}.")
