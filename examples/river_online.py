"""An online River model against a scikit-learn model retrained on a schedule, on the same drifting stream.

Online learning is the other answer to "when should I retrain?": never retrain, learn from every label
as it arrives. Here it is one serving component and no training component. Its River model predicts
each tick's events in `run`, and `after_run` — at the end of the tick, when more labels have become
visible — feeds it each newly known (inputs, label) pair once, in the order the labels arrived
(`self.history.known_order`). Nothing it learns from is in the simulated future: the history masks
labels that are not yet known.

A pipeline without a training component has no model to deploy and nothing to refresh (see
docs/semantics.md): the component serves the warm-up ticks too (unscored, but its hooks run, so the
River model learns from the warm-up's labels), no policy can be given, and the retrains table holds no
row. Its learning happens inside the serving actor, so its cost shows in the wall time, not in the
measured training seconds.

The stream: SEA with abrupt drifts at a third and two thirds (one event a minute, labels known 30
minutes later). The baselines: a scikit-learn logistic regression trained once, and the same retrained
every 6 hours on the last 6 hours of labels.

Run:  python examples/river_online.py            (30,000 events)
      python examples/river_online.py --fast     (6,000 events)
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
from river import compose, linear_model, optim, preprocessing
from sklearn.linear_model import LogisticRegression

import raytrain as rt
from raytrain.datasets import sea

FEATURES = ["x0", "x1", "x2"]


def make_online_model():
    """Standardised inputs, logistic regression by SGD with a constant step: it keeps adapting."""
    return compose.Pipeline(preprocessing.StandardScaler(),
                            linear_model.LogisticRegression(optimizer=optim.SGD(0.05)))


class OnlineServing(rt.Component):
    name = "Serving"
    river_model = None
    learned = 0                                  # how many visible labels the model has learned from

    def run(self, batch):                        # no training component: no model argument
        if self.river_model is None:
            self.river_model = make_online_model()
        X = batch[FEATURES]
        return np.array([bool(self.river_model.predict_one(x)) for x in X.to_dict("records")], dtype=np.int64)

    def after_run(self):                         # labels that became visible this tick: learn each once
        new = self.history.known_order[self.learned:]
        if len(new) == 0 or self.river_model is None:
            return
        inputs = self.history.inputs[new][FEATURES].to_dict("records")
        for x, y in zip(inputs, self.history.labels[new]):
            self.river_model.learn_one(x, bool(y))
        self.learned += len(new)


def between_drifts(result: rt.BacktestResult, drifts: list) -> float:
    """Event-weighted accuracy on the ticks between the two drifts, where the concept is not the warm-up's."""
    m = result.metrics
    inside = (m["start"] >= drifts[0]) & (m["end"] <= drifts[1])
    return float((m["accuracy"][inside] * m["events"][inside]).sum() / m["events"][inside].sum())


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fast", action="store_true", help="a shorter stream (6,000 events)")
    parser.add_argument("--address", default=None, help="Ray cluster address (default: a local Ray)")
    args = parser.parse_args(argv)

    df = sea(n=6_000 if args.fast else 30_000, drift_at=(1 / 3, 2 / 3), seed=0, freq="1min", label_delay="30min")
    drifts = df.attrs["drift_points"]
    stream = rt.Stream.from_pandas(df, time="time", label="y", label_time="label_time", inputs=FEATURES)
    print(stream)
    settings = dict(tick="1h", warmup="6h", address=args.address)

    batch_pipeline = rt.sklearn_pipeline(LogisticRegression(), features=FEATURES)
    results = {
        "sklearn, trained once": rt.backtest(batch_pipeline, stream, **settings),
        "sklearn, every 6h": rt.backtest(batch_pipeline, stream, policy=rt.Every("6h"), window=rt.Sliding("6h"),
                                         **settings),
        "river, online": rt.backtest([OnlineServing], stream, **settings),
    }
    rows = {}
    for name, r in results.items():
        s = r.summary
        rows[name] = {"mean accuracy": s["metrics"]["accuracy"]["weighted"],
                      "worst hour": s["metrics"]["accuracy"]["worst"],
                      "between drifts": between_drifts(r, drifts),
                      "retrains": s["retrains"], "training s": s["train_seconds"], "wall s": s["wall_seconds"]}
    print("\n" + pd.DataFrame.from_dict(rows, orient="index").to_string(float_format=lambda v: f"{v:.4f}"))
    return results


if __name__ == "__main__":
    main()
