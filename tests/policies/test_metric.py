"""MetricBelow / MetricAbove: computed on visible labels only, of the serving model's own predictions."""

import numpy as np
import pandas as pd
import pytest

from raytrain.datasets import sea
from raytrain.errors import ConfigError
from raytrain.metrics import METRICS, Metric
from raytrain.policies import MetricAbove, MetricBelow, PolicyContext

from replay import HOUR, built_history, minutes, replay, sea_oracle, view_of

CTX = PolicyContext(("x0",), {"accuracy": METRICS["accuracy"]}, None)


def stream(n=300, delay_h=150, seed=0):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"time": minutes(n, every="1h"), "x0": rng.random(n), "y": rng.integers(0, 2, n)})
    df["label_time"] = df["time"] + pd.Timedelta(hours=delay_h)
    return df


def bound(policy, ctx=CTX):
    policy.bind(ctx)
    return policy


def test_fires_only_once_the_bad_predictions_have_visible_labels():
    """The last 100 predictions are all wrong, but their labels arrive 150 h later."""
    df = stream()
    y = df["y"].to_numpy()
    outputs = np.where(np.arange(300) < 200, y, 1 - y)
    t = df["time"].astype("int64").to_numpy()
    policy = bound(MetricBelow("accuracy", 0.75, last=100))
    now = t[-1] + HOUR                           # rows 0..149 have visible labels: all correct
    assert policy.decide(view_of(built_history(df, outputs, now), now)) is None
    assert policy.value(view_of(built_history(df, outputs, now), now)) == (1.0, 100)
    later = t[-1] + 151 * HOUR                   # every label visible: the last 100 are rows 200..299
    assert policy.decide(view_of(built_history(df, outputs, later), later)) == \
        "accuracy 0 < 0.75 over last 100 labels"
    middle = t[0] + 400 * HOUR                   # labels of rows 0..249 visible: rows 150..249, half wrong
    assert policy.decide(view_of(built_history(df, outputs, middle), middle)) == \
        "accuracy 0.5 < 0.75 over last 100 labels"


def test_window_uses_the_events_of_the_last_duration_with_visible_labels():
    df = stream(delay_h=2)
    y = df["y"].to_numpy()
    outputs = np.where(np.arange(300) < 270, y, 1 - y)   # the last 30 hours wrong
    t = df["time"].astype("int64").to_numpy()
    now = t[-1] + HOUR
    h = built_history(df, outputs, now)
    # events of the last 48 h: rows 252..299; labels visible for rows up to 297: 18 right, 28 wrong
    policy = bound(MetricBelow("accuracy", 0.75, window="48h", min_labels=20))
    assert policy.value(view_of(h, now)) == pytest.approx((18 / 46, 46))
    assert policy.decide(view_of(h, now)) == "accuracy 0.391 < 0.75 over 46 labels of the last 48h"
    # fewer visible labels than min_labels: no verdict
    assert bound(MetricBelow("accuracy", 0.75, window="48h", min_labels=47)).decide(view_of(h, now)) is None


def test_only_the_serving_models_predictions_count():
    df = stream(delay_h=1)
    y = df["y"].to_numpy()
    outputs = np.where(np.arange(300) < 250, 1 - y, y)   # version 1 was always wrong, version 2 always right
    versions = np.where(np.arange(300) < 250, 1, 2)
    t = df["time"].astype("int64").to_numpy()
    now = t[-1] + 2 * HOUR
    h = built_history(df, outputs, now, versions)
    assert bound(MetricBelow("accuracy", 0.75, last=100, min_labels=20)).value(view_of(h, now, version=2)) == (1.0, 50)
    assert bound(MetricBelow("accuracy", 0.75, last=100)).decide(view_of(h, now, version=2)) is None  # 50 < 100
    before = built_history(df.iloc[:250], outputs[:250], now)    # the same, while version 1 still served
    assert bound(MetricBelow("accuracy", 0.75, last=100)).decide(view_of(before, now)) == \
        "accuracy 0 < 0.75 over last 100 labels"


def test_waits_while_a_retrain_is_on_its_way():
    df = stream(delay_h=1)
    y = df["y"].to_numpy()
    t = df["time"].astype("int64").to_numpy()
    now = t[-1] + 2 * HOUR
    h = built_history(df, 1 - y, now)
    policy = bound(MetricBelow("accuracy", 0.75, last=100))
    assert policy.decide(view_of(h, now, trained_at=t[0], last_retrain=t[0])) is not None
    assert policy.decide(view_of(h, now, trained_at=t[0], last_retrain=t[-1])) is None  # latency: old model serves


