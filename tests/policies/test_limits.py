"""Cooldown, Budget and the combinators: they hold back answers, never questions."""

import pandas as pd
import pytest

import raytrain as rt
from raytrain.errors import ConfigError
from raytrain.policies import Budget, Cooldown, Every, EveryLabels, MetricBelow, Never

from replay import DAY, minutes, replay


def days(n=60):
    return pd.DataFrame({"time": minutes(n * 24, every="1h"), "x0": 0.0, "y": 0})


class Always(rt.Policy):
    """Fires every tick and counts how often it was asked."""

    def __init__(self):
        self.asked = 0

    def decide(self, view):
        self.asked += 1
        return "always"

    def __repr__(self):
        return "Always()"


def test_cooldown_holds_back_retrains_within_its_duration_but_keeps_asking():
    inner = Always()
    run = replay(days(30), Cooldown(inner, "7D"), tick="1D", warmup="1D")
    w = run.warmup_end
    assert run.retrain_times == [w + 7 * DAY * k for k in range(1, 5)]
    assert inner.asked == len(run.decisions) == 29
    assert run.retrains[0][2] == "always"


def test_budget_stops_after_max_retrains_and_says_which_one():
    inner = Always()
    run = replay(days(30), Budget(inner, 3), tick="1D", warmup="1D")
    assert [reason for _, _, reason in run.retrains] == [
        "always (retrain 1 of 3)", "always (retrain 2 of 3)", "always (retrain 3 of 3)"]
    assert inner.asked == 29
    assert replay(days(10), Budget(Always(), 0), tick="1D", warmup="1D").retrains == []


def test_methods_and_combinators_compose():
    policy = (Every("10D") | Always()).with_cooldown("3D").with_budget(4)
    assert repr(policy) == "Budget(Cooldown((Every('10D') | Always()), '3D'), 4)"
    run = replay(days(60), policy, tick="1D", warmup="1D")
    w = run.warmup_end
    assert run.retrain_times == [w + 3 * DAY * k for k in range(1, 5)]
    assert run.retrains[0][2] == "always (retrain 1 of 4)"
    both = replay(days(60), Every("10D") & Always(), tick="1D", warmup="1D")
    assert both.retrain_times == [w + 10 * DAY * k for k in range(1, 6)]
    assert both.retrains[0][2] == "10D since the last retrain (every 10D) & always"


def test_binding_reaches_wrapped_policies():
    with pytest.raises(ConfigError, match="unknown metric 'acc'"):
        replay(days(5), Cooldown(Never() | MetricBelow("acc", 0.5, last=10), "1D"), tick="1D", warmup="1D")


@pytest.mark.parametrize("make, message", [
    (lambda: Cooldown("Every('30D')", "7D"), "Cooldown wraps a raytrain policy"),
    (lambda: Cooldown(Never(), "-7D"), "Cooldown duration must be a positive duration; got '-7D'"),
    (lambda: Cooldown(Never(), 7), "got the number 7"),
    (lambda: Budget(None, 3), "Budget wraps a raytrain policy"),
    (lambda: Budget(Never(), -1), "max_retrains must be a whole number >= 0; got -1"),
    (lambda: Budget(Never(), 2.5), "got 2.5"),
    (lambda: EveryLabels(10).with_cooldown("soon"), "not a duration"),
])
def test_bad_parameters_are_clear_errors_at_construction(make, message):
    with pytest.raises(ConfigError, match=message):
        make()


def test_reprs():
    assert repr(Cooldown(Every(events=1000), "7D")) == "Cooldown(Every(events=1000), '7D')"
    assert repr(Budget(Every("30D"), 6)) == "Budget(Every('30D'), 6)"
    assert repr(MetricBelow("accuracy", 0.7, last=100).with_cooldown("1D")) == \
        "Cooldown(MetricBelow('accuracy', 0.7, last=100), '1D')"
