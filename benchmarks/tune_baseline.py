"""Ray Tune baseline for the sweep-scaling benchmark: the same policies as trials of a Ray Tune grid search.

What a user without raytrain would write to run the sweep in parallel on Ray: each policy Every(period) is one
Tune trial (1 CPU) whose function trainable runs the hand-written loop `hand_loop(df, "logreg", True,
every=period)` of benchmarks/overhead.py (the semantics raytrain's backtest is checked against there) and
reports its mean accuracy, its per-tick accuracies (so the caller can compare them with raytrain's) and its
own compute seconds. The DataFrame goes to the object store once (`tune.with_parameters`); at most `cpus`
trials run at once and trial actors are reused (`reuse_actors=True`). Ray must already be running (the
caller's `ray.init(address="local", num_cpus=cpus, ...)`); one tiny trial is run first, not timed, then the
wall time of `tuner.fit()` alone is measured. That warm-up cannot take away every start-up cost: each fit()
starts its own trial actors (new worker processes), and the first trial on each begins ~2-5 s after fit() does;
later trials on a reused actor follow the previous one ~50-80 ms after it ends.

Needs Ray Tune's own dependencies; `ray[default]` has all but tensorboardX, without which Tune only skips
its TensorBoard logger (`pip install "ray[tune]==2.60.*"` adds it).

    python benchmarks/tune_baseline.py [--policies 32] [--first-days 1] [--cpus 1 2] [--check]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import ray
from ray import tune

if str(Path(__file__).resolve().parent) not in sys.path:  # overhead.py, also when imported from elsewhere
    sys.path.insert(0, str(Path(__file__).resolve().parent))

import overhead  # noqa: E402
from overhead import hand_loop  # noqa: E402

WARMUP_DAYS = 35  # the untimed warm-up trial replays the first 35 days only (30 of them warm-up)


def _ship_by_value():
    """Trial actors cannot import this folder's modules: send overhead.py (and this module, when imported
    rather than run) by value, as functions of a driver script are (see RAY_NOTES, "No module named ...")."""
    import ray.cloudpickle as cloudpickle

    for module in (overhead, sys.modules[__name__]):
        if module.__name__ != "__main__":
            try:
                cloudpickle.register_pickle_by_value(module)
            except ValueError:  # already registered
                pass


def _trial(config, df):
    """One Tune trial: one policy's hand-written loop; reports the per-tick accuracies once, at the end."""
    if config.get("days"):
        t0 = df["sched_dep"].iloc[0].floor("1D")
        df = df[df["sched_dep"] < t0 + pd.Timedelta(days=config["days"])]
    started, start = time.time(), time.perf_counter()
    accs = hand_loop(df, "logreg", True, every=pd.Timedelta(days=config["period_days"]))
    tune.report({"accuracy": float(np.nanmean(accs)), "accuracies": accs.tolist(),
                 "trial_seconds": time.perf_counter() - start, "started": started, "ended": time.time()})


def _fit(trainable, days_list, cpus, extra=None):
    """A Tuner over Every(d) for d in days_list; returns (wall seconds of fit(), ResultGrid, fit()'s start epoch)."""
    storage = tempfile.mkdtemp(prefix="raytrain-tune-")
    try:
        tuner = tune.Tuner(
            tune.with_resources(trainable, {"cpu": 1}),
            param_space={"period_days": tune.grid_search(list(days_list)), **(extra or {})},
            tune_config=tune.TuneConfig(max_concurrent_trials=cpus, reuse_actors=True),
            run_config=tune.RunConfig(name="tune_baseline", storage_path=storage, verbose=0),
        )
        # verbose=0 still prints the experiment's header box with Tune's new output engine: swallow stdout
        with contextlib.redirect_stdout(io.StringIO()):
            fit_started, start = time.time(), time.perf_counter()
            results = tuner.fit()
            wall = time.perf_counter() - start
    finally:
        shutil.rmtree(storage, ignore_errors=True)
    errors = [str(r.error) for r in results if r.error is not None]
    if errors or len(results) != len(days_list):
        raise RuntimeError(f"{len(errors)} of {len(results)} Tune trials failed: {errors[:3]}")
    return wall, results, fit_started


