"""ErrorDrift: River's detectors fed the serving model's 0/1 errors in label-arrival order; History.known_order."""

import numpy as np
import pandas as pd
import pytest

from raytrain.datasets import sea
from raytrain.errors import ConfigError
from raytrain.policies import ErrorDrift

from replay import HOUR, built_history, minutes, replay, sea_oracle, view_of

FED = []   # what the recording detector was fed, by detector instance (module level: survives deepcopy)


class Recorder:
    """A stand-in River detector that records every value it is fed and never fires."""

    drift_detected = False

    def __init__(self):
        self.key = len(FED)
        FED.append([])

    def update(self, x):
        FED[self.key].append(x)

    def clone(self):
        return Recorder()


def scrambled(n=400, seed=0):
    """Hourly events whose labels arrive 0-50 h late, in an order unrelated to the events'."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"time": minutes(n, every="1h"), "x0": rng.random(n), "y": rng.integers(0, 2, n)})
    df["label_time"] = df["time"] + pd.to_timedelta(rng.integers(0, 50, n), unit="h")
    df["out"] = np.where(rng.random(n) < 0.3, 1 - df["y"], df["y"])
    return df


def test_history_known_order_is_label_arrival_order():
    df = scrambled()
    t = df["time"].astype("int64").to_numpy()
    h = built_history(df, df["out"].to_numpy(), t[0])
    order = []
    for now in range(t[0], t[-1] + 60 * HOUR, 7 * HOUR):
        h.advance(now)
        assert np.array_equal(np.sort(h.known_order), np.flatnonzero(h.known))
        order = h.known_order
    lt = df["label_time"].astype("int64").to_numpy()
    assert len(order) == len(df)
    # labels revealed by the same step of the clock come in label-time order, ties in row order
    assert np.array_equal(order, np.lexsort((np.arange(len(df)), lt)))


def test_feeds_each_visible_error_once_in_arrival_order_and_nothing_else():
    """The detector sees exactly the errors of the labels visible at each now, in the order they arrived."""
    df = scrambled()
    FED.clear()
    policy = ErrorDrift(Recorder())
    run = replay(df, policy, tick="5h", warmup="10h", label_time="label_time")
    h = run.history
    assert len(FED) >= 1 and all(not fed for fed in FED[:-1])   # the template and the bind copy: never fed
    fed = FED[-1]
    # brute force from the raw stream: served rows whose label time < the last now, by (label time, row)
    t, lt = df["time"].astype("int64").to_numpy(), df["label_time"].astype("int64").to_numpy()
    served = t >= run.warmup_end
    visible = np.flatnonzero(served & (lt < run.nows[-1]))
    visible = visible[np.lexsort((visible, lt[visible]))]
    assert fed == (df["out"].to_numpy()[visible] != df["y"].to_numpy()[visible]).astype(float).tolist()
    assert policy.labels_fed == len(fed) and len(h) == served.sum()


def test_a_new_model_gets_a_fresh_detector_fed_only_its_own_predictions():
    df = scrambled()
    FED.clear()

    class Twice(ErrorDrift):   # retrains at ticks 5 and 9, whatever the detector says
        def decide(self, view):
            super().decide(view)
            return "test" if view.tick in (5, 9) else None

    run = replay(df, Twice(Recorder()), tick="5h", warmup="10h", label_time="label_time")
    assert len(run.retrains) == 2 and max(run.versions) == 3
    lt = df["label_time"].astype("int64").to_numpy()
    lt = lt[len(df) - len(run.history):]                       # history rows are the served ones
    fed_by_version = FED[-3:]
    for v, fed in zip((1, 2, 3), fed_by_version):
        last_now = max(n for n, k in zip(run.nows, run.versions) if k == v)
        rows = np.flatnonzero((run.history.versions == v) & (lt < last_now))
        assert len(fed) == len(rows) > 0, v


@pytest.mark.parametrize("detector, bound_min", [("adwin", 600), ("page_hinkley", 600), ("ddm", 1500)])
def test_abrupt_drift_fires_after_the_drift_point_within_the_stated_bound(detector, bound_min):
    """SEA drift (errors 10% -> 30% for the old model), one event a minute, labels 30 min late, 1h ticks.

    Bounds (measured on seeds 0-7: ADWIN 120-300 min, PageHinkley 240-420, DDM 360-1200): ADWIN and
    PageHinkley within 600 labels of the drift; DDM averages its error rate since the model started, so
    its delay grows with the stable stretch before the drift: within 1500 labels after 5,600 stable ones."""
    df = sea(n=12_000, seed=3, label_delay="30min")
    drift = df.attrs["drift_points"][0].value
    run = replay(df, ErrorDrift(detector), tick="1h", warmup="6h", label_time="label_time",
                 inputs=["x0", "x1", "x2"], outputs=sea_oracle(drift))
    assert run.retrains, "no retrain after the drift"
    first, _, reason = run.retrains[0]
    assert drift < first <= drift + bound_min * 60 * 10**9
    name = {"adwin": "ADWIN", "page_hinkley": "PageHinkley", "ddm": "DDM"}[detector]
    assert reason.startswith(f"{name} drift after ") and "labels (error rate 0." in reason
    assert len(run.retrains) == 1                       # the new model's steady errors raise no alarm
    after = np.array(run.accuracy)[np.array(run.nows) > first + 2 * HOUR]
    assert after.mean() > 0.85


def test_a_falling_error_rate_is_not_a_reason_to_retrain():
    """ADWIN flags changes both ways; only a rise fires."""
    from river.drift import ADWIN

    class CountingADWIN(ADWIN):
        detections = 0

        def update(self, x):
            super().update(x)
            CountingADWIN.detections += self.drift_detected

    df = sea(n=12_000, seed=3, label_delay="30min", thresholds=(10.0, 7.0))

    def improving(trained_at, rows):   # wrong on a quarter of the inputs before the drift, right after
        return (rows["x0"].to_numpy() + rows["x1"].to_numpy() <= 7.0).astype(np.int64)

    run = replay(df, ErrorDrift(CountingADWIN()), tick="1h", warmup="6h", label_time="label_time",
                 inputs=["x0", "x1", "x2"], outputs=improving)
    assert CountingADWIN.detections >= 1      # River saw the error rate change (it fell: 30% -> 10%) ...
    assert run.retrains == []                 # ... which is no reason to retrain


def test_waits_while_a_retrain_is_on_its_way_and_repeats_its_verdict_until_answered():
    df = sea(n=3_000, seed=1, label_delay="10min", drift_at=0.3)
    drift = df.attrs["drift_points"][0].value
    run = replay(df, ErrorDrift("adwin"), tick="1h", warmup="3h", label_time="label_time",
                 inputs=["x0", "x1", "x2"], outputs=sea_oracle(drift), latency="3h")
    first = run.retrains[0][0]
    # a 3h latency: the old model serves 3 more ticks; the policy does not ask again meanwhile
    assert all(t >= first + 3 * HOUR for t in run.retrain_times[1:])
    policy = ErrorDrift("adwin")
    policy.bind(None)
    policy._latched, policy._latched_key = "ADWIN drift", (1, 5)
    h = built_history(df.iloc[:10], np.zeros(10), int(df["time"].iloc[-1].value))
    assert policy.decide(view_of(h, h.now.value, trained_at=5)) == "ADWIN drift"   # until something retrains
    assert policy.decide(view_of(h, h.now.value, trained_at=5, last_retrain=6)) is None


def test_error_function_for_regressors():
    df = scrambled()
    df["out"] = df["y"] + 0.25
    FED.clear()
    replay(df, ErrorDrift(Recorder(), error=lambda y, p: np.abs(y - p)), tick="5h", warmup="10h",
           label_time="label_time")
    assert set(FED[-1]) == {0.25}


@pytest.mark.parametrize("make, message", [
    (lambda: ErrorDrift("kswin"), r"one of \['adwin', 'ddm', 'page_hinkley'\]"),
    (lambda: ErrorDrift("adwin", delta=2), r"ErrorDrift\('adwin'\) delta must be in \(0, 1\); got 2"),
    (lambda: ErrorDrift("adwin", delta=-0.1), "got -0.1"),
    (lambda: ErrorDrift("adwin", window=100), r"unexpected keyword argument 'window'.*takes \['delta', 'clock'"),
    (lambda: ErrorDrift("page_hinkley", threshold=0), "threshold must be > 0; got 0"),
    (lambda: ErrorDrift("page_hinkley", mode="sideways"), "Invalid 'mode'"),
    (lambda: ErrorDrift("ddm", warm_start=0), "warm_start must be a whole number >= 1; got 0"),
    (lambda: ErrorDrift("ddm", drift_threshold=1.0), "drift_threshold=1.0 is below warning_threshold=2.0"),
    (lambda: ErrorDrift(object()), "River drift detector"),
    (lambda: ErrorDrift(Recorder(), delta=0.1), "set the parameters on the instance"),
    (lambda: ErrorDrift("adwin", error="abs"), "error= must be a callable"),
])
def test_bad_parameters_are_clear_errors_at_construction(make, message):
    with pytest.raises(ConfigError, match=message):
        make()


def test_reprs_and_river_instances():
    from river.drift import ADWIN
    assert repr(ErrorDrift()) == "ErrorDrift('adwin')"
    assert repr(ErrorDrift("ddm", warm_start=100)) == "ErrorDrift('ddm', warm_start=100)"
    assert repr(ErrorDrift(ADWIN(delta=0.001))) == "ErrorDrift(ADWIN(delta=0.001))"
