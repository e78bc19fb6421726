"""Limits on another policy: a cooldown between retrains, and a budget of retrains.

Both wrap a policy and still ask it every tick (so detectors keep learning), only holding back its
answer: ``Cooldown(ErrorDrift(), "7D")`` never retrains within 7 days of the last retrain,
``Budget(MetricBelow("accuracy", 0.8, last=500), 12)`` retrains at most 12 times. The same with methods:
``ErrorDrift().with_cooldown("7D")``, ``policy.with_budget(12)``.
"""

from __future__ import annotations

import numbers

from raytrain.errors import ConfigError
from raytrain.policies._checks import duration_ns
from raytrain.policies.base import AllOf, AnyOf, Policy

__all__ = ["Cooldown", "Budget"]


def _check_policy(policy, who: str) -> Policy:
    if not isinstance(policy, Policy):
        raise ConfigError(f"{who} wraps a raytrain policy such as Every('30D'); got {policy!r}.")
    return policy


def _inner_repr(policy: Policy) -> str:
    return f"({policy!r})" if isinstance(policy, (AnyOf, AllOf)) else repr(policy)


class Cooldown(Policy):
    """Let ``policy`` retrain only once ``duration`` has passed since the last retrain.

    >>> from raytrain.policies.schedule import Every
    >>> Cooldown(Every(events=1000), "7D")
    Cooldown(Every(events=1000), '7D')
    """

    def __init__(self, policy: Policy, duration):
        self.policy = _check_policy(policy, "Cooldown")
        self.duration = duration
        self._duration_ns = duration_ns(duration, "Cooldown duration")

    def bind(self, context) -> None:
        self.policy.bind(context)

    def decide(self, view) -> str | None:
        reason = self.policy.decide(view)
        if reason and view.now_ns - view.last_retrain_ns >= self._duration_ns:
            return reason
        return None

    def __repr__(self) -> str:
        return f"Cooldown({_inner_repr(self.policy)}, {self.duration!r})"


class Budget(Policy):
    """Let ``policy`` retrain while fewer than ``max_retrains`` retrains happened (any trigger counts).

    >>> from raytrain.policies.schedule import Every
    >>> Budget(Every("30D"), 6)
    Budget(Every('30D'), 6)
    """

    def __init__(self, policy: Policy, max_retrains: int):
        self.policy = _check_policy(policy, "Budget")
        if isinstance(max_retrains, bool) or not isinstance(max_retrains, numbers.Integral) or max_retrains < 0:
            raise ConfigError(f"Budget max_retrains must be a whole number >= 0; got {max_retrains!r}. "
                              f"For example: Budget(Every('30D'), 6).")
        self.max_retrains = int(max_retrains)

    def bind(self, context) -> None:
        self.policy.bind(context)

    def decide(self, view) -> str | None:
        reason = self.policy.decide(view)
        if reason and view.retrains < self.max_retrains:
            return f"{reason} (retrain {view.retrains + 1} of {self.max_retrains})"
        return None

    def __repr__(self) -> str:
        return f"Budget({_inner_repr(self.policy)}, {self.max_retrains})"
