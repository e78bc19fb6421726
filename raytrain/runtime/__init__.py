"""The Ray runtime: component actors, the coordinator, and the backtest / sweep entry points that wire them.

Everything Ray-specific lives here; the logic it runs (clock, history, steps, metrics, policies) does not
import Ray.
"""

from raytrain.runtime.backtest import backtest
from raytrain.runtime.sweep import sweep

__all__ = ["backtest", "sweep"]
