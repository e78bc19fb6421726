"""FeatureDrift: fires on covariate shift, stays quiet on stationary streams, tests only every so often."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from raytrain.datasets import covariate_shift, stationary
from raytrain.errors import ConfigError
from raytrain.policies import FeatureDrift, PolicyContext
from raytrain.policies.drift import ks_pvalue
from raytrain.windows import Expanding, Sliding

from replay import built_history, minutes, replay, view_of

X3 = ["x0", "x1", "x2"]
MINUTE = 60 * 10**9


@pytest.mark.parametrize("test", ["auto", "ks", "chi2", "psi"])
def test_fires_after_a_covariate_shift_within_the_stated_bound(test):
    """x0 and x1 shift by 2 sd at row 10,000 (one event a minute, hourly ticks).

    Bound: a test runs every 500 new rows on the latest 1,000; a 2-sd shift is significant once ~100 of
    them are shifted; so the first retrain comes within 500 + 100 rows and one tick (660 min) of the shift.
    """
    df = covariate_shift(n=20_000, seed=0)
    drift = df.attrs["drift_points"][0].value
    run = replay(df, FeatureDrift(X3, test=test), tick="1h", warmup="1D", inputs=X3, window=Sliding("1D"))
    first, _, reason = run.retrains[0]
    assert drift < first <= drift + 660 * MINUTE
    label = {"auto": "KS p=", "ks": "KS p=", "chi2": "chi2 p=", "psi": "PSI "}[test]
    assert reason.startswith(label) and "'x0'" in reason and "'x1'" in reason and "'x2'" not in reason
    assert reason.endswith("recent vs 1,440 training rows)")
    # with a one-day training window, retrains stop once the training data is all after the shift
    assert all(t < drift + 2 * 1440 * MINUTE for t in run.retrain_times)


def test_with_an_expanding_window_the_mixed_training_data_keeps_it_firing():
    """A documented consequence: after a shift, training on everything mixes both sides, so the recent
    inputs keep differing from the training data; a cooldown or a sliding window tames it."""
    df = covariate_shift(n=20_000, seed=0)
    drift = df.attrs["drift_points"][0].value
    run = replay(df, FeatureDrift(X3), tick="1h", warmup="1D", inputs=X3)
    assert run.retrain_times[0] > drift and len(run.retrains) > 20
    tamed = replay(df, FeatureDrift(X3).with_cooldown("3D"), tick="1h", warmup="1D", inputs=X3)
    assert len(tamed.retrains) == 3           # the shift, then every 3 days for the 7 days left


@pytest.mark.parametrize("test", ["auto", "psi"])
def test_stays_quiet_on_stationary_streams(test):
    for seed in range(5):
        run = replay(stationary(n=20_000, seed=seed), FeatureDrift(test=test), tick="1h", warmup="1D", inputs=X3)
        assert run.retrains == [], (seed, run.retrains)


def test_false_alarms_stay_bounded_with_many_features_and_frequent_tests():
    """20 stationary features tested every 150 rows: Bonferroni keeps a test's false-alarm chance at about
    alpha (0.01) however many features; over 5 seeded streams (517 tests) at most 2 * alpha per test."""
    features = [f"x{i}" for i in range(20)]
    alarms = checks = 0
    for seed in range(5):
        policy = FeatureDrift(recent=300, min_samples=100)
        run = replay(stationary(n=20_000, d=20, seed=seed), policy, tick="1h", warmup="1D", inputs=features)
        alarms += len(run.retrains)
        checks += policy.checks
    assert checks > 500
    assert alarms <= 2 * 0.01 * checks


def test_tests_only_every_check_every_rows_and_reads_training_data_once_per_model():
    class CountingWindow(Expanding):
        reads = 0

        def select(self, *args):
            CountingWindow.reads += 1
            return super().select(*args)

    policy = FeatureDrift(X3, check_every=1000)
    run = replay(stationary(n=20_000, seed=1), policy, tick="1h", warmup="1D", inputs=X3, window=CountingWindow())
    assert len(run.decisions) == 310 and run.retrains == []
    assert policy.checks == (20_000 - 1440) // 1000   # one test per 1,000 new rows, not one per tick
    assert CountingWindow.reads == 1                   # the training data is read once per serving model


@settings(max_examples=200, deadline=None)
@given(reference=st.lists(st.integers(-3, 3) | st.floats(-5, 5), min_size=1, max_size=300),
       sample=st.lists(st.integers(-3, 3) | st.floats(-5, 5), min_size=1, max_size=300))
def test_ks_p_value_is_scipys(reference, sample):
    """Ties, single values, any sizes: the same p-value as scipy.stats.ks_2samp(method="asymp")."""
    expected = stats.ks_2samp(reference, sample, method="asymp").pvalue
    if np.isnan(expected):     # one value on each side
        expected = 1.0
    assert ks_pvalue(np.sort(np.asarray(reference, dtype=float)), np.asarray(sample, dtype=float)) == \
        pytest.approx(expected, abs=1e-12)


def test_categorical_features_use_chi_square():
    n = 6000
    rng = np.random.default_rng(0)
    city = np.where(np.arange(n) < 4000, rng.choice(["a", "b", "c"], n), rng.choice(["a", "b", "c"], n, p=[.6, .2, .2]))
    df = pd.DataFrame({"time": minutes(n), "x0": rng.normal(size=n), "city": city, "y": rng.integers(0, 2, n)})
    run = replay(df, FeatureDrift(["x0", "city"]), tick="1h", warmup="1D", inputs=["x0", "city"])
    drift = df["time"][4000].value
    assert run.retrains and drift < run.retrains[0][0] <= drift + 660 * MINUTE
    assert run.retrains[0][2].startswith("chi2 p=") and "'city'" in run.retrains[0][2]
    quiet = df.assign(city=rng.choice(["a", "b", "c"], n))
    assert replay(quiet, FeatureDrift(["x0", "city"]), tick="1h", warmup="1D", inputs=["x0", "city"]).retrains == []
    psi = replay(df, FeatureDrift(["city"], test="psi"), tick="1h", warmup="1D", inputs=["x0", "city"])
    assert psi.retrains[0][2].startswith("PSI 0.") and "'city'" in psi.retrains[0][2]
    with pytest.raises(ConfigError, match="feature 'city' is not numeric"):
        replay(df, FeatureDrift(["city"], test="ks"), tick="1h", warmup="1D", inputs=["x0", "city"])


def test_waits_while_a_retrain_is_on_its_way_and_repeats_its_verdict_until_answered():
    df = covariate_shift(n=3000, seed=0, drift_at=0.5)
    t = df["time"].astype("int64").to_numpy()
    now = t[-1] + MINUTE
    h = built_history(df.iloc[1000:], np.zeros(2000), now, inputs=X3)
    reference = df.iloc[:1000]
    policy = FeatureDrift(X3, recent=500)
    policy.bind(PolicyContext(tuple(X3), {}, None))
    v = view_of(h, now, trained_at=t[1000], training_rows=lambda: reference)
    assert policy.decide(view_of(h, now, trained_at=t[1000], last_retrain=t[-1], training_rows=lambda: reference)) is None
    reason = policy.decide(v)
    assert reason.startswith("KS p=")
    assert policy.decide(v) == reason and policy.checks == 1        # latched: no new test, same answer
    assert policy.decide(view_of(h, now, version=2, trained_at=t[-1], training_rows=lambda: df)) is None


def test_feature_names_are_checked_at_bind():
    with pytest.raises(ConfigError, match=r"features \['temp'\] are not inputs of the stream; its inputs are "
                                          r"\['x0', 'x1', 'x2'\]"):
        FeatureDrift(["x0", "temp"]).bind(PolicyContext(tuple(X3), {}, None))
    policy = FeatureDrift()
    policy.bind(PolicyContext(tuple(X3), {}, None))
    assert policy._names == X3


@pytest.mark.parametrize("make, message", [
    (lambda: FeatureDrift(["x0"], test="t-test"), r"test must be one of \['auto', 'ks', 'chi2', 'psi'\]; got 't-test'"),
    (lambda: FeatureDrift(["x0"], alpha=0), r"alpha must be > 0 and < 1; got 0"),
    (lambda: FeatureDrift(["x0"], alpha=1.5), r"alpha must be > 0 and < 1; got 1.5"),
    (lambda: FeatureDrift(["x0"], test="psi", threshold=-0.2), r"threshold must be > 0; got -0.2"),
    (lambda: FeatureDrift(["x0"], test="psi", alpha=0.01), "takes threshold="),
    (lambda: FeatureDrift(["x0"], threshold=0.2), "threshold= is for test='psi'"),
    (lambda: FeatureDrift(["x0"], recent=0), "recent= must be a whole number of at least 1; got 0"),
    (lambda: FeatureDrift(["x0"], recent=100, window="1D"), "not both"),
    (lambda: FeatureDrift(["x0"], window="-1D"), "positive duration"),
    (lambda: FeatureDrift(["x0"], min_samples=0), "min_samples= must be a whole number"),
    (lambda: FeatureDrift(["x0"], recent=100, min_samples=200), "min_samples=200 is more than recent=100"),
    (lambda: FeatureDrift(["x0"], check_every=-5), "check_every= must be a whole number"),
    (lambda: FeatureDrift([]), "input column names"),
    (lambda: FeatureDrift([3]), "input column names"),
])
def test_bad_parameters_are_clear_errors_at_construction(make, message):
    with pytest.raises(ConfigError, match=message):
        make()


def test_reprs():
    assert repr(FeatureDrift(["temp", "wind"])) == "FeatureDrift(['temp', 'wind'])"
    assert repr(FeatureDrift()) == "FeatureDrift()"
    assert repr(FeatureDrift("temp", test="psi", threshold=0.25, window="7D")) == \
        "FeatureDrift(['temp'], test='psi', threshold=0.25, window='7D')"
    assert repr(FeatureDrift(["a"], alpha=0.001, recent=500, min_samples=100)) == \
        "FeatureDrift(['a'], alpha=0.001, min_samples=100, recent=500)"
