"""Runtime overhead of raytrain.backtest against a hand-written pandas loop, same data, same semantics.

The flights year (327k events), daily ticks, 30-day warm-up. Two models:
  trivial  predicts the majority class of its training data (so the runtime is all there is)
  logreg   scikit-learn StandardScaler + LogisticRegression, retrained every 30 days
Ray start-up is reported separately; each figure is the best of --repeat runs, loop and raytrain
taking turns. The hand loop uses one BLAS thread, as Ray's workers do (OMP_NUM_THREADS=1).

    python benchmarks/overhead.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
import ray
from threadpoolctl import threadpool_limits
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import raytrain as rt
from raytrain.datasets import FLIGHT_FEATURES, load_flights

X = ["hour", "distance", "temp", "wind_speed", "dow", "month", "carrier_code"]
EVERY = pd.Timedelta("30D")


def fit(kind, data):
    if kind == "trivial":
        return float(data["late"].mean() > 0.5)
    return make_pipeline(StandardScaler(), LogisticRegression()).fit(data[X], data["late"])


def predict(model, batch):
    if isinstance(model, float):
        return np.full(len(batch), model)
    return model.predict(batch[X])


class Training(rt.Component):
    kind = "trivial"

    def run(self, data):
        return fit(self.kind, data)


class LogregTraining(Training):
    name = "Training"
    kind = "logreg"


class Serving(rt.Component):
    def run(self, batch, model):
        return predict(model, batch)


class EveryServing(Serving):
    name = "Serving"
    last = None

    def before_run(self):
        self.last = self.last or self.now    # the first scored tick starts when warm-up ends

    def after_run(self):
        if self.now - self.last >= EVERY:
            self.last = self.now
            rt.refresh("Training", "every 30 days")


def hand_loop(df: pd.DataFrame, kind: str, retrain: bool, every: pd.Timedelta = EVERY) -> np.ndarray:
    """The semantics of docs/semantics.md written out directly, in one process: per-tick accuracy."""
    t = df["sched_dep"].to_numpy("datetime64[ns]").view("int64")
    lt = df["arrived"].to_numpy("datetime64[ns]").view("int64")
    y = df["late"].to_numpy()
    day = pd.Timedelta("1D").value
    t0 = pd.Timestamp(t[0]).floor("1D").value
    n_ticks = (t[-1] - t0) // day + 1
    bounds = np.searchsorted(t, t0 + day * np.arange(n_ticks + 1))
    warm = 30
    model = fit(kind, df.iloc[np.flatnonzero(lt[: bounds[warm]] < t0 + warm * day)])
    last, accs = t0 + warm * day, []
    for k in range(warm, n_ticks):
        a, b = bounds[k], bounds[k + 1]
        out = predict(model, df.iloc[a:b])
        accs.append(np.mean(out == y[a:b]) if b > a else np.nan)
        now = t0 + (k + 1) * day
        if retrain and now - last >= every.value:
            last = now
            model = fit(kind, df.iloc[np.flatnonzero(lt[:b] < now)])
    return np.asarray(accs)


@ray.remote(num_cpus=0)
class Echo:
    def call(self, x=None):
        return x


def round_trip_ms(n=300) -> float:
    """One actor call waited for before the next: the floor under every step a backtest cannot pipeline
    (set-up, each training run, the serve call that deploys its model)."""
    echo = Echo.remote()
    ray.get(echo.call.remote())
    start = time.perf_counter()
    for _ in range(n):
        ray.get(echo.call.remote())
    ray.kill(echo)
    return 1000 * (time.perf_counter() - start) / n


def best_of(repeat, fn):
    times, out = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), out


def interleaved(repeat, hand, runtime):
    """Best of ``repeat`` for each, the two taking turns: this machine's speed drifts over seconds, and
    turns expose both to the same drift."""
    hand_times, rt_times, hand_out, rt_out = [], [], None, None
    for _ in range(repeat):
        with threadpool_limits(1):  # one BLAS thread, as in Ray's workers (OMP_NUM_THREADS=1)
            start = time.perf_counter()
            hand_out = hand()
            hand_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        rt_out = runtime()
        rt_times.append(time.perf_counter() - start)
    return (min(hand_times), hand_out), (min(rt_times), rt_out)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)

    df = load_flights()
    stream = rt.Stream.from_pandas(df, time="sched_dep", label="late", label_time="arrived", inputs=FLIGHT_FEATURES)
    start = time.perf_counter()
    ray.init(address="local", include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    print(f"Ray start-up: {time.perf_counter() - start:.2f}s (not counted below)")
    for trainer, server in ((Training, Serving), (LogregTraining, EveryServing)):  # warm the worker pool
        rt.backtest([trainer, server], stream, tick="1D", warmup="30D")  # and its imports (scikit-learn)
    print(f"one actor round trip on this machine: {round_trip_ms():.2f} ms (the floor per unpipelined step)")

    print(f"{'case':32s} {'hand loop':>10s} {'raytrain':>10s} {'ratio':>7s} {'ms/tick rt':>11s}  agree")
    for kind, retrain in (("trivial", False), ("trivial", True), ("logreg", False), ("logreg", True)):
        trainer = Training if kind == "trivial" else LogregTraining
        server = EveryServing if retrain else Serving
        (hand_s, accs), (rt_s, result) = interleaved(
            args.repeat, lambda: hand_loop(df, kind, retrain),
            lambda: rt.backtest([trainer, server], stream, tick="1D", warmup="30D"))
        agree = np.allclose(result.metrics["accuracy"].to_numpy(), accs, equal_nan=True)
        label = f"{kind}, {'every 30 days' if retrain else 'never retrain'}"
        print(f"{label:32s} {hand_s:9.2f}s {rt_s:9.2f}s {rt_s / hand_s:6.2f}x {1000 * rt_s / len(accs):10.2f}  {agree}")
    for tick in ("6h", "1h"):
        rt_s, result = best_of(args.repeat, lambda: rt.backtest([Training, Serving], stream, tick=tick, warmup="30D"))
        print(f"trivial, tick={tick:4s} ({len(result.metrics)} ticks){'':4s} {'':>10s} {rt_s:9.2f}s {'':>7s} "
              f"{1000 * rt_s / len(result.metrics):10.2f}")
    ray.shutdown()


if __name__ == "__main__":
    main()
