"""backtest(): validate everything on the driver, then replay the stream on Ray."""

from __future__ import annotations

import copy
import dataclasses
import time as _time
import weakref

import numpy as np
import pandas as pd
import ray

from raytrain.clock import _is_count, parse_duration, plan_ticks
from raytrain.costs import Cost, as_latency
from raytrain.component import describe_pipeline
from raytrain.errors import ConfigError, HookError, RaytrainError
from raytrain.metrics import resolve_metrics
from raytrain.policies.base import Policy, PolicyContext
from raytrain.result import BacktestResult, summarize
from raytrain.runtime import pool
from raytrain.runtime.coordinator import BacktestConfig
from raytrain.runtime.progress import wait_with_progress
from raytrain.runtime.session import ensure_ray, ship_by_value, unwrap_ray_error
from raytrain.steps import StreamMeta
from raytrain.stream import Stream

__all__ = ["backtest"]


def backtest(components, stream: Stream, *, tick="1D", warmup=None, metric="accuracy", policy=None,
             window=None, latency=None, cost=None, start=None, shards: int = 1, history_budget=None,
             address: str | None = None, progress: bool | None = None) -> BacktestResult:
    """Replay ``stream`` through the pipeline ``components`` on Ray and score every tick.

    ``tick``: a duration ("1D", "6h") or a number of events per tick. ``warmup``: a duration or a number
    of events (default: one tick) that trains the first model and is not scored. ``metric``: a name, a
    callable ``f(y_true, y_pred)``, or a list. ``policy``: a retraining policy asked at the end of every
    scored tick (hooks inside components keep working alongside). ``window``: which visible labeled rows
    a training run sees (default: all of them). ``latency``: how long a retrain takes in simulated time
    before its model serves: a duration or a ``Latency`` (default 0). ``cost``: a ``Cost`` model pricing each
    retrain (adds a ``cost`` column). ``shards``: serving replicas per serving component; each serves its
    part of every tick with the same model, hooks see the merged whole (results do not depend on it).
    ``history_budget``: bytes (or "64MB") of history a component keeps in memory, per-event outputs and
    labels included; older batches are re-read from the stream or spilled to Parquet, still readable by
    hooks (a per-event column a hook or policy reads is then kept whole: see ``History``).
    ``progress``: a progress line (default: when stderr is a terminal). ``address``: a Ray cluster
    (default: $RAY_ADDRESS, else a local Ray started on demand). See docs/semantics.md for the exact
    rules.
    """
    config = prepare(components, stream, tick=tick, warmup=warmup, metric=metric, latency=latency, start=start,
                     policy=policy, window=window, cost=cost, shards=shards, history_budget=history_budget)
    ensure_ray(address)
    ship_by_value([s.cls for s in config.specs] + [m.fn for m in config.metrics] + [config.policy, config.window])
    return run_prepared(config, [put_stream(stream)], settings=settings_of(stream, tick, warmup, latency, config),
                        progress=progress)


def prepare(components, stream, *, tick, warmup, metric, latency, start, policy=None, window=None,
            cost=None, shards=1, history_budget=None) -> BacktestConfig:
    """Every check that needs no Ray, so bad input fails before anything starts."""
    specs = describe_pipeline(components)
    if not isinstance(stream, Stream):
        raise ConfigError(
            f"stream must be a raytrain.Stream; got {type(stream).__name__}. Build one with "
            f"Stream.from_pandas(df, time=..., label=...).")
    plan = plan_ticks(stream.times_ns(), tick, warmup, start)
    metrics = resolve_metrics(metric)
    latency = as_latency(latency)
    if cost is not None and not isinstance(cost, Cost):
        raise ConfigError(f"cost must be a raytrain.Cost such as rt.Cost(per_retrain=0.5); got {cost!r}.")
    meta = StreamMeta(stream.time, stream.label, _label_time_name(stream), tuple(stream.inputs))
    trainers = [s.name for s in specs if s.role == "train"]
    target = [s for s in specs if s.role == "serve"][-1].model_from
    if window is not None and not trainers:
        raise ConfigError("window= selects training rows, but the pipeline has no training component.")
    tick_ns = None if _is_count(tick) else int(parse_duration(tick, "tick").value)
    if isinstance(shards, bool) or not isinstance(shards, (int, np.integer)) or shards < 1:
        raise ConfigError(f"shards must be a whole number >= 1 (serving replicas); got {shards!r}.")
    config = BacktestConfig(specs, plan, meta, metrics, latency, None, target, window, cost, tick_ns, int(shards),
                            parse_bytes(history_budget, "history_budget"))
    return with_policy(config, policy)


def with_policy(config: BacktestConfig, policy) -> BacktestConfig:
    """The same backtest under ``policy`` (validated and bound to this pipeline; its own copy)."""
    if policy is None:
        return dataclasses.replace(config, policy=None)
    if not isinstance(policy, Policy):
        raise ConfigError(f"policy must be a raytrain policy such as rt.Every('30D'); got {policy!r}.")
    if config.policy_target is None:
        raise ConfigError(f"policy={policy!r} needs a training component to retrain, and the pipeline has none.")
    policy = copy.deepcopy(policy)  # each backtest owns its policy's state
    policy.bind(PolicyContext(config.meta.inputs, {m.name: m for m in config.metrics}, config.tick_ns))
    return dataclasses.replace(config, policy=policy)


