"""The `raytrain` command, run as a user would: in a subprocess, with its own local Ray.

Subprocesses cost a Ray start-up each (several seconds), so only one of these tests starts Ray; the
others fail, or read saved results, before Ray is needed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "sweep_file.py"


def raytrain(*args, cwd=None, timeout=300) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env.update(RAY_USAGE_STATS_ENABLED="0", RAY_DATA_DISABLE_PROGRESS_BARS="1")
    return subprocess.run([sys.executable, "-m", "raytrain", *map(str, args)], cwd=cwd or ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "sweep"
    done = raytrain("run", EXAMPLE, "--out", out, "--address", "local", "--max-concurrent", "1")
    assert done.returncode == 0, done.stderr
    return out, done


def test_run_saves_every_policy_and_the_report(run_dir):
    out, done = run_dir
    assert json.loads((out / "sweep.json").read_text())["policies"] == ["never", "every 12h", "accuracy drop"]
    for name in ("never", "every_12h", "accuracy_drop"):
        assert any(p.name.startswith(name) and (p / "summary.json").exists() for p in out.iterdir()), name
    report = out / "report" / "index.html"
    assert report.exists() and (out / "report" / "cost_vs_metric.png").exists()
    assert f"report:  {report}" in done.stdout
    assert "best accuracy:" in done.stdout
    table = done.stdout.split("best accuracy:")[0]
    assert all(name in table for name in ("never", "every 12h", "accuracy drop"))
    page = report.read_text()
    assert page.count("data:image/png;base64,") == 2 and "Sliding(&#x27;1D&#x27;)" in page


def test_report_rebuilds_from_saved_results(run_dir, tmp_path):
    out, _ = run_dir
    done = raytrain("report", out, "--to", tmp_path / "again")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(tmp_path / "again" / "index.html")
    assert 'data-policy="accuracy drop"' in (tmp_path / "again" / "index.html").read_text()


def test_help_and_errors_are_one_paragraph(tmp_path):
    done = raytrain("--help")
    assert done.returncode == 0 and all(c in done.stdout for c in ("run", "report", "demo"))
    script = Path(sys.executable).parent / "raytrain"      # the console script pip installed
    if script.exists():
        done = subprocess.run([str(script), "run", "--help"], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0 and "PIPELINE" in done.stdout and "--max-concurrent" in done.stdout

    bad = tmp_path / "bad.py"
    bad.write_text("import raytrain as rt\nPIPELINE = []\n")
    done = raytrain("run", bad)
    assert done.returncode == 2
    assert done.stderr.startswith("raytrain: error: ") and "does not define STREAM" in " ".join(done.stderr.split())
    assert "Traceback" not in done.stderr and "\n\n" not in done.stderr.strip()

    done = raytrain("report", tmp_path / "nothing here")
    assert done.returncode == 2 and "No results at" in done.stderr and "Traceback" not in done.stderr


ONE_BACKTEST = '''
import raytrain as rt
from raytrain.datasets import sea
from sklearn.linear_model import LogisticRegression

class Training(rt.Component):
    def run(self, data):
        return LogisticRegression().fit(data[["x0", "x1", "x2"]], data["y"])

class Serving(rt.Component):
    def run(self, batch, model):
        return model.predict(batch[["x0", "x1", "x2"]])

PIPELINE = [Training, Serving]
STREAM = rt.Stream.from_pandas(sea(n=1500, seed=1, label_delay="10min"), time="time", label="y",
                               label_time="label_time", inputs=["x0", "x1", "x2"])
POLICY = rt.Every("6h")
SETTINGS = {"tick": "1D", "warmup": "2h"}
'''


def test_run_one_backtest_in_process_with_overrides(ray_session, tmp_path, capsys, monkeypatch):
    """POLICY declares one backtest; --tick overrides SETTINGS; results and report land in --out."""
    from raytrain.cli import main

    monkeypatch.setattr(sys, "path", list(sys.path))  # the run file's folder is added to it

    decl = tmp_path / "one.py"
    decl.write_text(ONE_BACKTEST)
    assert main(["run", str(decl), "--out", str(tmp_path / "out"), "--tick", "1h", "-q"]) == 0
    import raytrain as rt

    result = rt.load(tmp_path / "out")
    assert result.summary["settings"]["tick"] == "1h" and result.summary["settings"]["policy"] == "Every('6h')"
    assert result.summary["retrains"] == len(result.retrains) - 1 >= 3
    assert (tmp_path / "out" / "report" / "index.html").exists()
    assert "report:  " in capsys.readouterr().out


@pytest.mark.parametrize("extra, message", [
    ("POLICIES = {'never': rt.Never()}\n", "defines both POLICY and POLICIES"),
    ("SETTINGS = {'tick': '1h', 'adress': 'x'}\n", "SETTINGS in .* has unknown keys \\['adress'\\]"),
    ("STREAM = 42\n", "STREAM in .* must be a raytrain.Stream"),
])
def test_declaration_mistakes_are_named(tmp_path, extra, message):
    from raytrain.declaration import load_declaration

    decl = tmp_path / "mistake.py"
    decl.write_text(ONE_BACKTEST + extra)
    import raytrain as rt

    with pytest.raises(rt.ConfigError, match=message):
        load_declaration(decl)
