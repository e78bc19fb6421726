"""Ready-made components around any scikit-learn-style estimator, for a backtest in a few lines.

    Training, Serving = rt.sklearn_pipeline(LogisticRegression(), features=["x0", "x1", "x2"])
    result = rt.backtest([Training, Serving], stream, tick="1h", warmup="6h")

``SklearnTraining`` fits a fresh clone of its estimator at every training run; ``SklearnServing`` calls
``predict`` (or ``predict_proba``) of the deployed model on each tick's events. Subclass them to add
hooks or change the defaults; ``sklearn_pipeline`` builds the pair from arguments. Anything with
``fit`` / ``predict`` (XGBoost's and LightGBM's scikit-learn APIs, a ``Pipeline``) works.
"""

from __future__ import annotations

import copy

import numpy as np

from raytrain.component import Component
from raytrain.errors import ConfigError

__all__ = ["SklearnTraining", "SklearnServing", "sklearn_pipeline"]


class SklearnTraining(Component):
    """Fits a clone of ``estimator`` on the labeled rows visible at each training run.

    Class attributes: ``estimator`` (unfitted; it is cloned at each run, so runs never share state),
    ``features`` (the input columns to fit on; None: every input column of the stream) and ``label``
    (None: the stream's label). ``name`` is ``"Training"``, so ``rt.refresh("Training")`` retrains it.

    >>> from sklearn.linear_model import LogisticRegression
    >>> class Training(SklearnTraining):
    ...     estimator = LogisticRegression()
    ...     features = ["x0", "x1"]
    """

    name = "Training"
    role = "train"
    estimator = None
    features: list | None = None
    label: str | None = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.estimator is not None and not callable(getattr(cls.estimator, "fit", None)):
            raise ConfigError(
                f"{cls.__name__}.estimator must have a fit method (a scikit-learn-style estimator); got "
                f"{cls.estimator!r}.")
        cls.features = _column_list(cls.features, f"{cls.__name__}.features")

    def run(self, data):
        if self.estimator is None:
            raise ConfigError(
                f"{type(self).__name__} has no estimator. Set `estimator = LogisticRegression()` (any "
                f"scikit-learn-style estimator) on the class, or build it with rt.sklearn_pipeline(estimator).")
        # A training run's frame is [time, *inputs, label, label time] (docs/semantics.md), so the
        # defaults need no knowledge of the stream's column names.
        features = self.features or list(data.columns[1:-2])
        label = self.label or data.columns[-2]
        missing = [c for c in [*features, label] if c not in data.columns]
        if missing:
            raise ConfigError(
                f"{type(self).__name__} was asked to fit on {missing}, which the training rows do not have; "
                f"they have {list(data.columns)}. Pass inputs= to Stream.from_pandas with those columns, or "
                f"fix features= / label=.")
        return _fresh(self.estimator).fit(data[features], data[label])


class SklearnServing(Component):
    """Predicts with the deployed model on each tick's events: ``predict``, or with ``proba = True``
    the positive class's probability (``predict_proba(X)[:, 1]``, for binary classifiers).

    ``features``: the columns to predict from; None: those the model was fitted on
    (``feature_names_in_``) when it knows them, else every input column. ``name`` is ``"Serving"``.

    >>> class Serving(SklearnServing):
    ...     proba = True
    ...     def after_run(self):                  # add a trigger to the ready-made serving
    ...         pass
    """

    name = "Serving"
    role = "serve"
    features: list | None = None
    proba: bool = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.features = _column_list(cls.features, f"{cls.__name__}.features")

    def run(self, batch, model):
        if model is None:
            raise ConfigError(
                f"{type(self).__name__} got no model: the pipeline has no training component before it. "
                f"Put an rt.SklearnTraining (or any run(self, data) component) first.")
        features = self.features or _fitted_names(model) or list(batch.columns[1:])
        X = batch[features]
        if not self.proba:
            return model.predict(X)
        p = model.predict_proba(X)
        if p.ndim != 2 or p.shape[1] != 2:
            raise ConfigError(
                f"{type(self).__name__}.proba = True serves the positive class's probability of a binary "
                f"classifier, but predict_proba returned shape {p.shape}. Use proba=False, or a custom "
                f"serving component that returns one value per event.")
        return p[:, 1]


def sklearn_pipeline(estimator, features=None, label: str | None = None, proba: bool = False) -> list:
    """``[Training, Serving]``: component classes that fit ``estimator`` and serve its predictions.

    ``features``: input columns (None: all the stream's inputs); ``label``: the label column (None: the
    stream's label); ``proba``: serve ``predict_proba(X)[:, 1]`` instead of ``predict(X)`` (score it
    with ``metric="log_loss"`` or ``"roc_auc"``). Each training run fits a clone of ``estimator``.

    >>> import raytrain as rt
    >>> from raytrain.datasets import sea
    >>> from sklearn.linear_model import LogisticRegression
    >>> df = sea(n=3_000, seed=0, label_delay="30min")
    >>> stream = rt.Stream.from_pandas(df, time="time", label="y", label_time="label_time")
    >>> pipeline = rt.sklearn_pipeline(LogisticRegression(), features=["x0", "x1", "x2"])
    >>> result = rt.backtest(pipeline, stream, tick="6h", warmup="6h", policy=rt.Every("12h"))
    >>> result.summary["retrains"]          # every 12 hours after the warm-up model
    4
    """
    if not callable(getattr(estimator, "fit", None)):
        raise ConfigError(
            f"sklearn_pipeline needs a scikit-learn-style estimator with fit and predict; got {estimator!r}.")
    if not isinstance(proba, bool):
        raise ConfigError(f"proba must be True or False; got {proba!r}.")
    features = _column_list(features, "features")
    # Classes made here are not importable by name, so Ray ships them to its workers by value. Their
    # qualified names carry the configuration: a sweep resumed in the same out= directory with another
    # estimator must not reuse the saved results (its fingerprint includes the classes' names).
    fit_desc = " ".join(repr(estimator).split()) + ("" if features is None else f", features={features!r}")
    training = type("Training", (SklearnTraining,), {
        "__module__": __name__, "__qualname__": f"sklearn_pipeline.<locals>.Training[{fit_desc}]",
        "__doc__": f"Fits a clone of {estimator!r} at each training run.",
        "estimator": estimator, "features": features, "label": label})
    serving = type("Serving", (SklearnServing,), {
        "__module__": __name__,
        "__qualname__": f"sklearn_pipeline.<locals>.Serving[{'predict_proba' if proba else 'predict'}"
                        f"{'' if features is None else f', features={features!r}'}]",
        "__doc__": f"Serves {'predict_proba(X)[:, 1]' if proba else 'predict(X)'} of the deployed model.",
        "features": features, "proba": proba})
    return [training, serving]


def _column_list(columns, what: str) -> list | None:
    if columns is None:
        return None
    if isinstance(columns, str):
        return [columns]
    columns = list(columns)
    if not columns or not all(isinstance(c, str) for c in columns):
        raise ConfigError(f"{what} must be a list of column names (or None for every input); got {columns!r}.")
    return columns


def _fresh(estimator):
    """An unfitted copy: sklearn's clone when it applies, else a deep copy."""
    try:
        from sklearn.base import clone
    except ImportError:  # scikit-learn is an optional dependency; a deep copy is as fresh for other models
        return copy.deepcopy(estimator)
    return clone(estimator, safe=False)


def _fitted_names(model) -> list | None:
    names = getattr(model, "feature_names_in_", None)
    return None if names is None else [str(n) for n in np.asarray(names)]
