"""Sweep scaling: 32 policies on the flights year with 1 and with 2 CPUs.

Each policy retrains a StandardScaler + LogisticRegression on a schedule (Every 5D .. 36D), daily ticks.
Baselines measured in the same run: the work itself as a hand-written pandas loop per policy, one after
another in one process and spread over two processes (no Ray: what this machine's two cores give two
independent jobs, the ceiling for any speed-up), the same 32 backtests in a plain loop of rt.backtest,
and the same policies as Ray Tune trials (each trial runs the hand loop).
All of them use one BLAS/OpenMP thread per process, as Ray's workers do (OMP_NUM_THREADS=1), so that
1 CPU means one core. Per-backtest overhead = (sweep wall with 1 CPU - the hand loops' total) / 32.

    python benchmarks/sweep_scaling.py [--policies 32] [--first-days 5] [--no-tune]
"""

from __future__ import annotations

import argparse
import multiprocessing
import shutil
import tempfile
import time

import numpy as np
import pandas as pd
import ray
from threadpoolctl import threadpool_limits

import raytrain as rt
from raytrain.datasets import FLIGHT_FEATURES, load_flights

from overhead import LogregTraining, Serving, hand_loop


def _one_thread():
    threadpool_limits(1)


def _hand(args):
    df, period = args
    return hand_loop(df, "logreg", True, every=period)


def hand_loops(df, periods, processes: int) -> tuple:
    """The hand loops for every period, in ``processes`` worker processes of one thread each."""
    start = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(processes, initializer=_one_thread) as pool:
        accs = pool.map(_hand, [(df, p) for p in periods], chunksize=1)
    return time.perf_counter() - start, accs


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--policies", type=int, default=32)
    parser.add_argument("--first-days", type=int, default=5, help="the shortest period; policies go up by a day")
    parser.add_argument("--no-tune", action="store_true", help="skip the Ray Tune baseline")
    args = parser.parse_args(argv)
    df = load_flights()
    stream = rt.Stream.from_pandas(df, time="sched_dep", label="late", label_time="arrived", inputs=FLIGHT_FEATURES)
    periods = [pd.Timedelta(days=d) for d in range(args.first_days, args.first_days + args.policies)]
    policies = {f"every {p.days}D": rt.Every(p) for p in periods}

    walls = {}
    hand_s, accs = hand_loops(df, periods, 1)
    hand = dict(zip(policies, accs))
    walls["hand loops, 1 process"] = hand_s
    walls["hand loops, 2 processes"], accs2 = hand_loops(df, periods, 2)
    assert all(np.allclose(a, b, equal_nan=True) for a, b in zip(accs, accs2))
    print(f"hand-written loops, {len(periods)} policies: {hand_s:.1f}s in one process (the work itself), "
          f"{walls['hand loops, 2 processes']:.1f}s in two", flush=True)

    for cpus in (1, 2):
        ray.init(address="local", num_cpus=cpus, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
        # Start-up, not timed: as many warm slots as the sweep runs at once (as a session that ran a backtest
        # or a sweep before has)
        warm = {f"warm-up {i}": rt.Never() for i in range(cpus)}
        rt.sweep([LogregTraining, Serving], stream, warm, tick="1D", warmup="30D", max_concurrent=cpus, verbose=False)
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
        if not args.no_tune:
            from tune_baseline import tune_sweep  # needs ray[tune]: pip install -e ".[bench]"

            walls[f"Ray Tune trials, {cpus} CPU"], tuned = tune_sweep(df, periods, cpus)
            for name, acc in zip(policies, tuned.values()):
                assert np.allclose(acc, hand[name], equal_nan=True), name
        ray.shutdown()

    print(f"{'run':28s} {'wall':>8s} {'per policy':>11s}")
    for name, wall in walls.items():
        print(f"{name:28s} {wall:7.1f}s {wall / len(periods):10.2f}s")
    ceiling = walls["hand loops, 1 process"] / walls["hand loops, 2 processes"]
    speedup = walls["rt.sweep, 1 CPU"] / walls["rt.sweep, 2 CPU"]
    overhead = (walls["rt.sweep, 1 CPU"] - hand_s) / len(periods)
    print(f"speed-up 2 vs 1 CPU: rt.sweep {speedup:.2f}x; the machine's own for two processes of hand loops "
          f"{ceiling:.2f}x")
    if not args.no_tune:
        print(f"Ray Tune: {walls['Ray Tune trials, 1 CPU'] / walls['Ray Tune trials, 2 CPU']:.2f}x; "
              f"rt.sweep vs Tune with 2 CPUs: {walls['Ray Tune trials, 2 CPU'] / walls['rt.sweep, 2 CPU']:.2f}x faster")
    print(f"per-backtest overhead beyond the work: {1000 * overhead:.0f} ms (sweep 1 CPU "
          f"{walls['rt.sweep, 1 CPU']:.1f}s - hand loops {hand_s:.1f}s, / {len(periods)}); every policy's "
          f"metrics equal its hand loop's")


if __name__ == "__main__":
    main()
