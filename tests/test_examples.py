"""The examples run as written: in this process, on the session's Ray (no second Ray starts)."""

from __future__ import annotations

import importlib.util
import re
import runpy
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import raytrain as rt
from raytrain.datasets import load_flights

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SEED = EXAMPLES / "seed_trigger.py"


@pytest.fixture(scope="module")
def seed_module():
    """examples/seed_trigger.py imported as a module (its main() does not run on import)."""
    spec = importlib.util.spec_from_file_location("seed_trigger", SEED)
    module = importlib.util.module_from_spec(spec)
    sys.modules["seed_trigger"] = module  # so Ray can ship its classes by value
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("seed_trigger", None)


def test_seed_trigger_script_runs_in_fast_mode(ray_session, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", [str(SEED), "--fast"])
    monkeypatch.delenv("RAYTRAIN_FAST", raising=False)
    runpy.run_path(str(SEED), run_name="__main__")
    out = capsys.readouterr().out

    assert "Stream(40,000 events" in out
    table = out.split("Per month")[1].split("Retrains of the seed pipeline")[0]
    assert re.search(r"^2013-01\s+\d+\s+0\.\d{4}\s+0\.\d{4}\s+0\.\d{4}\s+0\.\d{4}$", table, re.M)
    assert re.search(r"^2013-02\s+\d+", table, re.M)
    retrains = int(re.search(r"Retrains of the seed pipeline \((\d+) after the warm-up model\)", out).group(1))
    assert retrains >= 1
    assert out.count("Serving.after_run") == retrains
    assert re.search(r"^seed: accuracy 0\.\d{4}, log loss 0\.\d{4}, \d+ retrains", out, re.M)


def test_fast_mode_from_the_environment(seed_module, monkeypatch):
    monkeypatch.setenv("RAYTRAIN_FAST", "1")
    assert seed_module.fast_requested(False)
    monkeypatch.setenv("RAYTRAIN_FAST", "0")
    assert not seed_module.fast_requested(False)
    assert seed_module.fast_requested(True)


def test_seed_serving_class_runs_in_a_backtest(ray_session, seed_module):
    """The seed's class, camelCase hooks and all, retrains exactly when its afterRun condition holds."""
    m = seed_module
    flights = load_flights(n_rows=40_000)
    stream = rt.Stream.from_pandas(flights, time="sched_dep", label="late", label_time="arrived",
                                   inputs=m.FEATURES)
    result = rt.backtest([m.Training, m.Serving], stream, tick="1D", warmup="14D",
                         metric=[m.accuracy, "log_loss"])

    # The same replay by hand: P(late) per flight, a retrain after each day whose last 100 outputs
    # average below the threshold, serving from the next day.
    times, label_times = flights["sched_dep"], flights["arrived"]
    days = pd.date_range("2013-01-01", times.iloc[-1].floor("1D"), freq="1D")

    def train(now):
        visible = flights[(times < now) & (label_times < now)]
        return m.Training().run(visible), len(visible)

    model, rows = train(days[14])
    expected, outputs, accuracy = [(days[14], rows)], [], []
    for day in days[14:]:
        batch = flights[(times >= day) & (times < day + pd.Timedelta("1D"))]
        p = model.predict_proba(batch[m.FEATURES])[:, 1]
        outputs.extend(p)
        accuracy.append(m.accuracy(batch["late"], p))
        if np.mean(outputs[-100:]) < m.threshold:
            model, rows = train(day + pd.Timedelta("1D"))
            expected.append((day + pd.Timedelta("1D"), rows))

    got = result.retrains
    assert list(zip(got["time"], got["rows"])) == expected
    assert len(expected) > 1
    assert list(got["trigger"][1:]) == ["Serving.after_run"] * (len(expected) - 1)
    np.testing.assert_allclose(result.metrics["accuracy"], accuracy, rtol=0, atol=1e-12)
    assert result.metrics["log_loss"].between(0, 1).all()
