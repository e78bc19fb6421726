"""The simulated clock without Ray: durations, tick planning, ties, warm-up rounding."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from raytrain.clock import parse_duration, plan_ticks
from raytrain.errors import ConfigError


def ns(*stamps):
    return np.array([pd.Timestamp(s).value for s in stamps], dtype=np.int64)


def T(stamp):
    return int(pd.Timestamp(stamp).value)


# -- durations ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("value, expected", [("6h", "6h"), ("1D", "1D"), ("30min", "30min"),
                                             (pd.Timedelta("2h"), "2h"), (np.timedelta64(90, "m"), "90min")])
def test_parse_duration_accepts_strings_and_timedeltas(value, expected):
    assert parse_duration(value, "tick") == pd.Timedelta(expected)


@pytest.mark.parametrize("value, fragment", [
    (3, "got the number 3"), (1.5, "got the number 1.5"), (True, "got the number True"),
    ("soon", "'soon' is not a duration"), ("-1h", "positive"), ("0s", "positive"), (None, "must be a duration"),
])
def test_parse_duration_rejects_with_the_value_and_a_fix(value, fragment):
    with pytest.raises(ConfigError) as err:
        parse_duration(value, "latency")
    assert "latency" in str(err.value)
    assert fragment in str(err.value)


def test_zero_duration_only_where_allowed():
    assert parse_duration("0s", "label_delay", allow_zero=True) == pd.Timedelta(0)
    with pytest.raises(ConfigError, match="positive"):
        parse_duration("0s", "tick")


# -- duration ticks ------------------------------------------------------------------------------------
def test_duration_ticks_start_at_the_floored_first_event_and_include_empty_ticks():
    t = ns("2024-01-01 00:30", "2024-01-01 01:10", "2024-01-01 01:59", "2024-01-01 04:00", "2024-01-01 04:00")
    plan = plan_ticks(t, tick="1h", warmup=None)
    assert list(plan.starts) == [T("2024-01-01 00:00") + h * 3_600_000_000_000 for h in range(5)]
    assert list(plan.ends) == list(plan.starts + 3_600_000_000_000)
    assert list(plan.row_starts) == [0, 1, 3, 3, 3]
    assert list(plan.row_stops) == [1, 3, 3, 3, 5]
    assert [plan[k].events for k in range(len(plan))] == [1, 2, 0, 0, 2]
    assert plan.warmup_ticks == 1            # default warm-up: one tick
    assert plan.warmup_end == T("2024-01-01 01:00")
    assert list(plan.scored) == [1, 2, 3, 4]


def test_one_day_ticks_start_at_midnight():
    t = ns("2024-03-05 13:45", "2024-03-06 00:00", "2024-03-07 23:59:59")
    plan = plan_ticks(t, tick="1D", warmup="1D")
    assert plan.starts[0] == T("2024-03-05")
    assert list(plan.row_stops) == [1, 2, 3]  # an event exactly at midnight starts the next day


def test_explicit_start_and_a_start_after_the_first_event():
    t = ns("2024-01-01 00:30", "2024-01-01 02:10")
    plan = plan_ticks(t, tick="1h", warmup=None, start="2023-12-31 23:15")
    assert plan.starts[0] == T("2023-12-31 23:15")
    assert list(plan.row_stops) == [0, 1, 2]  # [23:15, 00:15) is empty
    with pytest.raises(ConfigError, match=r"start='2024-01-01 01:00' is after the first event \(2024-01-01 00:30"):
        plan_ticks(t, tick="1h", warmup=None, start="2024-01-01 01:00")


def test_tick_of_time_is_the_first_tick_starting_at_or_after():
    t = ns("2024-01-01 00:00", "2024-01-01 05:00")
    plan = plan_ticks(t, tick="1h", warmup=None)
    assert plan.tick_of_time(T("2024-01-01 02:00")) == 2
    assert plan.tick_of_time(T("2024-01-01 02:00:00.000000001")) == 3
    assert plan.tick_of_time(T("2024-01-01 09:00")) == len(plan)


# -- count ticks ---------------------------------------------------------------------------------------
def test_count_ticks_never_split_an_instant():
    t = ns("2024-01-01 00:00", "2024-01-01 00:00", "2024-01-01 00:00", "2024-01-01 00:01", "2024-01-01 00:01",
           "2024-01-01 00:02")
    plan = plan_ticks(t, tick=2, warmup=None)
    assert list(plan.row_starts) == [0, 3, 5]
    assert list(plan.row_stops) == [3, 5, 6]
    # a tick ends when the next one's first event happens; the last one just after its last event
    assert list(plan.starts) == [t[0], t[3], t[5]]
    assert list(plan.ends) == [t[3], t[5], t[5] + 1]


def test_count_ticks_of_one_event_with_all_times_equal_make_one_tick():
    t = ns(*["2024-01-01"] * 5)
    with pytest.raises(ConfigError, match="covers the whole stream"):
        plan_ticks(t, tick=1, warmup=None)  # a single tick: the warm-up takes all of it


@given(st.lists(st.integers(0, 4), min_size=1, max_size=60), st.integers(1, 7))
@settings(max_examples=200, deadline=None)
def test_count_ticks_cover_every_row_once_and_keep_ties_together(gaps, n):
    t = np.cumsum(np.asarray(gaps, dtype=np.int64)) + T("2024-01-01")
    try:
        plan = plan_ticks(t, tick=n, warmup=None)
    except ConfigError as err:  # only when everything fits in one tick (the default warm-up)
        assert "covers the whole stream" in str(err)
        first_stop = len(t) if len(t) <= n else int(np.searchsorted(t, t[n - 1], side="right"))
        assert first_stop == len(t)
        return
    assert plan.row_starts[0] == 0 and plan.row_stops[-1] == len(t)
    assert list(plan.row_starts[1:]) == list(plan.row_stops[:-1])
    for k in range(len(plan)):
        rows = t[plan.row_starts[k]: plan.row_stops[k]]
        assert len(rows) >= 1
        if k < len(plan) - 1:
            assert len(rows) >= n
            assert rows[-1] < t[plan.row_stops[k]]       # the next tick starts at a later instant
        assert np.all(rows >= plan.starts[k]) and np.all(rows < plan.ends[k])
    assert list(plan.starts[1:]) == list(plan.ends[:-1])


@given(st.lists(st.integers(0, 3 * 3600), min_size=1, max_size=50), st.sampled_from(["10min", "1h", "3h", "1D"]))
@settings(max_examples=200, deadline=None)
def test_duration_ticks_partition_the_stream(gaps_s, tick):
    t = np.cumsum(np.asarray(gaps_s, dtype=np.int64) * 1_000_000_000) + T("2024-01-01 00:07")
    try:
        plan = plan_ticks(t, tick=tick, warmup=None)
    except ConfigError as err:
        assert "covers the whole stream" in str(err)
        assert t[-1] < pd.Timestamp(int(t[0])).floor(tick).value + pd.Timedelta(tick).value  # one tick
        return
    step = pd.Timedelta(tick).value
    assert np.all(np.diff(plan.starts) == step) and np.all(plan.ends - plan.starts == step)
    assert plan.starts[0] <= t[0] < plan.starts[0] + step and plan.ends[-1] > t[-1]
    for k in range(len(plan)):
        inside = np.flatnonzero((t >= plan.starts[k]) & (t < plan.ends[k]))
        assert list(inside) == list(range(plan.row_starts[k], plan.row_stops[k]))


# -- warm-up -------------------------------------------------------------------------------------------
HOURS = ns(*[f"2024-01-01 {h:02d}:{m:02d}" for h in range(6) for m in (0, 30)])  # 2 events per hour, 6 hours


@pytest.mark.parametrize("warmup, ticks", [
    (None, 1), ("1h", 1), ("59min", 1), ("61min", 2), ("90min", 2), ("2h", 2), ("5h", 5),
    (1, 1), (2, 1), (3, 2), (4, 2), (5, 3), (10, 5),
])
def test_warmup_rounds_up_to_whole_ticks(warmup, ticks):
    plan = plan_ticks(HOURS, tick="1h", warmup=warmup)
    assert plan.warmup_ticks == ticks
    assert plan.warmup_end == T("2024-01-01") + ticks * 3_600_000_000_000


def test_warmup_in_events_with_count_ticks_rounds_up_past_ties():
    t = ns("2024-01-01 00:00", "2024-01-01 00:00", "2024-01-01 00:00", "2024-01-01 00:01", "2024-01-01 00:02",
           "2024-01-01 00:03")
    plan = plan_ticks(t, tick=2, warmup=2)  # the first tick holds 3 events (a tie), so 2 events fit in it
    assert plan.warmup_ticks == 1 and list(plan.row_stops) == [3, 5, 6]
    plan = plan_ticks(t, tick=2, warmup=4)
    assert plan.warmup_ticks == 2 and plan.warmup_end == t[5]


@pytest.mark.parametrize("warmup", ["6h", "7h", 12, 13])
def test_a_warmup_covering_the_whole_stream_is_refused(warmup):
    with pytest.raises(ConfigError) as err:
        plan_ticks(HOURS, tick="1h", warmup=warmup)
    message = str(err.value)
    assert f"warmup={warmup!r} covers the whole stream (6 ticks of '1h')" in message
    assert "shorter warm-up" in message


@pytest.mark.parametrize("kwargs, fragment", [
    (dict(tick=0), "tick as a number of events must be at least 1; got 0"),
    (dict(tick=-3), "at least 1; got -3"),
    (dict(tick="0h"), "tick must be a positive duration"),
    (dict(tick="-1h"), "tick must be a positive duration; got '-1h'"),
    (dict(tick="fortnight"), "tick='fortnight' is not a duration"),
    (dict(tick=2.5), "tick must be a duration such as '2h' or '1D'; got the number 2.5"),
    (dict(tick="1h", warmup=0), "warmup as a number of events must be at least 1; got 0"),
    (dict(tick="1h", warmup="0h"), "warmup must be a positive duration"),
    (dict(tick="1h", warmup=1.5), "warmup must be a duration like '30D' or a number of events; got 1.5"),
    (dict(tick=3, start="2024-01-01"), "start= only applies to duration ticks"),
])
def test_bad_tick_and_warmup_are_config_errors(kwargs, fragment):
    kwargs.setdefault("warmup", None)
    with pytest.raises(ConfigError) as err:
        plan_ticks(HOURS, **kwargs)
    assert fragment in str(err.value)


def test_an_empty_stream_has_nothing_to_replay():
    with pytest.raises(ConfigError, match="no events"):
        plan_ticks(np.empty(0, dtype=np.int64), tick="1h", warmup=None)


def test_numpy_timedelta_ticks_and_warmups_are_durations_not_event_counts():
    # np.timedelta64 subclasses np.integer; it must not be mistaken for "a number of events".
    t = pd.date_range("2024-01-01", periods=10, freq="10min").as_unit("ns").asi8
    by_numpy = plan_ticks(t, tick=np.timedelta64(1, "h"), warmup=np.timedelta64(30, "m"))
    by_string = plan_ticks(t, tick="1h", warmup="30min")
    assert list(by_numpy.row_stops) == list(by_string.row_stops) == [6, 10]
    assert by_numpy.warmup_ticks == by_string.warmup_ticks == 1
