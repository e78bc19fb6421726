"""One component doing one step: serving a tick, or a training run. Pure Python, no Ray.

The Ray actors in ``raytrain.runtime`` own one of these each and call it; everything about what user
code may see (the batch without its labels, the history masked at the simulated now, the labeled rows
visible at now) is decided here, next to the calls into user code.
"""

from __future__ import annotations

import copy
import time as _time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from raytrain.clock import TickPlan, format_time
from raytrain.component import SERVE, ComponentSpec, RefreshRequest, _HookContext, hook_context
from raytrain.policies.base import PolicyView
from raytrain.errors import ComponentError, ConfigError, HookError, RaytrainError
from raytrain.history import History
from raytrain.stream import LABEL, LABEL_TIME, TIME
from raytrain.windows import Expanding, visible_rows

__all__ = ["StreamMeta", "Deployment", "ServingStep", "TrainingStep"]


@dataclass(frozen=True)
class StreamMeta:
    """The user's names for the stream's reserved columns."""

    time: str
    label: str
    label_time: str
    inputs: tuple


@dataclass
class Deployment:
    """What a serving component knows about the model it serves and the retrains so far."""

    trained_at_ns: int = 0
    last_retrain_ns: int = 0
    retrains: int = 0


class _Step:
    def __init__(self, spec: ComponentSpec, source, meta: StreamMeta, names: dict, history_budget=None, frames=None):
        self.spec = spec
        self.source = source
        self.frames = frames if frames is not None else Frames(source, meta)  # reusable across backtests
        self.meta = meta
        self.names = names
        self.component = spec.cls()
        serving = spec.role == SERVE
        self.history = History(list(meta.inputs) if serving else ["rows"], budget_bytes=history_budget,
                               reader=source.rows, stream_columns=self.frames.stream_columns() if serving else None)
        self.component.history = self.history
        self.times = self.frames.times

    def _call(self, hook: str, attr: str, now_ns: int, requests: list, **kwargs):
        """Call user code with refresh() wired to this tick; wrap its failures with where and when."""
        self.component._now_ns = now_ns
        ctx = _HookContext(self.spec.name, hook, now_ns, self.names)
        try:
            with hook_context(ctx):
                result = getattr(self.component, attr)(**kwargs)
        except RaytrainError:
            raise
        except Exception as exc:
            raise HookError(
                f"{self.spec.name}.{hook} raised {type(exc).__name__}: {exc} (simulated time "
                f"{format_time(now_ns)}).", self.spec.name, hook, format_time(now_ns), exc) from exc
        requests.extend(ctx.requests)
        return result

    def state(self) -> dict:
        """What a checkpoint keeps: the user's component (its own attributes) and the history."""
        comp = copy.copy(self.component)  # a shallow copy without this tick's batch, data and model
        for name in ("batch", "model", "data", "history"):
            comp.__dict__.pop(name, None)
        return {"component": comp, "history": self.history, "policy": getattr(self, "policy", None)}

    def load_state(self, state: dict) -> None:
        self.history = state["history"]
        self.history.reattach(self.source.rows, self.frames.stream_columns())
        self.component = state["component"]
        self.component.history = self.history
        if state["policy"] is not None:
            self.policy = state["policy"]

    def _hooks(self, which: str):
        return [attr for hook, attr in self.spec.hooks if hook == which]


