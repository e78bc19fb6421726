"""The hindsight oracle: the best retrain schedule any policy could have chosen, by dynamic programming.

Pure numpy, no Ray. The input is an evaluation matrix (see ``raytrain.runtime.matrix``):

    M[i, t]         the metric of the model trained at candidate point i, scored on tick t
                    (NaN where t is before that model could serve)
    events[t]       the number of events of tick t (the weights)
    serve_from[i]   the first tick model i can serve: the first tick starting at or after its training
                    time + latency (non-decreasing in i: candidates are in time order)
    first           the row of the warm-up model, deployed in every schedule

A schedule is a set of retrain rows ``first < i_1 < ... < i_r``. As in a backtest, tick t is served by the
newest chosen model already deployed: the chosen row with the largest ``serve_from <= t`` (the later row
when two deploy at the same tick). Ticks before ``serve_from[first]`` are warm-up and not scored.

The objective is the event-weighted mean of the per-tick metric over the scored ticks,
``sum_t events[t] * M[model(t), t] / sum_t events[t]`` (``result.summary[...]["weighted"]`` of a backtest).
For metrics that are means over events (accuracy, MAE, log loss) it is the metric over all scored events;
for the others (F1, AUC) it is the event-weighted mean of per-tick values, not the metric of the pooled
events. A tick with events whose metric is NaN for every model (AUC on a one-class tick) is left out, as
the backtest's summary leaves it out.

Why a DP is exact: model i serves exactly the ticks ``[serve_from[i], serve_from[next chosen row])``, so the
value of a schedule is a sum of segment values and the best continuation after choosing i depends only
on (i, retrains left):

    best[0][i] = value of i serving from serve_from[i] to the end
    best[r][i] = max(best[0][i], max_{j > i} segment(i, serve_from[i], serve_from[j]) + best[r-1][j])

O(k_max * m^2) with numpy over j; a year of daily candidates (m = 335, k_max = 40) takes milliseconds.

>>> M = np.array([[0.9, 0.5, 0.5], [np.nan, 0.9, 0.6], [np.nan, np.nan, 0.9]])
>>> [(s.k, round(s.metric, 3), s.schedule) for s in frontier(M, [1, 1, 1], [0, 1, 2], k_max=2)]
[(0, 0.633, ()), (1, 0.8, (1,)), (2, 0.9, (1, 2))]
>>> round(replay(M, [1, 1, 1], (2,), [0, 1, 2]), 3)
0.767
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Solution", "frontier", "replay", "served_by"]


@dataclass(frozen=True)
class Solution:
    """The best schedule with at most ``k`` retrains: its metric and the rows retrained at."""

    k: int
    metric: float
    schedule: tuple


def frontier(matrix, events, serve_from, k_max: int, *, first: int = 0,
             higher_is_better: bool = True) -> list:
    """The best schedule of at most k retrains, for every k in 0..k_max (a list of :class:`Solution`)."""
    M, weights, serve_from = _checked(matrix, events, serve_from, first)
    if isinstance(k_max, bool) or not isinstance(k_max, (int, np.integer)) or k_max < 0:
        raise ValueError(f"k_max must be a whole number >= 0; got {k_max!r}.")
    sign = 1.0 if higher_is_better else -1.0
    m, n = M.shape
    # prefix[i, t]: weighted metric of model i summed over ticks < t (only ticks it can serve count).
    contrib = np.where(weights > 0, np.nan_to_num(M, nan=0.0) * weights, 0.0) * sign
    prefix = np.zeros((m, n + 1))
    np.cumsum(contrib, axis=1, out=prefix[:, 1:])
    rows = np.arange(m)
    start = np.minimum(serve_from, n)
    tail = prefix[:, n] - prefix[rows, start]                 # i serving from serve_from[i] to the end
    # seg[i, j]: i serving from serve_from[i] until serve_from[j], for retrain rows j > i.
    seg = prefix[rows[:, None], start[None, :]] - prefix[rows, start][:, None]
    allowed = (rows[None, :] > rows[:, None]) & (rows[None, :] > first) & (start[None, :] < n)
    seg = np.where(allowed, seg, -np.inf)
    best = [tail]
    choice = []                                                # choice[r-1][i]: next row after i, or -1
    for _ in range(k_max):
        cand = seg + best[-1][None, :]
        j = np.argmax(cand, axis=1)
        via = cand[rows, j]
        take = via > tail + _tolerance(tail)
        best.append(np.where(take, via, tail))
        choice.append(np.where(take, j, -1))
    total = weights.sum()
    out = []
    for k in range(k_max + 1):
        schedule, i, r = [], first, k
        while r > 0 and choice[r - 1][i] >= 0:
            i = int(choice[r - 1][i])
            schedule.append(i)
            r -= 1
        out.append(Solution(k, float(sign * best[k][first] / total) if total > 0 else float("nan"), tuple(schedule)))
    return out


def replay(matrix, events, schedule, serve_from, *, first: int = 0) -> float:
    """The metric a known schedule (retrain rows) scores, read off the matrix: a what-if, no training."""
    M, weights, serve_from = _checked(matrix, events, serve_from, first)
    model = served_by(schedule, serve_from, M.shape[1], first=first)
    scored = (weights > 0) & (model >= 0)
    values = M[model[scored], np.flatnonzero(scored)]
    w = weights[scored]
    return float(np.sum(values * w) / np.sum(w)) if w.sum() > 0 else float("nan")


def served_by(schedule, serve_from, n_ticks: int, *, first: int = 0) -> np.ndarray:
    """For every tick, the row whose model serves it under ``schedule`` (-1 before the warm-up model)."""
    serve_from = np.asarray(serve_from, dtype=np.int64)
    rows = sorted({int(first), *(int(i) for i in schedule)})
    bad = [i for i in rows if not first <= i < len(serve_from)]
    if bad:
        raise ValueError(f"Schedule rows {bad} are not retrain candidates (rows {first + 1}..{len(serve_from) - 1}).")
    model = np.full(n_ticks, -1, dtype=np.int64)
    for i in rows:  # in time order: a later deployment overrides from its first tick on
        model[serve_from[i]:] = i
    return model


def _tolerance(values: np.ndarray) -> np.ndarray:
    # A retrain must improve by more than rounding noise, so ties keep the schedule with fewer retrains.
    return 1e-12 * np.maximum(1.0, np.abs(values))


def _checked(matrix, events, serve_from, first):
    M = np.asarray(matrix, dtype=float)
    weights = np.asarray(events, dtype=float)
    serve_from = np.asarray(serve_from, dtype=np.int64)
    if M.ndim != 2:
        raise ValueError(f"The matrix must be 2-D (candidates x ticks); got shape {M.shape}.")
    m, n = M.shape
    if weights.shape != (n,):
        raise ValueError(f"events must have one count per tick ({n}); got shape {weights.shape}.")
    if serve_from.shape != (m,):
        raise ValueError(f"serve_from must have one tick per candidate row ({m}); got shape {serve_from.shape}.")
    if not 0 <= first < m:
        raise ValueError(f"first={first} is not a row of the matrix (0..{m - 1}).")
    if np.any(np.diff(serve_from[first:]) < 0):
        raise ValueError("serve_from must be non-decreasing from the warm-up row on: candidates in time order.")
    if np.any(weights < 0) or not np.all(np.isfinite(weights)):
        raise ValueError("events must be finite counts >= 0.")
    servable = np.arange(n)[None, :] >= serve_from[:, None]
    servable[:first] = False
    weights = np.where(np.arange(n) >= serve_from[first], weights, 0.0)
    nan = np.isnan(M) & servable & (weights > 0)[None, :]
    some, every = nan.any(axis=0), (nan | ~servable).all(axis=0)
    if np.any(some & ~every):
        t = int(np.flatnonzero(some & ~every)[0])
        rows = np.flatnonzero(nan[:, t]).tolist()
        raise ValueError(f"Tick {t} has events and a metric for some models but NaN for rows {rows[:5]}; the "
                         f"schedules would be scored on different ticks. Make the metric finite on every tick "
                         f"with events, or NaN for all models.")
    weights = np.where(some, 0.0, weights)
    return M, weights, serve_from
