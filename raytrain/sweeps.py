"""Sweeps without Ray: parameter grids of policies, and the table of a finished sweep.

    policies = rt.grid(rt.MetricBelow, metric="accuracy", threshold=[0.70, 0.75], last=[500, 2000])
    sweep = rt.sweep([Training, Serving], stream, policies={"never": rt.Never(), **policies})
    sweep.table()          # one row per policy: mean / weighted / worst metric, retrains, compute, status
    sweep.best("accuracy") # the name of the best finished policy
"""

from __future__ import annotations

import itertools
import json
import os
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from raytrain.errors import ConfigError, RaytrainError
from raytrain.result import BacktestResult

__all__ = ["grid", "SweepResult", "ERROR_FILE"]

ERROR_FILE = "error.json"


def grid(policy_cls, **params) -> dict:
    """Every combination of the listed parameter values, as {readable name: policy}.

    >>> from raytrain.policies import Every
    >>> sorted(grid(Every, duration=["7D", "30D"]))
    ["Every('30D')", "Every('7D')"]
    """
    if not params:
        raise ConfigError("grid() needs at least one parameter, e.g. grid(rt.Every, duration=['7D', '30D']).")
    names, values = list(params), [v if isinstance(v, (list, tuple)) else [v] for v in params.values()]
    out = {}
    for combo in itertools.product(*values):
        policy = policy_cls(**dict(zip(names, combo)))
        out[repr(policy)] = policy
    return out


@dataclass
class SweepResult:
    """Every policy's result (or error), keyed by policy name, and where they are saved."""

    results: dict = field(default_factory=dict)   # name -> BacktestResult
    errors: dict = field(default_factory=dict)    # name -> error text
    path: str | None = None
    wall_seconds: float = 0.0
    order: list = field(default_factory=list)     # policy names in the order given

    def __repr__(self) -> str:
        return (f"SweepResult({len(self.results)} finished, {len(self.errors)} failed, "
                f"wall {self.wall_seconds:.1f}s{', saved in ' + repr(self.path) if self.path else ''})")

    def __getitem__(self, name: str) -> BacktestResult:
        if name in self.errors:
            raise RaytrainError(f"Policy {name!r} failed: {self.errors[name]}")
        return self.results[name]

    def table(self) -> pd.DataFrame:
        """One row per policy: status, per-metric mean / weighted / worst, retrains, compute and cost."""
        rows = []
        for name in self.order or sorted(set(self.results) | set(self.errors)):
            if name in self.results:
                s = self.results[name].summary
                row = {"policy": name, "status": "ok"}
                for metric, v in s["metrics"].items():
                    row.update({f"{metric}": v["weighted"], f"{metric}_mean_tick": v["mean"], f"{metric}_worst": v["worst"]})
                row.update(retrains=s["retrains"], train_seconds=s["train_seconds"], cpu_seconds=s["cpu_seconds"],
                           rows_trained=s["rows_trained"], cost=s.get("cost"), wall_seconds=s["wall_seconds"], error=None)
            else:
                row = {"policy": name, "status": "failed", "error": self.errors.get(name)}
            rows.append(row)
        return pd.DataFrame(rows).set_index("policy")

    def best(self, metric: str | None = None, mode: str | None = None) -> str:
        """The name of the finished policy with the best event-weighted ``metric``."""
        if not self.results:
            raise RaytrainError("No policy finished; there is no best one. See .errors for why they failed.")
        any_result = next(iter(self.results.values()))
        metric = metric or any_result.summary["metric_names"][0]
        if metric not in any_result.summary["metrics"]:
            raise ConfigError(f"Unknown metric {metric!r}; this sweep measured {any_result.summary['metric_names']}.")
        higher = any_result.summary["metrics"][metric]["higher_is_better"] if mode is None else mode == "max"
        scores = {n: r.summary["metrics"][metric]["weighted"] for n, r in self.results.items()}
        scores = {n: v for n, v in scores.items() if not np.isnan(v)}
        return (max if higher else min)(scores, key=scores.get)

    @classmethod
    def load(cls, path) -> "SweepResult":
        """Read every policy saved under ``path`` (one sub-directory each)."""
        path = os.fspath(path)
        if not os.path.isdir(path):
            raise RaytrainError(f"No sweep directory at {path!r}.")
        out = cls(path=path)
        index = os.path.join(path, "sweep.json")
        order = json.load(open(index))["policies"] if os.path.exists(index) else sorted(os.listdir(path))
        for name_dir in order:
            d = os.path.join(path, safe_dirname(name_dir)) if os.path.exists(index) else os.path.join(path, name_dir)
            if os.path.exists(os.path.join(d, "summary.json")):
                out.results[name_dir] = BacktestResult.load(d)
            elif os.path.exists(os.path.join(d, ERROR_FILE)):
                out.errors[name_dir] = json.load(open(os.path.join(d, ERROR_FILE)))["error"]
        out.order = [n for n in order if n in out.results or n in out.errors]
        return out


def safe_dirname(name: str) -> str:
    """A directory name for a policy name: readable, filesystem-safe, distinct for distinct names."""
    import hashlib
    import re

    clean = re.sub(r"[^A-Za-z0-9._=,-]+", "_", name).strip("_")[:80] or "policy"
    if clean != name:
        clean += "-" + hashlib.sha1(name.encode()).hexdigest()[:8]
    return clean
