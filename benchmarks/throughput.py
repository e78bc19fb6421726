"""End-to-end throughput on a synthetic stream: raytrain.backtest vs River's progressive validation.

10 million SEA events (abrupt concept drift), ticks of 100,000 events, a cheap vectorised model (a
threshold on x0 + x1 fitted on the training rows), retrained every 1,000,000 events. River's
evaluate.progressive_val_score with an online logistic regression runs on a prefix of the same
stream (it is row by row), and its events/s is extrapolated from that prefix.

    python benchmarks/throughput.py [--events 10000000] [--river-events 200000] [--shards 1 2]

Shards are measured twice: with the cheap model (a tick's run takes well under a millisecond, so the
round trip to a replica costs more than it saves) and with a costlier one (~0.6 us per event).
"""

from __future__ import annotations

import argparse
import os
import resource
import time

import numpy as np
import ray

import raytrain as rt
from raytrain.datasets import sea


class Training(rt.Component):
    def run(self, data):
        s = (data["x0"] + data["x1"]).to_numpy()
        y = data["y"].to_numpy()
        grid = np.quantile(s, np.linspace(0.05, 0.95, 37))
        return float(grid[np.argmax([np.mean((s <= g) == y) for g in grid])])


class Serving(rt.Component):
    def run(self, batch, model):
        return ((batch["x0"].to_numpy() + batch["x1"].to_numpy()) <= model).astype(np.int64)


class HeavyServing(rt.Component):
    """A costlier model to serve (~0.7 us per event: 64 random tanh features of x0..x2, then the same
    threshold), where splitting each tick across shards pays for the extra round trip."""

    name = "Serving"

    def run(self, batch, model):
        x = batch[["x0", "x1", "x2"]].to_numpy()
        w = np.random.default_rng(0).normal(size=(3, 64))
        h = np.tanh(x @ w) @ np.full(64, 1e-9)
        return ((batch["x0"].to_numpy() + batch["x1"].to_numpy() + h) <= model).astype(np.int64)


def river_baseline(df, n):
    from river import evaluate, linear_model, metrics, preprocessing, stream

    X = df[["x0", "x1", "x2"]].iloc[:n]
    y = df["y"].iloc[:n].astype(bool)
    model = preprocessing.StandardScaler() | linear_model.LogisticRegression()
    start = time.perf_counter()
    evaluate.progressive_val_score(stream.iter_pandas(X, y), model, metrics.Accuracy())
    return n / (time.perf_counter() - start)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--river-events", type=int, default=200_000)
    parser.add_argument("--shards", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args(argv)

    t = time.perf_counter()
    df = sea(n=args.events, seed=0, freq="1s", label_delay="10min")
    df.attrs.clear()
    stream = rt.Stream.from_pandas(df, time="time", label="y", label_time="label_time", inputs=["x0", "x1", "x2"])
    arrow_mb = stream.table.nbytes / 1e6
    print(f"stream: {len(stream):,} events, {arrow_mb:.0f} MB as Arrow (built in {time.perf_counter() - t:.1f}s)")
    ray.init(address="local", include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    # warm the pool with as many actors as the largest shard count needs (worker start-up is not replay)
    rt.backtest([Training, Serving], stream, tick=100_000, warmup=100_000, shards=max(args.shards), progress=False)

    river = river_baseline(df, args.river_events)
    print(f"{'run':28s} {'wall':>8s} {'events/s':>14s} {'vs River':>9s}")
    print(f"{'River progressive_val_score':28s} {'':>8s} {river:14,.0f} {'1.0x':>9s}")
    for shards in args.shards:
        start = time.perf_counter()
        r = rt.backtest([Training, Serving], stream, tick=100_000, warmup=100_000, shards=shards,
                        policy=rt.Every(events=1_000_000), window=rt.Sliding(rows=500_000), progress=False)
        wall = time.perf_counter() - start
        rate = r.summary["events"] / wall
        print(f"{'raytrain, shards=' + str(shards):28s} {wall:7.2f}s {rate:14,.0f} {rate / river:8.0f}x   "
              f"(accuracy {r.summary['metrics']['accuracy']['weighted']:.4f}, {r.summary['retrains']} retrains)")
    for shards in args.shards:
        start = time.perf_counter()
        r = rt.backtest([Training, HeavyServing], stream, tick=100_000, warmup=100_000, shards=shards,
                        policy=rt.Every(events=1_000_000), window=rt.Sliding(rows=500_000), progress=False)
        wall = time.perf_counter() - start
        rate = r.summary["events"] / wall
        print(f"{'heavier model, shards=' + str(shards):28s} {wall:7.2f}s {rate:14,.0f} {rate / river:8.0f}x   "
              f"(accuracy {r.summary['metrics']['accuracy']['weighted']:.4f}, {r.summary['retrains']} retrains)")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3
    print(f"driver peak RSS {peak_mb:.0f} MB (stream {arrow_mb:.0f} MB as Arrow); pid {os.getpid()}")
    ray.shutdown()


if __name__ == "__main__":
    main()
