"""The evaluation matrix: every candidate model scored on every tick it could serve. Pure, no Ray.

``rt.evaluation_matrix`` computes one on Ray (``raytrain.runtime.matrix``); this module holds what you do
with it: the hindsight oracle's frontier, each policy's regret, what-ifs for known schedules, a heatmap,
and saving it (Parquet + JSON).

    em = rt.evaluation_matrix([Training, Serving], stream, tick="1D", warmup="30D")
    em.oracle(10)                  # k -> the best event-weighted metric with at most k retrains
    em.regret(sweep)               # per policy: its metric, retrains, the oracle's with as many, regret
    em.what_if(["2013-03-01"])     # a schedule's metric read off the matrix, without training anything
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from raytrain.errors import ConfigError, RaytrainError
from raytrain.oracle import frontier, replay

__all__ = ["EvaluationMatrix"]

ROWS_FILE, TICKS_FILE, META_FILE = "rows.parquet", "ticks.parquet", "matrix.json"


@dataclass
class EvaluationMatrix:
    """M[i, t]: the metric of the model trained at candidate i, on tick t (NaN before it can serve).

    Row 0 is the warm-up model. Columns are every tick of the stream (warm-up ticks are NaN).
    ``candidate_ticks[i]``: the tick at whose end model i is trained (its training time is that tick's
    end); ``serve_from[i]``: the first tick it serves (training latency respected).
    """

    values: np.ndarray            # (candidates, ticks) float
    events: np.ndarray            # (ticks,) int
    candidate_ticks: np.ndarray   # (candidates,) int
    serve_from: np.ndarray        # (candidates,) int
    tick_starts: np.ndarray       # (ticks,) datetime64[ns]
    tick_ends: np.ndarray         # (ticks,) datetime64[ns]
    metric: str
    higher_is_better: bool = True
    mean_over_events: bool = True
    rows_trained: np.ndarray | None = None
    train_seconds: np.ndarray | None = None
    settings: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        m, n = self.values.shape
        return (f"EvaluationMatrix({m} candidates x {n} ticks, metric={self.metric!r}, "
                f"{'higher' if self.higher_is_better else 'lower'} is better)")

    @property
    def trained_at(self) -> np.ndarray:
        """When each candidate model is trained: the end of its candidate tick."""
        return self.tick_ends[self.candidate_ticks]

    def frame(self) -> pd.DataFrame:
        """The matrix as a DataFrame: one row per candidate (indexed by training time), one column per tick."""
        return pd.DataFrame(self.values, index=pd.DatetimeIndex(self.trained_at, name="trained_at"),
                            columns=pd.DatetimeIndex(self.tick_starts, name="tick_start"))

    # -- the oracle ------------------------------------------------------------------------------------
    def oracle(self, k_max: int) -> pd.DataFrame:
        """The frontier: for k = 0..k_max, the best metric with at most k retrains, and that schedule
        (``schedule``: retrain times; ``retrains``: how many it uses)."""
        sols = frontier(self.values, self.events, self.serve_from, k_max, first=0,
                        higher_is_better=self.higher_is_better)
        ends = pd.DatetimeIndex(self.trained_at)
        return pd.DataFrame({
            "k": [s.k for s in sols],
            "metric": [s.metric for s in sols],
            "retrains": [len(s.schedule) for s in sols],
            "schedule": [[ends[i] for i in s.schedule] for s in sols],
        })

    def what_if(self, retrain_times) -> float:
        """The event-weighted metric of retraining at exactly ``retrain_times`` (times at which a retrain
        is decided and trained: tick ends), read off the matrix. Equals a backtest with that schedule."""
        return replay(self.values, self.events, self._rows_of(retrain_times), self.serve_from, first=0)

    def regret(self, results) -> pd.DataFrame:
        """Per policy (a BacktestResult, a SweepResult or {name: result}): its metric, its retrains, the
        oracle's metric with as many retrains, and the regret (how much the oracle is better, >= 0), plus
        ``what_if``: the policy's own schedule read off the matrix (NaN when it retrained off-candidate)."""
        named = _named_results(results)
        if not named:
            raise ConfigError("regret() got no finished results to compare.")
        ks = {name: int(r.summary["retrains"]) for name, r in named.items()}
        front = self.oracle(max(ks.values())).set_index("k")
        rows = []
        for name, r in named.items():
            if self.metric not in r.summary["metrics"]:
                raise ConfigError(f"Result {name!r} has no metric {self.metric!r} (it has "
                                  f"{list(r.summary['metrics'])}); compute the matrix with the same metric.")
            value = float(r.summary["metrics"][self.metric]["weighted"])
            best = float(front.loc[ks[name], "metric"])
            real = r.retrains[r.retrains["trigger"] != "warmup"]
            try:
                what_if = self.what_if(pd.DatetimeIndex(real["time"]))
            except ConfigError:
                what_if = float("nan")
            rows.append({"policy": name, self.metric: value, "retrains": ks[name], "oracle": best,
                         "regret": (best - value) if self.higher_is_better else (value - best),
                         "what_if": what_if})
        return pd.DataFrame(rows).set_index("policy")

    def _rows_of(self, retrain_times) -> list:
        times = pd.DatetimeIndex(pd.to_datetime(list(retrain_times))).as_unit("ns").asi8  # pandas 3 parses to us
        trained = pd.DatetimeIndex(self.trained_at).asi8
        rows = []
        stream_end = int(pd.DatetimeIndex(self.tick_ends[-1:]).asi8[0])
        for t in times:
            if t == stream_end:  # a retrain at the end of the last tick never serves: it changes nothing
                continue
            hit = np.flatnonzero(trained[1:] == t)
            if len(hit) == 0:
                raise ConfigError(
                    f"No candidate model was trained at {pd.Timestamp(t)}: candidates are at tick ends "
                    f"{pd.Timestamp(trained[1]) if len(trained) > 1 else '-'} ... every "
                    f"{self.settings.get('every', '?')} tick(s). Compute the matrix with every=1 to replay any "
                    f"schedule.")
            rows.append(int(hit[0]) + 1)
        return rows

    # -- pictures ----------------------------------------------------------------------------------------
    def heatmap(self, path=None, ax=None):
        """The matrix as an image (model trained at i down, tick across); saved as PNG when ``path``."""
        import matplotlib
        if path is not None and ax is None:
            matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig = None
        if ax is None:
            fig, ax = plt.subplots(figsize=(8, 6))
        scored = slice(int(self.serve_from[0]), None)
        image = ax.imshow(self.values[:, scored], aspect="auto", interpolation="nearest",
                          cmap="viridis" if self.higher_is_better else "viridis_r")
        ax.figure.colorbar(image, ax=ax, label=self.metric)
        starts = pd.DatetimeIndex(self.tick_starts[scored])
        trained = pd.DatetimeIndex(self.trained_at)
        xt = np.linspace(0, len(starts) - 1, min(6, len(starts))).astype(int)
        yt = np.linspace(0, len(trained) - 1, min(6, len(trained))).astype(int)
        ax.set_xticks(xt, [starts[i].strftime("%Y-%m-%d") for i in xt], rotation=30, ha="right")
        ax.set_yticks(yt, [trained[i].strftime("%Y-%m-%d") for i in yt])
        ax.set_xlabel("tick scored")
        ax.set_ylabel("model trained at")
        ax.set_title(f"{self.metric} of the model trained at each candidate, on each later tick")
        if path is not None:
            ax.figure.tight_layout()
            ax.figure.savefig(os.fspath(path), dpi=100)
            if fig is not None:
                plt.close(fig)
        return ax

    # -- saving ------------------------------------------------------------------------------------------
    def save(self, path) -> str:
        """Write rows.parquet, ticks.parquet and matrix.json into directory ``path`` (no pickle)."""
        path = os.fspath(path)
        os.makedirs(path, exist_ok=True)
        n = len(self.candidate_ticks)
        rows = pa.table({
            "candidate_tick": pa.array(self.candidate_ticks, pa.int64()),
            "serve_from": pa.array(self.serve_from, pa.int64()),
            "rows_trained": pa.array(_or_nan(self.rows_trained, n), pa.float64()),
            "train_seconds": pa.array(_or_nan(self.train_seconds, n), pa.float64()),
            "values": pa.array(list(self.values), pa.list_(pa.float64())),
        })
        pq.write_table(rows, os.path.join(path, ROWS_FILE))
        pq.write_table(pa.table({"start": self.tick_starts, "end": self.tick_ends,
                                 "events": pa.array(self.events, pa.int64())}), os.path.join(path, TICKS_FILE))
        with open(os.path.join(path, META_FILE), "w") as f:
            json.dump({"metric": self.metric, "higher_is_better": self.higher_is_better,
                       "mean_over_events": self.mean_over_events, "settings": self.settings}, f, indent=2, default=str)
        return path

    @classmethod
    def load(cls, path) -> "EvaluationMatrix":
        path = os.fspath(path)
        files = [os.path.join(path, f) for f in (ROWS_FILE, TICKS_FILE, META_FILE)]
        missing = [f for f in files if not os.path.exists(f)]
        if missing:
            raise RaytrainError(f"{path!r} is not a saved evaluation matrix: missing {missing}. "
                                f"Save one with matrix.save(path).")
        rows, ticks = pq.read_table(files[0]), pq.read_table(files[1])
        with open(files[2]) as f:
            meta = json.load(f)
        values = np.array(rows.column("values").to_pylist(), dtype=float).reshape(rows.num_rows, ticks.num_rows)
        return cls(values, ticks.column("events").to_numpy(), rows.column("candidate_tick").to_numpy(),
                   rows.column("serve_from").to_numpy(),
                   ticks.column("start").to_numpy().astype("datetime64[ns]"),
                   ticks.column("end").to_numpy().astype("datetime64[ns]"),
                   meta["metric"], meta["higher_is_better"], meta["mean_over_events"],
                   rows.column("rows_trained").to_numpy(), rows.column("train_seconds").to_numpy(), meta["settings"])


def _or_nan(values, n):
    return np.full(n, np.nan) if values is None else np.asarray(values, dtype=float)


def _named_results(results) -> dict:
    from raytrain.result import BacktestResult
    from raytrain.sweeps import SweepResult

    if isinstance(results, BacktestResult):
        return {str(results.summary.get("settings", {}).get("policy") or "backtest"): results}
    if isinstance(results, SweepResult):
        return {name: results.results[name] for name in (results.order or results.results) if name in results.results}
    if isinstance(results, dict):
        return dict(results)
    raise ConfigError(f"regret() takes a BacktestResult, a SweepResult or {{name: result}}; got {type(results).__name__}.")
