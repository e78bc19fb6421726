"""The evaluation matrix on Ray: what-ifs equal full backtests, the oracle beats every policy with as
many retrains, no model sees the future, and an interrupted matrix resumes."""

import json
import os

import numpy as np
import pandas as pd
import pytest
from sklearn.tree import DecisionTreeClassifier

import raytrain as rt
from raytrain.datasets import FLIGHT_FEATURES, load_flights, sea

SEA_FEATURES = ["x0", "x1", "x2"]


class FlightTraining(rt.Component):
    def run(self, data):
        return DecisionTreeClassifier(max_depth=6, random_state=0).fit(data[FLIGHT_FEATURES], data["late"])


class FlightServing(rt.Component):
    def run(self, batch, model):
        return model.predict(batch[FLIGHT_FEATURES])


class FlightServingOnDrop(FlightServing):
    """A policy inside a hook: retrain when the last 400 known labels are below 72% accuracy."""
    name = "FlightServing"

    def after_run(self):
        known = self.history.known
        outputs, labels = self.history.outputs[known][-400:], self.history.labels[known][-400:]
        if len(labels) == 400 and np.mean(outputs == labels) < 0.72:
            rt.refresh("FlightTraining")


class SeaTraining(rt.Component):
    def run(self, data):
        return DecisionTreeClassifier(max_depth=5, random_state=0).fit(data[SEA_FEATURES], data["y"])


class SeaServing(rt.Component):
    def run(self, batch, model):
        return model.predict(batch[SEA_FEATURES])


class SpyTraining(SeaTraining):
    """Writes, per training run, its now and the latest event time and label time it was given."""
    name = "SeaTraining"
    log = None

    def run(self, data, now):
        with open(self.log, "a") as f:
            f.write(json.dumps({"now": now.value, "max_time": int(data["time"].max().value),
                                "max_label_time": int(data["label_time"].max().value), "rows": len(data)}) + "\n")
        return super().run(data)


FLIGHTS = dict(tick="1D", warmup="14D")
SEA = dict(tick="6h", warmup="1D", window=rt.Sliding("2D"))


@pytest.fixture(scope="module")
def flights():
    df = load_flights(n_rows=40_000)[["sched_dep", "arrived", "late"] + FLIGHT_FEATURES].reset_index(drop=True)
    return rt.Stream.from_pandas(df, time="sched_dep", label="late", label_time="arrived", inputs=FLIGHT_FEATURES)


@pytest.fixture(scope="module")
def drift():
    df = sea(n=12_000, drift_at=(0.5,), seed=3, freq="1min", label_delay="1h")  # abrupt drift after 4 days
    return rt.Stream.from_pandas(df, time="time", label="y", label_time="label_time", inputs=SEA_FEATURES)


@pytest.fixture(scope="module")
def flights_matrix(ray_session, flights):
    return rt.evaluation_matrix([FlightTraining, FlightServing], flights, **FLIGHTS)


@pytest.fixture(scope="module")
def drift_matrix(ray_session, drift):
    return rt.evaluation_matrix([SeaTraining, SeaServing], drift, **SEA)


def retrain_times(result):
    return result.retrains.loc[result.retrains["trigger"] != "warmup", "time"]


def weighted(result, metric="accuracy"):
    return result.summary["metrics"][metric]["weighted"]


def test_what_if_equals_the_backtest_for_a_schedule_and_a_hook(flights, flights_matrix):
    every = rt.backtest([FlightTraining, FlightServing], flights, policy=rt.Every("7D"), **FLIGHTS)
    hook = rt.backtest([FlightTraining, FlightServingOnDrop], flights, **FLIGHTS)
    assert every.summary["retrains"] >= 4 and hook.summary["retrains"] >= 1
    assert flights_matrix.what_if(retrain_times(every)) == pytest.approx(weighted(every), abs=1e-12)
    assert flights_matrix.what_if(retrain_times(hook)) == pytest.approx(weighted(hook), abs=1e-12)


