"""Tests for the seeded synthetic drift streams (raytrain.datasets.synthetic)."""

import doctest
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.linear_model import LogisticRegression

from raytrain.datasets import synthetic
from raytrain.datasets.synthetic import covariate_shift, hyperplane, sea, stationary

GENERATORS = [sea, hyperplane, covariate_shift, stationary]


def _features(df):
    return [c for c in df.columns if c.startswith("x")]


def _parts(df, k):
    """k consecutive, equal slices of df."""
    size = len(df) // k
    return [df.iloc[i * size : (i + 1) * size] for i in range(k)]


def _accuracy(model, df):
    return model.score(df[_features(df)], df["y"])


# --- the shared frame contract --------------------------------------------------------------


@pytest.mark.parametrize("make", GENERATORS, ids=lambda f: f.__name__)
def test_frame_layout(make):
    df = make(n=1_000)
    d = len(_features(df))
    assert list(df.columns) == ["time", *[f"x{j}" for j in range(d)], "y"]
    assert df["time"].dtype == "datetime64[ns]"
    assert df["time"].iloc[0] == pd.Timestamp("2024-01-01")
    assert (df["time"].diff().iloc[1:] == pd.Timedelta("1min")).all()
    assert df["y"].dtype == np.int64 and set(df["y"].unique()) == {0, 1}
    assert list(df.index) == list(range(1_000))
    assert not df.isna().any().any()
    assert isinstance(df.attrs["drift_points"], list)


@pytest.mark.parametrize("make", GENERATORS, ids=lambda f: f.__name__)
def test_start_freq_and_label_delay(make):
    df = make(n=100, start="2013-03-02 05:00", freq="15s", label_delay="2h")
    assert df["time"].iloc[0] == pd.Timestamp("2013-03-02 05:00")
    assert df["time"].iloc[-1] == pd.Timestamp("2013-03-02 05:00") + 99 * pd.Timedelta("15s")
    assert df.columns[-1] == "label_time"
    assert df["label_time"].dtype == "datetime64[ns]"
    assert ((df["label_time"] - df["time"]) == pd.Timedelta("2h")).all()


def test_label_delay_zero_and_timedelta():
    assert (sea(n=10, label_delay=pd.Timedelta(0))["label_time"] == sea(n=10)["time"]).all()
    assert "label_time" not in sea(n=10, label_delay=None).columns


@pytest.mark.parametrize("make", GENERATORS, ids=lambda f: f.__name__)
def test_same_seed_same_stream_other_seed_other_stream(make):
    a, b, c = make(n=2_000, seed=7), make(n=2_000, seed=7), make(n=2_000, seed=8)
    pd.testing.assert_frame_equal(a, b)
    assert a.attrs == b.attrs
    assert not np.allclose(a["x0"], c["x0"])
    assert (a["y"] != c["y"]).any()


def test_hyperplane_drift_direction_depends_on_seed():
    # Same inputs would not prove the concept moved differently: compare the labels' rule.
    a, b = hyperplane(n=5_000, d=3, seed=1), hyperplane(n=5_000, d=3, seed=2)
    assert (a["y"] != b["y"]).mean() > 0.2


