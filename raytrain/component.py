"""Components: the user's pipeline steps, their hooks, and refresh().

A component is a class with a ``run`` method. Its role follows from what ``run`` asks for:

- ``run(self, data)`` **trains**: it gets the labeled rows visible at the simulated now (a DataFrame with
  the time column, the inputs and the label) and returns a model. It runs at the end of warm-up and
  whenever something refreshes it.
- any other ``run`` **serves**: every tick it gets ``batch`` (this tick's events: time and inputs, never
  the label) and ``model`` (the model deployed now by the nearest training component before it in the
  pipeline), and returns one output per event. ``run(self)`` works too: the same values are on
  ``self.batch`` and ``self.model``.

Set ``role = "train"`` or ``role = "serve"`` on the class to say it outright. ``name`` (default: the class
name) is what ``refresh`` takes.

Hooks ``before_run`` / ``after_run`` (or the seed's ``beforeRun`` / ``afterRun``) run around every ``run``
of a serving component (each tick, empty ticks included) and around every training run. They read
``self.history`` and ``self.now`` and may call ``refresh("Training")`` or ``self.refresh(...)``; requests
are collected during the tick and handled at its end.
"""

from __future__ import annotations

import contextvars
import inspect
from dataclasses import dataclass, field

import pandas as pd

from raytrain.errors import ConfigError, RefreshError

__all__ = ["Component", "refresh", "ComponentSpec", "describe_pipeline", "RefreshRequest"]

TRAIN, SERVE = "train", "serve"
_RUN_ARGS = {TRAIN: ("data", "now"), SERVE: ("batch", "model", "now")}


class Component:
    """Base class of pipeline steps. Subclass it and implement ``run``.

    >>> class Serving(Component):
    ...     def run(self, batch, model):
    ...         return model.predict(batch[["x"]])
    """

    name: str | None = None
    role: str | None = None

    # Set by the runtime before each call into user code.
    history = None
    batch: pd.DataFrame | None = None
    model = None
    data: pd.DataFrame | None = None
    _now_ns: int | None = None

    def run(self, *args, **kwargs):  # pragma: no cover - replaced by subclasses; checked before running
        raise NotImplementedError

    def before_run(self):
        """Runs before every ``run``. Default: nothing."""

    def after_run(self):
        """Runs after every ``run``. Default: nothing."""

    @property
    def now(self) -> pd.Timestamp | None:
        """The simulated now: the tick's start in ``before_run`` and ``run``, its end in ``after_run``."""
        return None if self._now_ns is None else pd.Timestamp(self._now_ns)

    def refresh(self, name: str, reason: str | None = None) -> None:
        """Ask the coordinator to re-run component ``name`` (retrain it) at the end of this tick."""
        refresh(name, reason)


@dataclass
class RefreshRequest:
    target: str
    source: str   # "Serving.after_run"
    reason: str


@dataclass
class _HookContext:
    component: str
    hook: str
    now_ns: int
    names: dict                       # component name -> role
    requests: list = field(default_factory=list)


_current: contextvars.ContextVar = contextvars.ContextVar("raytrain_hook", default=None)


def refresh(name: str, reason: str | None = None) -> None:
    """Ask the coordinator to re-run (retrain) the component called ``name``.

    Call it from a hook of a running backtest; the retrain happens at the end of the current tick and
    the new model serves from the next tick (or later, with training latency).
    """
    ctx = _current.get()
    if ctx is None:
        raise RefreshError(
            f"refresh({name!r}) was called outside a running backtest. Call it from a component's "
            f"before_run / after_run hook while raytrain.backtest runs the pipeline.")
    if name not in ctx.names:
        raise RefreshError(
            f"{ctx.component}.{ctx.hook} at {pd.Timestamp(ctx.now_ns)} asked to refresh {name!r}, but the "
            f"pipeline has no component of that name; its components are {sorted(ctx.names)}. "
            f"Use one of those names (a component's name is its class name unless it sets `name`).")
    if ctx.names[name] != TRAIN:
        raise RefreshError(
            f"{ctx.component}.{ctx.hook} asked to refresh {name!r}, which serves every tick; only training "
            f"components (run(self, data)) can be refreshed. Refresh the component that trains its model.")
    ctx.requests.append(RefreshRequest(name, f"{ctx.component}.{ctx.hook}", reason or f"refresh by {ctx.component}.{ctx.hook}"))