def test_what_if_equals_the_backtest_with_latency_on_a_drift_stream(ray_session, drift):
    em = rt.evaluation_matrix([SeaTraining, SeaServing], drift, latency="9h", **SEA)
    # decided at the end of tick c (now = start of c+1), it serves from the first tick starting at or after
    # now + 9h: c+3 (or never, past the stream's end)
    n = len(em.events)
    assert (em.serve_from[1:] == np.minimum(em.candidate_ticks[1:] + 3, n)).all()
    res = rt.backtest([SeaTraining, SeaServing], drift, policy=rt.Every("1D"), latency="9h", **SEA)
    assert em.what_if(retrain_times(res)) == pytest.approx(weighted(res), abs=1e-12)


@pytest.mark.parametrize("case", ["flights", "drift"])
def test_oracle_scores_at_least_every_policy_with_as_many_retrains(request, case):
    stream = request.getfixturevalue(case)
    em = request.getfixturevalue(f"{case}_matrix")
    pipeline = [FlightTraining, FlightServing] if case == "flights" else [SeaTraining, SeaServing]
    settings = FLIGHTS if case == "flights" else SEA
    policies = {"never": rt.Never(), "every 3D": rt.Every("3D"), "below 0.7": rt.MetricBelow("accuracy", 0.7, last=300)}
    sweep = rt.sweep(pipeline, stream, policies, verbose=False, **settings)
    regret = em.regret(sweep)
    print(f"\n{case} frontier:\n{em.oracle(int(regret['retrains'].max()))[['k', 'metric', 'retrains']]}\n{regret}")
    assert set(regret.index) == set(policies)
    front = em.oracle(int(regret["retrains"].max()))["metric"].to_numpy()
    for name, row in regret.iterrows():
        assert row["what_if"] == pytest.approx(row["accuracy"], abs=1e-12), name  # M reproduces the policy
        for k in range(int(row["retrains"]), len(front)):  # the oracle with k >= its retrains does no worse
            assert front[k] >= row["accuracy"] - 1e-12, (name, k)
        assert row["oracle"] == front[int(row["retrains"])]
        assert row["regret"] >= -1e-12
    assert regret.loc["never", "regret"] == pytest.approx(0.0, abs=1e-12)  # k = 0: nothing to choose


def test_no_model_sees_the_future(ray_session, drift, tmp_path):
    SpyTraining.log = str(tmp_path / "runs.jsonl")
    em = rt.evaluation_matrix([SpyTraining, SeaServing], drift, every=2, **SEA)
    runs = [json.loads(line) for line in open(SpyTraining.log)]
    assert sorted(r["now"] for r in runs) == sorted(pd.DatetimeIndex(em.trained_at).asi8.tolist())
    for r in runs:
        assert r["max_time"] < r["now"] and r["max_label_time"] < r["now"]
        assert r["max_time"] >= r["now"] - pd.Timedelta("2D").value  # the window reaches back, not further


def test_resume_save_load_and_heatmap(ray_session, drift, tmp_path):
    out = str(tmp_path / "matrix")
    SpyTraining.log = str(tmp_path / "runs.jsonl")
    first = rt.evaluation_matrix([SpyTraining, SeaServing], drift, every=4, out=out, max_concurrent=1, **SEA)
    n_rows = len(first.candidate_ticks)
    os.remove(os.path.join(out, "row_00002.parquet"))      # as if interrupted before row 2 was saved
    again = rt.evaluation_matrix([SpyTraining, SeaServing], drift, every=4, out=out, **SEA)
    assert sum(1 for _ in open(SpyTraining.log)) == n_rows + 1  # only the missing row was trained again
    np.testing.assert_array_equal(again.values, first.values)
    np.testing.assert_array_equal(again.serve_from, first.serve_from)

    saved = rt.EvaluationMatrix.load(first.save(tmp_path / "saved"))
    np.testing.assert_array_equal(saved.values, first.values)
    pd.testing.assert_frame_equal(saved.oracle(3), first.oracle(3))
    png = tmp_path / "heatmap.png"
    first.heatmap(png)
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_what_if_off_candidate_is_a_clear_error(drift_matrix):
    with pytest.raises(rt.ConfigError, match="No candidate model was trained at"):
        drift_matrix.what_if(["2024-01-02 01:00"])
