"""A sweep on a simulated 2-node cluster: spread over both nodes, identical to a local run, and it
survives losing a node in the middle (the backtests that node held run again elsewhere).

The cluster lives in a subprocess (simulated_cluster_sweep.py): a ``ray.cluster_utils.Cluster`` cannot
share a process with the session's Ray. The local reference run happens here, on the session's Ray.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import raytrain as rt
from cluster_pipeline import SETTINGS, backtests_started, pipeline, policies, stream
from raytrain.sweeps import safe_dirname

HERE = Path(__file__).resolve().parent
MEASURED = ["train_seconds", "cpu_seconds"]


@pytest.fixture(scope="module")
def cluster_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("cluster")
    proc = subprocess.run([sys.executable, str(HERE / "simulated_cluster_sweep.py"), str(workdir)],
                          capture_output=True, text=True, timeout=400, cwd=HERE)
    log = proc.stdout + proc.stderr
    report_file = workdir / "report.json"
    assert report_file.exists(), log
    return json.loads(report_file.read_text()), workdir, log, proc.returncode


@pytest.fixture(scope="module")
def local_run(ray_session, tmp_path_factory):
    return rt.sweep(pipeline(tmp_path_factory.mktemp("local-records")), stream(), policies(), verbose=False,
                    **SETTINGS)


def assert_same_as_local(out: Path, local):
    for name in policies():
        saved = rt.load(out / safe_dirname(name))
        pd.testing.assert_frame_equal(saved.metrics, local[name].metrics, obj=name)
        pd.testing.assert_frame_equal(saved.retrains.drop(columns=MEASURED),
                                      local[name].retrains.drop(columns=MEASURED), obj=name)


@pytest.mark.slow
def test_sweep_spreads_over_both_nodes_with_results_identical_to_a_local_run(cluster_run, local_run):
    report, workdir, log, _ = cluster_run
    assert report["cpus"] == 2 and report["head"] != report["worker"]
    assert report["spread"]["errors"] == {}, log
    assert report["spread"]["finished"] == sorted(policies())
    started = backtests_started(workdir / "spread-records")
    assert len(started) == len(policies())  # one backtest per policy, none run twice
    assert {node for node, _ in started} == {report["head"], report["worker"]}, started
    assert not local_run.errors
    assert_same_as_local(workdir / "spread", local_run)


@pytest.mark.slow
def test_removing_a_node_mid_sweep_reruns_its_backtests_and_reports_every_policy(cluster_run, local_run):
    report, workdir, log, returncode = cluster_run
    removed = report["removed"]
    assert not removed["hung"], f"the sweep did not finish within 180 s of the node's removal:\n{log[-3000:]}"
    assert removed["error"] is None, log
    assert report["running_on_worker_when_removed"], "no backtest was running on the removed node"
    assert len(report["saved_before_removal"]) < len(policies())
    assert removed["errors"] == {} and removed["finished"] == sorted(policies()), log
    started = backtests_started(workdir / "removed-records")
    assert len(started) > len(policies())  # the lost backtest(s) started again
    assert "lost its worker or node" in log and "running it again" in log
    assert_same_as_local(workdir / "removed", local_run)
    assert returncode == 0 and "CLUSTER SCRIPT DONE" in log, log
