"""A sweep declared for the command line: `raytrain run examples/sweep_file.py --out out/sweep_file`.

An abrupt-drift stream (SEA concepts, drift at mid-stream, labels known 30 minutes after each event),
a logistic regression retrained on the last day of labels, and three policies. The command line reads
the names below; nothing here starts Ray.
"""

import raytrain as rt
from raytrain.datasets import sea
from sklearn.linear_model import LogisticRegression

FEATURES = ["x0", "x1", "x2"]


class Training(rt.Component):
    def run(self, data):
        return LogisticRegression().fit(data[FEATURES], data["y"])


class Serving(rt.Component):
    def run(self, batch, model):
        return model.predict(batch[FEATURES])


def make_stream() -> rt.Stream:
    df = sea(n=4_000, drift_at=(0.5,), seed=0, freq="1min", label_delay="30min")
    return rt.Stream.from_pandas(df, time="time", label="y", label_time="label_time", inputs=FEATURES)


PIPELINE = [Training, Serving]
STREAM = make_stream
POLICIES = {
    "never": rt.Never(),
    "every 12h": rt.Every("12h"),
    "accuracy drop": rt.MetricBelow("accuracy", 0.8, last=300).with_cooldown("6h"),
}
SETTINGS = {"tick": "1h", "warmup": "6h", "window": rt.Sliding("1D"), "cost": rt.Cost(per_retrain=0.5)}
