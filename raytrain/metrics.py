"""Metrics that score a tick's outputs against its true labels.

A metric is a name ("accuracy", "mae", ...) or any callable ``f(y_true, y_pred) -> float``; several can
be given as a list. Each resolves to a :class:`Metric` with a name and a direction, used for the
per-tick table, the summary and "best policy" choices.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from raytrain.errors import ConfigError

__all__ = ["Metric", "resolve_metrics", "METRICS"]


@dataclass(frozen=True)
class Metric:
    name: str
    fn: Callable
    higher_is_better: bool = True
    mean_over_events: bool = True  # the tick metric is a mean over its events (exact event weighting)

    def __call__(self, y_true, y_pred) -> float:
        if len(y_true) == 0:
            return float("nan")
        return float(self.fn(np.asarray(y_true), np.asarray(y_pred)))


def _accuracy(y, p):
    return np.mean(np.asarray(y) == np.asarray(p))


def _mae(y, p):
    return np.mean(np.abs(np.asarray(y, dtype=float) - np.asarray(p, dtype=float)))


def _mse(y, p):
    return np.mean((np.asarray(y, dtype=float) - np.asarray(p, dtype=float)) ** 2)


def _rmse(y, p):
    return np.sqrt(_mse(y, p))


def _sklearn(name):
    def fn(y, p):
        from sklearn import metrics as skm

        if name == "f1":
            return skm.f1_score(y, p, zero_division=0.0)
        if name == "roc_auc":
            return skm.roc_auc_score(y, p) if len(np.unique(y)) > 1 else float("nan")
        if name == "log_loss":
            return skm.log_loss(y, np.clip(np.asarray(p, dtype=float), 1e-15, 1 - 1e-15), labels=[0, 1])
        raise KeyError(name)
    return fn


METRICS = {
    "accuracy": Metric("accuracy", _accuracy, True, True),
    "mae": Metric("mae", _mae, False, True),
    "mse": Metric("mse", _mse, False, True),
    "rmse": Metric("rmse", _rmse, False, False),
    "f1": Metric("f1", _sklearn("f1"), True, False),
    "roc_auc": Metric("roc_auc", _sklearn("roc_auc"), True, False),
    "log_loss": Metric("log_loss", _sklearn("log_loss"), False, True),
}


def resolve_metrics(metric) -> list:
    """Metric objects from a name, a callable, a Metric, or a list of those."""
    items = metric if isinstance(metric, (list, tuple)) else [metric]
    if not items:
        raise ConfigError("metric= is empty; pass a name such as 'accuracy' or a callable f(y_true, y_pred).")
    out = []
    for item in items:
        if isinstance(item, Metric):
            out.append(item)
        elif isinstance(item, str):
            if item not in METRICS:
                raise ConfigError(f"Unknown metric {item!r}. Known metrics: {sorted(METRICS)}; or pass a callable "
                                  f"f(y_true, y_pred) -> float.")
            out.append(METRICS[item])
        elif callable(item):
            name = getattr(item, "__name__", type(item).__name__)
            out.append(Metric(name, item, True, False))
        else:
            raise ConfigError(f"metric must be a name, a callable or a list of them; got {item!r}.")
    names = [m.name for m in out]
    if len(set(names)) != len(names):
        raise ConfigError(f"Metric names must be distinct; got {names}.")
    return out
