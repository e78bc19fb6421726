"""How long a retrain takes in simulated time, and what it costs.

``Latency``: the time between deciding a retrain and its model serving. A fixed duration keeps results
deterministic; ``per_train_second`` (simulated seconds per measured wall second of training) and
``per_row`` make big retrains slower, like in production. Measured times vary between runs, so a
latency that depends on them makes the retrain schedule vary too; ``per_row`` does not.

``Cost``: a user cost model giving each retrain a ``cost`` (say, dollars): a fixed price per retrain,
per row trained on, and per CPU second.
"""

from __future__ import annotations

import pandas as pd

from raytrain.clock import parse_duration
from raytrain.errors import ConfigError

__all__ = ["Latency", "Cost", "as_latency"]


class Latency:
    """Simulated training latency.

    >>> Latency("2h").of(rows=1000, train_seconds=3.0)
    Timedelta('0 days 02:00:00')
    >>> Latency(per_row="1ms").of(rows=60_000, train_seconds=3.0)
    Timedelta('0 days 00:01:00')
    """

    def __init__(self, fixed="0s", *, per_train_second: float = 0.0, per_row=None):
        self.fixed = parse_duration(fixed, "Latency fixed", allow_zero=True)
        if not isinstance(per_train_second, (int, float)) or per_train_second < 0:
            raise ConfigError(f"per_train_second must be a number >= 0 (simulated seconds per measured second "
                              f"of training); got {per_train_second!r}.")
        self.per_train_second = float(per_train_second)
        self.per_row = parse_duration(per_row, "Latency per_row", allow_zero=True) if per_row is not None else None

    def of(self, rows: int, train_seconds: float) -> pd.Timedelta:
        out = self.fixed + pd.Timedelta(seconds=self.per_train_second * train_seconds)
        if self.per_row is not None:
            out += self.per_row * rows
        return out

    @property
    def deterministic(self) -> bool:
        return self.per_train_second == 0

    def __repr__(self) -> str:
        parts = [repr(str(self.fixed))] if self.fixed else []
        if self.per_train_second:
            parts.append(f"per_train_second={self.per_train_second:g}")
        if self.per_row is not None:
            parts.append(f"per_row={str(self.per_row)!r}")
        return f"Latency({', '.join(parts)})"


def as_latency(value) -> Latency:
    if value is None:
        return Latency()
    if isinstance(value, Latency):
        return value
    return Latency(parse_duration(value, "latency", allow_zero=True))


class Cost:
    """A cost model for retrains: ``per_retrain + per_row * rows + per_cpu_second * cpu_seconds``.

    >>> Cost(per_retrain=0.5, per_row=1e-6).of(rows=200_000, cpu_seconds=10.0)
    0.7
    """

    def __init__(self, per_retrain: float = 0.0, per_row: float = 0.0, per_cpu_second: float = 0.0, unit: str = "$"):
        for name, value in (("per_retrain", per_retrain), ("per_row", per_row), ("per_cpu_second", per_cpu_second)):
            if not isinstance(value, (int, float)) or value < 0:
                raise ConfigError(f"Cost {name} must be a number >= 0; got {value!r}.")
        self.per_retrain, self.per_row, self.per_cpu_second, self.unit = (
            float(per_retrain), float(per_row), float(per_cpu_second), unit)

    def of(self, rows: int, cpu_seconds: float) -> float:
        return round(self.per_retrain + self.per_row * rows + self.per_cpu_second * cpu_seconds, 12)

    def __repr__(self) -> str:
        return (f"Cost(per_retrain={self.per_retrain:g}, per_row={self.per_row:g}, "
                f"per_cpu_second={self.per_cpu_second:g}, unit={self.unit!r})")
