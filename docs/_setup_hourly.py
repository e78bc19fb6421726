"""A pipeline and an hourly stream for the fragments of docs/policies.md (tests/test_docs.py runs it first).

An abrupt-drift SEA stream: one event a minute for 100 hours, labels known 30 minutes later.
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


stream = rt.Stream.from_pandas(sea(n=6_000, seed=0, label_delay="30min"), time="time", label="y",
                               label_time="label_time", inputs=FEATURES)