def _tune_sweep(df: pd.DataFrame, periods, cpus: int) -> dict:
    """tune_sweep, with the details: wall, accuracies, per-trial compute seconds, put and warm-up seconds, and
    spans: (actor pid, start, end) of each trial's hand loop in seconds since fit() began."""
    if not ray.is_initialized():
        raise RuntimeError('start Ray first: ray.init(address="local", num_cpus=cpus, ...)')
    _ship_by_value()
    days = [pd.Timedelta(p).days for p in periods]
    if any(pd.Timedelta(days=d) != pd.Timedelta(p) for d, p in zip(days, periods)):
        raise ValueError(f"periods must be whole days: {periods}")
    start = time.perf_counter()
    trainable = tune.with_parameters(_trial, df=df)  # one ray.put of the DataFrame, shared by every trial
    put_s = time.perf_counter() - start
    start = time.perf_counter()
    _fit(trainable, days[:1], cpus, {"days": WARMUP_DAYS})  # start-up, not timed
    warmup_s = time.perf_counter() - start
    wall, results, fit_started = _fit(trainable, days, cpus)
    accs, trial_s, spans = {}, {}, []
    for r in results:
        name = f"every {r.config['period_days']}D"
        accs[name] = np.asarray(r.metrics["accuracies"], dtype=float)
        trial_s[name] = r.metrics["trial_seconds"]
        spans.append((r.metrics["pid"], r.metrics["started"] - fit_started, r.metrics["ended"] - fit_started))
    order = [f"every {d}D" for d in days]
    return {"wall": wall, "accuracies": {n: accs[n] for n in order}, "trial_seconds": {n: trial_s[n] for n in order},
            "spans": spans, "put_seconds": put_s, "warmup_seconds": warmup_s}


def tune_sweep(df: pd.DataFrame, periods, cpus: int) -> tuple[float, dict[str, np.ndarray]]:
    """Run Every(period) for each period as a Ray Tune trial over the hand-written loop, `cpus` at a time.

    Ray must already be started (with num_cpus=cpus). Returns the wall seconds of `tuner.fit()` and, per
    policy name ("every 20D", as in sweep_scaling.py), the per-tick accuracy array of its hand loop.
    Raises RuntimeError if any trial failed.
    """
    out = _tune_sweep(df, periods, cpus)
    return out["wall"], out["accuracies"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--policies", type=int, default=32)
    parser.add_argument("--first-days", type=int, default=1, help="the shortest period; policies go up by a day")
    parser.add_argument("--cpus", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--check", action="store_true",
                        help="also run the hand loops in this process and check every trial's accuracies equal them")
    args = parser.parse_args(argv)
    from raytrain.datasets import load_flights

    df = load_flights()
    periods = [pd.Timedelta(days=d) for d in range(args.first_days, args.first_days + args.policies)]
    hand = None
    if args.check:
        start = time.perf_counter()
        hand = {f"every {p.days}D": hand_loop(df, "logreg", True, every=p) for p in periods}
        print(f"hand-written loops, {len(periods)} policies one after another: {time.perf_counter() - start:.1f}s")

    rows = []
    for cpus in args.cpus:
        start = time.perf_counter()
        ray.init(address="local", num_cpus=cpus, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
        init_s = time.perf_counter() - start
        try:
            out = _tune_sweep(df, periods, cpus)
        finally:
            ray.shutdown()
        if hand is not None:
            for name, acc in hand.items():
                assert np.allclose(out["accuracies"][name], acc, equal_nan=True), name
        busy = sum(out["trial_seconds"].values())
        rows.append((cpus, out["wall"], busy))
        spans = sorted(out["spans"], key=lambda s: s[1])
        gaps = []  # from one hand loop's end to the next one's start on the same trial actor
        for pid in {s[0] for s in spans}:
            mine = [s for s in spans if s[0] == pid]
            gaps += [nxt[1] - cur[2] for cur, nxt in zip(mine, mine[1:])]
        print(f"{cpus} CPU: ray.init {init_s:.1f}s, put DataFrame {1000 * out['put_seconds']:.0f} ms, "
              f"warm-up trial {out['warmup_seconds']:.1f}s (not timed); {len(periods)} trials finished without "
              f"error, their own compute {busy:.1f}s in all ({busy / len(periods):.2f}s per trial)")
        print(f"  in fit(): first hand loop began at {spans[0][1]:.2f}s, the last ended {out['wall'] - max(s[2] for s in spans):.2f}s "
              f"before fit() returned; {len({s[0] for s in spans})} trial actor(s); between two trials on one actor "
              f"{1000 * np.mean(gaps) if gaps else float('nan'):.0f} ms on average")

    print(f"{'run':28s} {'wall':>8s} {'per policy':>11s} {'overhead/trial':>15s}")
    for cpus, wall, busy in rows:
        # Tune's own cost per trial: the slots' time not spent in the hand loops, spread over the trials
        over = (cpus * wall - busy) / len(periods)
        print(f"{f'Ray Tune, {cpus} CPU':28s} {wall:7.1f}s {wall / len(periods):10.2f}s {1000 * over:13.0f} ms")
    if hand is not None:
        print("every trial's per-tick accuracies equal its hand loop's")


if __name__ == "__main__":
    main()
