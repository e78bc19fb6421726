"""Sweep scaling: 32 policies on the flights year with 1 and with 2 CPUs.

Each policy retrains a StandardScaler + LogisticRegression on a schedule (Every 5D .. 36D), daily ticks.
Baselines measured in the same run: the work itself as a hand-written pandas loop per policy, one after
another in one process and spread over two processes (no Ray: what this machine's two cores give two
independent jobs, the ceiling for any speed-up), the same 32 backtests in a plain loop of rt.backtest,
and the same policies as Ray Tune trials (each trial runs the hand loop).
All of them use one BLAS/OpenMP thread per process, as Ray's workers do (OMP_NUM_THREADS=1), so that
1 CPU means one core. The machine's speed drifts over minutes, so the per-backtest overhead comes from
rt.backtest and the hand loop taking turns, policy by policy ((sum of backtests - sum of hand loops) /
32), and the speed-up from a 2-CPU sweep against the mean of two 1-CPU sweeps, one before and one after.

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

    # This machine's speed drifts by 10-20% over minutes, so the figures are taken so that drift cancels:
    # the per-backtest overhead from rt.backtest and the hand loop taking turns, policy by policy; the
    # speed-up from a 2-CPU sweep between two 1-CPU sweeps (their mean against it).
    for phase, cpus in enumerate((1, 2, 1)):
        ray.init(address="local", num_cpus=cpus, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
        # Start-up, not timed: as many warm slots as the sweep runs at once (as a session that ran a backtest
        # or a sweep before has)
        warm = {f"warm-up {i}": rt.Never() for i in range(cpus)}
        rt.sweep([LogregTraining, Serving], stream, warm, tick="1D", warmup="30D", max_concurrent=cpus, verbose=False)
        if phase == 0:
            paired_hand = paired_rt = 0.0
            for name, period in zip(policies, periods):
                with threadpool_limits(1):
                    start = time.perf_counter()
                    hand_loop(df, "logreg", True, every=period)
                    paired_hand += time.perf_counter() - start
                start = time.perf_counter()
                res = rt.backtest([LogregTraining, Serving], stream, tick="1D", warmup="30D", policy=policies[name],
                                  progress=False)
                paired_rt += time.perf_counter() - start
                assert np.allclose(res.metrics["accuracy"], hand[name], equal_nan=True), name
            walls["hand loops, in turns with:"] = paired_hand
            walls["plain loop of rt.backtest"] = paired_rt
        if phase == 0 and not args.no_tune:
            tune(walls, df, periods, cpus, policies, hand)
        label = f"rt.sweep, {cpus} CPU" + (", again" if phase == 2 else "")
        out = tempfile.mkdtemp(prefix="raytrain-sweep-")
        start = time.perf_counter()
        sweep = rt.sweep([LogregTraining, Serving], stream, policies, tick="1D", warmup="30D", out=out,
                         max_concurrent=cpus, verbose=False)
        walls[label] = time.perf_counter() - start
        shutil.rmtree(out)
        assert not sweep.errors, sweep.errors
        for name, acc in hand.items():
            assert np.allclose(sweep[name].metrics["accuracy"], acc, equal_nan=True), name
        if phase == 1 and not args.no_tune:
            tune(walls, df, periods, cpus, policies, hand)
        ray.shutdown()

    n = len(periods)
    print(f"{'run':28s} {'wall':>8s} {'per policy':>11s}")
    for name, wall in walls.items():
        print(f"{name:28s} {wall:7.1f}s {wall / n:10.2f}s")
    ceiling = walls["hand loops, 1 process"] / walls["hand loops, 2 processes"]
    one_cpu = (walls["rt.sweep, 1 CPU"] + walls["rt.sweep, 1 CPU, again"]) / 2
    speedup = one_cpu / walls["rt.sweep, 2 CPU"]
    print(f"speed-up 2 vs 1 CPU: rt.sweep {speedup:.2f}x (2-CPU sweep against the mean of the 1-CPU sweeps "
          f"before and after it, {one_cpu:.1f}s); the machine's own for two processes of hand loops {ceiling:.2f}x")
    if not args.no_tune:
        print(f"Ray Tune: {walls['Ray Tune trials, 1 CPU'] / walls['Ray Tune trials, 2 CPU']:.2f}x; "
              f"rt.sweep vs Tune with 2 CPUs: {walls['Ray Tune trials, 2 CPU'] / walls['rt.sweep, 2 CPU']:.2f}x faster")
    paired = (walls["plain loop of rt.backtest"] - walls["hand loops, in turns with:"]) / n
    print(f"per-backtest overhead beyond the work: {1000 * paired:.0f} ms (rt.backtest and the hand loop in turns, "
          f"policy by policy: {walls['plain loop of rt.backtest']:.1f}s - {walls['hand loops, in turns with:']:.1f}s, "
          f"/ {n}); the sweep against that loop of rt.backtest: {walls['rt.sweep, 1 CPU'] / walls['plain loop of rt.backtest']:.2f}x "
          f"(1 CPU); every policy's metrics equal its hand loop's")


def tune(walls, df, periods, cpus, policies, hand):
    from tune_baseline import tune_sweep  # needs ray[tune]: pip install -e ".[bench]"

    walls[f"Ray Tune trials, {cpus} CPU"], tuned = tune_sweep(df, periods, cpus)
    for name, acc in zip(policies, tuned.values()):
        assert np.allclose(acc, hand[name], equal_nan=True), name

if __name__ == "__main__":
    main()
