"""evaluation_matrix(): train a model at every candidate point and score it on every later tick, on Ray.

Rows are independent, so they run in parallel: a few worker actors (one CPU each) set up once with the
stream (zero-copy from the object store), then take one row at a time; at most ``max_concurrent`` rows
are in flight. Each row uses the backtest's own steps (``TrainingStep`` picks the rows visible at the
candidate's now under the window, ``ServingStep.run_rows`` gives the serving component each tick's batch
without labels), so the no-look-ahead rule is the same code as in a backtest. Each finished row is saved
under ``out/`` at once; a rerun on the same directory skips saved rows (resume).
"""

from __future__ import annotations

import hashlib
import json
import os
import time as _time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import ray

from raytrain.component import SERVE, TRAIN
from raytrain.errors import ConfigError
from raytrain.evaluation import EvaluationMatrix
from raytrain.runtime.backtest import prepare, put_stream, raise_unwrapped
from raytrain.runtime.memory import keep_freed_memory
from raytrain.runtime.session import ensure_ray, ship_by_value
from raytrain.source import TableSource
from raytrain.steps import ServingStep, TrainingStep

__all__ = ["evaluation_matrix"]

INDEX_FILE = "matrix_rows.json"


def evaluation_matrix(components, stream, *, tick="1D", warmup=None, metric="accuracy", window=None,
                      every: int = 1, latency=None, start=None, out: str | None = None,
                      max_concurrent: int | None = None, address: str | None = None) -> EvaluationMatrix:
    """M[i, t]: the pipeline's model trained at candidate point i, scored on every tick t it could serve.

    Candidates: the warm-up model (row 0), then a retrain at the end of every ``every``-th scored tick.
    Each model trains on what a backtest's training run would see then (visible rows, narrowed by
    ``window``) and serves from the first tick starting at or after its training time + ``latency``.
    ``tick``, ``warmup``, ``metric``, ``window``, ``latency`` and ``start`` mean what they mean in
    :func:`raytrain.backtest`. ``out``: a directory; each finished row is saved there and skipped on a
    rerun. ``max_concurrent``: rows computed at once (default: the cluster's CPUs).

    The pipeline is one training component and the serving component it feeds (the scored one); the
    serving component's ``run`` is called on each tick's batch, its hooks are not (policies are what
    the matrix replaces).
    """
    config = prepare(components, stream, tick=tick, warmup=warmup, metric=metric, latency=latency, start=start,
                     window=window)
    trainer, server = _pipeline(config.specs)
    if len(config.metrics) != 1:
        raise ConfigError(f"evaluation_matrix scores one metric; got {[m.name for m in config.metrics]}. "
                          f"Pass metric='accuracy' (or one callable).")
    if not config.latency.deterministic:
        raise ConfigError(f"latency={config.latency!r} depends on measured training time, so the matrix could "
                          f"not say when each model serves. Use a fixed latency or per_row=.")
    if isinstance(every, bool) or not isinstance(every, (int, np.integer)) or every < 1:
        raise ConfigError(f"every must be a whole number of ticks >= 1; got {every!r}.")
    plan = config.plan
    w, n = plan.warmup_ticks, len(plan)
    candidates = [w - 1] + list(range(w - 1 + every, n - 1, every))
    settings = {"tick": str(tick), "warmup": str(warmup), "metric": config.metrics[0].name, "window": repr(window),
                "every": int(every), "latency": repr(config.latency), "start": str(start),
                "components": [s.name for s in config.specs]}
    key = _fingerprint(stream, config, settings)
    saved = _load_rows(out, key) if out else {}
    todo = [i for i in range(len(candidates)) if i not in saved]
    rows = dict(saved)
    if todo:
        ensure_ray(address)
        ship_by_value([s.cls for s in config.specs] + [m.fn for m in config.metrics] + [config.window])
        for i, row in _run(config, trainer, server, stream, candidates, todo, max_concurrent):
            rows[i] = row
            if out:
                _save_row(out, i, row)
    metric_obj = config.metrics[0]
    return EvaluationMatrix(
        values=np.vstack([rows[i]["values"] for i in range(len(candidates))]),
        events=(plan.row_stops - plan.row_starts).astype(np.int64),
        candidate_ticks=np.asarray(candidates, dtype=np.int64),
        serve_from=np.asarray([rows[i]["serve_from"] for i in range(len(candidates))], dtype=np.int64),
        tick_starts=plan.starts.astype("datetime64[ns]"), tick_ends=plan.ends.astype("datetime64[ns]"),
        metric=metric_obj.name, higher_is_better=metric_obj.higher_is_better,
        mean_over_events=metric_obj.mean_over_events,
        rows_trained=np.asarray([rows[i]["rows"] for i in range(len(candidates))], dtype=float),
        train_seconds=np.asarray([rows[i]["train_seconds"] for i in range(len(candidates))], dtype=float),
        settings=settings)


def _pipeline(specs):
    trainers = [s for s in specs if s.role == TRAIN]
    servers = [s for s in specs if s.role == SERVE]
    if len(trainers) != 1 or len(servers) != 1 or servers[0].model_from != trainers[0].name:
        raise ConfigError(
            f"evaluation_matrix needs a pipeline of one training component and the serving component it feeds; "
            f"got {[f'{s.name} ({s.role})' for s in specs]}.")
    return trainers[0], servers[0]


