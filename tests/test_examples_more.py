"""The other examples run as written, in fast mode, in this process on the session's Ray."""

from __future__ import annotations

import importlib.util
import re
import runpy
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def run_example(name: str, monkeypatch, capsys, *args: str) -> str:
    path = EXAMPLES / name
    monkeypatch.setattr(sys, "argv", [str(path), "--fast", *args])
    runpy.run_path(str(path), run_name="__main__")
    return capsys.readouterr().out


def policy_rows(out: str, names: list) -> dict:
    """The printed table's row of each policy, as its whitespace-separated cells after the name."""
    rows = {}
    for name in names:
        match = re.search(rf"^\s*{re.escape(name)}\s+(.*)$", out, re.M)
        assert match, f"no row for {name!r} in:\n{out}"
        rows[name] = match.group(1).split()
    return rows


def test_drift_synthetic(ray_session, monkeypatch, capsys, tmp_path):
    out = run_example("drift_synthetic.py", monkeypatch, capsys, "--out", str(tmp_path / "drift"))
    assert "Stream(6,000 events" in out
    assert out.count("drifts at") == 1 and "2024-01-02 09:20:00" in out   # rows 2,000 and 4,000
    rows = policy_rows(out, ["never", "every 12h", "accuracy < 0.8", "ADWIN", "Page-Hinkley"])
    never, drop = rows["never"], rows["accuracy < 0.8"]
    assert never[2:] == ["0", "0", "-", "-"]                     # no retrain, no reaction
    assert drop[3] == "0"                                        # no retrain before the first drift
    assert drop[4].isdigit() and drop[6].isdigit()               # it reacted to both drifts (minutes)
    assert float(drop[0]) > float(never[0]) + 0.02              # and that bought accuracy
    assert (tmp_path / "drift" / "sweep.json").exists()         # the sweep was saved


def test_gradient_boosting(ray_session, monkeypatch, capsys):
    pytest.importorskip("lightgbm")
    out = run_example("gradient_boosting.py", monkeypatch, capsys)
    assert "Stream(60,000 events" in out
    rows = policy_rows(out, ["never", "every 14D", "accuracy < 0.75", "weather drift"])
    assert rows["never"][2] == "0" and int(rows["every 14D"][2]) >= 1
    assert all(r[-1] == "ok" for r in rows.values())
    assert all(0.5 < float(r[0]) < 1 for r in rows.values())


def test_river_online(ray_session, monkeypatch, capsys):
    out = run_example("river_online.py", monkeypatch, capsys)
    assert "Stream(6,000 events" in out
    rows = policy_rows(out, ["sklearn, trained once", "sklearn, every 6h", "river, online"])
    once, every, river = (rows[n] for n in ["sklearn, trained once", "sklearn, every 6h", "river, online"])
    assert river[3] == "0" and once[3] == "0" and int(every[3]) > 0      # retrains
    # Learning from every label as it arrives follows the drifted concept; a model trained once does not.
    assert float(river[2]) > float(once[2]) + 0.05
    assert float(river[0]) > float(once[0])


@pytest.mark.skipif(importlib.util.find_spec("torch") is None,
                    reason="PyTorch is not installed (pip install -e '.[torch]')")
def test_pytorch_model(ray_session, monkeypatch, capsys):
    out = run_example("pytorch_model.py", monkeypatch, capsys)
    assert "Stream(6,000 events" in out
    rows = policy_rows(out, ["never", "every 12h", "accuracy < 0.8"])
    assert rows["never"][2] == "0" and int(rows["every 12h"][2]) >= 1
    assert float(rows["accuracy < 0.8"][0]) > float(rows["never"][0])


def test_policies_flagship_sweep(ray_session, monkeypatch, capsys, tmp_path):
    out = run_example("policies.py", monkeypatch, capsys, "--out", str(tmp_path / "policies"))
    flights, sea = out.split("SEA abrupt drift at")
    assert "flights (daily ticks, labels at arrival): best = " in flights
    names = ["never", "every 30D", "accuracy drop", "feature drift", "ADWIN"]
    rows = policy_rows(flights, names)
    assert all(r[-1] == "ok" for r in rows.values()) and rows["never"][2] == "0"
    sea_rows = policy_rows(sea, ["never", "every 2D", "accuracy drop", "feature drift", "ADWIN"])
    assert float(sea_rows["every 2D"][0]) > float(sea_rows["never"][0]) + 0.03   # retraining pays after the drift
    assert int(sea_rows["accuracy drop"][2]) >= 1
    assert (tmp_path / "policies" / "flights" / "sweep.json").exists()
