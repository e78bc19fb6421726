"""Write docs/api.md, the API reference, from the docstrings of the public names (raytrain.__all__).

Run:  python docs/build_api.py           (rewrites docs/api.md)
      python docs/build_api.py --check   (exit 1 if docs/api.md is out of date; tests/test_docs.py does this)

Docstring examples (``>>>`` lines) become ``pycon`` blocks, which tests/test_docs.py runs as doctests;
other indented code in a docstring is a sketch with free names and is marked as skipped.
"""

from __future__ import annotations

import argparse
import inspect
import re
import sys
from pathlib import Path

API_MD = Path(__file__).resolve().parent / "api.md"

# Sections in reading order; a public name missing here lands in "Other", so nothing is ever dropped.
SECTIONS = {
    "Pipeline": ["Component", "refresh", "sklearn_pipeline", "SklearnTraining", "SklearnServing"],
    "Streams and history": ["Stream", "History"],
    "Running backtests and sweeps": ["backtest", "sweep", "grid"],
    "Results and reports": ["BacktestResult", "SweepResult", "load", "report", "Metric"],
    "Policies": ["Policy", "PolicyView", "Never", "Every", "EveryLabels", "MetricBelow", "MetricAbove",
                 "FeatureDrift", "ErrorDrift", "Cooldown", "Budget", "AnyOf", "AllOf"],
    "Training windows, latency and cost": ["Expanding", "Sliding", "Latency", "Cost"],
    "The hindsight oracle": ["evaluation_matrix", "EvaluationMatrix"],
    "Errors": ["RaytrainError", "StreamError", "ConfigError", "RefreshError", "ComponentError", "HookError"],
}

HEADER = """\
# API reference

Generated from the docstrings by `python docs/build_api.py`; do not edit by hand (a test checks that it
is up to date). Every name below is importable as `raytrain.NAME`, conventionally `rt.NAME`.
The examples run as doctests in the test suite, after `import raytrain as rt`, `from raytrain import *`,
`import numpy as np` and `import pandas as pd`.
"""
SETUP = "<!-- doctest: setup=docs/_setup_api.py -->"   # before the first example: the names above


class _Raw:
    """An annotation string shown without quotes (the package uses `from __future__ import annotations`)."""

    def __init__(self, text: str):
        self.text = text

    def __repr__(self) -> str:
        return self.text.strip("'\"")


def signature(obj, name: str) -> str:
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return name
    raw = lambda a: _Raw(a) if isinstance(a, str) else a  # noqa: E731
    params = [p.replace(annotation=raw(p.annotation)) for p in sig.parameters.values()]
    sig = sig.replace(parameters=params, return_annotation=raw(sig.return_annotation))
    return f"{name}{sig}".replace(" = <factory>", " = ...").replace("=<factory>", "=...")


def render_doc(doc: str | None, where: str) -> list:
    """Markdown lines for a docstring: prose as is, doctests fenced as pycon, other code as skipped python."""
    if not doc:
        return []
    doc = re.sub(r":(?:meth|func|class|attr|mod):`~?([^`]+)`", r"``\1``", inspect.cleandoc(doc))
    lines, out, i = doc.splitlines(), [], 0
    while i < len(lines):
        line = lines[i]
        if line.lstrip().startswith(">>>"):
            indent, block = len(line) - len(line.lstrip()), []
            while i < len(lines) and lines[i].strip():
                block.append(lines[i][indent:])
                i += 1
            out += ["```pycon", *block, "```"]
            continue
        if line.startswith("    ") and (i == 0 or not lines[i - 1].strip()):
            block = []
            while i < len(lines) and (lines[i].startswith("    ") or not lines[i].strip()):
                block.append(lines[i][4:])
                i += 1
            while block and not block[-1].strip():
                block.pop()
            out += [f"<!-- doctest: skip (a sketch from the docstring of {where}; its names are defined by the "
                    f"reader) -->", "```python", *block, "```", ""]
            continue
        out.append(line)
        i += 1
    return out + [""]


def members(cls) -> list:
    """(name, object) of the public methods and properties a class documents itself."""
    out = []
    for name, value in vars(cls).items():
        if name.startswith("_"):
            continue
        func = value.__func__ if isinstance(value, (classmethod, staticmethod)) else value
        if isinstance(func, property) or inspect.isfunction(func):
            if (func.__doc__ or "").strip():
                out.append((name, value))
    return out


def render_name(name: str, obj) -> list:
    if inspect.isclass(obj) and issubclass(obj, BaseException):
        head = f"exception `{name}({', '.join(b.__name__ for b in obj.__bases__)})`"
    else:
        head = f"{'class' if inspect.isclass(obj) else 'function'} `{signature(obj, name)}`"
    out = [f"### `{name}`", "", head, ""]
    doc = obj.__doc__
    if inspect.isclass(obj) and (doc or "").startswith(f"{obj.__name__}("):
        doc = None  # the signature that @dataclass writes when a class has no docstring
    out += render_doc(doc, f"rt.{name}")
    if inspect.isclass(obj):
        for member, value in members(obj):
            func = value.__func__ if isinstance(value, (classmethod, staticmethod)) else value
            if isinstance(func, property):
                head = f"`{name}.{member}` (property)"
            else:
                prefix = "classmethod " if isinstance(value, classmethod) else ""
                bound = func if isinstance(value, staticmethod) else _drop_first(func)
                head = f"{prefix}`{signature(bound, f'{name}.{member}')}`"
            out += [f"- {head}", ""]
            out += ["  " + line if line else "" for line in render_doc(func.__doc__, f"rt.{name}.{member}")]
    return out


def _drop_first(func):
    """The function's signature without self / cls."""
    sig = inspect.signature(func)
    params = list(sig.parameters.values())[1:]

    def stub(*args, **kwargs):
        pass
    stub.__signature__ = sig.replace(parameters=params)
    return stub


def render() -> str:
    import raytrain

    public = list(raytrain.__all__)
    placed = {n for names in SECTIONS.values() for n in names}
    sections = {title: [n for n in names if n in public] for title, names in SECTIONS.items()}
    sections["Other"] = [n for n in public if n not in placed]
    out = [HEADER]
    out += ["## Contents", ""]
    for title, names in sections.items():
        if names:
            out.append(f"- **{title}**: " + ", ".join(f"[`{n}`](#{n.lower()})" for n in names))
    out.append("")
    for title, names in sections.items():
        if not names:
            continue
        out += [f"## {title}", ""]
        for n in names:
            out += render_name(n, getattr(raytrain, n))
    text = "\n".join(out)
    text = text.replace("```pycon", f"{SETUP}\n```pycon", 1)
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    return text.rstrip("\n") + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if docs/api.md is out of date")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        if not API_MD.exists() or API_MD.read_text() != text:
            print(f"{API_MD} is out of date: run python docs/build_api.py", file=sys.stderr)
            return 1
        return 0
    API_MD.write_text(text)
    print(f"wrote {API_MD}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
