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
from dataclasses import dataclass

import ray

from raytrain.clock import TickPlan
from raytrain.component import SERVE, TRAIN
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

    def n_actors(self) -> int:
        """Component actors this backtest needs: one per component, plus replicas of the servers."""
        return len(self.specs) + (self.shards - 1) * sum(s.role == SERVE for s in self.specs)


@ray.remote(num_cpus=0)
class Coordinator:
    def __init__(self):
        self.progress_info = {}

    def progress(self) -> dict:
        return dict(self.progress_info)

    def node_id(self) -> str:
        return ray.get_runtime_context().get_node_id()

    async def run(self, config: BacktestConfig, stream_refs: list, handles: list) -> dict:
        """Replay one backtest with ``handles`` (config.n_actors() ComponentActors; reusable afterwards)."""
        self.config = config
        cfg, plan = config, config.plan
        self.progress_info = {"tick": 0, "ticks": len(plan), "now": None, "retrains": 0, "events": 0}
        names = {s.name: s.role for s in cfg.specs}
        servers = [s for s in cfg.specs if s.role == SERVE]
        scored = servers[-1].name
        handles = list(handles)
        actors = {s.name: handles.pop(0) for s in cfg.specs}
        replicas = {s.name: [handles.pop(0) for _ in range(cfg.shards - 1)] for s in servers}
        await asyncio.gather(*[actors[s.name].setup.remote(
            s, stream_refs, cfg.meta, names, plan, cfg.metrics if s.name == scored else None,
            cfg.policy if s.name == scored else None, cfg.policy_target, cfg.window, replicas.get(s.name, ()))
            for s in cfg.specs], *[r.setup.remote(s, stream_refs, cfg.meta, names, plan)
                                   for s in servers for r in replicas[s.name]])
        self.versions = {s.name: 0 for s in cfg.specs if s.role == TRAIN}
        self.pending = {s.name: [] for s in servers}     # deploys not yet sent to each server
        self.retrains: list = []
        self.actors, self.servers = actors, servers
        self.queued: list = []                            # requests from training hooks, for the next tick

        w = plan.warmup_ticks
        for trainer in self.versions:
            await self._retrain(trainer, w - 1, [("warmup", f"initial model at the end of warm-up")], from_tick=w)

        first = w if self.versions else 0
        ticks, versions, values = [], [], []
        k, n = first, len(plan)
        while k < n:
            last = n - 1 if (len(servers) == 1 and not self.queued) else k
            calls = [actors[s.name].serve.remote(k, last, self.pending[s.name]) for s in servers]
            for s in servers:
                self.pending[s.name] = []
            replies = await asyncio.gather(*calls)
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
            self.progress_info.update(tick=k, now=int(plan.ends[done]), retrains=len(self.retrains) - len(self.versions),
                                      events=int(plan.row_stops[done] - plan.row_starts[first]))
        return {"ticks": ticks, "versions": versions, "values": values, "retrains": self.retrains}

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
        model_ref, info_ref = self.actors[trainer].train.options(num_returns=2).remote(now, version)
        info = await info_ref
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