def test_doctests_run():
    result = doctest.testmod(synthetic, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 4 and result.failed == 0


def test_module_imports_neither_ray_nor_raytrain():
    # Load the file on its own, so raytrain/__init__ (which may import ray) stays out of it.
    code = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('synthetic', {str(Path(synthetic.__file__))!r})\n"
        "module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)\n"
        "module.sea(n=10)\n"
        "bad = sorted(m for m in sys.modules if m == 'ray' or m.startswith(('ray.', 'raytrain')))\n"
        "print(bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --- sea: abrupt concept drift --------------------------------------------------------------


def test_sea_drift_points_are_at_the_fractions():
    df = sea(n=1_000, drift_at=(0.25, 0.5, 0.8))
    assert df.attrs["drift_points"] == [df["time"][250], df["time"][500], df["time"][800]]
    assert df.attrs["drift_points"][0] == pd.Timestamp("2024-01-01 04:10")
    assert "drift_windows" not in df.attrs


def test_sea_without_noise_follows_each_concept_exactly():
    df = sea(n=4_000, drift_at=(0.25, 0.5, 0.75), thresholds=(8.0, 9.0, 7.0, 9.5), noise=0.0)
    theta = np.repeat([8.0, 9.0, 7.0, 9.5], 1_000)
    assert ((df["x0"] + df["x1"] <= theta).astype(int) == df["y"]).all()
    assert df[["x0", "x1", "x2"]].min().min() >= 0.0 and df[["x0", "x1", "x2"]].max().max() <= 10.0


def test_sea_thresholds_cycle_over_the_concepts():
    df = sea(n=3_000, drift_at=(1 / 3, 2 / 3), noise=0.0)  # default (7, 10) -> 7, 10, 7
    theta = np.repeat([7.0, 10.0, 7.0], 1_000)
    assert ((df["x0"] + df["x1"] <= theta).astype(int) == df["y"]).all()


def test_sea_label_rates():
    # P(x0 + x1 <= t) = t^2 / 200 for t <= 10; noise pulls it towards 1/2.
    df = sea(n=200_000, noise=0.1)
    before, after = df["y"][:100_000].mean(), df["y"][100_000:].mean()
    assert before == pytest.approx(0.245 * 0.9 + 0.755 * 0.1, abs=0.01)
    assert after == pytest.approx(0.5, abs=0.01)


def test_sea_noise_flips_that_fraction_of_labels():
    clean, noisy = sea(n=100_000, noise=0.0), sea(n=100_000, noise=0.2)
    pd.testing.assert_frame_equal(clean[_features(clean)], noisy[_features(noisy)])
    assert (clean["y"] != noisy["y"]).mean() == pytest.approx(0.2, abs=0.01)


def test_sea_default_drift_costs_a_pre_drift_model_over_10_points():
    df = sea(n=60_000)
    train, holdout, after = df[:24_000], df[24_000:30_000], df[30_000:]
    model = LogisticRegression().fit(train[_features(df)], train["y"])
    before_acc, after_acc = _accuracy(model, holdout), _accuracy(model, after)
    assert before_acc > 0.85  # the concept is learnable: 0.9 is the ceiling at noise 0.1
    assert before_acc - after_acc >= 0.10


# --- hyperplane: gradual concept drift ------------------------------------------------------


def test_hyperplane_windows_and_points():
    df = hyperplane(n=1_000, drift_windows=[(0.2, 0.3), (0.6, 0.9)])
    t = df["time"]
    assert df.attrs["drift_windows"] == [(t[200], t[300]), (t[600], t[900])]
    assert df.attrs["drift_points"] == [t[200], t[600]]
    assert len(_features(df)) == 10


def test_hyperplane_without_noise_is_a_hyperplane_through_the_centre():
    # Outside the windows the concept is fixed: a linear rule must fit it perfectly.
    df = hyperplane(n=20_000, d=4, noise=0.0)
    before = df[:8_000]
    model = LogisticRegression(C=1e6, max_iter=1_000).fit(before[_features(df)], before["y"])
    assert _accuracy(model, before) > 0.99
    assert df[_features(df)].min().min() >= 0.0 and df[_features(df)].max().max() <= 1.0


def test_hyperplane_label_rate_is_half_throughout():
    df = hyperplane(n=100_000)
    for part in np.array_split(df["y"].to_numpy(), 5):
        assert part.mean() == pytest.approx(0.5, abs=0.02)


def test_hyperplane_drift_is_gradual_inside_the_window():
    df = hyperplane(n=100_000, d=5, drift_windows=[(0.4, 0.6)], noise=0.0)
    model = LogisticRegression().fit(df[:30_000][_features(df)], df[:30_000]["y"])
    spans = [(30_000, 40_000), (40_000, 45_000), (45_000, 50_000), (50_000, 55_000), (55_000, 60_000)]
    acc = [_accuracy(model, df[a:b]) for a, b in spans]
    assert acc[0] > 0.97
    assert all(later < earlier for earlier, later in zip(acc, acc[1:]))
    # After a 90 degree turn the old and new concepts agree on about half the inputs.
    assert _accuracy(model, df[60_000:]) == pytest.approx(0.5, abs=0.05)


def test_hyperplane_smaller_angle_smaller_drop():
    accs = []
    for angle in (30.0, 90.0):
        df = hyperplane(n=40_000, d=5, drift_windows=[(0.4, 0.5)], angle_deg=angle, noise=0.0)
        model = LogisticRegression().fit(df[:16_000][_features(df)], df[:16_000]["y"])
        accs.append(_accuracy(model, df[20_000:]))
    # A hyperplane turned by a through the centre disagrees on about a/180 of the cube.
    assert accs[0] == pytest.approx(1 - 30 / 180, abs=0.05)
    assert accs[1] < accs[0] - 0.2


def test_hyperplane_magnitude_drifts_at_every_event():
    df = hyperplane(n=50_000, d=5, magnitude=2e-3, noise=0.0)  # 100 degrees over the stream
    t = df["time"]
    assert df.attrs["drift_points"] == [t[0]]
    assert df.attrs["drift_windows"] == [(t[0], t[49_999])]
    model = LogisticRegression().fit(df[:2_000][_features(df)], df[:2_000]["y"])
    acc = [_accuracy(model, part) for part in _parts(df, 5)]
    assert all(later < earlier for earlier, later in zip(acc, acc[1:]))


# --- covariate_shift: P(x) moves, P(y|x) does not -------------------------------------------


def _true_logit(df):
    return 2 * df["x0"] - df["x1"] + 0.5 * df["x2"]


def test_covariate_shift_moves_the_feature_means():
    df = covariate_shift(n=60_000, drift_at=(1 / 3, 2 / 3), shift=1.5)
    assert df.attrs["drift_points"] == [df["time"][20_000], df["time"][40_000]]
    means = [df[a : a + 20_000][["x0", "x1", "x2"]].mean() for a in (0, 20_000, 40_000)]
    for k, m in enumerate(means):
        assert m["x0"] == pytest.approx(1.5 * k, abs=0.03)
        assert m["x1"] == pytest.approx(1.5 * k, abs=0.03)
        assert m["x2"] == pytest.approx(0.0, abs=0.03)


def test_covariate_shift_keeps_p_y_given_x():
    df = covariate_shift(n=200_000, shift=2.0)
    before, after = df[:100_000], df[100_000:]
    # Matched x: in each band of the true logit, the rate of y = 1 is the same before and after.
    bands = np.arange(-2.0, 3.5, 0.5)
    for lo, hi in zip(bands, bands[1:]):
        rates = [part["y"][_true_logit(part).between(lo, hi)].mean() for part in (before, after)]
        assert rates[0] == pytest.approx(rates[1], abs=0.03), (lo, hi, rates)
    # ... while the label rate moves, only because the inputs moved.
    assert after["y"].mean() - before["y"].mean() > 0.15


def test_covariate_shift_a_pre_shift_model_needs_no_retrain():
    df = covariate_shift(n=100_000)
    before, after = df[:50_000], df[50_000:]
    old = LogisticRegression().fit(before[_features(df)], before["y"])
    new = LogisticRegression().fit(after[:25_000][_features(df)], after[:25_000]["y"])
    np.testing.assert_allclose(old.coef_, new.coef_, atol=0.15)
    # Retraining after the shift does not help: same accuracy on later data.
    later = after[25_000:]
    assert _accuracy(old, later) == pytest.approx(_accuracy(new, later), abs=0.005)
    # The accuracy changed anyway (here it rises: inputs moved away from the boundary).
    assert _accuracy(old, later) - _accuracy(old, before) > 0.02


# --- stationary: nothing moves --------------------------------------------------------------


def test_stationary_has_stable_means_and_label_rate():
    df = stationary(n=100_000, d=5)
    assert df.attrs["drift_points"] == []
    assert len(_features(df)) == 5
    for part in _parts(df, 5):
        assert part[_features(df)].mean().abs().max() < 0.03
        assert part[_features(df)].std().sub(1.0).abs().max() < 0.03
        assert part["y"].mean() == pytest.approx(0.5, abs=0.02)


def test_stationary_is_the_covariate_shift_concept():
    # Same concept, so the band rates of the true logit agree with covariate_shift's.
    a, b = stationary(n=100_000, seed=3), covariate_shift(n=100_000, seed=4)
    for lo, hi in [(-1.0, -0.5), (0.0, 0.5), (1.0, 1.5)]:
        rates = [df["y"][_true_logit(df).between(lo, hi)].mean() for df in (a, b)]
        assert rates[0] == pytest.approx(rates[1], abs=0.03)


# --- a property over many shapes ------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(10, 3_000),
    cuts=st.lists(st.floats(0.05, 0.95), min_size=0, max_size=3, unique=True),
    seed=st.integers(0, 2**32),
)
def test_sea_drift_points_are_event_times_inside_the_stream(n, cuts, seed):
    cuts = sorted(cuts)
    rows = [round(f * n) for f in cuts]
    if any(b <= a for a, b in zip(rows, rows[1:])) or any(not 0 < r < n for r in rows):
        with pytest.raises(ValueError, match="too small"):
            sea(n=n, drift_at=cuts, seed=seed)
        return
    df = sea(n=n, drift_at=cuts, seed=seed, noise=0.0)
    assert df.attrs["drift_points"] == [df["time"][r] for r in rows]
    assert df["time"].is_monotonic_increasing and len(df) == n


