"""Concept drift: River's error-rate drift detectors, fed with the serving model's mistakes as labels arrive.

``ErrorDrift("adwin")`` feeds ``river.drift.ADWIN`` one 0/1 error per prediction of the serving model
whose label became visible, in the order the labels arrived, and retrains when it detects that the
error rate went up. The detectors are River's own (``"adwin"``, ``"page_hinkley"``, ``"ddm"``, or any
River drift detector instance); this module only decides what to feed them and when. A new
model starts a fresh detector, and only its own predictions are fed to it. Needs ``river``.
"""

from __future__ import annotations

import copy
import importlib
import inspect
from collections import deque

import numpy as np

from raytrain.errors import ConfigError
from raytrain.policies._checks import retrain_pending
from raytrain.policies.base import Policy

__all__ = ["ErrorDrift"]

# name -> (module, class, River defaults we change). PageHinkley: only a rising error rate is a problem.
# DDM: with River's warm_start=30, drift_threshold=3 it raised a false alarm in half of 60 stationary runs
# of 6,000 labels at a 10% error rate (its minimum is taken from a noisy start); with 300 and 4: none,
# and a jump to 30% errors was still found after a median 286 labels.
_DETECTORS = {
    "adwin": ("river.drift", "ADWIN", {}),
    "page_hinkley": ("river.drift", "PageHinkley", {"mode": "up"}),
    "ddm": ("river.drift.binary", "DDM", {"warm_start": 300, "drift_threshold": 4.0}),
}
_RATE_OVER = 100  # the error rate in reasons is over this many of the latest labels


class ErrorDrift(Policy):
    """Retrain when a River drift detector sees the serving model's error rate go up.

    ``detector``: ``"adwin"`` (default), ``"page_hinkley"``, ``"ddm"``, or a River drift detector
    instance; keyword arguments go to the detector (``ErrorDrift("adwin", delta=0.001)``). River's
    defaults hold except PageHinkley ``mode="up"`` and DDM ``warm_start=300, drift_threshold=4``
    (River's 30 and 3 raise frequent false alarms on a steady error rate).
    ``error``: ``f(y_true, y_pred) -> per-row errors``; default 1.0 where the prediction differs from the
    label, else 0.0 (classifiers). For a regressor pass e.g. ``error=lambda y, p: abs(y - p)`` with
    ADWIN or PageHinkley (DDM takes 0/1 only).

    >>> ErrorDrift("adwin", delta=0.001)
    ErrorDrift('adwin', delta=0.001)
    >>> ErrorDrift("page_hinkley")
    ErrorDrift('page_hinkley')
    """

    def __init__(self, detector="adwin", *, error=None, **params):
        if isinstance(detector, str):
            if detector not in _DETECTORS:
                raise ConfigError(f"ErrorDrift detector must be one of {sorted(_DETECTORS)} or a River drift "
                                  f"detector instance; got {detector!r}.")
            _check_params(detector, params)
            self._template = _build(detector, params)
        else:
            if params:
                raise ConfigError(f"ErrorDrift got a detector instance and parameters {sorted(params)}; set the "
                                  f"parameters on the instance instead, e.g. ErrorDrift(ADWIN(delta=0.001)).")
            if not (callable(getattr(detector, "update", None)) and hasattr(detector, "drift_detected")):
                raise ConfigError(f"ErrorDrift detector must be a name such as 'adwin' or a River drift detector "
                                  f"(with update() and drift_detected); got {detector!r}.")
            self._template = _fresh(detector)
        if error is not None and not callable(error):
            raise ConfigError(f"ErrorDrift error= must be a callable f(y_true, y_pred) -> per-row errors; got {error!r}.")
        self.detector = detector
        self.params = dict(params)
        self.error = error
        self._reset()

    def _reset(self) -> None:
        self._detector = _fresh(self._template)
        self._cursor = 0              # how far along history.known_order the labels were fed
        self._version = None          # the serving model the detector watches
        self._fed = 0                 # labels fed to the current detector
        self._latest = deque(maxlen=_RATE_OVER)
        self._latched = None
        self._latched_key = None

    def bind(self, context) -> None:
        self._reset()

    @property
    def labels_fed(self) -> int:
        """Labels fed to the detector watching the serving model."""
        return self._fed

    def decide(self, view) -> str | None:
        if view.version != self._version:  # a new model: a fresh detector, fed only the new model's predictions
            self._version = view.version
            self._detector = _fresh(self._template)
            self._fed = 0
            self._latest.clear()
        if retrain_pending(view):
            return None
        key = (view.version, view.last_retrain_ns)
        h = view.history
        order = h.known_order
        rows = order[self._cursor:]
        self._cursor = len(order)
        if self._latched is not None and self._latched_key == key:
            return self._latched   # keep asking until a retrain answers it
        rows = rows[h.versions[rows] == view.version]
        if not len(rows):
            return None
        y, p = h.labels[rows], h.outputs[rows]
        errors = np.asarray(self.error(y, p) if self.error is not None else (y != p), dtype=np.float64)
        if errors.shape != (len(rows),):
            raise ConfigError(f"ErrorDrift error= returned shape {errors.shape} for {len(rows)} labels; return one "
                              f"error per label.")
        det = self._detector
        for e in errors.tolist():
            before = getattr(det, "estimation", None)
            det.update(e)
            self._fed += 1
            self._latest.append(e)
            if det.drift_detected:
                after = getattr(det, "estimation", None)
                if before is not None and after is not None and after <= before:
                    continue  # the error rate went down (ADWIN watches both ways): nothing to fix
                rate = sum(self._latest) / len(self._latest)
                self._latched = (f"{type(det).__name__} drift after {self._fed:,} labels (error rate {rate:.2f} "
                                 f"over the last {len(self._latest)})")
                self._latched_key = key
                return self._latched
        return None

    def __repr__(self) -> str:
        args = [repr(self.detector) if isinstance(self.detector, str) else _describe(self.detector)]
        args += [f"{k}={v!r}" for k, v in self.params.items()]
        if self.error is not None:
            args.append(f"error={getattr(self.error, '__name__', self.error)!s}")
        return f"ErrorDrift({', '.join(args)})"


