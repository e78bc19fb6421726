"""Whatever the user hands to rt.report(), as one shape: policies in order, their results and errors."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from raytrain.errors import ConfigError, RaytrainError
from raytrain.result import SUMMARY_FILE, BacktestResult
from raytrain.sweeps import SweepResult

__all__ = ["ReportData", "collect"]

# Settings shown on the page, in this order, with the label a reader knows them by.
SETTING_LABELS = [
    ("tick", "tick"), ("warmup", "warm-up"), ("labels_known", "labels known at"), ("latency", "training latency"),
    ("window", "training window"), ("metrics", "metric"), ("cost", "cost model"), ("stream_events", "events"),
    ("stream_start", "stream start"), ("stream_end", "stream end"), ("warmup_end", "scored from"),
    ("components", "pipeline"),
]


@dataclass
class ReportData:
    """Policies in display order; ``results`` for those that finished, ``errors`` for those that failed."""

    title: str
    order: list
    results: dict = field(default_factory=dict)   # name -> BacktestResult
    errors: dict = field(default_factory=dict)    # name -> error text
    source: str | None = None                     # the directory read, if any

    @property
    def metric_names(self) -> list:
        for r in self.results.values():
            return list(r.summary.get("metric_names", []))
        return []

    def higher_is_better(self, metric: str) -> bool:
        for r in self.results.values():
            return bool(r.summary["metrics"][metric]["higher_is_better"])
        return True

    def settings(self) -> list:
        """[(label, value)] of the settings common to the run (the policy itself is in the table)."""
        if not self.results:
            return []
        s = next(iter(self.results.values())).summary.get("settings", {})
        rows = []
        for key, label in SETTING_LABELS:
            value = s.get(key)
            if value is None:
                continue
            if key == "latency" and value == "Latency()":
                value = "0 (a new model serves from the next tick)"
            elif isinstance(value, (list, tuple)):
                value = ", ".join(map(str, value))
            elif isinstance(value, (int, np.integer)):
                value = f"{value:,}"
            rows.append((label, str(value)))
        return rows

    def uses_cost(self) -> bool:
        """True when every finished policy was priced by a Cost model (else compute seconds stand in)."""
        return bool(self.results) and all(r.summary.get("cost") is not None for r in self.results.values())

    def cost_unit(self) -> str:
        if not self.uses_cost():
            return "CPU seconds"
        text = next(iter(self.results.values())).summary.get("settings", {}).get("cost") or ""
        unit = text.split("unit='")[1].split("'")[0] if "unit='" in text else ""
        return f"cost ({unit})" if unit else "cost"

    def cost_of(self, name: str) -> float:
        s = self.results[name].summary
        return float(s["cost"] if self.uses_cost() else s["cpu_seconds"])

    def table(self, metric: str) -> pd.DataFrame:
        """One row per policy, in order: status, mean / worst metric, retrains, compute, cost, error."""
        rows = []
        for name in self.order:
            if name in self.results:
                s = self.results[name].summary
                m = s["metrics"].get(metric, {})
                rows.append({"policy": name, "status": "ok", "mean": m.get("weighted"), "mean_tick": m.get("mean"),
                             "worst": m.get("worst"), "retrains": s.get("retrains"), "cpu_seconds": s.get("cpu_seconds"),
                             "train_seconds": s.get("train_seconds"), "rows_trained": s.get("rows_trained"),
                             "cost": s.get("cost"), "wall_seconds": s.get("wall_seconds"), "error": None})
            else:
                rows.append({"policy": name, "status": "failed", "error": self.errors.get(name, "")})
        return pd.DataFrame(rows)


def collect(source, title: str | None = None) -> ReportData:
    """A SweepResult, a BacktestResult, or a directory saved by either, as ReportData."""
    if isinstance(source, SweepResult):
        order = list(source.order) or sorted(set(source.results) | set(source.errors))
        return ReportData(title or _title_of(source.path, "sweep"), order, dict(source.results), dict(source.errors),
                          source.path)
    if isinstance(source, BacktestResult):
        name = source.summary.get("settings", {}).get("policy") or "backtest"
        return ReportData(title or "backtest", [name], {name: source})
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if not os.path.isdir(path):
            raise RaytrainError(f"No results at {path!r}: give a directory written by result.save(), "
                                f"rt.sweep(..., out=) or `raytrain run --out`.")
        if os.path.exists(os.path.join(path, SUMMARY_FILE)):
            data = collect(BacktestResult.load(path), title or _title_of(path, "backtest"))
            data.source = path
            return data
        sweep = SweepResult.load(path)
        if not sweep.results and not sweep.errors:
            raise RaytrainError(f"{path!r} holds no saved backtest or sweep (no summary.json in it or in its "
                                f"sub-directories). Point at the --out directory of a run.")
        return collect(sweep, title or _title_of(path, "sweep"))
    raise ConfigError(f"report() takes a SweepResult, a BacktestResult or a directory; got {type(source).__name__}.")


def _title_of(path, default: str) -> str:
    return os.path.basename(os.path.normpath(path)) if path else default
