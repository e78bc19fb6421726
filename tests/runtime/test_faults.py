"""Faults: a component actor dies in the middle of a backtest, a sweep is interrupted with Ctrl-C.

A component process is killed deterministically: its ``run`` calls ``os._exit(1)`` at a chosen simulated
time, the first time only (a marker file in tmp_path remembers that it happened). The replacement must
end up exactly where the lost actor was, user state on the component instance included: the serving
hook counts its calls and puts the count in its refresh reason; the training component counts its runs
and puts the count in the model it returns, which the serving hook also reports.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import raytrain as rt
from raytrain.datasets import sea

X = ["x0", "x1", "x2"]
SETTINGS = dict(tick="6h", warmup="2D")
MEASURED = ["train_seconds", "cpu_seconds"]
HERE = Path(__file__).resolve().parent


def fit_threshold(data) -> float:
    """The SEA concept is y = 1 iff x0 + x1 <= theta: pick the theta that fits the rows best (fast, numpy)."""
    s, y = (data["x0"] + data["x1"]).to_numpy(), data["y"].to_numpy()
    thetas = np.linspace(0.0, 20.0, 81)
    return float(thetas[int(np.argmax([np.mean((s <= t) == y) for t in thetas]))])


def predict(theta: float, batch) -> np.ndarray:
    return ((batch["x0"] + batch["x1"]).to_numpy() <= theta).astype(np.int64)


def make_pipeline(record_dir, serving_crash_at=None, training_crash_at=None, marker=None, sleep_s=0.0):
    """Training + Serving that may kill their own process once, at a simulated time (marker.<who>)."""
    record_dir = str(record_dir)
    serving_crash_at = None if serving_crash_at is None else pd.Timestamp(serving_crash_at)
    training_crash_at = None if training_crash_at is None else pd.Timestamp(training_crash_at)

    def crash_once(now, at, who):
        if at is not None and now == at and not os.path.exists(f"{marker}.{who}"):
            open(f"{marker}.{who}", "w").close()
            os._exit(1)

    class Training(rt.Component):
        runs = 0

        def run(self, data):
            crash_once(self.now, training_crash_at, "training")
            self.runs += 1
            return {"theta": fit_threshold(data), "run": self.runs}

    class Serving(rt.Component):
        calls = 0

        def run(self, batch, model):
            with open(os.path.join(record_dir, f"serving-{os.getpid()}.txt"), "a") as f:
                f.write(f"{self.now.value}\n")
            crash_once(self.now, serving_crash_at, "serving")
            if sleep_s:
                time.sleep(sleep_s)
            return predict(model["theta"], batch)

        def after_run(self):
            self.calls += 1
            if self.calls % 10 == 0:
                rt.refresh("Training", f"call {self.calls}, model of run {self.model['run']}")

    return [Training, Serving]


def served_ticks(record_dir) -> dict:
    """{pid: [tick start times served, in order]} of every serving process."""
    return {name: [int(v) for v in open(os.path.join(record_dir, name)).read().split()]
            for name in sorted(os.listdir(record_dir)) if name.startswith("serving-")}


def assert_same_result(a, b):
    pd.testing.assert_frame_equal(a.metrics, b.metrics)
    pd.testing.assert_frame_equal(a.retrains.drop(columns=MEASURED), b.retrains.drop(columns=MEASURED))


@pytest.fixture(scope="module")
def stream():
    df = sea(n=3_000, seed=2, freq="10min", label_delay="30min")
    return rt.Stream.from_pandas(df, time="time", label="y", label_time="label_time", inputs=X)


@pytest.fixture(scope="module")
def uninterrupted(ray_session, stream, tmp_path_factory):
    result = rt.backtest(make_pipeline(tmp_path_factory.mktemp("plain")), stream, **SETTINGS)
    assert result.summary["recoveries"] == 0
    assert result.summary["retrains"] >= 5
    assert result.retrains["reason"].str.contains("model of run 3").any()
    return result


def test_serving_actor_lost_before_any_checkpoint_is_replayed_from_the_start(uninterrupted, stream, tmp_path):
    crash_at = uninterrupted.metrics["start"].iloc[8]
    result = rt.backtest(make_pipeline(tmp_path, serving_crash_at=crash_at, marker=str(tmp_path / "crashed")),
                         stream, **SETTINGS)
    assert (tmp_path / "crashed.serving").exists()
    assert result.summary["recoveries"] == 1
    assert_same_result(result, uninterrupted)
    by_pid = served_ticks(tmp_path)
    assert len(by_pid) == 2  # the lost process and its replacement
    lost, replacement = sorted(by_pid.values(), key=len)
    assert lost[-1] == crash_at.value
    assert replacement == [t.value for t in uninterrupted.metrics["start"]]  # every tick, from the first


def test_serving_actor_lost_after_a_checkpoint_resumes_from_it(uninterrupted, stream, tmp_path):
    # A serving actor is checkpointed every Coordinator.checkpoint_every_s (2 s) of wall time, when a
    # serve call returns (here every 10 ticks, at the hook's refreshes). Sleeping 50 ms per tick makes
    # the call ending at tick 50 at least 2.5 s in: a checkpoint is taken by then, before the crash at 60.
    crash_at = uninterrupted.metrics["start"].iloc[60]
    result = rt.backtest(make_pipeline(tmp_path, serving_crash_at=crash_at, marker=str(tmp_path / "crashed"),
                                       sleep_s=0.05), stream, **SETTINGS)
    assert (tmp_path / "crashed.serving").exists()
    assert result.summary["recoveries"] == 1
    assert_same_result(result, uninterrupted)
    by_pid = served_ticks(tmp_path)
    assert len(by_pid) == 2
    first_tick = uninterrupted.metrics["start"].iloc[0].value
    lost = next(ticks for ticks in by_pid.values() if ticks[-1] == crash_at.value and ticks[0] == first_tick)
    replacement = next(ticks for ticks in by_pid.values() if ticks is not lost)
    # restored from a checkpoint: the replacement did not replay from the first tick
    assert first_tick < replacement[0] <= crash_at.value
    assert len(replacement) < len(uninterrupted.metrics)


def test_training_actor_lost_during_a_retrain(uninterrupted, stream, tmp_path):
    crash_at = uninterrupted.retrains["time"].iloc[3]  # the third retrain after warm-up
    result = rt.backtest(make_pipeline(tmp_path, training_crash_at=crash_at, marker=str(tmp_path / "crashed")),
                         stream, **SETTINGS)
    assert (tmp_path / "crashed.training").exists()
    assert result.summary["recoveries"] == 1
    assert_same_result(result, uninterrupted)


def test_both_lost_in_one_backtest_in_a_sweep(uninterrupted, stream, tmp_path):
    serving_at = uninterrupted.metrics["start"].iloc[20]
    training_at = uninterrupted.retrains["time"].iloc[4]

    pipeline = make_pipeline(tmp_path, serving_crash_at=serving_at, training_crash_at=training_at,
                             marker=str(tmp_path / "crashed"))
    # the pipeline's own hook retrains; Never() adds nothing, so the result is the plain one
    sweep = rt.sweep(pipeline, stream, {"never": rt.Never()}, out=str(tmp_path / "out"), verbose=False, **SETTINGS)
    assert not sweep.errors
    assert (tmp_path / "crashed.serving").exists() and (tmp_path / "crashed.training").exists()
    result = sweep["never"]
    assert result.summary["recoveries"] == 2
    assert_same_result(result, uninterrupted)
    assert_same_result(rt.load(tmp_path / "out" / "never"), uninterrupted)


# -- Ctrl-C in the middle of a sweep --------------------------------------------------------------------

def _saved(out: Path) -> dict:
    return {p.parent.name: p.stat().st_mtime_ns for p in out.glob("*/summary.json")}


def _starts(records: Path) -> int:
    return len(list(records.glob("serving-*.txt")))


def _run_script(out, records, address, **popen):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    # Ctrl-C must reach it as KeyboardInterrupt even when this test runs in the background (a shell's
    # background jobs inherit SIGINT ignored, and Python then installs no handler for it).
    return subprocess.Popen([sys.executable, str(HERE / "interruptible_sweep.py"), str(out), str(records), address],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL), **popen)


def _wait_cpus_free(ray, timeout=60):
    """The interrupted driver's actors go away with it; wait until its CPUs are back."""
    total = ray.cluster_resources().get("CPU")
    deadline = time.time() + timeout
    while time.time() < deadline:
        if ray.available_resources().get("CPU") == total:
            return
        time.sleep(0.2)
    raise AssertionError(f"CPUs not released: {ray.available_resources()} of {ray.cluster_resources()}")


