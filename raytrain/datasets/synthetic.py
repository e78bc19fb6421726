"""Seeded synthetic data streams whose drift points are known in advance.

Every generator returns a pandas DataFrame with one event per row, sorted by a
timezone-naive ``time`` column (``datetime64[ns]``, one event every ``freq`` from
``start``), feature columns ``x0 .. x{d-1}``, an integer label ``y`` and, when
``label_delay`` is given, a ``label_time = time + label_delay`` column.
``df.attrs["drift_points"]`` lists the timestamps where the concept or the input
distribution changes; :func:`hyperplane` also sets ``df.attrs["drift_windows"]``,
the ``(start, end)`` of each gradual drift.

- :func:`sea`: P(y|x) changes abruptly; how fast does a policy react to sudden drift?
- :func:`hyperplane`: P(y|x) changes gradually; does it follow slow drift?
- :func:`covariate_shift`: only P(x) changes; does it retrain for nothing?
- :func:`stationary`: nothing changes; does it raise false alarms?

The same arguments always give the same frame, bit for bit. Generation is fully
vectorised (several million rows per second), so long streams are cheap.

This module is pure numpy/pandas: it imports neither Ray nor the rest of raytrain.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = ["sea", "hyperplane", "covariate_shift", "stationary"]

Duration = str | pd.Timedelta | np.timedelta64
TimeLike = str | pd.Timestamp | np.datetime64

# Weights of the fixed logistic concept shared by covariate_shift and stationary:
# P(y=1 | x) = sigmoid(2*x0 - x1 + 0.5*x2); any further features are irrelevant.
_CONCEPT_WEIGHTS = (2.0, -1.0, 0.5)


def sea(
    n: int = 100_000,
    drift_at: float | Sequence[float] = (0.5,),
    thresholds: Sequence[float] = (7.0, 10.0),
    noise: float = 0.1,
    seed: int = 0,
    start: TimeLike = "2024-01-01",
    freq: Duration = "1min",
    label_delay: Duration | None = None,
) -> pd.DataFrame:
    """Abrupt concept drift: the SEA concepts (Street & Kim, 2001).

    Three features uniform in [0, 10]; ``y = 1`` iff ``x0 + x1 <= theta``, and only
    ``x0`` and ``x1`` matter. ``theta`` jumps at each fraction in ``drift_at``:
    concept ``k`` uses ``thresholds[k % len(thresholds)]``, so the default
    alternates 7 and 10. Each label is then flipped with probability ``noise``.

    The default drift relabels a quarter of the input space (7 < x0 + x1 <= 10):
    a model fitted before the drift loses about 20 accuracy points after it. The
    classic SEA thresholds (8, 9, 7, 9.5) give weaker drifts.

    >>> df = sea(n=1_000, seed=1)
    >>> list(df.columns)
    ['time', 'x0', 'x1', 'x2', 'y']
    >>> df.attrs["drift_points"]
    [Timestamp('2024-01-01 08:20:00')]
    >>> print(round(df["y"][:500].mean(), 1), round(df["y"][500:].mean(), 1))
    0.3 0.5
    """
    n = _check_n(n)
    rng = _rng(seed)
    cuts = _drift_rows(n, drift_at)
    thetas = _check_thresholds(thresholds, len(cuts) + 1)
    noise = _check_noise(noise)
    time = _times(n, start, freq)
    delay = _check_label_delay(label_delay)

    x = rng.random((3, n)) * 10.0
    theta = np.repeat(thetas, np.diff([0, *cuts, n]))
    y = (x[0] + x[1] <= theta) ^ (rng.random(n) < noise)
    return _frame(time, x, y, delay, drift_points=[time[i] for i in cuts])


def hyperplane(
    n: int = 100_000,
    d: int = 10,
    drift_windows: Sequence[tuple[float, float]] | None = None,
    angle_deg: float = 90.0,
    magnitude: float | None = None,
    noise: float = 0.05,
    seed: int = 0,
    start: TimeLike = "2024-01-01",
    freq: Duration = "1min",
    label_delay: Duration | None = None,
) -> pd.DataFrame:
    """Gradual concept drift: a hyperplane rotating through the centre of the unit cube.

    ``d`` features uniform in [0, 1]; ``y = 1`` iff ``w(t)·x >= sum(w(t)) / 2``,
    then each label is flipped with probability ``noise``. About half the labels are
    1 at all times. The weights ``w(t)`` move in one of two ways:

    - ``drift_windows`` (default ``[(0.4, 0.6)]``): fractions ``(begin, end)`` of the
      stream. The weights stay still outside the windows and, inside each one, rotate
      at constant speed by ``angle_deg`` degrees (in a random plane) towards the next
      concept. At 90 degrees the old and new concepts agree on only half of the
      inputs. ``drift_points`` are the window starts; ``drift_windows`` their
      ``(start, end)`` timestamps, where ``end`` is the first event of the new concept.
    - ``magnitude``: the weights rotate by ``magnitude`` degrees at every event, from
      the first to the last (incremental drift). ``drift_points`` is the first event
      and ``drift_windows`` the whole stream.

    >>> df = hyperplane(n=1_000, d=2, seed=1)
    >>> list(df.columns)
    ['time', 'x0', 'x1', 'y']
    >>> df.attrs["drift_windows"]
    [(Timestamp('2024-01-01 06:40:00'), Timestamp('2024-01-01 10:00:00'))]
    >>> df.attrs["drift_points"] == [df["time"][400]]
    True
    """
    n = _check_n(n)
    rng = _rng(seed)
    d = _check_int(d, "d", minimum=2, why="the hyperplane rotates in a plane")
    noise = _check_noise(noise)
    if magnitude is not None and drift_windows is not None:
        raise ValueError(
            f"pass either drift_windows or magnitude, not both; got drift_windows="
            f"{drift_windows!r} and magnitude={magnitude!r}. Use drift_windows for "
            "drift that starts and stops, magnitude for drift at every event."
        )
    if magnitude is None:
        windows = _window_rows(n, ((0.4, 0.6),) if drift_windows is None else drift_windows)
        angle = math.radians(_check_angle(angle_deg))
    else:
        per_event = math.radians(_check_magnitude(magnitude))
    time = _times(n, start, freq)
    delay = _check_label_delay(label_delay)

    x = rng.random((d, n))
    centred = x - 0.5
    u = _unit(rng.standard_normal(d))
    score = np.empty(n)
    if magnitude is not None:
        # Rotate at constant speed in the plane of u and a random v orthogonal to it.
        v = _orthogonal_unit(u, rng)
        phi = per_event * np.arange(n)
        score[:] = np.cos(phi) * (u @ centred) + np.sin(phi) * (v @ centred)
        drift_points, drift_windows_t = [time[0]], [(time[0], time[n - 1])]
    else:
        stable_from = 0
        for begin, end in windows:
            v = _orthogonal_unit(u, rng)
            score[stable_from:begin] = u @ centred[:, stable_from:begin]
            phi = angle * np.arange(end - begin) / (end - begin)
            part = centred[:, begin:end]
            score[begin:end] = np.cos(phi) * (u @ part) + np.sin(phi) * (v @ part)
            u = math.cos(angle) * u + math.sin(angle) * v
            stable_from = end
        score[stable_from:] = u @ centred[:, stable_from:]
        drift_points = [time[begin] for begin, _ in windows]
        drift_windows_t = [(time[begin], time[end]) for begin, end in windows]

    y = (score >= 0) ^ (rng.random(n) < noise)
    df = _frame(time, x, y, delay, drift_points=drift_points)
    df.attrs["drift_windows"] = drift_windows_t
    return df


def covariate_shift(
    n: int = 100_000,
    d: int = 3,
    drift_at: float | Sequence[float] = (0.5,),
    shift: float = 2.0,
    seed: int = 0,
    start: TimeLike = "2024-01-01",
    freq: Duration = "1min",
    label_delay: Duration | None = None,
) -> pd.DataFrame:
    """Pure covariate shift: the inputs move, the concept P(y|x) never changes.

    ``d`` features, each normal with standard deviation 1 and mean 0, except that
    the means of ``x0`` and ``x1`` both grow by ``shift`` at each fraction in
    ``drift_at`` (so after the k-th drift point they are ``k * shift``). Labels
    always follow the same logistic concept,
    ``P(y=1 | x) = sigmoid(2*x0 - x1 + 0.5*x2)``; features past ``x2`` are irrelevant.

    A model's accuracy may still change at a drift point, only because the mix of
    inputs changes (here inputs move away from the decision boundary and more labels
    are 1): a well-specified model fitted before the shift stays as good as one
    retrained after it. Use it to count needless retrains of feature-drift policies.

    >>> df = covariate_shift(n=2_000, seed=1)
    >>> df.attrs["drift_points"]
    [Timestamp('2024-01-01 16:40:00')]
    >>> round(df["x0"][:1000].mean()), round(df["x0"][1000:].mean())
    (0, 2)
    """
    n = _check_n(n)
    rng = _rng(seed)
    d = _check_int(d, "d", minimum=3, why="the concept uses x0, x1 and x2")
    cuts = _drift_rows(n, drift_at)
    shift = _check_shift(shift)
    time = _times(n, start, freq)
    delay = _check_label_delay(label_delay)

    x = rng.standard_normal((d, n))
    mean = np.repeat(shift * np.arange(len(cuts) + 1), np.diff([0, *cuts, n]))
    x[0] += mean
    x[1] += mean
    y = _logistic_labels(x, rng)
    return _frame(time, x, y, delay, drift_points=[time[i] for i in cuts])


def stationary(
    n: int = 100_000,
    d: int = 3,
    seed: int = 0,
    start: TimeLike = "2024-01-01",
    freq: Duration = "1min",
    label_delay: Duration | None = None,
) -> pd.DataFrame:
    """No drift at all: the concept of :func:`covariate_shift` on unshifted inputs.

    ``d`` standard normal features and ``P(y=1 | x) = sigmoid(2*x0 - x1 + 0.5*x2)``
    throughout; ``drift_points`` is empty. Any retrain a policy triggers here is a
    false alarm.

    >>> df = stationary(n=1_000, seed=1, label_delay="2h")
    >>> list(df.columns)
    ['time', 'x0', 'x1', 'x2', 'y', 'label_time']
    >>> (df["label_time"] - df["time"]).unique().tolist()
    [Timedelta('0 days 02:00:00')]
    >>> df.attrs["drift_points"]
    []
    """
    n = _check_n(n)
    rng = _rng(seed)
    d = _check_int(d, "d", minimum=3, why="the concept uses x0, x1 and x2")
    time = _times(n, start, freq)
    delay = _check_label_delay(label_delay)

    x = rng.standard_normal((d, n))
    y = _logistic_labels(x, rng)
    return _frame(time, x, y, delay, drift_points=[])


# --- building blocks -------------------------------------------------------------


def _logistic_labels(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    logit = np.asarray(_CONCEPT_WEIGHTS) @ x[: len(_CONCEPT_WEIGHTS)]
    return rng.random(x.shape[1]) < 1.0 / (1.0 + np.exp(-logit))


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def _orthogonal_unit(u: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random unit vector orthogonal to the unit vector ``u``."""
    while True:
        v = rng.standard_normal(u.shape[0])
        v -= (v @ u) * u
        norm = np.linalg.norm(v)
        if norm > 1e-6:  # a draw (almost) parallel to u has no usable direction
            return v / norm


