"""Backtests and sweeps declared in a Python file, for ``raytrain run FILE.py``.

The file is ordinary Python that defines, at module level:

    PIPELINE = [Training, Serving]          # the components, as for rt.backtest
    STREAM = make_stream                    # a raytrain.Stream, or a function of no arguments returning one
    POLICIES = {"never": rt.Never(), ...}   # a sweep: {name: policy} (or a list) ...
    POLICY = rt.Every("30D")                # ... or one backtest under one policy (neither: hooks only)
    SETTINGS = {"tick": "1h", "warmup": "6h", "window": rt.Sliding("1D")}   # optional backtest arguments

Loading runs the file (as a module named after it, so Ray ships its classes to workers by value) and
checks the names; nothing runs on Ray here.
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
from dataclasses import dataclass, field

from raytrain.errors import ConfigError

__all__ = ["Declaration", "load_declaration", "SETTING_KEYS"]

SETTING_KEYS = ("tick", "warmup", "metric", "window", "latency", "cost", "start", "shards", "history_budget")


@dataclass
class Declaration:
    path: str
    pipeline: list
    stream: object
    policy: object = None
    policies: object = None
    settings: dict = field(default_factory=dict)

    @property
    def is_sweep(self) -> bool:
        return self.policies is not None


def load_declaration(path) -> Declaration:
    """Run the file at ``path`` and read PIPELINE, STREAM, POLICY or POLICIES, and SETTINGS from it."""
    from raytrain.stream import Stream

    path = os.path.abspath(os.fspath(path))
    if not os.path.isfile(path):
        raise ConfigError(f"No such file: {path!r}. Give the path of a Python file that defines PIPELINE and STREAM.")
    stem = re.sub(r"\W", "_", os.path.splitext(os.path.basename(path))[0])
    module_name = f"raytrain_run_{stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    folder = os.path.dirname(path)
    if folder not in sys.path:
        sys.path.insert(0, folder)  # so the file can import its sibling modules, as `python FILE.py` would
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(module_name, None)
        where = _line_in(exc, path)
        raise ConfigError(f"Running {path}{where} failed with {type(exc).__name__}: {exc}. Fix the file; it must "
                          f"run on its own with `python {os.path.basename(path)}`.") from exc
    names = vars(module)
    missing = [n for n in ("PIPELINE", "STREAM") if n not in names]
    if missing:
        raise ConfigError(
            f"{path} does not define {' and '.join(missing)}. A run file defines PIPELINE (a list of components), "
            f"STREAM (a raytrain.Stream or a function returning one), POLICY or POLICIES, and optionally SETTINGS "
            f"(backtest arguments); see README's 'Command line' section.")
    if "POLICY" in names and "POLICIES" in names:
        raise ConfigError(f"{path} defines both POLICY and POLICIES; keep POLICY for one backtest or POLICIES "
                          f"for a sweep.")
    stream = names["STREAM"]
    if callable(stream) and not isinstance(stream, Stream):
        try:
            stream = stream()
        except Exception as exc:
            raise ConfigError(f"STREAM() in {path}{_line_in(exc, path)} raised {type(exc).__name__}: {exc}.") from exc
    if not isinstance(stream, Stream):
        raise ConfigError(f"STREAM in {path} must be a raytrain.Stream or a function of no arguments returning "
                          f"one; got {type(stream).__name__}. Build it with rt.Stream.from_pandas(df, time=..., label=...).")
    settings = names.get("SETTINGS", {}) or {}
    if not isinstance(settings, dict):
        raise ConfigError(f"SETTINGS in {path} must be a dict of backtest arguments; got {type(settings).__name__}.")
    unknown = sorted(set(settings) - set(SETTING_KEYS))
    if unknown:
        raise ConfigError(f"SETTINGS in {path} has unknown keys {unknown}; allowed: {list(SETTING_KEYS)}. "
                          f"address, out and max_concurrent are command-line options (--address, --out, "
                          f"--max-concurrent).")
    pipeline = names["PIPELINE"]
    if not isinstance(pipeline, (list, tuple)):
        raise ConfigError(f"PIPELINE in {path} must be a list of components such as [Training, Serving]; "
                          f"got {type(pipeline).__name__}.")
    return Declaration(path, list(pipeline), stream, names.get("POLICY"), names.get("POLICIES"), dict(settings))


def _line_in(exc: BaseException, path: str) -> str:
    if isinstance(exc, SyntaxError) and exc.lineno:
        return f" (line {exc.lineno})"
    tb, line = exc.__traceback__, None
    while tb is not None:
        if os.path.abspath(tb.tb_frame.f_code.co_filename) == path:
            line = tb.tb_lineno
        tb = tb.tb_next
    return f" (line {line})" if line else ""
