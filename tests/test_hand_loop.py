"""Agreement with a hand-written loop.

The loop below implements DESIGN.md's semantics directly with pandas and scikit-learn, from the
documented rules only (it does not import raytrain.clock, steps, history or windows):

- duration ticks start at the first event time floored to the tick; tick k covers
  [t0 + k·tick, t0 + (k+1)·tick) and its end is the simulated now;
- count ticks of n events: a boundary every n rows, moved forward past events that share a time;
  a tick ends at the next tick's first event time (the last one at its last event time + 1 ns);
- a label is visible at now iff its label time < now; a training run sees the rows with
  event time < now whose label is visible;
- warm-up, rounded up to whole ticks, trains model v1 at the end of its last tick and is not scored;
- a refresh at the end of tick k trains on what is visible then and serves from tick k + 1;
- tick k's metric is the accuracy of its events against their true labels.

``raytrain.backtest`` must give the same per-tick metrics, versions and retrains. Streams: the real
flights (per-row label times, out of order with the events) in daily, hourly (empty night ticks) and
500-event ticks, and a SEA stream with a fixed label delay. Policies: never; retrain every N ticks as a
``Serving.after_run`` hook; ``rt.Every(duration)`` and ``rt.Every(events=n)`` passed as ``policy=``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier

import raytrain as rt
from raytrain.datasets import FLIGHT_FEATURES, load_flights, sea

FLIGHT_ROWS = 40_000
SEA_FEATURES = ["x0", "x1", "x2"]


def flight_model():
    return DecisionTreeClassifier(max_depth=6, random_state=0)


def sea_model():
    return LogisticRegression(solver="lbfgs")


# -- the pipelines under test (module level, so Ray ships them by value) ----------------------------
class FlightTraining(rt.Component):
    name = "Training"

    def run(self, data):
        return flight_model().fit(data[FLIGHT_FEATURES], data["late"])


class FlightServing(rt.Component):
    def run(self, batch, model):
        return model.predict(batch[FLIGHT_FEATURES])


class SeaTraining(rt.Component):
    name = "Training"

    def run(self, data):
        return sea_model().fit(data[SEA_FEATURES], data["y"])


class SeaServing(rt.Component):
    def run(self, batch, model):
        return model.predict(batch[SEA_FEATURES])


class EveryNTicks:
    """Mixin: a trigger that refreshes Training after every ``every``-th served tick."""

    every = 1

    def after_run(self):
        self.served = getattr(self, "served", 0) + 1
        if self.served % self.every == 0:
            rt.refresh("Training")


class FlightServingEvery5(EveryNTicks, FlightServing):
    every = 5


class FlightServingEvery7(EveryNTicks, FlightServing):
    every = 7


class FlightServingEvery48(EveryNTicks, FlightServing):
    every = 48


class SeaServingEvery3(EveryNTicks, SeaServing):
    every = 3


# -- the hand-written loop ---------------------------------------------------------------------------
def duration_ticks(times: pd.Series, tick: str):
    """(starts, ends) of duration ticks, from the documented rule."""
    step = pd.Timedelta(tick)
    t0 = times.iloc[0].floor(step)
    n = (times.iloc[-1] - t0) // step + 1
    starts = [t0 + k * step for k in range(n)]
    return starts, [s + step for s in starts]


def count_ticks(times: pd.Series, n: int):
    """(starts, ends) of ticks of n events that never split an instant."""
    t = times.to_numpy()
    bounds, i = [0], 0
    while i < len(t):
        j = min(i + n, len(t))
        while j < len(t) and t[j] == t[j - 1]:
            j += 1
        bounds.append(j)
        i = j
    starts = [pd.Timestamp(t[b]) for b in bounds[:-1]]
    ends = starts[1:] + [pd.Timestamp(t[-1]) + pd.Timedelta(1, "ns")]
    return starts, ends


def warmup_ticks_for_duration(starts, warmup: str) -> int:
    """Ticks needed to cover [t0, t0 + warmup): those that start before its end."""
    until = starts[0] + pd.Timedelta(warmup)
    return max(1, sum(s < until for s in starts))


def warmup_ticks_for_events(times: pd.Series, starts, ends, events: int) -> int:
    """Ticks needed to cover the first ``events`` events."""
    covered = 0
    for k, (s, e) in enumerate(zip(starts, ends)):
        covered += int(((times >= s) & (times < e)).sum())
        if covered >= events:
            return k + 1
    raise AssertionError("warm-up longer than the stream")


def hand_backtest(df, *, time, label, label_time, features, make_model, starts, ends, warmup_ticks,
                  retrain=None):
    """Replay df tick by tick; returns (metrics, retrains) frames shaped like backtest's.

    ``retrain(k, now, last_retrain, served)`` decides at the end of scored tick k whether to retrain;
    ``last_retrain`` is the now of the latest training run, ``served`` the events served since it.
    """
    times, label_times = df[time].to_numpy(), df[label_time].to_numpy()
    y = df[label].to_numpy()
    starts, ends = [pd.Timestamp(t).asm8 for t in starts], [pd.Timestamp(t).asm8 for t in ends]

    def train(now):
        seen = df[(times < now) & (label_times < now)]
        return make_model().fit(seen[features], seen[label]), seen

    retrains = []

    def record(k, version, seen):
        retrains.append({"time": ends[k], "tick": k, "version": version, "rows": len(seen),
                         "serves_from": starts[k + 1] if k + 1 < len(starts) else pd.NaT,
                         "first_row_time": seen[time].iloc[0], "last_row_time": seen[time].iloc[-1]})

    w = warmup_ticks
    model, seen = train(ends[w - 1])
    version = 1
    record(w - 1, version, seen)
    rows, pending, served = [], None, 0
    for k in range(w, len(starts)):
        if pending is not None:  # decided at the end of tick k - 1: serves from tick k
            model, version, pending = pending[0], pending[1], None
        in_tick = (times >= starts[k]) & (times < ends[k])
        batch = df[in_tick]
        acc = float(np.mean(model.predict(batch[features]) == y[in_tick])) if len(batch) else np.nan
        rows.append({"tick": k, "start": starts[k], "end": ends[k], "events": len(batch),
                     "version": version, "accuracy": acc})
        served += len(batch)
        if retrain is not None and retrain(k, ends[k], retrains[-1]["time"], served):
            new, seen = train(ends[k])
            record(k, retrains[-1]["version"] + 1, seen)
            pending, served = (new, retrains[-1]["version"]), 0
    return pd.DataFrame(rows), pd.DataFrame(retrains)


def every_n_ticks(n, warmup_ticks):
    """The EveryNTicks hook: its after_run runs once per served tick, from the first scored one."""
    return lambda k, now, last, served: (k - warmup_ticks + 1) % n == 0


def every_duration(duration):
    """Every(duration): the first tick end at least ``duration`` after the last retrain."""
    return lambda k, now, last, served: now - last >= pd.Timedelta(duration)


def every_events(events):
    """Every(events=n): once n events have been served since the last retrain."""
    return lambda k, now, last, served: served >= events


def assert_agrees(result, metrics, retrains):
    got = result.metrics
    assert list(got["tick"]) == list(metrics["tick"])
    assert list(got["start"]) == list(metrics["start"])
    assert list(got["end"]) == list(metrics["end"])
    assert list(got["events"]) == list(metrics["events"])
    assert list(got["version"]) == list(metrics["version"])
    np.testing.assert_allclose(got["accuracy"].to_numpy(float), metrics["accuracy"].to_numpy(float),
                               rtol=0, atol=1e-12)

    got = result.retrains
    assert list(got["tick"]) == list(retrains["tick"])
    assert list(got["time"]) == list(retrains["time"])
    assert list(got["version"]) == list(retrains["version"])
    assert list(got["rows"]) == list(retrains["rows"])
    assert list(got["first_row_time"]) == list(retrains["first_row_time"])
    assert list(got["last_row_time"]) == list(retrains["last_row_time"])
    assert [pd.Timestamp(t) if pd.notna(t) else None for t in got["serves_from"]] == \
        [pd.Timestamp(t) if pd.notna(t) else None for t in retrains["serves_from"]]
    return float(np.nanmax(np.abs(result.metrics["accuracy"].to_numpy(float)
                                  - metrics["accuracy"].to_numpy(float)), initial=0.0))


# -- data ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def flights():
    df = load_flights(n_rows=FLIGHT_ROWS)
    return df[["sched_dep", "arrived", "late"] + FLIGHT_FEATURES].reset_index(drop=True)


@pytest.fixture(scope="module")
def flight_stream(flights):
    return rt.Stream.from_pandas(flights, time="sched_dep", label="late", label_time="arrived",
                                 inputs=FLIGHT_FEATURES)


@pytest.fixture(scope="module")
def sea_frame():
    return sea(n=30_000, drift_at=(0.5,), seed=3, freq="1min")


def with_label_delay(sea_frame, delay):
    """The hand loop's frame (its own label-time column) and raytrain's stream (label_delay=)."""
    stream = rt.Stream.from_pandas(sea_frame, time="time", label="y", label_delay=delay)
    return sea_frame.assign(label_time=sea_frame["time"] + pd.Timedelta(delay)), stream


# -- the cases ----------------------------------------------------------------------------------------
FLIGHTS = dict(time="sched_dep", label="late", label_time="arrived", features=FLIGHT_FEATURES,
               make_model=flight_model)
SEA = dict(time="time", label="y", label_time="label_time", features=SEA_FEATURES, make_model=sea_model)


@pytest.mark.parametrize("serving, every", [(FlightServing, None), (FlightServingEvery7, 7)],
                         ids=["never", "every-7-ticks-hook"])
def test_flights_daily_ticks(ray_session, flights, flight_stream, serving, every):
    starts, ends = duration_ticks(flights["sched_dep"], "1D")
    w = warmup_ticks_for_duration(starts, "14D")
    metrics, retrains = hand_backtest(flights, **FLIGHTS, starts=starts, ends=ends, warmup_ticks=w,
                                      retrain=every and every_n_ticks(every, w))
    result = rt.backtest([FlightTraining, serving], flight_stream, tick="1D", warmup="14D")

    assert_agrees(result, metrics, retrains)
    assert starts[0] == pd.Timestamp("2013-01-01") and w == 14
    if every:
        assert len(retrains) == 1 + (len(starts) - w) // every
        assert set(result.retrains["trigger"][1:]) == {"FlightServingEvery7.after_run"}


def test_flights_hourly_ticks_with_empty_hours(ray_session, flights, flight_stream):
    """Nights have no departures: empty ticks still happen, count for the hook, and score NaN."""
    starts, ends = duration_ticks(flights["sched_dep"], "1h")
    w = warmup_ticks_for_duration(starts, "14D")
    metrics, retrains = hand_backtest(flights, **FLIGHTS, starts=starts, ends=ends, warmup_ticks=w,
                                      retrain=every_n_ticks(48, w))
    result = rt.backtest([FlightTraining, FlightServingEvery48], flight_stream, tick="1h", warmup="14D")

    assert_agrees(result, metrics, retrains)
    empty = metrics["events"] == 0
    assert empty.sum() > 100 and metrics.loc[empty, "accuracy"].isna().all()
    assert starts[0] == pd.Timestamp("2013-01-01 05:00") and len(retrains) > 10


@pytest.mark.parametrize("serving, every", [(FlightServing, None), (FlightServingEvery5, 5)],
                         ids=["never", "every-5-ticks-hook"])
def test_flights_count_ticks(ray_session, flights, flight_stream, serving, every):
    starts, ends = count_ticks(flights["sched_dep"], 500)
    w = warmup_ticks_for_events(flights["sched_dep"], starts, ends, 5_000)
    metrics, retrains = hand_backtest(flights, **FLIGHTS, starts=starts, ends=ends, warmup_ticks=w,
                                      retrain=every and every_n_ticks(every, w))
    result = rt.backtest([FlightTraining, serving], flight_stream, tick=500, warmup=5_000)

    assert_agrees(result, metrics, retrains)
    # Flights share departure times, so boundaries do move: ticks are not all exactly 500 events.
    assert (metrics["events"] != 500).any() and (metrics["events"] >= 500).iloc[:-1].all()


# 9h: longer than a tick, so the labels of the last tick and a half are unknown at each now.
# 6h: exactly one tick; the event at now - 6h has label time == now, so its label is not visible yet.
# 27h of warm-up is rounded up to 5 ticks of 6h.
@pytest.mark.parametrize("delay, warmup", [("9h", "1D"), ("6h", "27h")])
@pytest.mark.parametrize("serving, every", [(SeaServing, None), (SeaServingEvery3, 3)],
                         ids=["never", "every-3-ticks-hook"])
def test_sea_fixed_label_delay(ray_session, sea_frame, serving, every, delay, warmup):
    frame, stream = with_label_delay(sea_frame, delay)
    starts, ends = duration_ticks(frame["time"], "6h")
    w = warmup_ticks_for_duration(starts, warmup)
    metrics, retrains = hand_backtest(frame, **SEA, starts=starts, ends=ends, warmup_ticks=w,
                                      retrain=every and every_n_ticks(every, w))
    result = rt.backtest([SeaTraining, serving], stream, tick="6h", warmup=warmup)

    assert_agrees(result, metrics, retrains)
    assert w == {"1D": 4, "27h": 5}[warmup]
    # The first model saw no label younger than the delay (the event at now - delay included).
    assert retrains["last_row_time"].iloc[0] == ends[w - 1] - pd.Timedelta(delay) - pd.Timedelta("1min")


def test_sea_retraining_changes_the_outcome(sea_frame):
    """The policies compared above really differ: after the drift, retraining recovers accuracy."""
    frame, _ = with_label_delay(sea_frame, "9h")
    starts, ends = duration_ticks(frame["time"], "6h")
    w = warmup_ticks_for_duration(starts, "1D")
    never, _ = hand_backtest(frame, **SEA, starts=starts, ends=ends, warmup_ticks=w)
    every, _ = hand_backtest(frame, **SEA, starts=starts, ends=ends, warmup_ticks=w,
                             retrain=every_n_ticks(3, w))
    last = slice(-8, None)
    assert every["accuracy"].iloc[last].mean() > never["accuracy"].iloc[last].mean() + 0.05


def test_flights_daily_ticks_every_policy(ray_session, flights, flight_stream):
    starts, ends = duration_ticks(flights["sched_dep"], "1D")
    w = warmup_ticks_for_duration(starts, "14D")
    metrics, retrains = hand_backtest(flights, **FLIGHTS, starts=starts, ends=ends, warmup_ticks=w,
                                      retrain=every_duration("7D"))
    result = rt.backtest([FlightTraining, FlightServing], flight_stream, tick="1D", warmup="14D",
                         policy=rt.Every("7D"))

    assert_agrees(result, metrics, retrains)
    # With daily ticks, Every("7D") is the every-7-ticks hook.
    _, hook = hand_backtest(flights, **FLIGHTS, starts=starts, ends=ends, warmup_ticks=w,
                            retrain=every_n_ticks(7, w))
    assert list(retrains["tick"]) == list(hook["tick"]) and len(retrains) > 1
    assert all(t.startswith("policy") for t in result.retrains["trigger"][1:])


def test_sea_every_events_policy(ray_session, sea_frame):
    frame, stream = with_label_delay(sea_frame, "9h")
    starts, ends = duration_ticks(frame["time"], "6h")
    w = warmup_ticks_for_duration(starts, "1D")
    metrics, retrains = hand_backtest(frame, **SEA, starts=starts, ends=ends, warmup_ticks=w,
                                      retrain=every_events(2_000))
    result = rt.backtest([SeaTraining, SeaServing], stream, tick="6h", warmup="1D",
                         policy=rt.Every(events=2_000))

    assert_agrees(result, metrics, retrains)
    assert len(retrains) > 1