def _frame(
    time: pd.DatetimeIndex,
    x: np.ndarray,
    y: np.ndarray,
    delay: pd.Timedelta | None,
    drift_points: list[pd.Timestamp],
) -> pd.DataFrame:
    columns: dict[str, object] = {"time": time}
    columns.update({f"x{j}": x[j] for j in range(x.shape[0])})
    columns["y"] = y.astype(np.int64)
    if delay is not None:
        columns["label_time"] = time + delay
    df = pd.DataFrame(columns, copy=False)
    df.attrs["drift_points"] = drift_points
    return df


# --- argument checks: each names the parameter, the value seen and the fix --------


def _check_int(value: object, name: str, minimum: int, why: str = "") -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        reason = f" ({why})" if why else ""
        raise ValueError(f"{name} must be an integer >= {minimum}{reason}; got {value!r}")
    return int(value)


def _check_n(n: object) -> int:
    return _check_int(n, "n", minimum=1)


def _rng(seed: object) -> np.random.Generator:
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(
            f"seed must be a non-negative integer, so the stream can be generated again; "
            f"got {seed!r}"
        )
    return np.random.default_rng(int(seed))


def _check_real(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number; got {value!r}")
    return float(value)


def _check_noise(noise: object) -> float:
    noise = _check_real(noise, "noise")
    if not 0.0 <= noise <= 0.5:
        raise ValueError(
            f"noise must be the fraction of labels to flip, in [0, 0.5]; got {noise!r}"
        )
    return noise


def _check_shift(shift: object) -> float:
    shift = _check_real(shift, "shift")
    if shift == 0.0:
        raise ValueError(
            "shift must be non-zero, or the drift points would mark no change; got 0.0. "
            "Use stationary() for a stream without drift."
        )
    return shift


def _check_angle(angle_deg: object) -> float:
    angle = _check_real(angle_deg, "angle_deg")
    if not 0.0 < angle <= 180.0:
        raise ValueError(f"angle_deg must be in (0, 180] degrees; got {angle_deg!r}")
    return angle


def _check_magnitude(magnitude: object) -> float:
    magnitude = _check_real(magnitude, "magnitude")
    if magnitude <= 0.0:
        raise ValueError(
            f"magnitude must be a positive rotation in degrees per event; got {magnitude!r}"
        )
    return magnitude


def _as_list(value: object) -> list | None:
    """The items of a list, tuple or 1-d array; None for anything else."""
    if isinstance(value, np.ndarray) and value.ndim == 1:
        return value.tolist()
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        return list(value)
    return None


def _check_thresholds(thresholds: object, concepts: int) -> np.ndarray:
    values = _as_list(thresholds)
    if not values:
        raise ValueError(
            f"thresholds must be a non-empty sequence of numbers, like (7.0, 10.0); "
            f"got {thresholds!r}"
        )
    for t in values:
        if isinstance(t, bool) or not isinstance(t, numbers.Real) or not 0.0 < t < 20.0:
            raise ValueError(
                f"thresholds must be numbers in (0, 20), the range of x0 + x1, or every "
                f"label would be the same; got {t!r}"
            )
    picked = np.array([float(values[k % len(values)]) for k in range(concepts)])
    for k in range(1, concepts):
        if picked[k] == picked[k - 1]:
            raise ValueError(
                f"thresholds must change at every drift point, but concepts {k - 1} and {k} "
                f"would both use {float(picked[k])!r} (got thresholds={thresholds!r} for "
                f"{concepts} concepts). Give a different next threshold."
            )
    return picked


def _fractions(value: object, name: str) -> list[float]:
    """A scalar or a sequence of strictly increasing fractions in (0, 1)."""
    items = [value] if isinstance(value, numbers.Real) else _as_list(value)
    if items is None:
        raise ValueError(
            f"{name} must be a fraction or a sequence of fractions in (0, 1); got {value!r}"
        )
    for f in items:
        if isinstance(f, bool) or not isinstance(f, numbers.Real) or not 0.0 < f < 1.0:
            raise ValueError(f"{name} must be fractions in (0, 1); got {f!r}")
    out = [float(f) for f in items]
    if any(b <= a for a, b in zip(out, out[1:])):
        raise ValueError(f"{name} must be strictly increasing; got {value!r}. Sort it.")
    return out


def _to_rows(n: int, fractions: list[float], name: str, value: object) -> list[int]:
    """Row indices of the fractions; each must fall strictly inside the stream."""
    rows = [round(f * n) for f in fractions]
    if any(not 0 < r < n for r in rows) or any(b <= a for a, b in zip(rows, rows[1:])):
        raise ValueError(
            f"n={n} is too small to place {name}={value!r} at distinct rows inside the "
            "stream; use a larger n or points further apart."
        )
    return rows


def _drift_rows(n: int, drift_at: object) -> list[int]:
    return _to_rows(n, _fractions(drift_at, "drift_at"), "drift_at", drift_at)


def _window_rows(n: int, windows: object) -> list[tuple[int, int]]:
    """Row spans [begin, end) of windows given as (begin, end) fractions."""
    fix = "; give (begin, end) fractions with 0 < begin < end < 1, like [(0.4, 0.6)]"
    items = _as_list(windows)
    if items is None:
        raise ValueError(f"drift_windows must be a sequence of windows{fix}; got {windows!r}")
    flat: list[float] = []
    for window in items:
        pair = _as_list(window)
        if pair is None or len(pair) != 2:
            raise ValueError(f"each of drift_windows must be a pair{fix}; got {window!r}")
        for f in pair:
            if isinstance(f, bool) or not isinstance(f, numbers.Real) or not 0.0 < f < 1.0:
                raise ValueError(f"drift_windows must hold fractions in (0, 1){fix}; got {f!r}")
        flat.extend(float(f) for f in pair)
    if any(b <= a for a, b in zip(flat, flat[1:])):
        raise ValueError(
            f"drift_windows must be in order and must not overlap{fix}; got {windows!r}"
        )
    rows = _to_rows(n, flat, "drift_windows", windows)
    return list(zip(rows[::2], rows[1::2]))


def _times(n: int, start: object, freq: object) -> pd.DatetimeIndex:
    try:
        origin = pd.Timestamp(start)
    except (ValueError, TypeError):
        raise ValueError(
            f"start must be a date pandas can parse, like '2024-01-01'; got {start!r}"
        ) from None
    if origin is pd.NaT:
        raise ValueError(f"start must be a date, not a missing value; got {start!r}")
    if origin.tz is not None:
        raise ValueError(
            f"start must be timezone-naive; got {start!r}. Drop the zone, e.g. "
            "pd.Timestamp(start).tz_localize(None)."
        )
    if isinstance(freq, numbers.Number):
        raise ValueError(
            f"freq must be a duration with a unit, like '1min' or '1h'; got the bare number {freq!r}"
        )
    try:
        offset = pd.tseries.frequencies.to_offset(freq)
    except (ValueError, TypeError):
        raise ValueError(
            f"freq must be a pandas frequency, like '1min' or '1h'; got {freq!r}"
        ) from None
    if offset is None or offset.n <= 0:
        raise ValueError(f"freq must be a positive step, like '1min'; got {freq!r}")
    try:
        return pd.date_range(origin, periods=n, freq=offset, unit="ns", name="time")
    except pd.errors.OutOfBoundsDatetime:
        raise ValueError(
            f"n={n} events every {freq!r} from {origin} run past the year 2262, the last "
            "date pandas can hold; use a smaller n or a shorter freq."
        ) from None


def _check_label_delay(label_delay: object) -> pd.Timedelta | None:
    if label_delay is None:
        return None
    if isinstance(label_delay, numbers.Number):
        raise ValueError(
            f"label_delay must be a duration with a unit, like '2h', or None; got the bare "
            f"number {label_delay!r}"
        )
    try:
        delay = pd.Timedelta(label_delay)
    except (ValueError, TypeError):
        raise ValueError(
            f"label_delay must be a duration pandas can parse, like '2h' or '1D', or None; "
            f"got {label_delay!r}"
        ) from None
    if delay is pd.NaT or delay < pd.Timedelta(0):
        raise ValueError(
            f"label_delay must be zero or positive (labels arrive after events); got {label_delay!r}"
        )
    return delay.as_unit("ns")
