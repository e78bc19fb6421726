"""The coordinator actor: one per backtest. Owns the simulated clock, drives the ticks, routes refresh
requests to training components, deploys the models they return, and records retrains.

Round-trips, not Ray, decide the speed: with one serving component the coordinator lets it serve ahead
until a refresh is actually requested (one call covers many ticks); with several, they move in lockstep,
one tick at a time, so that a refresh from any of them takes effect before the next tick.
Refresh requests travel back in the serve call's reply, so no component ever calls the coordinator and
nothing can deadlock.
"""

from __future__ import annotations

import asyncio
import time as _time
from dataclasses import dataclass

import ray

from raytrain.clock import TickPlan
from raytrain.component import SERVE, TRAIN
from raytrain.runtime.actors import ComponentActor
from raytrain.steps import StreamMeta

__all__ = ["BacktestConfig", "Coordinator"]


@dataclass
class BacktestConfig:
    specs: list
    plan: TickPlan
    meta: StreamMeta
    metrics: list
    latency: object = None       # raytrain.costs.Latency
    policy: object = None        # raytrain.policies.Policy, asked at the end of every scored tick
    policy_target: str | None = None
    window: object = None        # which visible rows a training run sees (raytrain.windows)
    cost: object = None          # raytrain.costs.Cost, or None
    tick_ns: int | None = None   # tick length for duration ticks
    shards: int = 1              # serving replicas per serving component (sharded replay)
    history_budget: int | None = None  # bytes of Arrow history each component keeps in memory

    def n_actors(self) -> int:
        """Component actors this backtest needs: one per component, plus replicas of the servers."""
        return len(self.specs) + (self.shards - 1) * sum(s.role == SERVE for s in self.specs)