@pytest.mark.slow
def test_ctrl_c_keeps_finished_results_and_the_rerun_completes_the_rest(ray_session, tmp_path):
    import ray

    out, records = tmp_path / "out", tmp_path / "records"
    records.mkdir()
    address = ray.get_runtime_context().gcs_address  # a second driver on the session's Ray
    proc = _run_script(out, records, address)
    try:
        deadline = time.time() + 120
        while not _saved(out) and proc.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        assert _saved(out), f"no result saved before the script ended:\n{proc.stdout.read() if proc.poll() is not None else ''}"
        proc.send_signal(signal.SIGINT)
        log, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode != 0, log
    assert "KeyboardInterrupt" in log and "SWEEP DONE" not in log, log
    saved = _saved(out)
    policies = json.loads((out / "sweep.json").read_text())["policies"]
    assert 1 <= len(saved) < len(policies), f"{len(saved)} of {len(policies)} saved when interrupted"
    for d in saved:
        rt.load(out / d)  # complete and readable
    started_before = _starts(records)
    _wait_cpus_free(ray)

    rerun = _run_script(out, records, address)
    log, _ = rerun.communicate(timeout=180)
    assert rerun.returncode == 0 and "SWEEP DONE" in log, log
    after = _saved(out)
    assert len(after) == len(policies)
    assert {d: after[d] for d in saved} == saved  # the finished ones were not redone
    assert _starts(records) - started_before == len(policies) - len(saved)
    result = rt.SweepResult.load(out)
    assert not result.errors and list(result.table().index) == policies
    _wait_cpus_free(ray)

