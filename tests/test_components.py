"""The ready-made scikit-learn components: what they fit and serve, on Ray, and their errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier

import raytrain as rt
from raytrain.datasets import sea

FEATURES = ["x0", "x1", "x2"]


@pytest.fixture(scope="module")
def sea_df():
    return sea(n=3_000, seed=0, label_delay="30min")


def stream_of(df, **kw):
    return rt.Stream.from_pandas(df, time="time", label="y", label_time="label_time", **kw)


def test_pipeline_matches_hand_written_components(ray_session, sea_df):
    """The factory's classes, shipped to Ray workers by value, behave like the two classes a user writes."""

    class Training(rt.Component):
        def run(self, data):
            return LogisticRegression().fit(data[FEATURES], data["y"])

    class Serving(rt.Component):
        def run(self, batch, model):
            return model.predict(batch[FEATURES])

    stream = stream_of(sea_df, inputs=FEATURES)
    kw = dict(tick="6h", warmup="6h", policy=rt.Every("12h"))
    ours = rt.backtest(rt.sklearn_pipeline(LogisticRegression()), stream, **kw)
    theirs = rt.backtest([Training, Serving], stream, **kw)
    pd.testing.assert_frame_equal(ours.metrics, theirs.metrics)
    assert list(ours.retrains["rows"]) == list(theirs.retrains["rows"])
    assert list(ours.retrains["trigger"]) == ["warmup"] + ["policy Every('12h')"] * (len(ours.retrains) - 1)
    assert ours.summary["retrains"] == 4      # what the docstring example shows


def test_defaults_fit_every_input_and_serve_what_the_model_was_fitted_on(ray_session, sea_df):
    stream = stream_of(sea_df[["time", "x0", "x1", "y", "label_time"]])
    Training, Serving = rt.sklearn_pipeline(DecisionTreeClassifier(max_depth=3, random_state=0))
    assert (Training.name, Serving.name, Training.features, Serving.features) == ("Training", "Serving", None, None)
    result = rt.backtest([Training, Serving], stream, tick="6h", warmup="6h")
    explicit = rt.backtest(rt.sklearn_pipeline(DecisionTreeClassifier(max_depth=3, random_state=0),
                                               features=["x0", "x1"], label="y"), stream, tick="6h", warmup="6h")
    pd.testing.assert_frame_equal(result.metrics, explicit.metrics)
    assert result.summary["metrics"]["accuracy"]["weighted"] > 0.7


def test_proba_serves_probabilities(ray_session, sea_df):
    pipeline = rt.sklearn_pipeline(LogisticRegression(), features=FEATURES, proba=True)
    result = rt.backtest(pipeline, stream_of(sea_df), tick="6h", warmup="6h", metric="log_loss")
    assert 0 < result.summary["metrics"]["log_loss"]["weighted"] < 0.6


def test_subclasses_add_hooks_and_keep_the_names(ray_session, sea_df):
    class Training(rt.SklearnTraining):
        estimator = LogisticRegression()
        features = FEATURES

    class Serving(rt.SklearnServing):
        next_at = 1000

        def after_run(self):
            if len(self.history) >= self.next_at:
                self.next_at += 1000
                rt.refresh("Training", "every 1,000 events")

    result = rt.backtest([Training, Serving], stream_of(sea_df), tick="6h", warmup="6h")
    assert len(result.retrains) == 3      # 2,640 events served: at 1,000 and 2,000
    assert set(result.retrains["trigger"][1:]) == {"Serving.after_run"}


def test_class_names_carry_the_configuration():
    """A sweep's resume fingerprint includes the classes' qualified names: another estimator, another sweep."""
    a, b = rt.sklearn_pipeline(LogisticRegression(C=1.0)), rt.sklearn_pipeline(LogisticRegression(C=0.5))
    assert a[0].__qualname__ != b[0].__qualname__ and "C=0.5" in b[0].__qualname__
    assert "predict_proba" in rt.sklearn_pipeline(LogisticRegression(), proba=True)[1].__qualname__


def test_each_training_run_fits_a_fresh_clone():
    estimator = LogisticRegression()
    Training, _ = rt.sklearn_pipeline(estimator, features=["a"])
    data = pd.DataFrame({"t": pd.date_range("2024", periods=4, freq="1h"), "a": [0.0, 1.0, 2.0, 3.0],
                         "label": [0, 0, 1, 1], "label_time": pd.date_range("2024", periods=4, freq="1h")})
    model = Training().run(data)
    assert model is not estimator and not hasattr(estimator, "coef_")
    np.testing.assert_array_equal(model.predict(data[["a"]]), [0, 0, 1, 1])


def test_errors_say_what_to_do():
    with pytest.raises(rt.ConfigError, match="scikit-learn-style estimator with fit"):
        rt.sklearn_pipeline("LogisticRegression")
    with pytest.raises(rt.ConfigError, match="features must be a list of column names"):
        rt.sklearn_pipeline(LogisticRegression(), features=[1, 2])
    with pytest.raises(rt.ConfigError, match="estimator must have a fit method"):
        type("T", (rt.SklearnTraining,), {"estimator": object()})
    with pytest.raises(rt.ConfigError, match="has no estimator"):
        rt.SklearnTraining().run(pd.DataFrame({"t": [], "x": [], "y": [], "lt": []}))
    with pytest.raises(rt.ConfigError, match="no training component before it"):
        rt.SklearnServing().run(pd.DataFrame({"t": [], "x": []}), None)
    Training, _ = rt.sklearn_pipeline(LogisticRegression(), features=["nope"])
    with pytest.raises(rt.ConfigError, match=r"asked to fit on \['nope'\]"):
        Training().run(pd.DataFrame({"t": [1], "x": [1.0], "y": [0], "lt": [1]}))


def test_serving_without_a_trainer_is_a_clear_error(ray_session, sea_df):
    with pytest.raises(rt.RaytrainError, match="no training component before it"):
        rt.backtest([rt.sklearn_pipeline(LogisticRegression())[1]], stream_of(sea_df), tick="6h", warmup="6h")
