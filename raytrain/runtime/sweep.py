"""sweep(): one backtest per policy, many at once across the Ray cluster.

The stream goes into the object store once; every backtest reads it zero-copy. Each concurrent backtest
runs in a *slot*: a coordinator and its component actors. On a cluster of several nodes the coordinator
reserves one CPU (so Ray spreads slots over the nodes) and its component actors are pinned to its node;
on a single node (a laptop) slots are made of the idle actors ``rt.backtest`` keeps, and go back to
them afterwards, so a sweep after a backtest or another sweep starts no new worker process. Slots are
reused from one policy to the next, so a policy costs its own work plus a few milliseconds. At most ``max_concurrent`` backtests are
in flight (backpressure). Each result is saved the moment it finishes; a rerun on the same directory
skips what is saved (resume). A policy that raises is recorded with its error and the others go on; a
backtest lost with its node or worker is run again.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time as _time
import traceback

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from raytrain.errors import ConfigError, RaytrainError
from raytrain.result import BacktestResult
from raytrain.runtime import pool
from raytrain.runtime.actors import ComponentActor
from raytrain.runtime.backtest import build_result, prepare, put_stream, settings_of, with_policy
from raytrain.runtime.coordinator import Coordinator
from raytrain.runtime.session import ensure_ray, ship_by_value, unwrap_ray_error
from raytrain.sweeps import ERROR_FILE, SweepResult, safe_dirname

__all__ = ["sweep"]

# Losing these means the machine or process went away, not that the policy is wrong: run it again.
_LOST = (ray.exceptions.RayActorError, ray.exceptions.ObjectLostError, ray.exceptions.NodeDiedError,
         ray.exceptions.WorkerCrashedError, ray.exceptions.OwnerDiedError)


def sweep(components, stream, policies, *, out: str | None = None, max_concurrent: int | None = None,
          retries: int = 2, address: str | None = None, verbose: bool | None = None, **backtest_kwargs) -> SweepResult:
    """Backtest ``components`` on ``stream`` once per policy, concurrently, and tabulate the results.

    ``policies``: {name: policy} (``rt.grid(...)`` builds one) or a list (named by repr). ``out``: a
    directory; each finished policy is saved there at once, and a rerun skips saved ones. Other keyword
    arguments (tick, warmup, metric, window, latency, cost, ...) are those of :func:`raytrain.backtest`.
    """
    started = _time.perf_counter()
    policies = _named(policies)
    verbose = sys.stderr.isatty() if verbose is None else verbose
    base = prepare(components, stream, policy=None, **_backtest_args(backtest_kwargs))
    result = SweepResult(path=out, order=list(policies))
    configs = {}
    for name, policy in policies.items():
        try:
            configs[name] = with_policy(base, policy)
        except RaytrainError as exc:  # a bad policy fails alone, before anything runs
            _record_error(result, out, name, exc)
    key = _fingerprint(stream, base, backtest_kwargs)
    if out:
        _write_index(out, list(policies), key)
        for name in list(configs):
            saved = _load_saved(out, name, key, repr(configs[name].policy))
            if saved is not None:
                result.results[name] = saved
                del configs[name]
    if configs:
        ensure_ray(address)
        ship_by_value([s.cls for s in base.specs] + [m.fn for m in base.metrics]
                      + [c.policy for c in configs.values()] + [base.window])
        _run(configs, stream, backtest_kwargs, base, result, out, key, max_concurrent, retries, verbose)
    result.wall_seconds = _time.perf_counter() - started
    return result


def _run(configs, stream, kwargs, base, result, out, key, max_concurrent, retries, verbose):
    stream_refs = [put_stream(stream)]
    if max_concurrent is None:
        max_concurrent = max(1, int(ray.cluster_resources().get("CPU", 1)))
    if max_concurrent < 1:
        raise ConfigError(f"max_concurrent must be at least 1; got {max_concurrent}.")
    todo = [(name, 0) for name in configs]
    idle, in_flight, total, done = [], {}, len(configs), 0
    one_node = sum(node["Alive"] for node in ray.nodes()) == 1
    if one_node:  # pooled slots hold no CPU: keep to one backtest per CPU, as CPU-holding slots do
        max_concurrent = min(max_concurrent, max(1, int(ray.cluster_resources().get("CPU", 1))))
    # New slots wait here for a CPU without blocking the loop: every CPU may be held by running slots
    # (max_concurrent above the cluster's CPUs, or a node lost), and only this loop can free one.
    placing = {}

    def start(slot, name, attempt):
        ref = slot.coordinator.run.remote(configs[name], stream_refs, slot.handles)
        in_flight[ref] = (name, attempt, slot, _time.perf_counter())

    def free(slot):
        """A slot done with its backtest takes a policy still waiting for a slot of its own, or idles."""
        if placing:
            name, attempt, waiting = placing.pop(next(iter(placing)))
            waiting.kill()
            start(slot, name, attempt)
        else:
            idle.append(slot)

    def lost(slot, name, attempt, exc):
        slot.kill()
        if attempt < retries:
            todo.append((name, attempt + 1))
            _say(verbose, f"  {name}: lost its worker or node ({type(exc).__name__}); running it again")
        else:
            _record_error(result, out, name, exc)

    def fill():
        while todo and len(in_flight) + len(placing) < max_concurrent:
            name, attempt = todo.pop(0)
            if idle:
                start(idle.pop(), name, attempt)
            elif one_node:
                start(_PooledSlot(base.n_actors()), name, attempt)
            else:
                slot = _Slot(base.n_actors())
                placing[slot.placed] = (name, attempt, slot)

    try:
        while todo or in_flight or placing:
            fill()
            ready = []
            while not ready:  # short waits: Python gets to handle Ctrl-C between them
                ready, _ = ray.wait(list(in_flight) + list(placing), num_returns=1, timeout=0.2)
            if ready[0] in placing:
                name, attempt, slot = placing.pop(ready[0])
                try:
                    slot.place()
                except _LOST as exc:
                    lost(slot, name, attempt, exc)
                    continue
                start(slot, name, attempt)
                continue
            name, attempt, slot, t0 = in_flight.pop(ready[0])
            try:
                raw = ray.get(ready[0])
            except _LOST as exc:
                lost(slot, name, attempt, exc)
                continue
            except ray.exceptions.RayError as exc:
                cause = unwrap_ray_error(exc)
                if isinstance(cause, RaytrainError):
                    free(slot)  # the policy or the user's code failed; the slot's actors are fine
                else:
                    slot.kill()
                _record_error(result, out, name, cause)
                done += 1
                _say(verbose, f"[{done}/{total}] {name}: FAILED: {result.errors[name].splitlines()[0]}")
                continue
            if raw["recoveries"]:
                slot.kill()  # its actors were replaced during the run
            else:
                free(slot)
            fill()  # the next backtest starts before this one's result is built and saved (~12 ms on flights)
            config = configs[name]
            res = build_result(config, raw, settings_of(stream, kwargs.get("tick", "1D"), kwargs.get("warmup"),
                                                        kwargs.get("latency"), config), _time.perf_counter() - t0)
            res.summary["sweep_key"], res.summary["policy_repr"] = key, repr(config.policy)
            if out:
                res.save(os.path.join(out, safe_dirname(name)))
                _clear_error(out, name)
            result.results[name] = res
            done += 1
            _say(verbose, f"[{done}/{total}] {name}: {_brief(res)}")
    except BaseException:
        for _, _, slot, _ in in_flight.values():
            slot.kill()
        for _, _, slot in placing.values():
            slot.kill()
        raise
    finally:
        for slot in idle:
            slot.done()


class _Slot:
    """A coordinator holding one CPU, and component actors on the same node."""

    def __init__(self, n_components: int):
        self.coordinator = Coordinator.options(num_cpus=1).remote()
        self.placed = self.coordinator.node_id.remote()  # ready once the coordinator got its CPU somewhere
        self.n_components, self.handles = n_components, []

    def place(self) -> None:
        """Start the component actors on the coordinator's node (call once ``placed`` is ready)."""
        strategy = NodeAffinitySchedulingStrategy(ray.get(self.placed), soft=False)
        self.handles = [ComponentActor.options(scheduling_strategy=strategy).remote()
                        for _ in range(self.n_components)]

    def kill(self):
        pool.discard([self.coordinator, *self.handles])

    def done(self):
        """The sweep is over: this slot's CPU is given back with its actors."""
        self.kill()


