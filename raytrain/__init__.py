"""raytrain: backtest ML retraining policies on data streams, on Ray.

    import raytrain as rt
    stream = rt.Stream.from_pandas(df, time="sched_dep", label="late", label_time="arrived")
    result = rt.backtest([Training, Serving], stream, tick="1D", warmup="30D")
"""

from raytrain.component import Component, refresh
from raytrain.errors import (ComponentError, ConfigError, HookError, RaytrainError, RefreshError,
                             StreamError)
from raytrain.history import History
from raytrain.metrics import Metric
from raytrain.result import BacktestResult, load
from raytrain.runtime import backtest
from raytrain.stream import Stream

__version__ = "0.1.0"

__all__ = [
    "Component", "refresh", "Stream", "History", "backtest", "BacktestResult", "load", "Metric",
    "RaytrainError", "StreamError", "ConfigError", "RefreshError", "ComponentError", "HookError",
]
