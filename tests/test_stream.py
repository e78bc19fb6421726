"""Building a Stream without Ray: pandas, Arrow, Parquet files and directories; label times.

Bad input is in test_errors.py.
"""

import datetime

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from raytrain import Stream, StreamError
from raytrain.stream import LABEL, LABEL_TIME, TIME


def frame(n=6, freq="30min"):
    t = pd.date_range("2024-01-01", periods=n, freq=freq)
    return pd.DataFrame({
        "t": t,
        "x": np.arange(n, dtype=float),
        "city": [f"c{i % 3}" for i in range(n)],
        "y": np.arange(n) % 2,
        "arrived": t + pd.to_timedelta(np.arange(n) * 7, unit="min"),
    })


def stamps(stream, column):
    return list(pd.to_datetime(stream.table.column(column).to_pandas()))


# -- construction ------------------------------------------------------------------------------------
def test_from_pandas_keeps_rows_names_the_roles_and_defaults_inputs_to_the_rest():
    df = frame()
    s = Stream.from_pandas(df, time="t", label="y", label_time="arrived")
    assert len(s) == 6 and s.time == "t" and s.label == "y"
    assert s.inputs == ["x", "city"]
    assert s.table.column_names == [TIME, LABEL, LABEL_TIME, "x", "city"]
    assert s.table.column(TIME).type == pa.timestamp("ns")
    assert stamps(s, TIME) == list(df["t"]) and stamps(s, LABEL_TIME) == list(df["arrived"])
    assert s.table.column(LABEL).to_pylist() == list(df["y"])
    assert s.label_source == "column 'arrived'"
    assert all(chunks.num_chunks == 1 for chunks in s.table.columns)   # ships in one piece
    back = s.to_pandas()
    assert list(back.columns) == ["t", "y", "label_time", "x", "city"]
    assert list(back["x"]) == list(df["x"])


def test_label_time_defaults_to_the_event_time_or_follows_a_fixed_delay():
    df = frame()
    s = Stream.from_pandas(df, time="t", label="y")
    assert stamps(s, LABEL_TIME) == list(df["t"]) and s.label_source == "event time"
    assert s.inputs == ["x", "city", "arrived"]   # an undeclared column is just an input
    d = Stream.from_pandas(df, time="t", label="y", label_delay="2h", inputs=["x"])
    assert stamps(d, LABEL_TIME) == list(df["t"] + pd.Timedelta("2h")) and d.inputs == ["x"]
    z = Stream.from_pandas(df, time="t", label="y", label_delay="0s")
    assert stamps(z, LABEL_TIME) == list(df["t"])


def test_null_label_times_mean_the_label_never_arrives():
    df = frame()
    df.loc[[1, 4], "arrived"] = pd.NaT
    s = Stream.from_pandas(df, time="t", label="y", label_time="arrived")
    assert s.table.column(LABEL_TIME).null_count == 2
    lt = s.label_times_ns()
    assert lt[1] == lt[4] == np.iinfo(np.int64).max
    assert lt[0] == pd.Timestamp(df["arrived"][0]).value


def test_time_resolution_and_dates_are_normalised_to_nanoseconds():
    df = frame()
    seconds = df.assign(t=df["t"].astype("datetime64[s]"), arrived=df["arrived"].astype("datetime64[ms]"))
    a = Stream.from_pandas(df, time="t", label="y", label_time="arrived")
    b = Stream.from_pandas(seconds, time="t", label="y", label_time="arrived")
    assert list(a.times_ns()) == list(b.times_ns()) and list(a.label_times_ns()) == list(b.label_times_ns())
    days = pa.table({"d": pa.array([datetime.date(2024, 1, 1), datetime.date(2024, 1, 3)], pa.date32()),
                     "y": [0, 1]})
    s = Stream.from_arrow(days, time="d", label="y")
    assert list(s.times_ns()) == [pd.Timestamp("2024-01-01").value, pd.Timestamp("2024-01-03").value]


def test_from_arrow_takes_tables_and_record_batches_and_merges_chunks():
    df = frame()
    table = pa.concat_tables([pa.Table.from_pandas(df.iloc[:3], preserve_index=False),
                              pa.Table.from_pandas(df.iloc[3:], preserve_index=False)])
    assert table.column("t").num_chunks == 2
    s = Stream.from_arrow(table, time="t", label="y", label_time="arrived")
    assert len(s) == 6 and all(c.num_chunks == 1 for c in s.table.columns)
    batch = pa.RecordBatch.from_pandas(df, preserve_index=False)
    r = Stream.from_arrow(batch, time="t", label="y", label_time="arrived")
    assert r.table.equals(s.table)


def test_from_parquet_file_and_directory_read_in_file_name_order(tmp_path):
    df = frame(9)
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), tmp_path / "one.parquet")
    f = Stream.from_parquet(tmp_path / "one.parquet", time="t", label="y", label_time="arrived")
    assert list(f.times_ns()) == list(df["t"].astype("datetime64[ns]").astype("int64"))
    parts = tmp_path / "parts"
    parts.mkdir()
    # written out of order on purpose: the directory is read by file name, not by creation time
    for name, rows in (("part-2.parquet", slice(6, 9)), ("part-0.parquet", slice(0, 3)), ("part-1.parquet", slice(3, 6))):
        pq.write_table(pa.Table.from_pandas(df.iloc[rows], preserve_index=False), parts / name)
    d = Stream.from_parquet(str(parts), time="t", label="y", label_time="arrived")
    assert d.table.equals(f.table)


def test_from_parquet_errors_name_the_path(tmp_path):
    with pytest.raises(StreamError, match=r"No Parquet file or directory at '.*nowhere.parquet'"):
        Stream.from_parquet(tmp_path / "nowhere.parquet", time="t", label="y")
    bad = tmp_path / "bad.parquet"
    bad.write_text("not parquet")
    with pytest.raises(StreamError, match="Could not read Parquet from '.*bad.parquet'"):
        Stream.from_parquet(bad, time="t", label="y")


def test_sort_true_sorts_stably_and_carries_every_column_along():
    df = frame(6)
    shuffled = df.iloc[[3, 0, 5, 1, 4, 2]].reset_index(drop=True)
    shuffled.loc[[0, 1], "t"] = df["t"][0]  # a tie: rows keep their order within it
    s = Stream.from_pandas(shuffled, time="t", label="y", label_time="arrived", sort=True)
    out = s.to_pandas()
    assert out["t"].is_monotonic_increasing
    assert list(out["x"][:2]) == [3.0, 0.0]
    expected = shuffled.sort_values("t", kind="stable")
    assert list(out["x"]) == list(expected["x"]) and list(out["label_time"]) == list(expected["arrived"])
