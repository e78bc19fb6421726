"""The stream as training runs see it: read in place for the first run, from a private copy after."""

import numpy as np
import pandas as pd

import raytrain as rt
from raytrain.source import TableSource
from raytrain.steps import Frames, StreamMeta


def frames():
    df = pd.DataFrame({"t": pd.date_range("2024-01-01", periods=8, freq="h"), "x": np.arange(8.0),
                       "y": np.arange(8) % 2})
    stream = rt.Stream.from_pandas(df, time="t", label="y", label_delay="1h", inputs=["x"])
    return Frames(TableSource(stream.table), StreamMeta("t", "y", "label_time", ("x",))), df


def test_the_second_run_copies_the_stream_once_and_every_run_sees_the_same_rows():
    f, df = frames()
    first = f.training(np.arange(0, 4))
    shared = f._training
    assert not f._private and not first["x"].to_numpy().flags.writeable  # in place: the read-only shared stream
    second = f.training(np.arange(2, 6))
    assert f._private and f._training is not shared
    third = f.training(np.array([1, 5, 6]))
    assert f._training is not shared
    for got, rows in ((first, [0, 1, 2, 3]), (second, [2, 3, 4, 5]), (third, [1, 5, 6])):
        np.testing.assert_array_equal(got["x"].to_numpy(), df["x"].to_numpy()[rows])
        np.testing.assert_array_equal(got["y"].to_numpy(), df["y"].to_numpy()[rows])


def test_large_streams_are_never_copied(monkeypatch):
    import raytrain.steps as steps

    monkeypatch.setattr(steps, "PRIVATE_COPY_BYTES", 10)
    f, _ = frames()
    f.training(np.arange(0, 4))
    shared = f._training
    f.training(np.arange(0, 4))
    f.training(np.array([0, 2]))
    assert f._training is shared and not f._private
