"""The pipeline, stream and policies shared by the simulated-cluster script and its test (not a test).

Every serving component instance (one per backtest that starts) writes one line per tick to its own
file under ``record_dir``: the Ray node it runs on and the simulated time, so a test can tell where each
backtest ran and how many started.
"""

import os
import time
import uuid

import numpy as np

import raytrain as rt
from raytrain.datasets import sea

X = ["x0", "x1", "x2"]
SETTINGS = dict(tick="6h", warmup="2D")


def fit_threshold(data) -> float:
    """The SEA concept is y = 1 iff x0 + x1 <= theta: pick the theta that fits the rows best (fast, numpy)."""
    s, y = (data["x0"] + data["x1"]).to_numpy(), data["y"].to_numpy()
    thetas = np.linspace(0.0, 20.0, 81)
    return float(thetas[int(np.argmax([np.mean((s <= t) == y) for t in thetas]))])


def predict(theta: float, batch) -> np.ndarray:
    return ((batch["x0"] + batch["x1"]).to_numpy() <= theta).astype(np.int64)


def stream() -> rt.Stream:
    df = sea(n=3_000, seed=4, freq="10min", label_delay="30min")
    return rt.Stream.from_pandas(df, time="time", label="y", label_time="label_time", inputs=X)


def policies() -> dict:
    return {"never": rt.Never(), "on_drop": rt.MetricBelow("accuracy", 0.85, last=300),
            **rt.grid(rt.Every, duration=["2D", "4D", "7D"]), "every_1000": rt.Every(events=1000)}


def pipeline(record_dir, sleep_s: float = 0.0) -> list:
    record_dir = str(record_dir)

    class Training(rt.Component):
        def run(self, data):
            return fit_threshold(data)

    class Serving(rt.Component):
        def run(self, batch, model):
            if sleep_s:
                time.sleep(sleep_s)
            return predict(model, batch)

        def after_run(self):
            import ray

            if not hasattr(self, "_record"):
                self._record = os.path.join(record_dir, f"serving-{uuid.uuid4().hex}.txt")
            with open(self._record, "a") as f:
                f.write(f"{ray.get_runtime_context().get_node_id()} {self.now.value}\n")

    return [Training, Serving]


def backtests_started(record_dir) -> list:
    """[(node id, ticks served)] per serving instance that started."""
    out = []
    for name in sorted(os.listdir(record_dir)):
        if name.startswith("serving-"):
            lines = open(os.path.join(record_dir, name)).read().split("\n")
            lines = [line.split() for line in lines if line.strip()]
            if lines:
                out.append((lines[0][0], len(lines)))
    return out