# --- argument errors name the parameter, the value and the fix ------------------------------


@pytest.mark.parametrize(
    "make, kwargs, message",
    [
        (sea, {"n": 0}, r"n must be an integer >= 1; got 0"),
        (sea, {"n": 10.5}, r"n must be an integer >= 1; got 10.5"),
        (sea, {"n": True}, r"n must be an integer >= 1; got True"),
        (sea, {"seed": None}, r"seed must be a non-negative integer.*got None"),
        (sea, {"seed": -1}, r"seed must be a non-negative integer.*got -1"),
        (sea, {"drift_at": (1.5,)}, r"drift_at must be fractions in \(0, 1\); got 1.5"),
        (sea, {"drift_at": 0}, r"drift_at must be fractions in \(0, 1\); got 0"),
        (sea, {"drift_at": (0.7, 0.3)}, r"drift_at must be strictly increasing; got \(0.7, 0.3\). Sort it"),
        (sea, {"drift_at": "0.5"}, r"drift_at must be a fraction or a sequence"),
        (sea, {"n": 10, "drift_at": (0.5, 0.52)}, r"n=10 is too small to place drift_at=\(0.5, 0.52\)"),
        (sea, {"thresholds": ()}, r"thresholds must be a non-empty sequence.*got \(\)"),
        (sea, {"thresholds": (7.0, 25.0)}, r"thresholds must be numbers in \(0, 20\).*got 25.0"),
        (sea, {"thresholds": (8.0,)}, r"thresholds must change at every drift point.*both use 8.0"),
        (sea, {"noise": 0.7}, r"noise must be the fraction of labels to flip, in \[0, 0.5\]; got 0.7"),
        (sea, {"noise": float("nan")}, r"noise must be a finite number; got nan"),
        (sea, {"start": "yesterday-ish"}, r"start must be a date pandas can parse.*got 'yesterday-ish'"),
        (sea, {"start": pd.Timestamp("2024-01-01", tz="UTC")}, r"start must be timezone-naive"),
        (sea, {"freq": "fortnightly"}, r"freq must be a pandas frequency.*got 'fortnightly'"),
        (sea, {"freq": "-1min"}, r"freq must be a positive step.*got '-1min'"),
        (sea, {"freq": 60}, r"freq must be a duration with a unit.*got the bare number 60"),
        (sea, {"n": 10**9, "freq": "1D"}, r"run past the year 2262"),
        (sea, {"label_delay": "soon"}, r"label_delay must be a duration pandas can parse.*got 'soon'"),
        (sea, {"label_delay": 3600}, r"label_delay must be a duration with a unit.*bare number 3600"),
        (sea, {"label_delay": "-1h"}, r"label_delay must be zero or positive.*got '-1h'"),
        (hyperplane, {"d": 1}, r"d must be an integer >= 2 \(the hyperplane rotates in a plane\); got 1"),
        (hyperplane, {"drift_windows": [(0.6, 0.4)]}, r"drift_windows must be in order and must not overlap"),
        (hyperplane, {"drift_windows": [(0.2, 0.5), (0.4, 0.6)]}, r"must not overlap"),
        (hyperplane, {"drift_windows": [(0.2, 1.0)]}, r"drift_windows must hold fractions in \(0, 1\).*got 1.0"),
        (hyperplane, {"drift_windows": [0.5]}, r"each of drift_windows must be a pair.*got 0.5"),
        (hyperplane, {"drift_windows": [(0.2, 0.3)], "magnitude": 1e-3}, r"pass either drift_windows or magnitude"),
        (hyperplane, {"angle_deg": 0}, r"angle_deg must be in \(0, 180\] degrees; got 0"),
        (hyperplane, {"magnitude": -1.0}, r"magnitude must be a positive rotation in degrees per event"),
        (covariate_shift, {"d": 2}, r"d must be an integer >= 3 \(the concept uses x0, x1 and x2\); got 2"),
        (covariate_shift, {"shift": 0.0}, r"shift must be non-zero.*Use stationary\(\)"),
        (stationary, {"d": 2}, r"d must be an integer >= 3"),
    ],
)
def test_argument_errors(make, kwargs, message):
    with pytest.raises(ValueError, match=message):
        make(**kwargs)


def test_drift_fractions_accept_a_scalar_and_an_array():
    a = sea(n=100, drift_at=0.5)
    b = sea(n=100, drift_at=np.array([0.5]))
    assert a.attrs["drift_points"] == b.attrs["drift_points"] == [a["time"][50]]
    assert sea(n=100, drift_at=()).attrs["drift_points"] == []
