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

``raytrain.backtest`` must give the same per-tick metrics, versions and retrains.
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
                  retrain_every=None):
    """Replay df tick by tick; returns (metrics, retrains) frames shaped like backtest's."""
    times, label_times, y = df[time], df[label_time], df[label].to_numpy()

    def train(now):
        seen = df[(times < now) & (label_times < now)]
        model = make_model().fit(seen[features], seen[label])
        return model, seen

    retrains = []

    def record(k, version, seen, serves_from):
        retrains.append({"time": ends[k], "tick": k, "version": version, "rows": len(seen),
                         "serves_from": serves_from, "first_row_time": seen[time].iloc[0],
                         "last_row_time": seen[time].iloc[-1]})

    w = warmup_ticks
    model, seen = train(ends[w - 1])
    version = latest = 1
    record(w - 1, version, seen, starts[w])
    rows, pending = [], None
    for k in range(w, len(starts)):
        if pending is not None:
            model, version, pending = pending[0], pending[1], None
        in_tick = ((times >= starts[k]) & (times < ends[k])).to_numpy()
        batch = df[in_tick]
        acc = float(np.mean(model.predict(batch[features]) == y[in_tick])) if len(batch) else np.nan
        rows.append({"tick": k, "start": starts[k], "end": ends[k], "events": len(batch),
                     "version": version, "accuracy": acc})
        if retrain_every and (k - w + 1) % retrain_every == 0:
            new, seen = train(ends[k])
            latest += 1
            record(k, latest, seen, starts[k + 1] if k + 1 < len(starts) else pd.NaT)
            pending = (new, latest)
    return pd.DataFrame(rows), pd.DataFrame(retrains)


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


SEA_DELAY = "9h"  # longer than a 6h tick: labels of the last one and a half ticks are still unknown


@pytest.fixture(scope="module")
def sea_frame():
    df = sea(n=30_000, drift_at=(0.5,), seed=3, freq="1min")
    df["label_time"] = df["time"] + pd.Timedelta(SEA_DELAY)  # the hand loop's own label times
    return df


@pytest.fixture(scope="module")
def sea_stream(sea_frame):
    return rt.Stream.from_pandas(sea_frame.drop(columns="label_time"), time="time", label="y",
                                 label_delay=SEA_DELAY)


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
                                      retrain_every=every)
    result = rt.backtest([FlightTraining, serving], flight_stream, tick="1D", warmup="14D")

    assert_agrees(result, metrics, retrains)
    assert starts[0] == pd.Timestamp("2013-01-01") and w == 14
    if every:
        assert len(retrains) == 1 + (len(starts) - w) // every
        assert set(result.retrains["trigger"][1:]) == {"FlightServingEvery7.after_run"}


@pytest.mark.parametrize("serving, every", [(FlightServing, None), (FlightServingEvery5, 5)],
                         ids=["never", "every-5-ticks-hook"])
def test_flights_count_ticks(ray_session, flights, flight_stream, serving, every):
    starts, ends = count_ticks(flights["sched_dep"], 500)
    w = warmup_ticks_for_events(flights["sched_dep"], starts, ends, 5_000)
    metrics, retrains = hand_backtest(flights, **FLIGHTS, starts=starts, ends=ends, warmup_ticks=w,
                                      retrain_every=every)
    result = rt.backtest([FlightTraining, serving], flight_stream, tick=500, warmup=5_000)

    assert_agrees(result, metrics, retrains)
    # Flights share departure times, so boundaries do move: ticks are not all exactly 500 events.
    assert (metrics["events"] != 500).any() and (metrics["events"] >= 500).iloc[:-1].all()


@pytest.mark.parametrize("serving, every", [(SeaServing, None), (SeaServingEvery3, 3)],
                         ids=["never", "every-3-ticks-hook"])
def test_sea_fixed_label_delay(ray_session, sea_frame, sea_stream, serving, every):
    starts, ends = duration_ticks(sea_frame["time"], "6h")
    w = warmup_ticks_for_duration(starts, "1D")
    metrics, retrains = hand_backtest(sea_frame, **SEA, starts=starts, ends=ends, warmup_ticks=w,
                                      retrain_every=every)
    result = rt.backtest([SeaTraining, serving], sea_stream, tick="6h", warmup="1D")

    assert_agrees(result, metrics, retrains)
    # The first model saw no label of the last 9 hours of warm-up.
    assert retrains["last_row_time"].iloc[0] == ends[w - 1] - pd.Timedelta(SEA_DELAY) - pd.Timedelta("1min")


def test_sea_retraining_changes_the_outcome(ray_session, sea_frame, sea_stream):
    """The policies being compared really differ: after the drift, retraining recovers accuracy."""
    never = rt.backtest([SeaTraining, SeaServing], sea_stream, tick="6h", warmup="1D")
    every = rt.backtest([SeaTraining, SeaServingEvery3], sea_stream, tick="6h", warmup="1D")
    last = slice(-8, None)
    assert every.metrics["accuracy"].iloc[last].mean() > never.metrics["accuracy"].iloc[last].mean() + 0.05


def _every_policy():
    policies = pytest.importorskip("raytrain.policies")
    if not hasattr(policies, "Every"):
        pytest.skip("raytrain.policies.Every is not there yet")
    return policies.Every