class ServingStep(_Step):
    """Serves ticks: before_run at the tick's start, run on its batch, after_run at its end."""

    def __init__(self, spec, source, meta, names, plan: TickPlan, metrics=None, policy=None, policy_target=None,
                 window=None, history_budget=None, frames=None):
        super().__init__(spec, source, meta, names, history_budget, frames)
        self.plan = plan
        self.metrics = metrics or []
        self.policy, self.policy_target = policy, policy_target
        self.window = window or Expanding()
        self.n_replicas = 0          # sharded replay: set with remote_parts by the runtime
        self.remote_parts = None     # (tick, [(a, b), ...], version) -> waiter() -> [(outputs, requests), ...]

    def tick(self, k: int, model, version: int, deployment: "Deployment | None" = None):
        """Serve tick k with ``model``; returns (metric values, refresh requests)."""
        t = self.plan[k]
        requests: list = []
        comp = self.component
        comp.batch = None  # at the tick's start its events have not happened yet: before_run must not see them
        comp.model = model
        self.history.advance(t.start)
        for attr in self._hooks("before_run"):
            self._call("before_run", attr, t.start, requests)
        a, b = t.row_start, t.row_stop
        outputs = self._serve(t, model, version, requests) if t.events else np.empty(0)
        if not (t.events and self.n_replicas == 0):  # else run_rows has set the whole tick's batch already
            comp.batch = self.frames.batch(a, b)
        self.history.append(self.source.rows(a, b), outputs, version, origin=a, columns=self.frames.columns(a, b))
        self.history.advance(t.end)
        for attr in self._hooks("after_run"):
            self._call("after_run", attr, t.end, requests)
        if self.policy is not None and k >= self.plan.warmup_ticks:
            self._ask_policy(k, t.end, version, deployment, requests)
        truth = self.frames.truth(t.row_start, t.row_stop) if self.metrics else None
        values = [m(truth, outputs) for m in self.metrics]
        return values, requests

    def _ask_policy(self, k, now_ns, version, deployment, requests) -> None:
        d = deployment or Deployment()
        view = PolicyView(now_ns, k, self.history, version, d.trained_at_ns, d.last_retrain_ns, d.retrains,
                          lambda: self._rows_trained_on(d.trained_at_ns))
        try:
            reason = self.policy.decide(view)
        except RaytrainError:
            raise
        except Exception as exc:
            raise HookError(f"policy {self.policy!r} raised {type(exc).__name__}: {exc} (simulated time "
                            f"{format_time(now_ns)}).", "policy", "decide", format_time(now_ns), exc) from exc
        if reason:
            requests.append(RefreshRequest(self.policy_target, f"policy {self.policy!r}", str(reason)))

    def _rows_trained_on(self, trained_at_ns: int) -> pd.DataFrame:
        """The rows the serving model was trained on (all visible at its training time: no look-ahead)."""
        return self.frames.training(self.window.select(self.times, self.frames.label_times, trained_at_ns))

    def _serve(self, t, model, version: int, requests: list) -> np.ndarray:
        """Outputs for the tick's events; with shards, replicas serve all but the first part in parallel."""
        parts = shard_bounds(t.row_start, t.row_stop, 1 + self.n_replicas) if self.n_replicas else [(t.row_start, t.row_stop)]
        waiter = self.remote_parts(t.index, parts[1:], version) if len(parts) > 1 else None
        outputs = [self.run_rows(t, parts[0][0], parts[0][1], model, requests)]
        if waiter is not None:
            for part_outputs, part_requests in waiter():
                outputs.append(part_outputs)
                requests.extend(part_requests)
        return outputs[0] if len(outputs) == 1 else np.concatenate(outputs)

    def run_rows(self, t, a: int, b: int, model, requests: list) -> np.ndarray:
        """Call the user's run on rows a..b of tick t (the whole tick, or one shard of it)."""
        comp = self.component
        comp.batch, comp.model = self.frames.batch(a, b), model
        kwargs = {name: value for name, value in (("batch", comp.batch), ("model", model), ("now", pd.Timestamp(t.start)))
                  if name in self.spec.run_args}
        return self._outputs(self._call("run", "run", t.start, requests, **kwargs), t, b - a)

    def _outputs(self, outputs, t, expected: int) -> np.ndarray:
        if type(outputs) is np.ndarray and outputs.ndim == 1 and len(outputs) == expected:
            return outputs  # the usual case, checked first: this runs every tick
        where = f"{self.spec.name}.run at {format_time(t.start)} (tick {t.index})"
        if outputs is None:
            raise ComponentError(f"{where} returned None for {expected} events. Return one output per event "
                                 f"(e.g. model.predict(batch[FEATURES])).")
        if isinstance(outputs, (pd.Series, pd.Index)):
            outputs = outputs.to_numpy()
        elif isinstance(outputs, pd.DataFrame):
            if outputs.shape[1] != 1:
                raise ComponentError(f"{where} returned a DataFrame with {outputs.shape[1]} columns; return one "
                                     f"output per event as a 1-D array (e.g. predict_proba(X)[:, 1]).")
            outputs = outputs.iloc[:, 0].to_numpy()
        outputs = np.asarray(outputs)
        if outputs.ndim == 2 and outputs.shape[1] == 1:
            outputs = outputs[:, 0]
        if outputs.ndim != 1 or len(outputs) != expected:
            raise ComponentError(
                f"{where} returned {outputs.shape[0] if outputs.ndim else 'a scalar'} outputs of shape "
                f"{outputs.shape} for a batch of {expected} events. Return exactly one output per event "
                f"(a 1-D array of length len(batch)).")
        return outputs


