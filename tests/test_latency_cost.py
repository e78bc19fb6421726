"""Training latency decides when a new version serves; a cost model prices each retrain."""

import numpy as np
import pandas as pd
import pytest

import raytrain as rt
from raytrain.datasets import sea

X = ["x0", "x1", "x2"]


class Training(rt.Component):
    def run(self, data):
        return float(data["y"].mean())          # a trivial model: deterministic, instant


class Serving(rt.Component):
    def run(self, batch, model):
        return np.full(len(batch), model > 0.5, dtype=int)


@pytest.fixture(scope="module")
def stream():
    df = sea(n=4_000, seed=1, freq="10min", label_delay="30min")
    return rt.Stream.from_pandas(df, time="time", label="y", label_time="label_time", inputs=X)


@pytest.mark.parametrize("latency", ["0s", "3h", "1D", "36h", "5D"])
def test_new_version_serves_from_first_tick_at_or_after_now_plus_latency(ray_session, stream, latency):
    r = rt.backtest([Training, Serving], stream, tick="6h", warmup="2D", policy=rt.Every("2D"), latency=latency)
    retrains = r.retrains[r.retrains["trigger"] != "warmup"]
    assert len(retrains) >= 3
    starts = r.metrics["start"]
    for _, row in retrains.iterrows():
        ready = row["time"] + pd.Timedelta(latency)
        expected = starts[starts >= ready].min()
        if pd.isna(expected):
            assert pd.isna(row["serves_from"])
            continue
        assert row["serves_from"] == expected
        # the old version serves every tick before it, the new one (or newer) from it on
        assert (r.metrics.loc[starts >= expected, "version"] >= row["version"]).all()
        assert (r.metrics.loc[(starts >= row["time"]) & (starts < expected), "version"] < row["version"]).all()


def test_per_row_latency_is_deterministic_and_grows_with_rows(ray_session, stream):
    lat = rt.Latency("1h", per_row="10s")
    a = rt.backtest([Training, Serving], stream, tick="6h", warmup="2D", policy=rt.Every("2D"), latency=lat)
    b = rt.backtest([Training, Serving], stream, tick="6h", warmup="2D", policy=rt.Every("2D"), latency=lat)
    pd.testing.assert_frame_equal(a.metrics, b.metrics)
    gaps = (a.retrains["serves_from"] - a.retrains["time"]).iloc[1:].dropna()
    assert gaps.is_monotonic_increasing and gaps.iloc[-1] > gaps.iloc[0]


def test_cost_model_adds_a_cost_column_and_total(ray_session, stream):
    cost = rt.Cost(per_retrain=2.0, per_row=0.001)
    r = rt.backtest([Training, Serving], stream, tick="6h", warmup="2D", policy=rt.Every("7D"), cost=cost)
    expected = 2.0 + 0.001 * r.retrains["rows"]
    np.testing.assert_allclose(r.retrains["cost"], expected)
    assert r.summary["cost"] == pytest.approx(expected.sum())
    assert (r.retrains["cpu_seconds"] >= 0).all() and (r.retrains["train_seconds"] >= 0).all()


@pytest.mark.parametrize("bad, match", [
    (dict(latency="-1h"), "positive"), (dict(latency=5), "duration"),
    (dict(cost=3.0), "raytrain.Cost"),
])
def test_bad_latency_or_cost_is_a_clear_error(stream, bad, match):
    with pytest.raises(rt.ConfigError, match=match):
        rt.backtest([Training, Serving], stream, tick="6h", warmup="2D", **bad)


def test_latency_and_cost_reject_bad_parameters():
    with pytest.raises(rt.ConfigError, match="per_train_second"):
        rt.Latency(per_train_second=-1)
    with pytest.raises(rt.ConfigError, match="per_row"):
        rt.Cost(per_row=-0.1)
