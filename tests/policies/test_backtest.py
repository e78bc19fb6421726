"""The built-in policies through rt.backtest on the session's Ray, with real scikit-learn models.

Small synthetic streams (12,000 events, one a minute; hourly ticks) keep each backtest around a second.
"""

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import raytrain as rt
from raytrain.datasets import covariate_shift, sea, stationary

from replay import replay

X3 = ["x0", "x1", "x2"]
MINUTE = 60 * 10**9


class Training(rt.Component):
    def run(self, data):
        return LogisticRegression().fit(data[X3], data["y"])


class Serving(rt.Component):
    def run(self, batch, model):
        return model.predict(batch[X3])


def run(df, policy, window=None, **kwargs):
    stream = rt.Stream.from_pandas(df, time="time", label="y",
                                   label_time="label_time" if "label_time" in df else None)
    return rt.backtest([Training, Serving], stream, tick="1h", warmup="6h", policy=policy, window=window, **kwargs)


def retrains_of(result):
    r = result.retrains
    return r[r["trigger"] != "warmup"]


def test_never_never_retrains_and_every_fires_exactly_on_schedule(ray_session):
    df = sea(n=6000, seed=0, label_delay="30min")
    never = run(df, rt.Never())
    assert len(retrains_of(never)) == 0 and set(never.metrics["version"]) == {1}
    every = run(df, rt.Every("12h"))
    times = retrains_of(every)["time"]
    warmup_end = pd.Timestamp("2024-01-01 06:00")
    assert list(times) == [warmup_end + pd.Timedelta(hours=12 * k) for k in range(1, len(times) + 1)]
    assert len(times) == 7                                   # 100 h of stream after warm-up
    assert set(retrains_of(every)["trigger"]) == {"policy Every('12h')"}
    assert list(retrains_of(every)["reason"].unique()) == ["12h since the last retrain (every 12h)"]
    # each retrain serves from the next tick
    assert list(every.metrics["version"].diff().fillna(0).to_numpy().nonzero()[0]) == [12 * k for k in range(1, 8)]


def scrambled_sea(seed=0):
    """SEA drift at 30% and 60%, x2 shifted half way, labels 0-5 h late in scrambled order, 5% never."""
    df = sea(n=6000, drift_at=(0.3, 0.6), seed=seed)
    df.loc[3000:, "x2"] += 3.0
    rng = np.random.default_rng(seed)
    delay = pd.to_timedelta(rng.integers(0, 300, len(df)), unit="min")
    df["label_time"] = (df["time"] + delay).where(rng.random(len(df)) > 0.05)
    return df


def trained_outputs(df, window):
    """What Training + Serving output in the pure replay: the same model fitted on the same rows."""
    times = df["time"].astype("int64").to_numpy()
    label_times = np.where(df["label_time"].isna(), np.iinfo(np.int64).max,
                           df["label_time"].to_numpy(dtype="datetime64[ns]").astype(np.int64))
    models = {}

    def outputs(trained_at, rows):
        if trained_at not in models:
            data = df.iloc[window.select(times, label_times, trained_at)]
            models[trained_at] = LogisticRegression().fit(data[X3], data["y"])
        return models[trained_at].predict(rows[X3])
    return outputs


CROSS = {
    "every_labels": lambda: rt.EveryLabels(700),
    "metric_below": lambda: rt.MetricBelow("accuracy", 0.8, last=300),
    "feature_drift": lambda: rt.FeatureDrift(X3, recent=500),
    "adwin": lambda: rt.ErrorDrift("adwin"),
    "limits": lambda: (rt.ErrorDrift("page_hinkley") | rt.Every(events=1500)).with_cooldown("6h").with_budget(3),
}


@pytest.mark.parametrize("name", sorted(CROSS))
def test_the_runtime_decides_exactly_like_the_pure_replay(ray_session, name):
    """The pure tests drive policies with tests/policies/replay.py; on Ray the same retrains happen,
    at the same times, for the same reasons."""
    df = scrambled_sea()
    window = rt.Sliding("4h")
    result = run(df, CROSS[name](), window=window)
    pure = replay(df, CROSS[name](), tick="1h", warmup="6h", label_time="label_time", inputs=X3,
                  outputs=trained_outputs(df, window), window=window)
    ray_retrains = retrains_of(result)
    assert len(ray_retrains) > 0
    assert list(ray_retrains["time"].astype("int64")) == pure.retrain_times
    assert list(ray_retrains["reason"]) == [reason for _, _, reason in pure.retrains]


@pytest.fixture(scope="module")
def abrupt():
    """SEA: x0 + x1 <= 7, then <= 10 from 2024-01-05 04:00 (row 6,000): a quarter of the inputs flip."""
    return sea(n=12_000, seed=3, label_delay="30min")


@pytest.fixture(scope="module")
def never_accuracy(abrupt, ray_session):
    m = run(abrupt, rt.Never(), window=rt.Sliding("4h")).metrics
    return m


# (policy, bound in minutes from the drift point to the first retrain; measured on seeds 0-3 in brackets)
ABRUPT = {
    # last 500 labels + 30 min label delay + one tick [240-300]
    "metric_below": (lambda: rt.MetricBelow("accuracy", 0.8, last=500), 590),
    # within 600 labels [120-360]
    "adwin": (lambda: rt.ErrorDrift("adwin"), 600),
    "page_hinkley": (lambda: rt.ErrorDrift("page_hinkley"), 600),
    # DDM averages the error rate since the model started: its delay grows with the stable stretch
    # before the drift (here 5,600 labels) [360-1140]
    "ddm": (lambda: rt.ErrorDrift("ddm"), 1500),
}


@pytest.mark.parametrize("name", sorted(ABRUPT))
def test_abrupt_drift_is_answered_after_the_drift_within_the_bound_and_the_metric_recovers(
        ray_session, abrupt, never_accuracy, name):
    make, bound_min = ABRUPT[name]
    drift = abrupt.attrs["drift_points"][0]
    result = run(abrupt, make(), window=rt.Sliding("4h"))
    times = retrains_of(result)["time"]
    assert len(times) >= 1
    assert times.min() > drift, "retrained before the drift"
    assert times.min() <= drift + pd.Timedelta(minutes=bound_min)
    last_day = result.metrics["start"] >= result.metrics["start"].max() - pd.Timedelta("24h")
    recovered = result.metrics.loc[last_day, "accuracy"].mean()
    stuck = never_accuracy.loc[last_day, "accuracy"].mean()
    assert recovered > 0.84 and recovered > stuck + 0.12, (recovered, stuck)


def test_feature_drift_fires_on_covariate_shift_and_stays_quiet_on_a_stationary_stream(ray_session):
    shifted = covariate_shift(n=12_000, seed=0)
    drift = shifted.attrs["drift_points"][0]
    fired = retrains_of(run(shifted, rt.FeatureDrift(X3), window=rt.Sliding("1D")))
    assert len(fired) >= 1 and fired["time"].min() > drift
    assert fired["time"].min() <= drift + pd.Timedelta(minutes=660)
    assert fired["reason"].iloc[0].startswith("KS p=")
    quiet = retrains_of(run(stationary(n=12_000, seed=0), rt.FeatureDrift(X3)))
    assert len(quiet) == 0


def test_bad_names_fail_before_anything_runs():
    df = sea(n=600, seed=0)
    with pytest.raises(rt.ConfigError, match="unknown metric 'acc'"):
        run(df, rt.MetricBelow("acc", 0.8, last=100))
    with pytest.raises(rt.ConfigError, match=r"features \['temp'\] are not inputs"):
        run(df, rt.FeatureDrift(["temp"]))