class TrainingStep(_Step):
    """Trains on the labeled rows visible at a simulated now."""

    def __init__(self, spec, source, meta, names, window=None, history_budget=None, frames=None):
        super().__init__(spec, source, meta, names, history_budget, frames)
        self.label_times = self.frames.label_times
        self.window = window or Expanding()

    def visible_rows(self, now_ns: int) -> np.ndarray:
        """Indices of the rows this run trains on: visible at now, narrowed by the training window."""
        return self.window.select(self.times, self.label_times, now_ns)

    def train(self, now_ns: int, version: int):
        """One training run at ``now``: returns (model, info, refresh requests from its hooks)."""
        rows = self.visible_rows(now_ns)
        if len(rows) == 0:
            if version == 1 or len(visible_rows(self.times, self.label_times, now_ns)) == 0:
                raise ConfigError(
                    f"{self.spec.name} has no labeled rows to train on at {format_time(now_ns)}: no label is "
                    f"known yet. Lengthen warmup= so that some labels arrive before the first model is trained.")
            raise ConfigError(
                f"{self.spec.name} was asked to retrain at {format_time(now_ns)}, but its training window "
                f"{self.window!r} holds no labeled rows then (labels are known, just none of events inside the "
                f"window). Widen the window, or add a minimum (e.g. rt.Sliding(rows=...)) so quiet periods "
                f"still have data.")
        comp = self.component
        comp.data = self.frames.training(rows)
        comp._now_ns = now_ns
        requests: list = []
        self.history.advance(now_ns)
        for attr in self._hooks("before_run"):
            self._call("before_run", attr, now_ns, requests)
        kwargs = {name: value for name, value in (("data", comp.data), ("now", comp.now)) if name in self.spec.run_args}
        wall0, cpu0 = _time.perf_counter(), _time.process_time()
        model = self._call("run", "run", now_ns, requests, **kwargs)
        wall, cpu = _time.perf_counter() - wall0, _time.process_time() - cpu0
        if model is None:
            raise ComponentError(f"{self.spec.name}.run at {format_time(now_ns)} returned None; a training "
                                 f"component returns the model that serving components receive.")
        comp.model = model
        for attr in self._hooks("after_run"):
            self._call("after_run", attr, now_ns, requests)
        # The run's own record joins the history after its hooks: it is an event *at* now, not before it.
        record = pa.table({TIME: pa.array([now_ns], pa.int64()).cast(pa.timestamp("ns")),
                           LABEL: pa.array([np.nan]), LABEL_TIME: pa.array([None], pa.timestamp("ns")),
                           "rows": pa.array([len(rows)], pa.int64())})
        self.history.append(record, np.array([version]), version)
        info = {"rows": int(len(rows)), "train_seconds": wall, "cpu_seconds": cpu,
                "first_row_time": int(self.times[rows[0]]), "last_row_time": int(self.times[rows[-1]])}
        return model, info, requests


PRIVATE_COPY_BYTES = 256 * 2**20


