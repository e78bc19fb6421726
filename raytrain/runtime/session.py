"""Finding or starting Ray, shipping user code to it, and turning Ray errors back into ours."""

from __future__ import annotations

import os
import sys

import ray

from raytrain.errors import ConfigError, HookError, RaytrainError

__all__ = ["ensure_ray", "ship_by_value", "unwrap_ray_error"]


def ensure_ray(address: str | None = None) -> None:
    """Connect to ``address`` (or $RAY_ADDRESS); with neither, start a local Ray unless one is up.

    A Ray already initialised in this process is used as it is.
    """
    if ray.is_initialized():
        return
    address = address or os.environ.get("RAY_ADDRESS")
    kwargs = dict(include_dashboard=False, configure_logging=True, logging_level="WARNING",
                  log_to_driver=True)
    try:
        if address:
            ray.init(address=address, **{k: v for k, v in kwargs.items() if k != "include_dashboard"})
        else:
            # "local": a fresh instance, never a cluster that happens to run on this machine.
            ray.init(address="local", **kwargs)
    except ConnectionError as exc:
        raise ConfigError(
            f"Could not connect to a Ray cluster at {address!r}: {exc}. Check the address (e.g. "
            f"'ray://head:10001' or 'auto' on a cluster node), or leave address unset to run locally.") from exc


def ship_by_value(objects) -> None:
    """Make workers receive user classes by value when their module is not importable there.

    Classes from the driver script (__main__) already travel by value; classes from a test file or a
    script's sibling module would otherwise fail on a worker with "No module named ...".
    """
    import ray.cloudpickle as cloudpickle

    for obj in objects:
        module_name = getattr(obj, "__module__", None) or type(obj).__module__
        if module_name in (None, "__main__", "builtins") or module_name.split(".")[0] in _INSTALLED_ROOTS:
            continue
        module = sys.modules.get(module_name)
        path = getattr(module, "__file__", None) or ""
        if module is None or "site-packages" in path or "dist-packages" in path:
            continue
        try:
            cloudpickle.register_pickle_by_value(module)
        except ValueError:  # already registered, or a module cloudpickle cannot handle by value
            pass


_INSTALLED_ROOTS = {"raytrain", "sklearn", "numpy", "pandas", "pyarrow", "ray", "river", "scipy", "xgboost",
                    "lightgbm", "torch"}


def unwrap_ray_error(err: BaseException) -> BaseException:
    """The RaytrainError inside a chain of RayTaskErrors, or the error itself."""
    seen = err
    for _ in range(10):
        if isinstance(seen, RaytrainError) and not isinstance(seen, ray.exceptions.RayError):
            return seen
        cause = getattr(seen, "cause", None)
        if cause is None:
            break
        seen = cause
    if isinstance(seen, RaytrainError):
        # Ray's dual-class wrapper (RayTaskError(HookError)): rebuild the plain error.
        if isinstance(seen, HookError):
            return HookError(str(seen).split("\n")[0], seen.component, seen.hook, seen.now, seen.original)
        return seen
    return err
