"""No look-ahead, for every built-in policy: its decisions up to a tick cannot depend on the future.

Each policy runs once on a stream, then again on copies whose future is rewritten at a cut tick: every
event at or after the cut's now gets other inputs and labels, and every label not yet visible then gets
another value and a later arrival. The decisions up to the cut must be identical, retrain for retrain.
(The runtime side, that a PolicyView holds only what is visible, is tests/test_lookahead.py's.)
"""

import numpy as np
import pandas as pd
import pytest

from raytrain.datasets import sea
from raytrain.policies import (Budget, Cooldown, ErrorDrift, Every, EveryLabels, FeatureDrift, MetricAbove,
                               MetricBelow, Never)

from replay import replay, sea_oracle

X3 = ["x0", "x1", "x2"]

POLICIES = {
    "never": lambda: Never(),
    "every_duration": lambda: Every("7h"),
    "every_events": lambda: Every(events=500),
    "every_labels": lambda: EveryLabels(300),
    "metric_last": lambda: MetricBelow("accuracy", 0.8, last=300),
    "metric_window": lambda: MetricBelow("accuracy", 0.8, window="5h", min_labels=50),
    "metric_above": lambda: MetricAbove("mae", 0.2, last=200),
    "feature_ks": lambda: FeatureDrift(X3, recent=300, min_samples=100),
    "feature_psi": lambda: FeatureDrift(["x2"], test="psi", window="4h", min_samples=100),
    "adwin": lambda: ErrorDrift("adwin"),
    "page_hinkley": lambda: ErrorDrift("page_hinkley"),
    "ddm": lambda: ErrorDrift("ddm", warm_start=100),
    "limits": lambda: Budget(Cooldown(ErrorDrift("adwin") | Every(events=800), "5h"), 3),
    "both": lambda: EveryLabels(200) & MetricBelow("accuracy", 0.95, last=100),
}


def stream(seed=0):
    """SEA with concept drifts, x2 shifting half way, labels 0-5 h late in scrambled order, some never."""
    df = sea(n=6000, drift_at=(0.3, 0.6), seed=seed)
    df.loc[3000:, "x2"] += 3.0
    rng = np.random.default_rng(seed)
    delay = pd.to_timedelta(rng.integers(0, 300, len(df)), unit="min")
    df["label_time"] = (df["time"] + delay).where(rng.random(len(df)) > 0.05)
    return df


def rewrite_future(df, now, seed):
    """The same past, another future: inputs and labels of events at or after now, and labels not yet
    visible at now (their values and arrival times)."""
    rng = np.random.default_rng(seed)
    out = df.copy()
    future = (out["time"].astype("int64") >= now).to_numpy()
    lt = out["label_time"]
    unseen = (lt.isna() | (lt.astype("int64") >= now)).to_numpy()
    out.loc[future, X3] = rng.normal(50, 20, size=(future.sum(), 3))
    out.loc[unseen, "y"] = 1 - out.loc[unseen, "y"]
    late = pd.Timestamp(now) + pd.to_timedelta(rng.integers(0, 600, unseen.sum()), unit="min")
    out.loc[unseen, "label_time"] = np.maximum(late, out.loc[unseen, "time"]).to_numpy()
    return out


def first_difference(make, must_fire=True):
    """The first cut at which the policy decided differently with another future (None: never)."""
    df = stream()
    drift = df.attrs["drift_points"][0].value
    kwargs = dict(tick="1h", warmup="3h", label_time="label_time", inputs=X3, outputs=sea_oracle(drift))
    full = replay(df, make(), **kwargs)
    assert len(full.decisions) == 97
    for cut in (5, 30, 47, 70, 96):
        other = replay(rewrite_future(df, full.nows[cut], seed=cut), make(), stop_after=cut + 1, **kwargs)
        if other.decisions != full.decisions[: cut + 1]:
            return cut
    assert full.retrains or not must_fire, "the policy never fired: the test would prove little"
    return None


@pytest.mark.parametrize("name", sorted(POLICIES))
def test_decisions_up_to_now_do_not_depend_on_the_future(name):
    assert first_difference(POLICIES[name], must_fire=name != "never") is None


class Peeker(MetricBelow):
    """Cheats: scores the predictions against labels that have not arrived yet."""

    def decide(self, view):
        h = view.history
        truth = h._true_labels.view()[-300:]
        return "peeked" if np.mean(h.outputs[-300:] == truth) < 0.8 else None


def test_the_check_catches_a_policy_that_peeks():
    assert first_difference(lambda: Peeker("accuracy", 0.8, last=300)) is not None