def _build(name: str, params: dict):
    module, cls_name, defaults = _DETECTORS[name]
    try:
        cls = getattr(importlib.import_module(module), cls_name)
    except ImportError as exc:  # pragma: no cover - river is in the [examples] extra
        raise ConfigError(f"ErrorDrift({name!r}) needs River: pip install river.") from exc
    try:
        return cls(**{**defaults, **params})
    except (TypeError, ValueError) as exc:
        accepted = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
        raise ConfigError(f"ErrorDrift({name!r}, {', '.join(f'{k}={v!r}' for k, v in params.items())}): {exc}. "
                          f"River's {cls_name} takes {accepted}.") from exc


def _check_params(name: str, params: dict) -> None:
    """Ranges River does not check itself: a wrong value would silently never (or always) fire."""
    def need(key, ok, what):
        if key in params and (isinstance(params[key], bool) or not isinstance(params[key], (int, float))
                              or not ok(params[key])):
            raise ConfigError(f"ErrorDrift({name!r}) {key} must be {what}; got {params[key]!r}.")

    need("delta", lambda v: 0 < v < 1 if name == "adwin" else v >= 0, "in (0, 1)" if name == "adwin" else ">= 0")
    need("threshold", lambda v: v > 0, "> 0")
    need("alpha", lambda v: 0 < v <= 1, "in (0, 1]")
    need("min_instances", lambda v: v >= 1 and v == int(v), "a whole number >= 1")
    need("warm_start", lambda v: v >= 1 and v == int(v), "a whole number >= 1")
    need("warning_threshold", lambda v: v > 0, "> 0")
    need("drift_threshold", lambda v: v > 0, "> 0")
    if name == "ddm":
        drift, warning = params.get("drift_threshold", 4.0), params.get("warning_threshold", 2.0)
        if drift < warning:
            raise ConfigError(f"ErrorDrift('ddm') drift_threshold={drift!r} is below warning_threshold={warning!r}; "
                              f"drift needs the larger one.")


def _fresh(detector):
    """A reset copy of a detector: River's clone() where it has one."""
    clone = getattr(detector, "clone", None)
    return clone() if callable(clone) else copy.deepcopy(detector)


def _describe(detector) -> str:
    get = getattr(detector, "_get_params", None)
    params = get() if callable(get) else {}
    try:
        defaults = {k: p.default for k, p in inspect.signature(type(detector).__init__).parameters.items()}
    except (TypeError, ValueError):
        defaults = {}
    shown = [f"{k}={v!r}" for k, v in params.items() if defaults.get(k, object()) != v]
    return f"{type(detector).__name__}({', '.join(shown)})"
