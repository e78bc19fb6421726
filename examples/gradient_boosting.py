"""A gradient-boosting model (LightGBM) on the flights year, under four retraining policies.

LightGBM's scikit-learn API (LGBMClassifier) drops into rt.sklearn_pipeline like any estimator: each
training run fits a fresh clone on the flights whose outcome is known at the simulated now. The sweep
compares never retraining, a monthly schedule, an accuracy trigger and a weather-drift trigger, and
prints the table a practitioner chooses from: accuracy, worst day, retrains and what they cost.

LightGBM is in the `examples` extra: pip install -e ".[examples]".

Run:  python examples/gradient_boosting.py          (the whole year)
      python examples/gradient_boosting.py --fast   (the first 60,000 flights)
"""

from __future__ import annotations

import argparse

import pandas as pd
from lightgbm import LGBMClassifier

import raytrain as rt
from raytrain.datasets import FLIGHT_FEATURES, load_flights

# One thread per model: Ray already runs one backtest per CPU. deterministic + force_col_wise make
# every fit give the same trees, so the backtest's retrains and metrics repeat exactly.
MODEL = LGBMClassifier(n_estimators=80, learning_rate=0.1, num_leaves=31, n_jobs=1, random_state=0,
                       deterministic=True, force_col_wise=True, verbose=-1)


def main(argv=None) -> rt.SweepResult:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fast", action="store_true", help="replay only the first 60,000 flights")
    parser.add_argument("--out", default=None, help="save every result under this directory (resumable)")
    parser.add_argument("--address", default=None, help="Ray cluster address (default: a local Ray)")
    args = parser.parse_args(argv)

    flights = load_flights(n_rows=60_000 if args.fast else None)
    stream = rt.Stream.from_pandas(flights, time="sched_dep", label="late", label_time="arrived",
                                   inputs=FLIGHT_FEATURES)
    print(stream)
    period = "14D" if args.fast else "30D"
    sweep = rt.sweep(rt.sklearn_pipeline(MODEL), stream, policies={
        "never": rt.Never(),
        f"every {period}": rt.Every(period),
        "accuracy < 0.75": rt.MetricBelow("accuracy", 0.75, last=2000).with_cooldown(period),
        "weather drift": rt.FeatureDrift(["temp", "wind_speed", "visib"]).with_cooldown(period),
    }, tick="1D", warmup="30D", cost=rt.Cost(per_retrain=1.0), out=args.out, address=args.address)

    t = sweep.table()
    print(f"\n{sweep}; best: {sweep.best()}")
    print(pd.DataFrame({"mean accuracy": t["accuracy"], "worst day": t["accuracy_worst"],
                        "retrains": t["retrains"], "CPU s": t["cpu_seconds"], "rows trained": t["rows_trained"],
                        "status": t["status"]}).to_string(float_format=lambda v: f"{v:.4f}"))
    return sweep


if __name__ == "__main__":
    main()
