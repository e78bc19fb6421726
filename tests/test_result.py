"""Results round-trip through Parquet + JSON, and the summary says what happened."""

import json

import numpy as np
import pandas as pd
import pytest

import raytrain as rt
from raytrain.datasets import sea


class Training(rt.Component):
    def run(self, data):
        from sklearn.tree import DecisionTreeClassifier

        return DecisionTreeClassifier(max_depth=4, random_state=0).fit(data[["x0", "x1", "x2"]], data["y"])


class Serving(rt.Component):
    def run(self, batch, model):
        return model.predict(batch[["x0", "x1", "x2"]])

    def after_run(self):
        if len(self.history) and self.now.day == 1 and self.now.hour == 0:
            rt.refresh("Training", "first of the month")


@pytest.fixture(scope="module")
def result(ray_session):
    df = sea(n=20_000, seed=3, freq="5min", label_delay="1h")
    stream = rt.Stream.from_pandas(df, time="time", label="y", label_time="label_time", inputs=["x0", "x1", "x2"])
    return rt.backtest([Training, Serving], stream, tick="1D", warmup="7D", metric=["accuracy", "f1"])


def test_tables_have_one_row_per_tick_and_per_retrain(result):
    m, r = result.metrics, result.retrains
    assert list(m.columns) == ["tick", "start", "end", "events", "version", "accuracy", "f1"]
    assert (m["end"] - m["start"] == pd.Timedelta("1D")).all()
    assert m["events"].sum() == result.summary["events"]
    assert r.iloc[0]["trigger"] == "warmup" and r.iloc[0]["version"] == 1
    assert (r.iloc[1:]["reason"] == "first of the month").all()
    assert (r.iloc[1:]["time"].dt.day == 1).all()
    assert result.summary["retrains"] == len(r) - 1 >= 1
    # every tick is served by the newest version deployed before it started
    for _, row in r.iterrows():
        assert (m.loc[m["start"] >= row["serves_from"], "version"] >= row["version"]).all()


def test_save_and_load_round_trip(result, tmp_path):
    path = result.save(tmp_path / "run")
    assert sorted(p.name for p in tmp_path.joinpath("run").iterdir()) == [
        "metrics.parquet", "retrains.parquet", "summary.json"]
    json.loads((tmp_path / "run" / "summary.json").read_text())  # plain JSON, no pickle
    loaded = rt.load(path)
    pd.testing.assert_frame_equal(loaded.metrics, result.metrics)
    pd.testing.assert_frame_equal(loaded.retrains, result.retrains)
    assert loaded.summary["metrics"]["accuracy"]["mean"] == pytest.approx(result.summary["metrics"]["accuracy"]["mean"])


def test_summary_weighted_mean_matches_metrics(result):
    m = result.metrics
    expected = np.average(m["accuracy"], weights=m["events"])
    assert result.summary["metrics"]["accuracy"]["weighted"] == pytest.approx(expected)
    assert result.summary["metrics"]["accuracy"]["worst"] == pytest.approx(m["accuracy"].min())


def test_load_of_a_wrong_directory_says_what_is_missing(tmp_path):
    with pytest.raises(rt.RaytrainError, match="not a saved backtest"):
        rt.load(tmp_path)
