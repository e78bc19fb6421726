"""The component actor: one per component of a running backtest, holding its history."""

from __future__ import annotations

import time as _time

import ray

from raytrain.component import TRAIN
from raytrain.steps import Deployment, ServingStep, TrainingStep

__all__ = ["ComponentActor"]


@ray.remote(num_cpus=0, max_concurrency=1)
class ComponentActor:
    """Runs one component's steps; the stream arrives zero-copy from the object store."""

    def __init__(self):
        self.step = None

    def setup(self, spec, stream_refs, meta, names, plan=None, metrics=None, policy=None, policy_target=None,
              window=None) -> bool:
        """Become ``spec``'s component for a new backtest (actors are reusable across backtests)."""
        table = ray.get(stream_refs[0])
        if spec.role == TRAIN:
            self.step = TrainingStep(spec, table, meta, names, window)
        else:
            self.step = ServingStep(spec, table, meta, names, plan, metrics, policy, policy_target, window)
        self.deploys = []      # (from_tick, version, trained_at_ns, [model_ref]), sorted by from_tick
        self.model, self.version = None, 0
        self.deployment = Deployment()
        return True

    def ready(self) -> bool:
        return True

    def release(self) -> None:
        """Drop the finished backtest's state (its history, model, stream) before idling in the pool."""
        self.step, self.deploys, self.model = None, [], None

    def serve(self, first: int, last: int, deploys: list, budget_s: float = 0.5) -> dict:
        """Serve ticks first..last in order; stop early after a tick that asks for a refresh, or once
        ``budget_s`` of wall time has passed (so the coordinator can report progress)."""
        for _, version, trained_at, _ in deploys:  # a retrain is known from the moment it is decided
            self.deployment.last_retrain_ns = max(self.deployment.last_retrain_ns, trained_at)
            self.deployment.retrains += version > 1
        self.deploys = sorted(self.deploys + list(deploys), key=lambda d: (d[0], d[1]))
        started = _time.perf_counter()
        ticks, versions, values, requests = [], [], [], []
        for k in range(first, last + 1):
            while self.deploys and self.deploys[0][0] <= k:
                _, self.version, self.deployment.trained_at_ns, ref = self.deploys.pop(0)
                self.model = ray.get(ref[0])
            tick_values, tick_requests = self.step.tick(k, self.model, self.version, self.deployment)
            ticks.append(k)
            versions.append(self.version)
            values.append(tick_values)
            if tick_requests:
                requests = [(r.target, r.source, r.reason) for r in tick_requests]
                break
            if _time.perf_counter() - started > budget_s:
                break
        return {"ticks": ticks, "versions": versions, "values": values, "requests": requests}

    def train(self, now_ns: int, version: int):
        model, info, requests = self.step.train(now_ns, version)
        info["requests"] = [(r.target, r.source, r.reason) for r in requests]
        return model, info
