"""Every code block of README.md and docs/*.md runs, in order, as a reader would run it.

Each file's ```python blocks run in one fresh namespace, in this process, on the session's Ray, in a
temporary working directory (so the `out/...` paths the docs write land there). ```pycon blocks run as
doctests in the same namespace. Other languages (bash, text) are not run.

A block that is a fragment gets its context from an HTML comment placed right before it (only blank
lines between), which GitHub does not show:

    <!-- doctest: setup=docs/_setup_flights.py -->          run that file (from the repository root)
                                                            in the namespace first
    <!-- doctest: skip (why it cannot run here) -->         do not run it; the reason is required

Setup files may replace an attribute of a raytrain module (e.g. a smaller default stream); it is put
back after the file.
"""

from __future__ import annotations

import doctest
import importlib.util
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import raytrain.datasets

ROOT = Path(__file__).resolve().parents[1]
DOC_FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

_FENCE = re.compile(r"^(\s*)(```+)\s*([\w+-]*)\s*$")
_DIRECTIVE = re.compile(r"^\s*<!--\s*doctest:\s*(.*?)\s*-->\s*$")
_SETUP = re.compile(r"^setup=(\S+)(\s+\(.+\))?$")
_SKIP = re.compile(r"^skip\s+\((.+)\)$")


class DirectiveError(ValueError):
    pass


@dataclass
class Block:
    path: Path
    line: int            # 1-based line of the opening fence
    lang: str
    code: str
    setups: list = field(default_factory=list)
    skip: str | None = None

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT) if self.path.is_relative_to(ROOT) else self.path}:{self.line}"


def parse_blocks(text: str, path: Path) -> list:
    """The fenced code blocks of a Markdown text, with the doctest directives placed before each."""
    lines, blocks, pending, i = text.splitlines(), [], [], 0
    while i < len(lines):
        line = lines[i]
        directive = _DIRECTIVE.match(line)
        fence = _FENCE.match(line)
        if directive:
            pending.append((i + 1, directive.group(1)))
        elif fence:
            indent, ticks, lang = fence.groups()   # a fence may be indented, in a list item
            end = i + 1
            while end < len(lines) and lines[end].strip() != ticks:
                end += 1
            code = [c[len(indent):] if c.startswith(indent) else c.lstrip() for c in lines[i + 1:end]]
            block = Block(path, i + 1, lang.lower(), "\n".join(code) + "\n")
            for lineno, spec in pending:
                _apply(block, spec, f"{path.name}:{lineno}")
            blocks.append(block)
            pending, i = [], end
        elif line.strip() and pending:
            raise DirectiveError(f"{path.name}:{pending[0][0]}: a doctest directive must come right before a "
                                 f"code block (only blank lines between); line {i + 1} is text.")
        i += 1
    if pending:
        raise DirectiveError(f"{path.name}:{pending[0][0]}: a doctest directive with no code block after it.")
    return blocks


def _apply(block: Block, spec: str, where: str) -> None:
    if m := _SETUP.match(spec):
        setup = ROOT / m.group(1)
        if not setup.is_file():
            raise DirectiveError(f"{where}: setup file {m.group(1)!r} does not exist.")
        block.setups.append(setup)
    elif m := _SKIP.match(spec):
        block.skip = m.group(1)
    elif spec.startswith("skip"):
        raise DirectiveError(f"{where}: a skip needs its reason in the doc source: <!-- doctest: skip (why) -->.")
    else:
        raise DirectiveError(f"{where}: unknown doctest directive {spec!r}; use setup=PATH or skip (reason).")


def run_blocks(blocks: list, namespace: dict) -> int:
    """Run the python and pycon blocks in order; return how many ran."""
    ran = 0
    for block in blocks:
        if block.skip or block.lang not in ("python", "py", "pycon"):
            continue
        for setup in block.setups:
            exec(compile(setup.read_text(), str(setup), "exec"), namespace)
        if block.lang == "pycon":
            _run_doctest(block, namespace)
        else:
            # Blank lines up to the fence keep tracebacks pointing at the Markdown file's own line numbers.
            code = "\n" * block.line + block.code
            exec(compile(code, str(block.path), "exec"), namespace)
        ran += 1
    return ran


def _run_doctest(block: Block, namespace: dict) -> None:
    test = doctest.DocTestParser().get_doctest(block.code, namespace, block.where, str(block.path), block.line)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    report = io.StringIO()
    runner.run(test, out=report.write, clear_globs=False)
    assert runner.tries, f"{block.where}: a pycon block without a >>> example"
    if runner.failures:
        raise AssertionError(f"doctest failed in {block.where}:\n{report.getvalue()}")


@pytest.mark.parametrize("doc", DOC_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_doc_code_blocks_run(doc, ray_session, tmp_path, monkeypatch):
    blocks = parse_blocks(doc.read_text(), doc)
    monkeypatch.chdir(tmp_path)
    # What setup files may replace, registered so that it is put back afterwards.
    monkeypatch.setattr(raytrain.datasets, "load_flights", raytrain.datasets.load_flights)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    ran = run_blocks(blocks, {"__name__": "__main__"})
    python_blocks = [b for b in blocks if b.lang in ("python", "py", "pycon")]
    assert ran == len([b for b in python_blocks if not b.skip])


def test_docs_skip_only_with_a_reason_and_rarely():
    skipped = [b for doc in DOC_FILES for b in parse_blocks(doc.read_text(), doc) if b.skip]
    # api.md shows docstring sketches that use names the reader defines; every other page runs all of its code.
    assert all(b.path.name == "api.md" for b in skipped), [b.where for b in skipped]


def test_directives_are_checked():
    ok = parse_blocks("<!-- doctest: skip (needs a GPU) -->\n\n```python\nraise SystemExit\n```\n", Path("x.md"))
    assert ok[0].skip == "needs a GPU" and ok[0].line == 3
    with pytest.raises(DirectiveError, match="needs its reason"):
        parse_blocks("<!-- doctest: skip -->\n```python\npass\n```\n", Path("x.md"))
    with pytest.raises(DirectiveError, match="must come right before a code block"):
        parse_blocks("<!-- doctest: skip (why) -->\ntext\n```python\npass\n```\n", Path("x.md"))
    with pytest.raises(DirectiveError, match="does not exist"):
        parse_blocks("<!-- doctest: setup=docs/nope.py -->\n```python\npass\n```\n", Path("x.md"))
    with pytest.raises(DirectiveError, match="unknown doctest directive"):
        parse_blocks("<!-- doctest: fast -->\n```python\npass\n```\n", Path("x.md"))


def test_a_failing_block_names_the_markdown_line():
    blocks = parse_blocks("text\n\n```python\nx = 1\n1 / 0\n```\n", ROOT / "x.md")
    with pytest.raises(ZeroDivisionError) as info:
        run_blocks(blocks, {"__name__": "__main__"})
    assert info.traceback[-1].lineno + 1 == 5


def test_api_reference_is_up_to_date():
    spec = importlib.util.spec_from_file_location("build_api", ROOT / "docs" / "build_api.py")
    build_api = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build_api)
    assert (ROOT / "docs" / "api.md").read_text() == build_api.render(), \
        "docs/api.md is out of date: run python docs/build_api.py"
