"""raytrain: backtest ML retraining policies on data streams, on Ray.

    import raytrain as rt
    stream = rt.Stream.from_pandas(df, time="sched_dep", label="late", label_time="arrived")
    result = rt.backtest([Training, Serving], stream, tick="1D", warmup="30D")
"""

from raytrain.component import Component, refresh
from raytrain.costs import Cost, Latency
from raytrain.errors import (ComponentError, ConfigError, HookError, RaytrainError, RefreshError,
                             StreamError)
from raytrain.history import History
from raytrain.metrics import Metric
from raytrain.policies import (AllOf, AnyOf, Budget, Cooldown, ErrorDrift, Every, EveryLabels, FeatureDrift,
                               MetricAbove, MetricBelow, Never, Policy, PolicyView)
from raytrain.result import BacktestResult, load
from raytrain.report import report
from raytrain.runtime import backtest, sweep
from raytrain.stream import Stream
from raytrain.evaluation import EvaluationMatrix
from raytrain.runtime.matrix import evaluation_matrix
from raytrain.sweeps import SweepResult, grid
from raytrain.windows import Expanding, Sliding
from raytrain.components import SklearnServing, SklearnTraining, sklearn_pipeline

__version__ = "0.1.0"

__all__ = [
    "Component", "refresh", "Stream", "History", "backtest", "BacktestResult", "load", "Metric",
    "RaytrainError", "StreamError", "ConfigError", "RefreshError", "ComponentError", "HookError",
    "Policy", "PolicyView", "AnyOf", "AllOf", "Never", "Every", "EveryLabels", "MetricBelow", "MetricAbove",
    "FeatureDrift", "ErrorDrift", "Cooldown", "Budget", "Expanding", "Sliding", "Latency", "Cost",
    "sweep", "grid", "SweepResult",
    "report",
    "evaluation_matrix", "EvaluationMatrix",
    "SklearnTraining", "SklearnServing", "sklearn_pipeline",
]