def _run(config, trainer, server, stream, candidates, todo, max_concurrent):
    """Yield (row, result) as rows finish, with at most ``max_concurrent`` in flight."""
    if max_concurrent is None:
        max_concurrent = max(1, int(ray.cluster_resources().get("CPU", 1)))
    if isinstance(max_concurrent, bool) or not isinstance(max_concurrent, (int, np.integer)) or max_concurrent < 1:
        raise ConfigError(f"max_concurrent must be a whole number >= 1; got {max_concurrent!r}.")
    stream_ref = put_stream(stream)
    workers = [_RowWorker.remote() for _ in range(min(int(max_concurrent), len(todo)))]
    try:
        ray.get([wk.setup.remote(config, trainer, server, [stream_ref]) for wk in workers])
        queue, idle, in_flight = list(todo), list(workers), {}
        while queue or in_flight:
            while queue and idle:
                i, worker = queue.pop(0), idle.pop()
                in_flight[worker.row.remote(candidates[i], i == 0)] = (i, worker)
            ready, _ = ray.wait(list(in_flight), num_returns=1)
            i, worker = in_flight.pop(ready[0])
            try:
                row = ray.get(ready[0])
            except ray.exceptions.RayError as err:
                raise_unwrapped(err)
            idle.append(worker)
            yield i, row
    finally:
        for worker in workers:
            try:
                ray.kill(worker)
            except Exception:
                pass


@ray.remote(num_cpus=1)
class _RowWorker:
    """Trains the candidate model of one row and scores it on every tick it could serve."""

    def __init__(self):
        keep_freed_memory()  # each row's training run gathers its rows anew (see raytrain.runtime.memory)

    def setup(self, config, trainer, server, stream_refs) -> bool:
        stream = ray.get(stream_refs[0])
        source = TableSource(stream) if isinstance(stream, pa.Table) else stream
        names = {s.name: s.role for s in config.specs}
        self.config = config
        self.trainer = TrainingStep(trainer, source, config.meta, names, config.window)
        self.server = ServingStep(server, source, config.meta, names, config.plan)
        self.trainer_spec = trainer
        return True

    def row(self, candidate_tick: int, warmup: bool) -> dict:
        plan, step = self.config.plan, self.trainer
        # A fresh component per row: each candidate model is trained on its own, as if it were the first.
        step.component = self.trainer_spec.cls()
        step.component.history = step.history
        now = int(plan.ends[candidate_tick])
        step.component._now_ns = now  # run(data, now) reads it before TrainingStep.train sets it (see report)
        model, info, _ = step.train(now, 1 if warmup else 2)
        if warmup:
            serve_from = plan.warmup_ticks  # the warm-up model serves the first scored tick regardless of latency
        else:
            serve_from = plan.tick_of_time(now + int(self.config.latency.of(info["rows"], 0.0).value))
        metric = self.config.metrics[0]
        values = np.full(len(plan), np.nan)
        started = _time.perf_counter()
        for k in range(serve_from, len(plan)):
            t = plan[k]
            if t.events:
                outputs = self.server.run_rows(t, t.row_start, t.row_stop, model, [])
                values[k] = metric(self.server.frames.truth(t.row_start, t.row_stop), outputs)
        return {"values": values, "serve_from": int(serve_from), "rows": int(info["rows"]),
                "train_seconds": float(info["train_seconds"]), "score_seconds": _time.perf_counter() - started}


def _fingerprint(stream, config, settings) -> str:
    """What a saved row was computed from, so a resume never mixes two different matrices."""
    h = hashlib.sha256()
    h.update(json.dumps(settings, sort_keys=True, default=str).encode())
    h.update(repr([(s.name, s.role, s.cls.__module__, s.cls.__qualname__) for s in config.specs]).encode())
    h.update(repr((len(stream), stream.time, stream.label, stream.inputs, stream.label_source)).encode())
    t = stream.times_ns()
    h.update(t[:: max(1, len(t) // 1000)].tobytes())
    return h.hexdigest()[:16]


def _load_rows(out: str, key: str) -> dict:
    os.makedirs(out, exist_ok=True)
    index = os.path.join(out, INDEX_FILE)
    if os.path.exists(index):
        with open(index) as f:
            if json.load(f).get("key") != key:  # another stream or settings: start over
                for name in os.listdir(out):
                    if name.startswith("row_") and name.endswith(".parquet"):
                        os.remove(os.path.join(out, name))
    with open(index, "w") as f:
        json.dump({"key": key}, f)
    rows = {}
    for name in sorted(os.listdir(out)):
        if name.startswith("row_") and name.endswith(".parquet"):
            table = pq.read_table(os.path.join(out, name))
            meta = json.loads(table.schema.metadata[b"raytrain"])
            rows[int(meta["row"])] = {"values": table.column("value").to_numpy(), **meta["info"]}
    return rows


def _save_row(out: str, i: int, row: dict) -> None:
    info = {k: v for k, v in row.items() if k != "values"}
    table = pa.table({"value": pa.array(row["values"], pa.float64())})
    table = table.replace_schema_metadata({"raytrain": json.dumps({"row": i, "info": info})})
    final = os.path.join(out, f"row_{i:05d}.parquet")
    tmp = final + ".tmp"
    pq.write_table(table, tmp)
    os.replace(tmp, final)  # a row is on disk whole or not at all
