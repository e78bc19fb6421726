"""Abrupt drift with a known date: does each policy retrain when it should, and only then?

A synthetic SEA stream (one event a minute, labels known 30 minutes later) whose concept flips twice,
at a third and at two thirds of the stream: a quarter of the input space changes its label. Because
the drift times are known, the table can say what real data never can: how long each policy took to
react to each drift, and how many retrains it spent while nothing changed.

The pipeline is two lines: rt.sklearn_pipeline wraps a logistic regression in a training and a serving
component. Each policy is its own backtest, run concurrently on Ray by rt.sweep.

Run:  python examples/drift_synthetic.py            (30,000 events, about three weeks)
      python examples/drift_synthetic.py --fast     (6,000 events)
"""

from __future__ import annotations

import argparse

import pandas as pd
from sklearn.linear_model import LogisticRegression

import raytrain as rt
from raytrain.datasets import sea

FEATURES = ["x0", "x1", "x2"]


def policies(period: str) -> dict:
    return {
        "never": rt.Never(),
        f"every {period}": rt.Every(period),
        "accuracy < 0.8": rt.MetricBelow("accuracy", 0.8, last=300).with_cooldown("6h"),
        "ADWIN": rt.ErrorDrift("adwin").with_cooldown("6h"),
        "Page-Hinkley": rt.ErrorDrift("page_hinkley").with_cooldown("6h"),
    }


def reaction(result: rt.BacktestResult, drifts: list) -> list:
    """Minutes from each drift to the first retrain decided after it (None: no retrain before the next)."""
    times = result.retrains["time"][result.retrains["trigger"] != "warmup"]
    out = []
    for i, drift in enumerate(drifts):
        end = drifts[i + 1] if i + 1 < len(drifts) else pd.Timestamp.max
        after = times[(times >= drift) & (times < end)]
        out.append(None if after.empty else int((after.iloc[0] - drift) / pd.Timedelta("1min")))
    return out


def main(argv=None) -> rt.SweepResult:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fast", action="store_true", help="a shorter stream (6,000 events)")
    parser.add_argument("--out", default=None, help="save every result under this directory (resumable)")
    parser.add_argument("--address", default=None, help="Ray cluster address (default: a local Ray)")
    args = parser.parse_args(argv)

    df = sea(n=6_000 if args.fast else 30_000, drift_at=(1 / 3, 2 / 3), seed=0, freq="1min", label_delay="30min")
    drifts = df.attrs["drift_points"]
    stream = rt.Stream.from_pandas(df, time="time", label="y", label_time="label_time", inputs=FEATURES)
    print(stream)
    print("drifts at", ", ".join(str(d) for d in drifts))

    pipeline = rt.sklearn_pipeline(LogisticRegression(), features=FEATURES)
    sweep = rt.sweep(pipeline, stream, policies("12h" if args.fast else "2D"), tick="1h", warmup="6h",
                     window=rt.Sliding("6h"), out=args.out, address=args.address)

    t = sweep.table()
    rows = {}
    for name in t.index:                       # in the order the policies were given
        if name not in sweep.results:
            rows[name] = {"mean accuracy": f"failed: {sweep.errors[name]}"}
            continue
        result = sweep.results[name]
        retrains = result.retrains[result.retrains["trigger"] != "warmup"]
        rows[name] = {"mean accuracy": f"{t.loc[name, 'accuracy']:.4f}",
                      "worst hour": f"{t.loc[name, 'accuracy_worst']:.4f}",
                      "retrains": len(retrains), "before drift 1": int((retrains["time"] < drifts[0]).sum())}
        for i, minutes in enumerate(reaction(result, drifts)):
            rows[name][f"drift {i + 1} -> retrain"] = "-" if minutes is None else f"{minutes} min"
    print(f"\nbest: {sweep.best()}")
    print(pd.DataFrame.from_dict(rows, orient="index").to_string())
    return sweep


if __name__ == "__main__":
    main()
