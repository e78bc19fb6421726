"""Sweep scaling: 32 policies on the flights year with 1 and with 2 CPUs.

Each policy retrains a StandardScaler + LogisticRegression on a schedule (Every 1D .. 32D), daily ticks.
Baselines measured in the same run: the same 32 backtests one after another in a plain loop of
rt.backtest, and the work itself as a hand-written pandas loop per policy (one process, no Ray).
Per-backtest overhead = (sweep wall with 1 CPU - the hand loops' total) / 32.

    python benchmarks/sweep_scaling.py [--policies 32] [--first-days 1]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time

import numpy as np
import pandas as pd
import ray

import raytrain as rt
from raytrain.datasets import FLIGHT_FEATURES, load_flights

from overhead import LogregTraining, Serving, hand_loop


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--policies", type=int, default=32)
    parser.add_argument("--first-days", type=int, default=1, help="the shortest period; policies go up by a day")
    args = parser.parse_args(argv)
    df = load_flights()
    stream = rt.Stream.from_pandas(df, time="sched_dep", label="late", label_time="arrived", inputs=FLIGHT_FEATURES)
    periods = [pd.Timedelta(days=d) for d in range(args.first_days, args.first_days + args.policies)]
    policies = {f"every {p.days}D": rt.Every(p) for p in periods}

    start = time.perf_counter()
    hand = {f"every {p.days}D": hand_loop(df, "logreg", True, every=p) for p in periods}
    hand_s = time.perf_counter() - start
    print(f"hand-written loops, {len(periods)} policies one after another: {hand_s:.1f}s (the work itself)")

    walls = {}
    for cpus in (1, 2):
        ray.init(address="local", num_cpus=cpus, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
        rt.backtest([LogregTraining, Serving], stream, tick="1D", warmup="30D", progress=False)  # start-up, not timed
        if cpus == 1:
            start = time.perf_counter()
            loop = {n: rt.backtest([LogregTraining, Serving], stream, tick="1D", warmup="30D", policy=p, progress=False)
                    for n, p in policies.items()}
            walls["plain loop of rt.backtest"] = time.perf_counter() - start
        out = tempfile.mkdtemp(prefix="raytrain-sweep-")
        start = time.perf_counter()
        sweep = rt.sweep([LogregTraining, Serving], stream, policies, tick="1D", warmup="30D", out=out,
                         max_concurrent=cpus, verbose=False)
        walls[f"rt.sweep, {cpus} CPU"] = time.perf_counter() - start
        shutil.rmtree(out)
        assert not sweep.errors, sweep.errors
        for name, acc in hand.items():
            assert np.allclose(sweep[name].metrics["accuracy"], acc, equal_nan=True), name
        ray.shutdown()

    print(f"{'run':28s} {'wall':>8s} {'per policy':>11s}")
    for name, wall in walls.items():
        print(f"{name:28s} {wall:7.1f}s {wall / len(periods):10.2f}s")
    speedup = walls["rt.sweep, 1 CPU"] / walls["rt.sweep, 2 CPU"]
    overhead = (walls["rt.sweep, 1 CPU"] - hand_s) / len(periods)
    print(f"speed-up 2 vs 1 CPU: {speedup:.2f}x; per-backtest overhead beyond the work: {1000 * overhead:.0f} ms "
          f"(sweep 1 CPU {walls['rt.sweep, 1 CPU']:.1f}s - hand loops {hand_s:.1f}s, / {len(periods)}); "
          f"every policy's metrics equal its hand loop's")


if __name__ == "__main__":
    main()
