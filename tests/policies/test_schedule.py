"""Never, Every and EveryLabels on hand-built streams, driven like the serving actor drives them."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import raytrain as rt
from raytrain.errors import ConfigError
from raytrain.policies import Every, EveryLabels, Never

from replay import DAY, minutes, replay


def hourly(days=60, delay_h=None, never_every=None):
    """One event an hour; labels arrive ``delay_h`` hours later (never for every ``never_every``-th row)."""
    n = days * 24
    df = pd.DataFrame({"time": minutes(n, every="1h"), "x0": np.arange(n, dtype=float), "y": np.arange(n) % 2})
    if delay_h is not None:
        lt = df["time"] + pd.Timedelta(hours=delay_h)
        if never_every:
            lt[::never_every] = pd.NaT
        df["label_time"] = lt
    return df


def test_never_never_fires():
    run = replay(hourly(60), Never(), tick="1D", warmup="1D")
    assert len(run.decisions) == 59 and run.retrains == []


def test_every_duration_fires_exactly_on_schedule():
    run = replay(hourly(200), Every("30D"), tick="1D", warmup="5D")
    w = run.warmup_end
    assert run.retrain_times == [w + k * 30 * DAY for k in range(1, 7)]
    assert run.retrains[0][2] == "30D since the last retrain (every 30D)"


def test_every_duration_between_ticks_fires_at_the_first_tick_end_past_it():
    run = replay(hourly(20), Every("36h"), tick="1D", warmup="1D")
    w = run.warmup_end
    assert run.retrain_times == [w + 2 * DAY * k for k in range(1, 10)]
    assert run.retrains[0][2] == "2D since the last retrain (every 36h)"


def test_every_duration_counts_from_any_retrain():
    """A retrain by another policy (here: day 10) restarts the schedule."""
    class Once(rt.Policy):
        def decide(self, view):
            return "once" if view.now_ns == w + 10 * DAY else None
    w = pd.Timestamp("2024-01-02").value
    run = replay(hourly(60), Once() | Every("30D"), tick="1D", warmup="1D")
    assert run.retrain_times == [w + 10 * DAY, w + 40 * DAY]


def test_every_events_counts_served_events_since_the_last_retrain():
    # 24 events a tick: 100 events are reached after 5 ticks (120), counted again from each retrain
    run = replay(hourly(30), Every(events=100), tick="1D", warmup="1D")
    w = run.warmup_end
    assert run.retrain_times == [w + 5 * DAY * k for k in range(1, 6)]
    assert run.retrains[0][2] == "120 events served since the last retrain (every 100)"


def test_every_labels_counts_only_visible_labels():
    """Labels arrive 3 days late: EveryLabels(100) waits for them, Every(events=100) does not."""
    df = hourly(40, delay_h=72)
    by_labels = replay(df, EveryLabels(100), tick="1D", warmup="1D", label_time="label_time")
    by_events = replay(df, Every(events=100), tick="1D", warmup="1D", label_time="label_time")
    w = by_labels.warmup_end
    # served events: from w on, 24 a day; at now = w + d days, 24 * d served and 24 * (d - 3) labels visible
    assert by_events.retrain_times[0] == w + 5 * DAY
    assert by_labels.retrain_times[0] == w + 8 * DAY
    assert by_labels.retrains[0][2] == "120 new labels since the last retrain (every 100)"
    # after a retrain, the labels already in flight count as they arrive: every 5 days again
    assert np.diff(by_labels.retrain_times).tolist() == [5 * DAY] * (len(by_labels.retrains) - 1)
    # the count is exactly "visible now and not visible at the retrain", checked at every tick
    check_counts(df, EveryLabels(100))


def test_every_labels_ignores_labels_that_never_arrive():
    df = hourly(30, delay_h=5, never_every=2)  # half the labels never arrive
    run = replay(df, EveryLabels(100), tick="1D", warmup="1D", label_time="label_time")
    w = run.warmup_end
    # at now = w + d days, events up to now - 5h have their label time passed, every other one arrives:
    # d = 8 gives 93, d = 9 gives 105
    assert run.retrain_times[0] == w + 9 * DAY
    assert run.retrains[0][2].startswith("105 new labels")
    check_counts(df, EveryLabels(100))


def check_counts(df, policy, tick="1D", warmup="1D"):
    """The policy's count equals a brute-force count from the raw stream at every tick: labels of served
    events (from the end of warm-up) visible now (label time < now) and not at the last retrain."""
    seen = []

    class Spy(rt.Policy):
        def decide(self, view):
            seen.append((view.now_ns, view.last_retrain_ns, policy.new_labels(view)))
            return policy.decide(view)

    policy.bind(None)
    run = replay(df, Spy(), tick=tick, warmup=warmup, label_time="label_time")
    served = df["time"].to_numpy(dtype="datetime64[ns]").astype(np.int64) >= run.warmup_end
    lt = df["label_time"].to_numpy(dtype="datetime64[ns]").astype(np.int64)
    arrives = ~pd.isna(df["label_time"]).to_numpy()
    assert len(seen) == len(run.decisions)
    for now, since, counted in seen:
        assert counted == int(np.sum(served & arrives & (lt < now) & (lt >= since))), (now, since)


@settings(max_examples=40, deadline=None)
@given(delays=st.lists(st.one_of(st.none(), st.integers(0, 3000)), min_size=30, max_size=200),
       gaps=st.lists(st.integers(0, 200), min_size=30, max_size=200),
       every=st.integers(1, 40), tick=st.sampled_from(["30min", "1h", "5h", 7, 20]))
def test_every_labels_count_matches_brute_force(delays, gaps, every, tick):
    """Scrambled label order, ties, labels that never arrive, count ticks: always the exact count."""
    n = min(len(delays), len(gaps))
    t = pd.Timestamp("2024-01-01") + pd.to_timedelta(np.cumsum(gaps[:n]), unit="min")
    lt = [ti + pd.Timedelta(minutes=d) if d is not None else pd.NaT for ti, d in zip(t, delays[:n])]
    df = pd.DataFrame({"time": t, "x0": np.zeros(n), "y": np.ones(n, dtype=int),
                       "label_time": pd.to_datetime(pd.Series(lt, dtype="datetime64[ns]"))})
    try:
        check_counts(df, EveryLabels(every), tick=tick, warmup=tick)
    except ConfigError as err:
        assert "covers the whole stream" in str(err)


@pytest.mark.parametrize("make, message", [
    (lambda: Every(), "exactly one"),
    (lambda: Every("1D", events=5), "exactly one"),
    (lambda: Every("-1D"), "positive duration"),
    (lambda: Every("0s"), "positive duration"),
    (lambda: Every("soon"), "not a duration"),
    (lambda: Every(30), "got the number 30"),
    (lambda: Every(events=0), "at least 1; got 0"),
    (lambda: Every(events=2.5), "whole number"),
    (lambda: EveryLabels(0), r"EveryLabels\(labels\) must be a whole number of at least 1; got 0"),
    (lambda: EveryLabels(-5), "got -5"),
    (lambda: EveryLabels("100"), "got '100'"),
])
def test_bad_parameters_are_clear_errors_at_construction(make, message):
    with pytest.raises(ConfigError, match=message):
        make()


def test_reprs_read_like_the_call():
    assert [repr(p) for p in (Never(), Every("30D"), Every(events=5000), EveryLabels(100))] == [
        "Never()", "Every('30D')", "Every(events=5000)", "EveryLabels(100)"]
    assert repr(Every("30D") | EveryLabels(100)) == "Every('30D') | EveryLabels(100)"