class _PooledSlot(_Slot):
    """A slot of idle actors from the backtest pool (one node: nothing to spread), returned to it after."""

    def __init__(self, n_components: int):
        self.coordinator, self.handles = pool.take(n_components)

    def done(self):
        try:
            ray.get([a.release.remote() for a in self.handles])
        except ray.exceptions.RayError:
            self.kill()
            return
        pool.give_back(self.coordinator, self.handles)


def _named(policies) -> dict:
    if isinstance(policies, dict):
        named = dict(policies)
    elif isinstance(policies, (list, tuple)):
        named = {repr(p): p for p in policies}
        if len(named) != len(policies):
            raise ConfigError("Two policies in the list have the same repr; pass a dict {name: policy} instead.")
    else:
        raise ConfigError(f"policies must be a dict {{name: policy}} or a list of policies; got {type(policies).__name__}.")
    if not named:
        raise ConfigError("policies is empty: give at least one, e.g. {'never': rt.Never()}.")
    bad = [n for n in named if not isinstance(n, str) or not n]
    if bad:
        raise ConfigError(f"Policy names must be non-empty strings; got {bad}.")
    return named


def _backtest_args(kwargs: dict) -> dict:
    allowed = {"tick", "warmup", "metric", "window", "latency", "cost", "start", "shards", "history_budget"}
    unknown = set(kwargs) - allowed
    if unknown:
        raise ConfigError(f"sweep() got unknown arguments {sorted(unknown)}; it takes those of backtest: {sorted(allowed)}.")
    out = {"tick": "1D", "warmup": None, "metric": "accuracy", "latency": None, "start": None}
    out.update(kwargs)
    return out


