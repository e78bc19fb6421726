"""Drive a policy the way the serving actor does, without Ray: a test helper, not part of raytrain.

Tick by tick (raytrain.clock's plan): advance the history to the tick's start, append its rows with
the outputs of the model serving it, advance to the tick's end, build the PolicyView and ask the
policy. A retrain decided at the end of tick k trains at that now and serves from the first tick that
starts at or after now + latency (steps.ServingStep, runtime.actors and docs/semantics.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from raytrain.clock import plan_ticks
from raytrain.history import History
from raytrain.metrics import METRICS
from raytrain.policies import PolicyContext, PolicyView
from raytrain.stream import Stream
from raytrain.windows import Expanding

DAY = 86_400_000_000_000
HOUR = 3_600_000_000_000


@dataclass
class Replayed:
    retrains: list = field(default_factory=list)     # (now_ns, tick, reason)
    decisions: list = field(default_factory=list)    # reason or None, one per scored tick
    nows: list = field(default_factory=list)
    versions: list = field(default_factory=list)     # the version serving each scored tick
    accuracy: list = field(default_factory=list)     # per scored tick, against the true labels
    history: History | None = None
    warmup_end: int = 0

    @property
    def retrain_times(self) -> list:
        return [t for t, _, _ in self.retrains]


def replay(df: pd.DataFrame, policy, *, tick="1h", warmup="1D", inputs=None, label_time=None, outputs=None,
           latency="0s", window=None, stop_after=None, bind=True) -> Replayed:
    """Replay ``df`` (columns time, inputs, y, optional label_time) under ``policy``.

    ``outputs(trained_at_ns, rows_df) -> predictions``: what the model trained at ``trained_at_ns``
    predicts for a tick's rows (default: a column "out" of df, else zeros, whatever model serves).
    ``stop_after``: stop after that many scored ticks.
    """
    inputs = list(inputs or [c for c in df.columns if c.startswith("x")])
    stream = Stream.from_pandas(df, time="time", label="y", label_time=label_time, inputs=inputs)
    table = stream.table
    times = stream.times_ns()
    label_times = stream.label_times_ns()
    truth = df["y"].to_numpy()
    plan = plan_ticks(times, tick, warmup)
    frame = df.reset_index(drop=True)
    window = window or Expanding()
    history = History(inputs)
    if bind:
        tick_ns = None if isinstance(tick, int) else int(pd.Timedelta(tick).value)
        policy.bind(PolicyContext(tuple(inputs), {"accuracy": METRICS["accuracy"]}, tick_ns))
    latency_ns = int(pd.Timedelta(latency).value)
    out = Replayed(history=history, warmup_end=plan.warmup_end)
    version, trained_at, last_retrain, retrains = 1, plan.warmup_end, plan.warmup_end, 0
    pending = []   # (from_tick, version, trained_at)

    def training_rows(at):
        return frame.iloc[window.select(times, label_times, at)]

    for k in plan.scored:
        while pending and pending[0][0] <= k:
            _, version, trained_at = pending.pop(0)
        t = plan[k]
        history.advance(t.start)
        rows = frame.iloc[t.row_start: t.row_stop]
        if outputs is None:
            predicted = rows["out"].to_numpy() if "out" in rows else np.zeros(len(rows))
        else:
            predicted = np.asarray(outputs(trained_at, rows))
        history.append(table.slice(t.row_start, t.events), predicted, version)
        history.advance(t.end)
        view = PolicyView(t.end, k, history, version, trained_at, last_retrain, retrains,
                          (lambda at=trained_at: training_rows(at)))
        reason = policy.decide(view)
        out.decisions.append(reason)
        out.nows.append(t.end)
        out.versions.append(version)
        out.accuracy.append(float(np.mean(predicted == truth[t.row_start: t.row_stop])) if t.events else np.nan)
        if reason:
            retrains += 1
            last_retrain = t.end
            pending.append((plan.tick_of_time(t.end + latency_ns), 1 + retrains, t.end))
            out.retrains.append((t.end, k, reason))
        if stop_after is not None and len(out.decisions) >= stop_after:
            break
    return out


def minutes(n, start="2024-01-01", every="1min"):
    return pd.date_range(start, periods=n, freq=every, unit="ns")


def built_history(df, outputs, now, versions=None, label_time="label_time", inputs=("x0",)):
    """A History holding every row of df (served with ``outputs``) at the simulated ``now``."""
    stream = Stream.from_pandas(df, time="time", label="y", label_time=label_time if label_time in df else None,
                                inputs=list(inputs))
    h = History(list(inputs))
    versions = np.ones(len(df), dtype=np.int64) if versions is None else np.asarray(versions)
    for v in np.unique(versions):  # one append per version, in order: versions only grow along a history
        rows = np.flatnonzero(versions == v)
        h.append(stream.table.slice(rows[0], len(rows)), np.asarray(outputs)[rows], int(v))
    h.advance(now)
    return h


def view_of(history, now, version=1, trained_at=0, last_retrain=None, retrains=0, training_rows=None):
    return PolicyView(int(now), 0, history, version, int(trained_at),
                      int(trained_at if last_retrain is None else last_retrain), retrains, training_rows)


def sea_oracle(drift_ns, thresholds=(7.0, 10.0)):
    """Outputs of a model that learned the SEA concept in force when it was trained (a perfect learner).

    A stand-in for real training in pure tests of detection delays; the Ray tests train real models."""
    def outputs(trained_at_ns, rows):
        theta = thresholds[0] if trained_at_ns <= drift_ns else thresholds[1]
        return (rows["x0"].to_numpy() + rows["x1"].to_numpy() <= theta).astype(np.int64)
    return outputs
