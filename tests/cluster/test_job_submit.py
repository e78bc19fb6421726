"""A real Ray cluster on localhost (`ray start --head`) runs the flights example through `ray job submit`.

The head gets its own ports and its own --temp-dir, so it neither collides with the test session's Ray
nor with other Rays on the machine, and it is stopped by its own pid (never `ray stop`, which would stop
every Ray on the machine). The temp dir is a short path under /tmp, not tmp_path: Ray puts Unix sockets
under it, and a socket path must stay under 108 bytes.
"""

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

import raytrain as rt

ROOT = Path(__file__).resolve().parents[2]
RAY = str(Path(sys.executable).parent / "ray")
STALE = Path("/tmp/ray/ray_current_cluster")


def free_ports(n: int) -> list:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def wait_for_dashboard(port: int, head: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if head.poll() is not None:
            raise AssertionError(f"ray start exited with {head.returncode}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/version", timeout=2)
            return
        except urllib.error.HTTPError:  # it answers (maybe 401 without a token): it is up
            return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"the dashboard on port {port} did not come up in {timeout} s")


def processes_using(path: str) -> list:
    """Pids of processes whose command line mentions ``path`` (the head's own temp dir)."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmdline = open(f"/proc/{entry}/cmdline", "rb").read().decode(errors="replace")
            except OSError:
                continue
            if path in cmdline:
                pids.append(int(entry))
    return pids


def stop_head(head: subprocess.Popen, temp_dir: str) -> None:
    if head.poll() is None:
        head.send_signal(signal.SIGTERM)  # `ray start --block` stops the processes it started
        try:
            head.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)
            head.wait()
    deadline = time.time() + 30
    while processes_using(temp_dir) and time.time() < deadline:
        time.sleep(0.5)
    for pid in processes_using(temp_dir):  # stragglers of this head only
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@pytest.mark.slow
def test_flights_example_through_ray_job_submit_writes_its_results(tmp_path):
    port, dashboard, client, agent_http, agent_grpc, metrics, env_agent = free_ports(7)
    temp_dir = tempfile.mkdtemp(prefix="rtj-", dir="/tmp")
    stale_before = STALE.exists()
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    # The head's own token, given to the head and the submit client alike: a fresh machine has no
    # ~/.ray/auth_token until some ray.init writes one, and `ray start` with token auth will not start.
    env.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=secrets.token_hex(32), RAY_USAGE_STATS_ENABLED="0")
    head_log = open(tmp_path / "head.log", "w")
    head = subprocess.Popen(
        [RAY, "start", "--head", f"--port={port}", f"--dashboard-port={dashboard}", "--dashboard-host=127.0.0.1",
         f"--ray-client-server-port={client}", f"--dashboard-agent-listen-port={agent_http}",
         f"--dashboard-agent-grpc-port={agent_grpc}", f"--metrics-export-port={metrics}",
         f"--runtime-env-agent-port={env_agent}", "--num-cpus=2", f"--temp-dir={temp_dir}",
         "--include-dashboard=true", "--disable-usage-stats", "--block"],
        stdout=head_log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    out = tmp_path / "results"
    try:
        wait_for_dashboard(dashboard, head)
        submit = subprocess.run(
            [RAY, "job", "submit", "--address", f"http://127.0.0.1:{dashboard}", "--working-dir", str(ROOT),
             "--", sys.executable, "examples/flights.py", "--fast", "--out", str(out)],
            env=env, capture_output=True, text=True, timeout=400)
        log = submit.stdout + submit.stderr
        assert submit.returncode == 0, log
        assert "succeeded" in log and "Accuracy per month" in log, log

        never, trigger = rt.load(out / "never"), rt.load(out / "trigger")
        assert len(never.metrics) == len(trigger.metrics) > 30  # --fast: 60,000 flights, daily ticks
        assert never.summary["retrains"] == 0 and trigger.summary["retrains"] >= 1
        assert (trigger.retrains["trigger"].iloc[1:] == "Serving.after_run").all()
        # the backtests ran on this head, not on a local Ray the job would have started by itself
        worker_logs = "".join(p.read_text(errors="replace")
                              for p in Path(temp_dir).glob("session_*/logs/worker-*.out"))
        assert ":actor_name:Coordinator" in worker_logs and ":actor_name:ComponentActor" in worker_logs
    finally:
        stop_head(head, temp_dir)
        head_log.close()
        shutil.rmtree(temp_dir, ignore_errors=True)
        if not stale_before and STALE.exists():
            STALE.unlink()
    assert not processes_using(temp_dir)
