"""rt.report(..., matrix=): each policy's regret against the hindsight oracle, the frontier figure, the heatmap."""

from __future__ import annotations

import base64
import dataclasses
import io
import re

import numpy as np
import pytest
from matplotlib import image as mpimg
from sklearn.linear_model import LogisticRegression

import raytrain as rt
from raytrain.cli import main
from raytrain.datasets import sea
from raytrain.errors import ConfigError

FEATURES = ["x0", "x1", "x2"]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SETTINGS = dict(tick="2h", warmup="6h")
POLICIES = {"never": rt.Never(), "every 8h": rt.Every("8h"), "on drop": rt.MetricBelow("accuracy", 0.85, last=200)}


class Training(rt.Component):
    def run(self, data):
        return LogisticRegression().fit(data[FEATURES], data["y"])


class Serving(rt.Component):
    def run(self, batch, model):
        return model.predict(batch[FEATURES])


@pytest.fixture(scope="module")
def run(ray_session, tmp_path_factory):
    """A sweep and its evaluation matrix (a candidate at every tick), on ~24 two-hour ticks of SEA."""
    stream = rt.Stream.from_pandas(sea(n=3000, seed=1, freq="1min", label_delay="30min"), time="time", label="y",
                                   label_time="label_time", inputs=FEATURES)
    out = tmp_path_factory.mktemp("regret")
    sweep = rt.sweep([Training, Serving], stream, POLICIES, out=str(out / "sweep"), max_concurrent=2, verbose=False,
                     **SETTINGS)
    em = rt.evaluation_matrix([Training, Serving], stream, every=1, **SETTINGS)
    em.save(out / "matrix")
    return sweep, em, out


def images(page: str) -> list:
    return [base64.b64decode(b64) for b64 in re.findall(r'<img [^>]*src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)]


def cells(page: str, klass: str) -> dict:
    """{policy: the text of its <span class=klass> cell}."""
    rows = re.findall(r'<tr class="[a-z]*" data-policy="([^"]+)">(.*?)</tr>', page, flags=re.S)
    return {name: re.search(rf'<span class="{klass}">([^<]*)</span>', row).group(1) for name, row in rows}


def test_report_with_matrix_shows_regret_frontier_and_heatmap(run, tmp_path):
    sweep, em, _ = run
    page = open(rt.report(sweep, tmp_path / "r", matrix=em), encoding="utf-8").read()

    expected = em.regret(sweep)
    assert (expected["regret"] >= -1e-12).all() and expected["retrains"].max() > 0
    assert "<th class=\"k\">oracle at same k</th>" in page and "<th class=\"k\">regret</th>" in page
    assert cells(page, "regret") == {n: f"{v:,.4f}" for n, v in expected["regret"].items()}
    assert cells(page, "oracle") == {n: f"{v:,.4f}" for n, v in expected["oracle"].items()}

    pngs = images(page)
    assert len(pngs) == 4 and all(p.startswith(PNG_MAGIC) for p in pngs)
    assert (tmp_path / "r" / "retrains_vs_metric.png").read_bytes() == pngs[2]
    assert (tmp_path / "r" / "evaluation_matrix.png").read_bytes() == pngs[3]
    frontier = mpimg.imread(io.BytesIO(pngs[2]), format="png")
    assert frontier.shape[:2] == (500, 800) and np.ptp(frontier) > 0  # decodes; not blank
    assert "Retrains against mean accuracy: the oracle&#x27;s frontier" in page
    assert "oracle-hint" not in page and "not a mean over events" not in page


def test_report_from_saved_dirs_via_cli(run, tmp_path, capsys):
    sweep, em, out = run
    assert main(["report", str(out / "sweep"), "--matrix", str(out / "matrix"), "--to", str(tmp_path / "r")]) == 0
    page = (tmp_path / "r" / "index.html").read_text(encoding="utf-8")
    assert cells(page, "regret") == {n: f"{v:,.4f}" for n, v in em.regret(sweep)["regret"].items()}
    assert len(images(page)) == 4


def test_report_without_matrix_says_how_to_get_the_oracle(run, tmp_path):
    sweep, _, _ = run
    page = open(rt.report(sweep, tmp_path / "r"), encoding="utf-8").read()
    assert 'class="note oracle-hint"' in page and "rt.evaluation_matrix" in page and "matrix=em" in page
    assert "oracle at same k" not in page and len(images(page)) == 2


def test_report_says_what_the_oracle_optimises_for_non_mean_metrics(run, tmp_path):
    sweep, em, _ = run
    page = open(rt.report(sweep, tmp_path / "r", matrix=dataclasses.replace(em, mean_over_events=False)),
                encoding="utf-8").read()
    assert "accuracy is not a mean over events</b>: the oracle optimises" in page
    assert "event-weighted mean of per-tick accuracy values" in page


def test_report_refuses_a_matrix_of_other_ticks(run, tmp_path):
    sweep, em, _ = run
    shifted = dataclasses.replace(em, tick_starts=em.tick_starts + np.timedelta64(1, "h"))
    with pytest.raises(ConfigError, match="does not match these results"):
        rt.report(sweep, tmp_path / "r", matrix=shifted)
    with pytest.raises(ConfigError, match="matrix scores 'log_loss'"):
        rt.report(sweep, tmp_path / "r", matrix=dataclasses.replace(em, metric="log_loss"), metric="accuracy")
