"""Retraining policies: when to retrain, decided from outside the pipeline (``backtest(..., policy=...)``).

A policy is asked at the end of every scored tick and answers with the reason to retrain, or None.

    Never()                                   never: the warm-up model serves throughout
    Every("30D"), Every(events=10_000)        on a schedule of simulated time, or of served events
    EveryLabels(5_000)                        after that many newly visible labels
    MetricBelow("accuracy", 0.75, last=1000)  the serving model's metric on visible labels drops
    MetricAbove("mae", 3.0, window="7D")      ... or, for lower-is-better metrics, rises
    FeatureDrift(["temp"], test="ks")         recent inputs drift from the training data (KS, chi2, PSI)
    ErrorDrift("adwin")                       River's ADWIN / PageHinkley / DDM on the prediction errors
    Cooldown(policy, "7D"), Budget(policy, 12)   limits; also policy.with_cooldown("7D"), .with_budget(12)
    a | b, a & b                              either fires / both fire (AnyOf, AllOf)

Write your own by subclassing :class:`Policy`: ``decide(view)`` reads a :class:`PolicyView`;
``bind(context)`` validates names against the pipeline and resets state before each backtest.
"""

from raytrain.policies.base import AllOf, AnyOf, Policy, PolicyContext, PolicyView
from raytrain.policies.detectors import ErrorDrift
from raytrain.policies.drift import FeatureDrift
from raytrain.policies.limits import Budget, Cooldown
from raytrain.policies.metric import MetricAbove, MetricBelow
from raytrain.policies.schedule import Every, EveryLabels, Never

__all__ = [
    "Policy", "PolicyView", "PolicyContext", "AnyOf", "AllOf",
    "Never", "Every", "EveryLabels", "MetricBelow", "MetricAbove", "FeatureDrift", "ErrorDrift",
    "Cooldown", "Budget",
]