def test_metric_above_for_lower_is_better_metrics():
    df = stream(delay_h=1)
    y = df["y"].to_numpy().astype(float)
    t = df["time"].astype("int64").to_numpy()
    now = t[-1] + 2 * HOUR
    h = built_history(df, y + 0.8, now)
    policy = bound(MetricAbove("mae", 0.5, last=50), PolicyContext(("x0",), {"mae": METRICS["mae"]}, None))
    assert policy.decide(view_of(h, now)) == "mae 0.8 > 0.5 over last 50 labels"
    assert bound(MetricAbove("mae", 0.9, last=50)).decide(view_of(h, now)) is None


def test_metric_names_resolve_at_bind_against_the_backtests_metrics():
    def late_rate(y, p):
        return float(np.mean(p))
    ctx = PolicyContext(("x0",), {"late_rate": Metric("late_rate", late_rate)}, None)
    bound(MetricBelow("late_rate", 0.5, last=10), ctx)
    bound(MetricBelow("f1", 0.5, last=10), ctx)                 # any built-in metric works too
    with pytest.raises(ConfigError, match=r"unknown metric 'acc'\. Known metrics: \[.*'accuracy'"):
        MetricBelow("acc", 0.5, last=10).bind(ctx)


def test_abrupt_drift_fires_after_the_drift_point_within_the_stated_bound():
    """SEA drift at row 6000 (one event a minute, labels 30 min late), with a perfect learner as model.

    Bound: the last 500 labels fall below 0.8 once about 250 post-drift labels are visible (accuracy
    0.9 before, 0.7 after); they are visible 30 min after their event; plus one tick (1h). So the retrain
    comes after the drift and at most 250 + 30 + 60 = 340 minutes later."""
    df = sea(n=12_000, seed=3, label_delay="30min")
    drift = df.attrs["drift_points"][0].value
    run = replay(df, MetricBelow("accuracy", 0.8, last=500), tick="1h", warmup="6h", label_time="label_time",
                 inputs=["x0", "x1", "x2"], outputs=sea_oracle(drift))
    first = run.retrains[0][0]
    assert drift < first <= drift + 340 * 60 * 10**9
    assert run.retrains[0][2].startswith("accuracy 0.7")
    assert len(run.retrains) == 1                    # and none before the drift, none after recovery
    after = np.array(run.accuracy)[np.array(run.nows) > first + 2 * HOUR]
    assert after.mean() > 0.85                       # the retrained model recovers


@pytest.mark.parametrize("make, message", [
    (lambda: MetricBelow("mae", 3.0, last=10), r"mae is lower-is-better.*Use MetricAbove\('mae', 3.0"),
    (lambda: MetricAbove("accuracy", 0.7, last=10), r"higher-is-better.*Use MetricBelow\('accuracy', 0.7"),
    (lambda: MetricBelow("accuracy", 1.5, last=10), r"threshold must be >= 0 and <= 1; got 1.5"),
    (lambda: MetricBelow("accuracy", -0.1, last=10), r"threshold must be >= 0 and <= 1; got -0.1"),
    (lambda: MetricAbove("rmse", -2, last=10), r"threshold must be >= 0; got -2"),
    (lambda: MetricBelow("accuracy", float("nan"), last=10), "finite number"),
    (lambda: MetricBelow("accuracy", "high", last=10), "finite number; got 'high'"),
    (lambda: MetricBelow("accuracy", 0.7), "last= .* or window= .* exactly one"),
    (lambda: MetricBelow("accuracy", 0.7, last=10, window="1D"), "exactly one"),
    (lambda: MetricBelow("accuracy", 0.7, last=0), r"last=\) must be a whole number of at least 1; got 0"),
    (lambda: MetricBelow("accuracy", 0.7, window="-2h"), "positive duration"),
    (lambda: MetricBelow("accuracy", 0.7, window=5), "got the number 5"),
    (lambda: MetricBelow("accuracy", 0.7, last=50, min_labels=60), "min_labels=60 is more than last=50"),
    (lambda: MetricBelow(5, 0.7, last=10), "metric name such as 'accuracy'"),
])
def test_bad_parameters_are_clear_errors_at_construction(make, message):
    with pytest.raises(ConfigError, match=message):
        make()


def test_reprs():
    assert repr(MetricBelow("accuracy", 0.75, last=1000)) == "MetricBelow('accuracy', 0.75, last=1000)"
    assert repr(MetricBelow("f1", 0.6, window="7D", min_labels=30)) == "MetricBelow('f1', 0.6, window='7D', min_labels=30)"
    assert repr(MetricAbove("log_loss", 0.4, last=200)) == "MetricAbove('log_loss', 0.4, last=200)"