@ray.remote(num_cpus=0)
class Coordinator:
    checkpoint_every_s = 2.0  # wall seconds between checkpoints of a serving actor

    def __init__(self):
        self.progress_info = {}

    def progress(self) -> dict:
        return dict(self.progress_info)

    def node_id(self) -> str:
        return ray.get_runtime_context().get_node_id()

    async def run(self, config: BacktestConfig, stream_refs: list, handles: list) -> dict:
        """Replay one backtest with ``handles`` (config.n_actors() ComponentActors; reusable afterwards)."""
        self.config, self.stream_refs = config, stream_refs
        cfg, plan = config, config.plan
        self.progress_info = {"tick": 0, "ticks": len(plan), "now": None, "retrains": 0, "events": 0}
        self.names = {s.name: s.role for s in cfg.specs}
        self.servers = servers = [s for s in cfg.specs if s.role == SERVE]
        self.scored = scored = servers[-1].name
        handles = list(handles)
        self.actors = {s.name: handles.pop(0) for s in cfg.specs}
        self.replicas = {s.name: [handles.pop(0) for _ in range(cfg.shards - 1)] for s in servers}
        await asyncio.gather(*[self._setup(s) for s in cfg.specs])
        self.versions = {s.name: 0 for s in cfg.specs if s.role == TRAIN}
        self.pending = {s.name: [] for s in servers}     # deploys not yet sent to each server
        self.sent = {s.name: [] for s in servers}        # deploys sent, one list per serve call
        self.checkpoints = {s.name: [] for s in cfg.specs}  # (serve call index, ref, last tick), newest last
        self.last_checkpoint = {s.name: _time.perf_counter() for s in servers}
        self.retrains: list = []
        self.queued: list = []                            # requests from training hooks, for the next tick
        self.recoveries, self.spawned = 0, []

        w = plan.warmup_ticks
        self.first = first = w if self.versions else 0
        self.done = {s.name: first - 1 for s in servers}
        for trainer in self.versions:
            await self._retrain(trainer, w - 1, [("warmup", f"initial model at the end of warm-up")], from_tick=w)

        ticks, versions, values = [], [], []
        k, n = first, len(plan)
        try:
            while k < n:
                last = n - 1 if (len(servers) == 1 and not self.queued) else k
                replies = await asyncio.gather(*[self._serve(s, k, last) for s in servers])
                done = min(r["ticks"][-1] for r in replies)
                main = replies[[s.name for s in servers].index(scored)]
                for tick, version, vals in zip(main["ticks"], main["versions"], main["values"]):
                    if tick >= w:
                        ticks.append(tick)
                        versions.append(version)
                        values.append(vals)
                requests = [req for r in replies for req in r["requests"]] + self.queued
                self.queued = []
                if requests:
                    await self._handle(requests, done)
                k = done + 1
                self.progress_info.update(tick=k, now=int(plan.ends[done]),
                                          retrains=len(self.retrains) - len(self.versions),
                                          events=int(plan.row_stops[done] - plan.row_starts[first]))
        finally:
            for actor in self.spawned:  # replacements made during recovery are not pooled
                ray.kill(actor)
        return {"ticks": ticks, "versions": versions, "values": values, "retrains": self.retrains,
                "recoveries": self.recoveries}

    # -- calls into components, with recovery from lost actors -----------------------------------------
    def _setup(self, spec):
        cfg, scored = self.config, self.scored
        calls = [self.actors[spec.name].setup.remote(
            spec, self.stream_refs, cfg.meta, self.names, cfg.plan, cfg.metrics if spec.name == scored else None,
            cfg.policy if spec.name == scored else None, cfg.policy_target, cfg.window, self.replicas.get(spec.name, ()),
            cfg.history_budget)]
        calls += [r.setup.remote(spec, self.stream_refs, cfg.meta, self.names, cfg.plan)
                  for r in self.replicas.get(spec.name, ())]
        return asyncio.gather(*calls)

    async def _serve(self, spec, k: int, last: int) -> dict:
        name = spec.name
        deploys, self.pending[name] = self.pending[name], []
        self.sent[name].append(deploys)
        call = len(self.sent[name]) - 1
        while True:
            try:
                reply = await self.actors[name].serve.remote(k, last, deploys, *_models(deploys))
                break
            except Exception as exc:
                if not _lost(exc) or self.recoveries >= MAX_RECOVERIES:
                    raise
                self.recoveries += 1
                await self._recover_server(spec, call)
        self.done[name] = reply["ticks"][-1]
        if _time.perf_counter() - self.last_checkpoint[name] >= self.checkpoint_every_s:
            self.last_checkpoint[name] = _time.perf_counter()
            self._keep(name, (call, self.actors[name].checkpoint.remote(), self.done[name]))
        return reply

    async def _recover_server(self, spec, call: int) -> None:
        """Replace a lost serving actor (and its replicas): restore its last checkpoint, then replay the
        ticks it had served since, with the deploys it had received since, ignoring their requests (the
        coordinator already acted on them). Replay is deterministic, so the state ends up as it was."""
        name = spec.name
        await self._replace(spec)
        index, state = await self._usable_checkpoint(name)
        if state is not None:
            await self.actors[name].restore.remote(state)
            _, _, tick = self.checkpoints[name][index]
            after = self.checkpoints[name][index][0]
        else:
            tick, after = self.first - 1, -1
        resend = [d for calls in self.sent[name][after + 1: call] for d in calls]
        k, target = tick + 1, self.done[name]
        while k <= target:
            reply = await self.actors[name].serve.remote(k, target, resend, *_models(resend))
            resend = []
            k = reply["ticks"][-1] + 1

    async def _train(self, trainer: str, now: int, version: int):
        while True:
            try:
                model_ref, info_ref = self.actors[trainer].train.options(num_returns=2).remote(now, version)
                info = await info_ref
                break
            except Exception as exc:
                if not _lost(exc) or self.recoveries >= MAX_RECOVERIES:
                    raise
                self.recoveries += 1
                spec = next(s for s in self.config.specs if s.name == trainer)
                await self._replace(spec)
                _, state = await self._usable_checkpoint(trainer)
                if state is not None:
                    await self.actors[trainer].restore.remote(state)
        self._keep(trainer, (0, self.actors[trainer].checkpoint.remote(), None))
        return model_ref, info

    async def _replace(self, spec) -> None:
        name = spec.name
        for actor in [self.actors[name], *self.replicas.get(name, ())]:
            try:
                ray.kill(actor)
            except Exception:
                pass
        self.actors[name] = ComponentActor.remote()
        self.replicas[name] = [ComponentActor.remote() for _ in self.replicas.get(name, ())]
        self.spawned += [self.actors[name], *self.replicas[name]]
        await self._setup(spec)

    def _keep(self, name: str, checkpoint: tuple) -> None:
        self.checkpoints[name] = (self.checkpoints[name] + [checkpoint])[-2:]

    async def _usable_checkpoint(self, name: str):
        """The newest checkpoint that was taken before the actor died (index, state), or (None, None)."""
        for index in range(len(self.checkpoints[name]) - 1, -1, -1):
            try:
                return index, await self.checkpoints[name][index][1]
            except Exception:
                continue
        return None, None

    # -- refresh routing ---------------------------------------------------------------------------------
    async def _handle(self, requests: list, tick: int) -> None:
        """Route refresh requests made during ``tick``: one retrain per target, reasons merged."""
        by_target: dict = {}
        for target, source, reason in requests:
            by_target.setdefault(target, []).append((source, reason))
        for target, why in by_target.items():
            await self._retrain(target, tick, why)

    async def _retrain(self, trainer: str, tick: int, why: list, from_tick: int | None = None) -> None:
        plan = self.config.plan
        now = int(plan.ends[tick])
        self.versions[trainer] += 1
        version = self.versions[trainer]
        model_ref, info = await self._train(trainer, now, version)
        if from_tick is None:
            delay = self.config.latency.of(info["rows"], info["train_seconds"])
            from_tick = plan.tick_of_time(now + int(delay.value))
        if self.config.cost is not None:
            info["cost"] = self.config.cost.of(info["rows"], info["cpu_seconds"])
        for s in self.servers:
            if s.model_from == trainer:
                self.pending[s.name].append((from_tick, version, now, [model_ref]))
        self.queued.extend(info.pop("requests"))
        sources = list(dict.fromkeys(src for src, _ in why))
        reasons = list(dict.fromkeys(reason for _, reason in why))
        self.retrains.append({
            "time": now, "tick": tick, "component": trainer, "trigger": ", ".join(sources),
            "reason": "; ".join(reasons), "version": version,
            "serves_from": int(plan.starts[from_tick]) if from_tick < len(plan) else None, **info})


MAX_RECOVERIES = 3


def _models(deploys: list) -> list:
    """The deploys' model references, to pass as top-level arguments (Ray resolves those for the callee)."""
    return [refs[0] for *_, refs in deploys]


def _lost(exc: BaseException) -> bool:
    """Did a component actor die (its process or node), rather than the user's code raise?"""
    for _ in range(5):
        if isinstance(exc, ray.exceptions.RayActorError):
            return True
        exc = getattr(exc, "cause", None)
        if exc is None:
            return False
    return False