def run_prepared(config: BacktestConfig, stream_refs: list, settings: dict, progress=None) -> BacktestResult:
    started = _time.perf_counter()
    # Worker start-up, not the replay, dominates short backtests: reuse idle actors, start the rest at once.
    coordinator, handles = pool.take(config.n_actors())
    try:
        out = wait_with_progress(coordinator.run.remote(config, stream_refs, handles), coordinator, progress)
    except BaseException as err:
        cause = unwrap_ray_error(err) if isinstance(err, ray.exceptions.RayError) else err
        if isinstance(cause, RaytrainError):  # the user's code failed; the actors are fine and reusable
            pool.give_back(coordinator, handles)
        else:
            pool.discard([coordinator, *handles])
        if isinstance(err, ray.exceptions.RayError):
            raise_unwrapped(err)
        raise
    if out["recoveries"]:  # some of the handed-in actors were lost and replaced: pool none of them
        pool.discard(handles)
        pool.give_back(coordinator, [])
    else:
        ray.get([a.release.remote() for a in handles])
        pool.give_back(coordinator, handles)
    return build_result(config, out, settings, _time.perf_counter() - started)


def raise_unwrapped(err):
    cause = unwrap_ray_error(err)
    if cause is err:
        raise err
    if isinstance(cause, HookError) and cause.original is not None:
        raise cause from cause.original
    raise cause from None


def build_result(config: BacktestConfig, out: dict, settings: dict, wall: float) -> BacktestResult:
    plan = config.plan
    ticks = np.asarray(out["ticks"], dtype=np.int64)
    metrics = pd.DataFrame({
        "tick": ticks,
        "start": pd.to_datetime(plan.starts[ticks]),
        "end": pd.to_datetime(plan.ends[ticks]),
        "events": (plan.row_stops - plan.row_starts)[ticks],
        "version": np.asarray(out["versions"], dtype=np.int64),
    })
    values = np.asarray(out["values"], dtype=float).reshape(len(ticks), len(config.metrics))
    for j, m in enumerate(config.metrics):
        metrics[m.name] = values[:, j]
    retrains = pd.DataFrame(out["retrains"], columns=[
        "time", "tick", "component", "trigger", "reason", "version", "serves_from", "rows", "train_seconds",
        "cpu_seconds", "first_row_time", "last_row_time"] + (["cost"] if config.cost is not None else []))
    for col in ("time", "serves_from", "first_row_time", "last_row_time"):
        retrains[col] = np.array([np.datetime64("NaT", "ns") if v is None or pd.isna(v) else np.datetime64(int(v), "ns")
                                  for v in retrains[col]], dtype="datetime64[ns]")
    retrains.insert(0, "retrain", np.arange(len(retrains), dtype=np.int64))
    summary = summarize(metrics, retrains, config.metrics, settings, wall)
    summary["recoveries"] = int(out.get("recoveries", 0))
    return BacktestResult(metrics, retrains, summary)


def settings_of(stream: Stream, tick, warmup, latency, config: BacktestConfig) -> dict:
    plan = config.plan
    return {
        "tick": str(tick), "warmup": str(warmup if warmup is not None else "1 tick"),
        "warmup_end": str(pd.Timestamp(plan.warmup_end)), "latency": repr(config.latency),
        "cost": repr(config.cost) if config.cost is not None else None,
        "labels_known": stream.label_source, "stream_events": len(stream),
        "stream_start": str(pd.Timestamp(int(plan.starts[0]))), "stream_end": str(pd.Timestamp(int(plan.ends[-1]))),
        "components": [f"{s.name} ({s.role})" for s in config.specs],
        "metrics": [m.name for m in config.metrics],
        "policy": repr(config.policy) if config.policy is not None else None,
        "window": repr(config.window) if config.window is not None else "Expanding()",
    }


def put_stream(stream: Stream):
    """Into the object store once per Ray session: the Arrow table (read zero-copy by every actor), or
    for a lazy Parquet stream only its file list and clock columns. Backtests of the same Stream object
    share the stored copy (putting a year of flights again costs ~40 ms)."""
    session = ray.get_runtime_context().get_job_id(), ray.get_runtime_context().get_node_id()
    cached = _PUT.get(id(stream))
    if cached is not None and cached[0]() is stream and cached[1] == session:
        return cached[2]
    ref = ray.put(stream.table if not stream.lazy else stream.source)
    _PUT[id(stream)] = (weakref.ref(stream, lambda _, key=id(stream): _PUT.pop(key, None)), session, ref)
    return ref


_PUT: dict = {}  # id(stream) -> (weak reference to it, Ray session, object ref)


def parse_bytes(value, name: str) -> int | None:
    """Bytes from an int or a string like '64MB' / '1.5GB'."""
    if value is None:
        return None
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value > 0:
        return int(value)
    if isinstance(value, str):
        units = {"KB": 1e3, "MB": 1e6, "GB": 1e9, "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "B": 1}
        text = value.strip().upper().replace(" ", "")
        for unit in sorted(units, key=len, reverse=True):
            if text.endswith(unit):
                try:
                    number = float(text[: -len(unit)])
                except ValueError:
                    break
                if number > 0:
                    return int(number * units[unit])
    raise ConfigError(f"{name} must be a positive number of bytes or a size like '64MB'; got {value!r}.")


def _label_time_name(stream: Stream) -> str:
    source = stream.label_source
    return source.split("'")[1] if source.startswith("column") else "label_time"
