"""rt.report() on a small real sweep: the page carries its figures, one row per policy, the settings."""

from __future__ import annotations

import base64
import html
import re

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

import raytrain as rt
from raytrain.datasets import sea
from raytrain.report import pareto_front

FEATURES = ["x0", "x1", "x2"]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class Training(rt.Component):
    def run(self, data):
        return LogisticRegression().fit(data[FEATURES], data["y"])


class Serving(rt.Component):
    def run(self, batch, model):
        return model.predict(batch[FEATURES])


POLICIES = {"never": rt.Never(), "every 12h": rt.Every("12h"), "on drop": rt.MetricBelow("accuracy", 0.8, last=200),
            "broken": rt.FeatureDrift(["no_such_column"])}


@pytest.fixture(scope="module")
def sweep(ray_session, tmp_path_factory):
    stream = rt.Stream.from_pandas(sea(n=3000, seed=0, freq="1min", label_delay="30min"), time="time", label="y",
                                   label_time="label_time", inputs=FEATURES)
    out = tmp_path_factory.mktemp("sweep")
    return rt.sweep([Training, Serving], stream, POLICIES, tick="1h", warmup="6h", out=str(out),
                    cost=rt.Cost(per_retrain=0.5), max_concurrent=1, verbose=False)


def images(page: str) -> list:
    return [base64.b64decode(b64) for b64 in re.findall(r'<img [^>]*src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)]


def policy_rows(page: str) -> list:
    return re.findall(r'<tr class="[a-z]*" data-policy="([^"]+)">', page)


def test_report_of_a_sweep_embeds_figures_table_and_settings(sweep, tmp_path):
    path = rt.report(sweep, tmp_path / "report")

    assert path == str(tmp_path / "report" / "index.html")
    page = open(path, encoding="utf-8").read()
    pngs = images(page)
    assert len(pngs) == 2 and all(p.startswith(PNG_MAGIC) and len(p) > 5000 for p in pngs)
    assert (tmp_path / "report" / "metric_over_time.png").read_bytes() == pngs[0]
    assert (tmp_path / "report" / "cost_vs_metric.png").read_bytes() == pngs[1]
    assert policy_rows(page) == list(POLICIES)
    assert html.escape("FeatureDrift features ['no_such_column']") in page     # the failed policy's error
    every = sweep.results["every 12h"].summary
    assert f"{every['metrics']['accuracy']['weighted']:.4f}" in page
    assert f"{every['metrics']['accuracy']['worst']:.4f}" in page
    settings = dict(re.findall(r"<tr><th>([^<]+)</th><td>([^<]*)</td></tr>", page))
    assert settings["tick"] == "1h" and settings["warm-up"] == "6h" and settings["metric"] == "accuracy"
    assert html.unescape(settings["labels known at"]) == "column 'label_time'"
    assert settings["training latency"].startswith("0 ") and settings["training window"] == "Expanding()"
    assert "Cost(per_retrain=0.5" in settings["cost model"]


def test_report_from_the_saved_directory_matches_and_marks_the_best(sweep, tmp_path):
    path = rt.report(sweep.path, tmp_path)
    page = open(path, encoding="utf-8").read()

    assert policy_rows(page) == list(POLICIES)
    best = sweep.best()
    assert re.search(rf'<tr class="best" data-policy="{re.escape(best)}">', page)
    assert len(images(page)) == 2


def test_report_of_one_backtest(sweep, tmp_path):
    result = sweep.results["on drop"]
    result.save(tmp_path / "saved")
    for source in (result, tmp_path / "saved"):
        page = open(rt.report(source, tmp_path / "out"), encoding="utf-8").read()
        assert policy_rows(page) == [html.escape(result.summary["settings"]["policy"])]
        assert len(images(page)) == 2


def test_report_errors_are_readable(tmp_path, sweep):
    with pytest.raises(rt.RaytrainError, match="holds no saved backtest or sweep"):
        rt.report(tmp_path, tmp_path / "out")
    with pytest.raises(rt.RaytrainError, match="No results at"):
        rt.report(tmp_path / "missing", tmp_path / "out")
    with pytest.raises(rt.ConfigError, match="Unknown metric 'mae'"):
        rt.report(sweep, tmp_path / "out", metric="mae")


def test_pareto_front():
    costs, scores = [1.0, 2.0, 3.0, 2.0, np.nan], [0.70, 0.80, 0.75, 0.80, 0.9]
    assert pareto_front(costs, scores).tolist() == [True, True, False, True, False]
    # lower is better (an error metric): the cheapest is on the front, and so is the lowest error
    assert pareto_front([1, 2, 3], [0.5, 0.3, 0.4], higher_is_better=False).tolist() == [True, True, False]
