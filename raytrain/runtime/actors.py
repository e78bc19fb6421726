"""The component actor: one per component of a running backtest, holding its history.

With sharded replay a serving component also gets replicas: actors of the same class that only run
``run`` on their part of each tick, with the same model version, while the lead actor keeps the
merged, time-ordered history and runs the hooks.
"""

from __future__ import annotations

import time as _time

import pyarrow as pa
import ray

from raytrain.component import TRAIN
from raytrain.runtime.memory import keep_freed_memory
from raytrain.source import TableSource
from raytrain.steps import Deployment, Frames, ServingStep, TrainingStep

__all__ = ["ComponentActor"]

_MISSING = object()


@ray.remote(num_cpus=0, max_concurrency=1)
class ComponentActor:
    """Runs one component's steps; the stream arrives zero-copy from the object store."""

    def __init__(self):
        keep_freed_memory()  # a training run's gather would otherwise fault its pages in anew every run
        self.step = None
        self.frames, self.frames_key = None, None  # the stream as pandas frames, kept while backtests share it

    def setup(self, spec, stream_refs, meta, names, plan=None, metrics=None, policy=None, policy_target=None,
              window=None, replicas=(), history_budget=None) -> bool:
        """Become ``spec``'s component for a new backtest (actors are reusable across backtests)."""
        self._drop_step()
        key = (stream_refs[0].hex(), meta)
        if self.frames_key != key:  # a new stream; the next backtest of a sweep reuses these frames
            stream = ray.get(stream_refs[0])  # an Arrow table (zero-copy) or a lazy Parquet source
            source = TableSource(stream) if isinstance(stream, pa.Table) else stream
            self.frames, self.frames_key = Frames(source, meta), key
        source = self.frames.source
        if spec.role == TRAIN:
            self.step = TrainingStep(spec, source, meta, names, window, history_budget, self.frames)
        else:
            self.step = ServingStep(spec, source, meta, names, plan, metrics, policy, policy_target, window,
                                    history_budget, self.frames)
            self.replicas = list(replicas)
            self.step.n_replicas = len(self.replicas)
            self.step.remote_parts = self._remote_parts
        self.deploys = []      # (from_tick, version, trained_at_ns, [model_ref]), sorted by from_tick
        self.model, self.model_ref, self.version = None, None, 0
        self.models = {}       # version -> model value, for deploys not yet reached
        self.deployment = Deployment()
        return True

    def release(self) -> None:
        """Drop the finished backtest's state (its history, model) before idling in the pool. The stream's
        frames stay for the next backtest of the same stream (as a loop over policies runs) if they are
        small: an in-memory stream of at most PRIVATE_COPY_BYTES, whose training copy would otherwise be
        made again by every backtest (8-170 ms for a year of flights). Held frames keep that stream in
        the object store until this actor takes a backtest of another stream or leaves the pool."""
        self._drop_step()
        self.deploys, self.model, self.model_ref, self.replicas = [], None, None, []
        if self.frames is not None and not self.frames.small():
            self.frames, self.frames_key = None, None  # an idle actor holds no large stream
        self.models = {}

    def _drop_step(self) -> None:
        if self.step is not None:
            self.step.history.discard_spills()
            self.step = None

    def serve(self, first: int, last: int, deploys: list, *models, budget_s: float = 0.5) -> dict:
        """Serve ticks first..last in order; stop early after a tick that asks for a refresh, or once
        ``budget_s`` of wall time has passed (so the coordinator can report progress). ``models``: the
        deploys' models, passed as top-level arguments so that Ray hands them over with the call (small
        ones inline) rather than this actor fetching each from its owner."""
        for _, version, trained_at, _ in deploys:  # a retrain is known from the moment it is decided
            self.deployment.last_retrain_ns = max(self.deployment.last_retrain_ns, trained_at)
            self.deployment.retrains += version > 1
        for (_, version, _, _), model in zip(deploys, models):
            self.models[version] = model
        self.deploys = sorted(self.deploys + list(deploys), key=lambda d: (d[0], d[1]))
        started = _time.perf_counter()
        ticks, versions, values, requests = [], [], [], []
        for k in range(first, last + 1):
            while self.deploys and self.deploys[0][0] <= k:
                _, self.version, self.deployment.trained_at_ns, ref = self.deploys.pop(0)
                model = self.models.pop(self.version, _MISSING)
                self.model, self.model_ref = (ray.get(ref[0]) if model is _MISSING else model), ref[0]
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

    # -- checkpoints ------------------------------------------------------------------------------------
    def checkpoint(self) -> dict:
        """Everything needed to continue from here in a fresh actor (the stream is not copied)."""
        return {"step": self.step.state(), "deploys": list(self.deploys), "model_ref": self.model_ref,
                "version": self.version, "deployment": self.deployment}

    def restore(self, checkpoint: dict) -> bool:
        self.step.load_state(checkpoint["step"])
        self.deploys, self.model_ref = list(checkpoint["deploys"]), checkpoint["model_ref"]
        self.models = {}  # the deploys still pending fetch their models by reference
        self.version, self.deployment = checkpoint["version"], checkpoint["deployment"]
        self.model = ray.get(self.model_ref) if self.model_ref is not None else None
        return True

    # -- sharded replay ------------------------------------------------------------------------------
    def _remote_parts(self, k: int, parts: list, version: int):
        refs = [replica.run_rows.remote(k, a, b, version, [self.model_ref])
                for replica, (a, b) in zip(self.replicas, parts)]
        return lambda: ray.get(refs)

    def run_rows(self, k: int, a: int, b: int, version: int, model_ref: list):
        """A replica's share of tick k: the user's run on rows a..b with the given model version."""
        if version != self.version:
            self.model, self.version = (ray.get(model_ref[0]) if model_ref[0] is not None else None), version
        requests: list = []
        outputs = self.step.run_rows(self.step.plan[k], a, b, self.model, requests)
        return outputs, requests
