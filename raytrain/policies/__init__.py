"""Retraining policies: when to retrain, decided from outside the pipeline (``backtest(..., policy=...)``)."""

from raytrain.policies.base import AllOf, AnyOf, Policy, PolicyContext, PolicyView

__all__ = ["Policy", "PolicyView", "PolicyContext", "AnyOf", "AllOf"]
