"""Policies on the served model's own metric, computed on the labels already visible.

``MetricBelow("accuracy", 0.75, last=1000)`` fires when the model serving now scores below 0.75 on its
last 1,000 predictions whose labels are known; ``MetricAbove("mae", 3.0, window="7D")`` when its error
over the events of the last 7 days (labels known) rises above 3. Only the serving model's predictions
count, so a fresh model is judged on its own work, and while a retrain is on its way (training latency)
they wait for it instead of asking again.
"""

from __future__ import annotations

import numpy as np

from raytrain.errors import ConfigError
from raytrain.metrics import METRICS, Metric
from raytrain.policies._checks import (duration_ns, last_known, positive_int, real, retrain_pending,
                                       version_start)
from raytrain.policies.base import Policy

__all__ = ["MetricBelow", "MetricAbove"]

_BOUNDED = {"accuracy", "f1", "roc_auc"}  # metrics that live in [0, 1]


class _MetricThreshold(Policy):
    _higher_is_better = True  # the direction this policy watches: a drop below, or a rise above
    _sign = "<"

    def __init__(self, metric, threshold, *, last: int | None = None, window=None, min_labels: int | None = None):
        cls = type(self).__name__
        self.metric = metric
        if isinstance(metric, (str, Metric)):
            known = METRICS.get(metric) if isinstance(metric, str) else metric
            if known is not None and known.higher_is_better != self._higher_is_better:
                other = "MetricAbove" if self._higher_is_better else "MetricBelow"
                better = "lower" if self._higher_is_better else "higher"
                raise ConfigError(
                    f"{cls}({known.name!r}, ...): {known.name} is {better}-is-better, so a problem shows as it going "
                    f"{'up' if self._higher_is_better else 'down'}. Use {other}({known.name!r}, {threshold!r}, ...).")
        elif not (isinstance(metric, Metric) or callable(metric)):
            raise ConfigError(f"{cls} metric must be a metric name such as 'accuracy', a raytrain.Metric or a "
                              f"callable f(y_true, y_pred); got {metric!r}.")
        name = metric if isinstance(metric, str) else getattr(metric, "name", getattr(metric, "__name__", "metric"))
        bounded = name in _BOUNDED
        self.threshold = real(threshold, f"{cls} threshold", 0.0 if (bounded or name in METRICS) else None,
                              1.0 if bounded else None, example=f"{cls}({name!r}, {0.75 if bounded else 3.0})")
        if (last is None) == (window is None):
            raise ConfigError(
                f"{cls} takes last= (a number of labeled predictions) or window= (a duration), exactly one; "
                f"got last={last!r}, window={window!r}. For example: {cls}({name!r}, {self.threshold:g}, last=1000).")
        self.last = None if last is None else positive_int(last, f"{cls}(last=)", f"{cls}({name!r}, ..., last=1000)")
        self.window = window
        self._window_ns = None if window is None else duration_ns(window, f"{cls}(window=)")
        default_min = min(self.last, 100) if self.last is not None else 100
        self.min_labels = default_min if min_labels is None else positive_int(
            min_labels, f"{cls}(min_labels=)", f"{cls}({name!r}, ..., min_labels=100)")
        if self.last is not None and self.min_labels > self.last:
            raise ConfigError(f"{cls}: min_labels={self.min_labels} is more than last={self.last}, so it could "
                              f"never fire. Lower min_labels or raise last.")
        self._name = name
        self._metric = metric if isinstance(metric, Metric) else (
            METRICS.get(metric) if isinstance(metric, str) else Metric(name, metric, self._higher_is_better, False))
        self._starts: dict = {}

    def bind(self, context) -> None:
        self._starts = {}
        if isinstance(self.metric, str):
            resolvable = dict(METRICS)
            resolvable.update(getattr(context, "metrics", None) or {})
            if self.metric not in resolvable:
                raise ConfigError(
                    f"{type(self).__name__}: unknown metric {self.metric!r}. Known metrics: {sorted(resolvable)}. "
                    f"Pass one of them, or the same callable you gave backtest(metric=...).")
            self._metric = resolvable[self.metric]

    def value(self, view) -> tuple:
        """(metric value, labels used) of the serving model on its visible labels; (nan, n) if too few."""
        h = view.history
        known = h.known
        start = version_start(h.versions, view.version, self._starts)
        if self._window_ns is not None:
            times = h.times.view(np.int64)
            start = max(start, int(np.searchsorted(times, view.now_ns - self._window_ns, side="left")))
            rows = np.flatnonzero(known[start:]) + start
        else:
            rows = last_known(known, start, self.last)
        if len(rows) < self.min_labels:
            return float("nan"), len(rows)
        return self._metric(h.labels[rows], h.outputs[rows]), len(rows)

    def decide(self, view) -> str | None:
        if retrain_pending(view):
            return None
        value, n = self.value(view)
        if np.isnan(value) or not self._crossed(value):
            return None
        over = f"over last {n:,} labels" if self.last is not None else f"over {n:,} labels of the last {self.window}"
        return f"{self._name} {value:.3g} {self._sign} {self.threshold:g} {over}"

    def _crossed(self, value: float) -> bool:
        return value < self.threshold

    def __repr__(self) -> str:
        metric = self.metric if isinstance(self.metric, str) else self._name
        args = [repr(metric), f"{self.threshold:g}"]
        args.append(f"last={self.last}" if self.last is not None else f"window={self.window!r}")
        if self.min_labels != (min(self.last, 100) if self.last is not None else 100):
            args.append(f"min_labels={self.min_labels}")
        return f"{type(self).__name__}({', '.join(args)})"


class MetricBelow(_MetricThreshold):
    """Retrain when a higher-is-better metric (accuracy, f1, roc_auc) of the serving model drops below
    ``threshold`` on its visible labels: the last ``last`` of them, or those of the events in the last
    ``window``. Needs at least ``min_labels`` labels (default: 100, or ``last`` if smaller).

    >>> MetricBelow("accuracy", 0.75, last=1000)
    MetricBelow('accuracy', 0.75, last=1000)
    """


class MetricAbove(_MetricThreshold):
    """Retrain when a lower-is-better metric (mae, rmse, mse, log_loss) of the serving model rises above
    ``threshold`` on its visible labels; the same options as :class:`MetricBelow`.

    >>> MetricAbove("mae", 3.5, window="7D")
    MetricAbove('mae', 3.5, window='7D')
    """

    _higher_is_better = False
    _sign = ">"

    def _crossed(self, value: float) -> bool:
        return value > self.threshold
