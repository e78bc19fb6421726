"""What a backtest returns: per-tick metrics, retrains, a summary; saved as Parquet + JSON.

    result.metrics    one row per scored tick: tick, start, end, events, version, <metric>...
    result.retrains   one row per training run: time, tick, component, trigger, reason, rows,
                      train_seconds, cpu_seconds, version, serves_from
    result.summary    dict: per metric mean / event-weighted mean / worst, retrains, compute, settings
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from raytrain.errors import RaytrainError

__all__ = ["BacktestResult", "load", "summarize"]

METRICS_FILE, RETRAINS_FILE, SUMMARY_FILE = "metrics.parquet", "retrains.parquet", "summary.json"


@dataclass
class BacktestResult:
    metrics: pd.DataFrame
    retrains: pd.DataFrame
    summary: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        s = self.summary
        parts = [f"{m}={s['metrics'][m]['weighted']:.4f}" for m in s.get("metric_names", [])]
        return (f"BacktestResult({s.get('ticks', len(self.metrics))} ticks, {', '.join(parts)}, "
                f"{s.get('retrains', len(self.retrains))} retrains, wall {s.get('wall_seconds', float('nan')):.2f}s)")

    def save(self, path) -> str:
        """Write metrics.parquet, retrains.parquet and summary.json into directory ``path``."""
        path = os.fspath(path)
        os.makedirs(path, exist_ok=True)
        # Each file appears whole or not at all, the summary last: an interrupted save reads as unsaved.
        self.metrics.to_parquet(_tmp(path, METRICS_FILE), index=False)
        os.replace(_tmp(path, METRICS_FILE), os.path.join(path, METRICS_FILE))
        self.retrains.to_parquet(_tmp(path, RETRAINS_FILE), index=False)
        os.replace(_tmp(path, RETRAINS_FILE), os.path.join(path, RETRAINS_FILE))
        with open(_tmp(path, SUMMARY_FILE), "w") as f:
            json.dump(self.summary, f, indent=2, default=_json_default)
        os.replace(_tmp(path, SUMMARY_FILE), os.path.join(path, SUMMARY_FILE))
        return path

    @classmethod
    def load(cls, path) -> "BacktestResult":
        path = os.fspath(path)
        files = [os.path.join(path, name) for name in (METRICS_FILE, RETRAINS_FILE, SUMMARY_FILE)]
        missing = [f for f in files if not os.path.exists(f)]
        if missing:
            raise RaytrainError(f"{path!r} is not a saved backtest: missing {missing}. Save one with result.save(path).")
        with open(files[2]) as f:
            summary = json.load(f)
        return cls(pd.read_parquet(files[0]), pd.read_parquet(files[1]), summary)

    def plot(self, metric: str | None = None, ax=None):
        """Metric over time with each retrain marked; returns the matplotlib Axes."""
        import matplotlib.pyplot as plt

        metric = metric or self.summary["metric_names"][0]
        if ax is None:
            _, ax = plt.subplots(figsize=(10, 3.5))
        ax.plot(self.metrics["start"], self.metrics[metric], lw=1, label=metric)
        retrains = self.retrains[self.retrains["trigger"] != "warmup"]
        for t in retrains["time"]:
            ax.axvline(t, color="tab:red", alpha=0.35, lw=0.8)
        ax.set_ylabel(metric)
        ax.set_title(f"{metric} per tick ({len(retrains)} retrains marked)")
        return ax


def load(path) -> BacktestResult:
    """Load a result saved with ``BacktestResult.save``."""
    return BacktestResult.load(path)


def summarize(metrics: pd.DataFrame, retrains: pd.DataFrame, metric_objs, settings: dict, wall_seconds: float) -> dict:
    out = {"metric_names": [m.name for m in metric_objs], "metrics": {}}
    scored = metrics[metrics["events"] > 0]
    weights = scored["events"].to_numpy(dtype=float)
    for m in metric_objs:
        values = scored[m.name].to_numpy(dtype=float)
        ok = ~np.isnan(values)
        out["metrics"][m.name] = {
            "mean": float(np.mean(values[ok])) if ok.any() else float("nan"),
            "weighted": float(np.average(values[ok], weights=weights[ok])) if ok.any() else float("nan"),
            "worst": float((np.min if m.higher_is_better else np.max)(values[ok])) if ok.any() else float("nan"),
            "higher_is_better": m.higher_is_better,
        }
    real = retrains[retrains["trigger"] != "warmup"] if len(retrains) else retrains
    out.update({
        "ticks": int(len(metrics)),
        "events": int(metrics["events"].sum()),
        "retrains": int(len(real)),
        "train_seconds": float(retrains["train_seconds"].sum()) if len(retrains) else 0.0,
        "cpu_seconds": float(retrains["cpu_seconds"].sum()) if len(retrains) else 0.0,
        "rows_trained": int(retrains["rows"].sum()) if len(retrains) else 0,
        "cost": float(retrains["cost"].sum()) if "cost" in retrains else None,
        "wall_seconds": float(wall_seconds),
        "settings": settings,
    })
    return out


def _tmp(path: str, name: str) -> str:
    return os.path.join(path, f".{name}.partial")


def _json_default(value):
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, (pd.Timestamp, pd.Timedelta)):
        return str(value)
    return str(value)