def _fingerprint(stream, base, kwargs) -> str:
    """Identifies what a saved result was computed from, so resume never mixes two different sweeps."""
    h = hashlib.sha256()
    h.update(repr(sorted((k, repr(v)) for k, v in kwargs.items())).encode())
    h.update(repr([(s.name, s.role, s.cls.__qualname__) for s in base.specs]).encode())
    h.update(repr((len(stream), stream.time, stream.label, stream.inputs, stream.label_source)).encode())
    t = stream.times_ns()
    h.update(t[:: max(1, len(t) // 1000)].tobytes())
    return h.hexdigest()[:16]


def _write_index(out, names, key):
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "sweep.json"), "w") as f:
        json.dump({"policies": names, "key": key}, f, indent=2)


def _load_saved(out, name, key, policy_repr):
    d = os.path.join(out, safe_dirname(name))
    if not os.path.exists(os.path.join(d, "summary.json")):
        return None
    try:
        saved = BacktestResult.load(d)
    except (ValueError, OSError, RaytrainError):  # half-written (interrupted while saving): run it again
        return None
    if saved.summary.get("sweep_key") != key or saved.summary.get("policy_repr") != policy_repr:
        return None  # computed from other settings: run it again
    return saved


def _record_error(result, out, name, exc):
    text = f"{type(exc).__name__}: {exc}"
    result.errors[name] = text
    if out:
        d = os.path.join(out, safe_dirname(name))
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, ERROR_FILE), "w") as f:
            json.dump({"policy": name, "error": text,
                       "traceback": "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))}, f, indent=2)


def _clear_error(out, name):
    path = os.path.join(out, safe_dirname(name), ERROR_FILE)
    if os.path.exists(path):
        os.remove(path)


def _brief(res: BacktestResult) -> str:
    s = res.summary
    m = s["metric_names"][0]
    return (f"{m} {s['metrics'][m]['weighted']:.4f} (worst tick {s['metrics'][m]['worst']:.4f}), "
            f"{s['retrains']} retrains, {s['train_seconds']:.1f}s training, {s['wall_seconds']:.1f}s")


def _say(verbose, line):
    if verbose:
        print(line, file=sys.stderr, flush=True)