class hook_context:
    """Installs the context that ``refresh`` reads, for the duration of one call into user code."""

    def __init__(self, ctx: _HookContext):
        self.ctx = ctx

    def __enter__(self):
        self._token = _current.set(self.ctx)
        return self.ctx

    def __exit__(self, *exc):
        _current.reset(self._token)
        return False


@dataclass(frozen=True)
class ComponentSpec:
    """What the runtime needs to know about one component class."""

    cls: type
    name: str
    role: str
    run_args: tuple          # parameter names of run, in order
    hooks: tuple             # (("before_run", attr name), ("after_run", attr name)) for hooks it defines
    model_from: str | None   # name of the training component whose model a server receives


def describe_pipeline(components) -> list:
    """Validate the user's component classes and work out roles, names and model routing."""
    if isinstance(components, type) or not isinstance(components, (list, tuple)):
        components = [components]
    if not components:
        raise ConfigError("The pipeline is empty: pass a list of Component subclasses, e.g. [Training, Serving].")
    specs, seen, last_trainer = [], set(), None
    for cls in components:
        if not (isinstance(cls, type) and issubclass(cls, Component)):
            raise ConfigError(
                f"Pipeline entries must be Component subclasses (the class, not an instance); got {cls!r}. "
                f"Write `class MyStep(raytrain.Component): def run(self, ...): ...` and pass MyStep.")
        if cls.run is Component.run:
            raise ConfigError(
                f"Component {cls.__name__} has no run method. Define run(self, data) to train a model, or "
                f"run(self, batch, model) to serve one output per event.")
        name = cls.name or cls.__name__
        if name in seen:
            raise ConfigError(f"Two components are called {name!r}; set a distinct `name` on one of them.")
        seen.add(name)
        params = [p for p in inspect.signature(cls.run).parameters.values()][1:]
        run_args = tuple(p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))
        role = cls.role or (TRAIN if "data" in run_args else SERVE)
        if role not in (TRAIN, SERVE):
            raise ConfigError(f"{name}.role must be 'train' or 'serve'; got {role!r}.")
        required = [p.name for p in params if p.default is p.empty and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
        unknown = [a for a in required if a not in _RUN_ARGS[role]]
        if unknown:
            raise ConfigError(
                f"{name}.run asks for {unknown}, which raytrain does not provide to a {role}ing component. "
                f"It can take {list(_RUN_ARGS[role])} (or no arguments: they are also on self).")
        hooks = tuple((hook, attr) for hook, attr in (("before_run", _hook_attr(cls, "before_run", "beforeRun")),
                                                      ("after_run", _hook_attr(cls, "after_run", "afterRun")))
                      if attr is not None)
        specs.append(ComponentSpec(cls, name, role, run_args, hooks, last_trainer if role == SERVE else None))
        if role == TRAIN:
            last_trainer = name
    trainers = [s.name for s in specs if s.role == TRAIN]
    servers = [s for s in specs if s.role == SERVE]
    if not servers:
        raise ConfigError(
            f"The pipeline {[s.name for s in specs]} has no serving component: nothing would make predictions "
            f"to score. Add one with run(self, batch, model).")
    if trainers:  # a server placed before every trainer still gets the first trainer's model
        specs = [ComponentSpec(s.cls, s.name, s.role, s.run_args, s.hooks, s.model_from or trainers[0])
                 if s.role == SERVE else s for s in specs]
    return specs


def _hook_attr(cls, snake: str, camel: str) -> str | None:
    """The attribute implementing a hook, or None when the class leaves it as the no-op default."""
    if getattr(cls, snake) is not getattr(Component, snake):
        return snake
    if callable(getattr(cls, camel, None)):
        return camel
    return None
