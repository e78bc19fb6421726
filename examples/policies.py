"""Which retraining policy? Five of them on the real flights year and on an abrupt-drift stream.

Never, Every("30D"), MetricBelow, FeatureDrift and ADWIN (River) run as one sweep per stream — one
backtest each, concurrently on Ray — and a table per stream shows the event-weighted mean metric, the
worst tick, the retrains and the compute they cost.

Run:  python examples/policies.py [--fast] [--out DIR]
"""

from __future__ import annotations

import argparse

import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression

import raytrain as rt
from raytrain.datasets import FLIGHT_FEATURES, load_flights, sea

SEA_FEATURES = ["x0", "x1", "x2"]


class FlightTraining(rt.Component):
    name = "Training"

    def run(self, data):
        model = HistGradientBoostingClassifier(max_iter=40, random_state=0)
        return model.fit(data[FLIGHT_FEATURES], data["late"])


class FlightServing(rt.Component):
    name = "Serving"

    def run(self, batch, model):
        return model.predict(batch[FLIGHT_FEATURES])


class SeaTraining(rt.Component):
    name = "Training"

    def run(self, data):
        return LogisticRegression().fit(data[SEA_FEATURES], data["y"])


class SeaServing(rt.Component):
    name = "Serving"

    def run(self, batch, model):
        return model.predict(batch[SEA_FEATURES])


def policies(period: str, last: int, features: list) -> dict:
    return {
        "never": rt.Never(),
        f"every {period}": rt.Every(period),
        "accuracy drop": rt.MetricBelow("accuracy", 0.75, last=last).with_cooldown(period),
        "feature drift": rt.FeatureDrift(features, test="ks").with_cooldown(period),
        "ADWIN": rt.ErrorDrift("adwin").with_cooldown(period),
    }


def table(sweep: rt.SweepResult) -> pd.DataFrame:
    t = sweep.table()
    return pd.DataFrame({
        "mean accuracy": t["accuracy"], "worst tick": t["accuracy_worst"], "retrains": t["retrains"],
        "compute s": t["cpu_seconds"], "status": t["status"]})


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fast", action="store_true", help="smaller streams, for a quick look")
    parser.add_argument("--out", default=None, help="save every result under this directory (resumable)")
    parser.add_argument("--address", default=None, help="Ray cluster address (default: a local Ray)")
    args = parser.parse_args(argv)

    flights = load_flights(n_rows=80_000 if args.fast else None)
    flights_stream = rt.Stream.from_pandas(flights, time="sched_dep", label="late", label_time="arrived",
                                           inputs=FLIGHT_FEATURES)
    drift = sea(n=20_000 if args.fast else 100_000, seed=0, freq="1min", label_delay="30min")
    drift_at = drift.attrs["drift_points"][0]
    drift_stream = rt.Stream.from_pandas(drift, time="time", label="y", label_time="label_time", inputs=SEA_FEATURES)

    runs = {
        "flights (daily ticks, labels at arrival)": rt.sweep(
            [FlightTraining, FlightServing], flights_stream, policies("30D", 2000, ["temp", "wind_speed", "visib", "hour"]),
            tick="1D", warmup="30D", out=args.out and f"{args.out}/flights", address=args.address),
        f"SEA abrupt drift at {drift_at} (hourly ticks)": rt.sweep(
            [SeaTraining, SeaServing], drift_stream, policies("2D", 500, SEA_FEATURES),
            tick="1h", warmup="6h", window=rt.Sliding("1D"), out=args.out and f"{args.out}/sea", address=args.address),
    }
    for title, sweep in runs.items():
        print(f"\n{title}: best = {sweep.best()}")
        print(table(sweep).to_string(float_format=lambda v: f"{v:.4f}"))
    return runs


if __name__ == "__main__":
    main()