class Frames:
    """The stream as user code sees it: pandas frames with the user's column names.

    ``batch`` (time + inputs, never the label) for serving; ``training`` (plus label and label time)
    for training runs; ``truth`` (the labels) for the evaluator only. In-memory streams are converted
    once, zero-copy; lazy Parquet streams are read as the clock reaches them.
    """

    def __init__(self, source, meta: StreamMeta):
        self.source, self.meta = source, meta
        self.batch_columns = [TIME] + list(meta.inputs)
        self.names = {TIME: meta.time, LABEL: meta.label, LABEL_TIME: meta.label_time}
        if source.lazy:
            self.times, self.label_times = source.times_ns, source.label_times_ns
        else:
            table = source.table
            self.times = table.column(TIME).cast(pa.int64()).to_numpy()
            label_times = table.column(LABEL_TIME).cast(pa.int64())
            if label_times.null_count:  # fill_null copies even when there is nothing to fill
                label_times = label_times.fill_null(np.iinfo(np.int64).max)
            self.label_times = label_times.to_numpy()
        self._batch = self._training = self._labels = None
        self._private = self._copy_next = False  # is _training our own copy; should the next run make it

    def small(self) -> bool:
        """An in-memory stream small enough to be copied for training runs (and kept between backtests)."""
        return not self.source.lazy and self.source.table.nbytes <= PRIVATE_COPY_BYTES

    def batch(self, a: int, b: int) -> pd.DataFrame:
        if self.source.lazy:
            return self.source.rows(a, b).select(self.batch_columns).to_pandas().rename(columns=self.names)
        if self._batch is None:  # split_blocks: numeric columns stay zero-copy views of the Arrow buffers
            self._batch = self.source.table.select(self.batch_columns).to_pandas(split_blocks=True).rename(columns=self.names)
        return self._batch.iloc[a:b]

    def training(self, index: np.ndarray) -> pd.DataFrame:
        cols = [TIME] + list(self.meta.inputs) + [LABEL, LABEL_TIME]
        if self.source.lazy:
            return self.source.take_frame(index)[cols].rename(columns=self.names)
        if self._training is None or self._copy_next:
            table = self.source.table.select(cols)
            # A training run gathers its rows. From the object store's shared memory (small pages) that is
            # slower than from the process's own memory (flights, 336 retrains: 10 -> 5 ms of overhead per
            # retrain), so from the second run on, streams up to PRIVATE_COPY_BYTES are read from a copy
            # made once; larger ones are read in place and no actor holds a large stream of its own.
            self._private = self._training is not None
            self._copy_next = not self._private and self.small()
            self._training = table.to_pandas(split_blocks=not self._private).rename(columns=self.names)
        if len(index) and index[-1] - index[0] + 1 == len(index):  # a contiguous run
            rows = self._training.iloc[int(index[0]): int(index[-1]) + 1]
            # a view of the read-only shared stream, or a copy of the private one (so that a run changing
            # its data in place never changes what the next run sees)
            return rows.copy() if self._private else rows
        return self._training.iloc[index]

    def truth(self, a: int, b: int) -> np.ndarray:
        if self.source.lazy:
            return self.source.labels(a, b)
        if self._labels is None:
            self._labels = self.source.table.column(LABEL).to_numpy(zero_copy_only=False)
        return self._labels[a:b]

    def stream_columns(self) -> tuple:
        """The whole stream's event times, label times and labels (None for a lazy stream) as numpy."""
        if self.source.lazy:
            return self.times, self.label_times, None
        self.truth(0, 0)
        return self.times, self.label_times, self._labels

    def columns(self, a: int, b: int):
        """Rows a..b's event times, label times and true labels as numpy (for the history's index)."""
        return self.times[a:b], self.label_times[a:b], self.truth(a, b)


def shard_bounds(start: int, stop: int, n: int) -> list:
    """Split rows start..stop into at most n contiguous, non-empty, near-equal parts, in order."""
    edges = np.linspace(start, stop, n + 1).round().astype(np.int64)
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:]) if b > a]
