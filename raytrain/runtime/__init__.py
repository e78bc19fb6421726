"""The Ray runtime: component actors, the coordinator, and the backtest entry point that wires them.

Everything Ray-specific lives here; the logic it runs (clock, history, steps, metrics) does not import Ray.
"""

from raytrain.runtime.backtest import backtest

__all__ = ["backtest"]
