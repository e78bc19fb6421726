"""Everything raytrain raises on purpose.

    RaytrainError                   base of all of them
    ├── StreamError (ValueError)    the stream is unusable: missing column, unsorted or null times, ...
    ├── ConfigError (ValueError)    a bad argument to backtest / a policy / a pipeline
    ├── RefreshError                refresh() of an unknown component, or outside a running backtest
    └── ComponentError              user code failed inside the backtest
        └── HookError               ... inside before_run / run / after_run; names the component,
                                    the hook and the simulated time, with the original as __cause__

Messages say what was wrong, the value seen, and how to fix it.
"""

from __future__ import annotations

__all__ = ["RaytrainError", "StreamError", "ConfigError", "RefreshError", "ComponentError", "HookError"]


class RaytrainError(Exception):
    """Base class of every error raytrain raises on purpose."""


class StreamError(RaytrainError, ValueError):
    """The stream cannot be replayed as given."""


class ConfigError(RaytrainError, ValueError):
    """A bad argument: a duration, a metric name, a pipeline that cannot run."""


class RefreshError(RaytrainError):
    """refresh() named an unknown component or was called outside a running backtest."""


class ComponentError(RaytrainError):
    """User code misbehaved inside a backtest."""


class HookError(ComponentError):
    """A component's hook or run raised; the original exception is the cause.

    Crosses process boundaries intact: the original exception travels along (when it pickles) and
    the driver re-raises this error `from` it.
    """

    def __init__(self, message: str, component: str = "", hook: str = "", now: str = "", original=None):
        super().__init__(message)
        self.component = component
        self.hook = hook
        self.now = now
        self.original = original
        if original is not None:
            self.__cause__ = original

    def __reduce__(self):
        return (_rebuild_hook_error, (str(self), self.component, self.hook, self.now, _picklable(self.original)))


def _rebuild_hook_error(message, component, hook, now, original):
    return HookError(message, component, hook, now, original)


def _picklable(exc):
    import pickle
    import sys

    # Ray ships this error with cloudpickle, which carries exception classes defined in the user's script
    # by value; plain pickle cannot find those in a worker and would lose the original type.
    pickler = sys.modules.get("ray.cloudpickle") or sys.modules.get("cloudpickle") or pickle
    try:
        pickler.dumps(exc)
        return exc
    except Exception:  # an exception holding an unpicklable object: keep its type name and text
        return RuntimeError(f"{type(exc).__name__}: {exc}")
