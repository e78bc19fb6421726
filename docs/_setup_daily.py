"""What the fragments of docs/oracle.md and docs/report.md use (tests/test_docs.py runs it first).

A pipeline, a stream with daily ticks (an abrupt-drift SEA stream, one event every 20 minutes for 40 days,
labels known 2 hours later), a sweep saved in out/sweep with the settings the pages use (tick "1D",
warm-up "30D"), its evaluation matrix `em`, and retrain `times` to ask what-if about.
"""
import pandas as pd
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


_df = sea(n=40 * 72, drift_at=(0.85,), seed=0, freq="20min", label_delay="2h")
stream = rt.Stream.from_pandas(_df, time="time", label="y", label_time="label_time", inputs=FEATURES)
sweep = rt.sweep([Training, Serving], stream, policies={"never": rt.Never(), "every 3D": rt.Every("3D")},
                 tick="1D", warmup="30D", out="out/sweep")
em = rt.evaluation_matrix([Training, Serving], stream, tick="1D", warmup="30D", every=1)
times = [pd.Timestamp("2024-02-03"), pd.Timestamp("2024-02-06")]
