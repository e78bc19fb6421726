"""The policy contract: a small object asked at the end of every scored tick whether to retrain.

A policy sees a :class:`PolicyView` of the scored serving component: its history (labels masked at the
simulated now), when the serving model was trained and how many retrains happened so far. It returns
the reason to retrain (a short sentence that ends up in ``result.retrains["reason"]``) or None.
Policies run inside the serving actor right after the component's own ``after_run`` hooks; a retrain
they ask for is handled exactly like a ``refresh()`` from a hook.

Policies combine: ``a | b`` fires when either fires (both are always asked, so detectors keep their
state), ``a & b`` when both fire.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd

__all__ = ["Policy", "PolicyView", "PolicyContext", "AnyOf", "AllOf"]


@dataclass(frozen=True)
class PolicyContext:
    """What a policy may check its parameters against when a backtest starts."""

    inputs: tuple               # input column names
    metrics: dict               # metric name -> raytrain.metrics.Metric (resolvable names)
    tick_ns: int | None         # tick length for duration ticks, else None


@dataclass
class PolicyView:
    """The scored serving component at the end of one tick, as a policy may see it."""

    now_ns: int
    tick: int
    history: object             # raytrain.History, labels masked at now
    version: int                # model version serving this tick
    trained_at_ns: int          # when the serving model's training run happened (simulated)
    last_retrain_ns: int        # the most recent training run of any version (decided, maybe not yet serving)
    retrains: int               # retrains so far, the warm-up model not counted
    training_rows: Callable = field(repr=False, default=None)  # () -> DataFrame the serving model was trained on

    @property
    def now(self) -> pd.Timestamp:
        return pd.Timestamp(self.now_ns)


class Policy:
    """Base class: override ``decide``; ``bind`` to validate against the pipeline and reset state."""

    def bind(self, context: PolicyContext) -> None:
        """Called once per backtest, before the first tick. Validate names here; reset state."""

    def decide(self, view: PolicyView) -> str | None:  # pragma: no cover - abstract
        raise NotImplementedError

    def __or__(self, other: "Policy") -> "Policy":
        return AnyOf(self, other)

    def __and__(self, other: "Policy") -> "Policy":
        return AllOf(self, other)

    def with_cooldown(self, duration) -> "Policy":
        """This policy, never firing within ``duration`` of the last retrain: ``Cooldown(self, duration)``."""
        from raytrain.policies.limits import Cooldown

        return Cooldown(self, duration)

    def with_budget(self, max_retrains: int) -> "Policy":
        """This policy, firing while fewer than ``max_retrains`` retrains happened: ``Budget(self, n)``."""
        from raytrain.policies.limits import Budget

        return Budget(self, max_retrains)


class _Combined(Policy):
    """Several policies asked together every tick (so detectors inside keep their state)."""

    def __init__(self, *parts: Policy):
        self.parts = [p for part in parts for p in (part.parts if type(part) is type(self) else [part])]
        for p in self.parts:
            if not isinstance(p, Policy):
                raise TypeError(f"policies combine only with policies; got {p!r}")

    def bind(self, context):
        for p in self.parts:
            p.bind(context)


class AnyOf(_Combined):
    """Fires when any part fires; every part is asked every tick."""

    def decide(self, view):
        reasons = [r for r in (p.decide(view) for p in self.parts) if r]
        return " | ".join(reasons) if reasons else None

    def __repr__(self):
        return " | ".join(repr(p) for p in self.parts)


class AllOf(_Combined):
    """Fires when every part fires; every part is asked every tick."""

    def decide(self, view):
        reasons = [p.decide(view) for p in self.parts]
        return " & ".join(reasons) if all(reasons) else None

    def __repr__(self):
        return " & ".join(f"({p!r})" if isinstance(p, AnyOf) else repr(p) for p in self.parts)
