"""Idle coordinator and component actors kept for the next backtest in this driver.

A fresh actor is a fresh worker process (0.3-1 s to start and import pandas); the replay itself of a
year of daily ticks takes less than that. Actors are stateless between backtests (``setup`` replaces
everything), so the driver keeps the ones that finished cleanly and hands them to the next backtest.
Actors of a backtest that failed are killed, never reused.
"""

from __future__ import annotations

import threading

import ray

from raytrain.runtime.actors import ComponentActor
from raytrain.runtime.coordinator import Coordinator

__all__ = ["take", "give_back", "discard", "clear"]

MAX_IDLE_COORDINATORS = 16
MAX_IDLE_COMPONENTS = 48

_lock = threading.Lock()
_idle: dict = {"session": None, "coordinators": [], "components": []}


def _session() -> tuple:
    ctx = ray.get_runtime_context()
    return ctx.get_job_id(), ctx.get_node_id()


def take(n_components: int) -> tuple:
    """A coordinator and ``n_components`` component actors, idle ones first."""
    with _lock:
        if _idle["session"] != _session():
            _idle.update(session=_session(), coordinators=[], components=[])
        coordinator = _idle["coordinators"].pop() if _idle["coordinators"] else None
        reused = [_idle["components"].pop() for _ in range(min(n_components, len(_idle["components"])))]
    coordinator = coordinator or Coordinator.remote()
    return coordinator, reused + [ComponentActor.remote() for _ in range(n_components - len(reused))]


def give_back(coordinator, components: list) -> None:
    with _lock:
        if _idle["session"] != _session():
            return
        keep_c = len(_idle["coordinators"]) < MAX_IDLE_COORDINATORS
        room = MAX_IDLE_COMPONENTS - len(_idle["components"])
        if keep_c:
            _idle["coordinators"].append(coordinator)
        _idle["components"].extend(components[:max(0, room)])
    discard(([] if keep_c else [coordinator]) + components[max(0, room):])


def discard(actors: list) -> None:
    for actor in actors:
        try:
            ray.kill(actor)
        except Exception:  # already gone with its node or its session
            pass


def clear() -> None:
    """Kill every idle actor (e.g. before measuring a cold start)."""
    with _lock:
        actors = _idle["coordinators"] + _idle["components"]
        _idle.update(coordinators=[], components=[])
    discard(actors)
