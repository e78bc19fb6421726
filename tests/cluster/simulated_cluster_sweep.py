"""Sweeps on a simulated 2-node Ray cluster, for test_simulated_cluster.py (not a test itself).

    python simulated_cluster_sweep.py WORKDIR

A ``ray.cluster_utils.Cluster`` (head + one added node, one CPU each) cannot share a process with the
test session's Ray, hence this script. It runs two sweeps of the same policies:
  WORKDIR/spread   both nodes up throughout
  WORKDIR/removed  the added node is removed while one of its backtests is running
and writes WORKDIR/report.json (node ids, errors, what happened when).
"""

import json
import os
import sys
import threading
import time

import ray
from ray.cluster_utils import Cluster

import raytrain as rt
from cluster_pipeline import SETTINGS, backtests_started, pipeline, policies, stream


def main(workdir):
    report = {}
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    try:
        worker = cluster.add_node(num_cpus=1)
        ray.init(address=cluster.address, log_to_driver=False, logging_level="ERROR")
        cluster.wait_for_nodes()
        report.update(head=ray.get_runtime_context().get_node_id(), worker=worker.node_id,
                      cpus=ray.cluster_resources().get("CPU"))
        s = stream()

        records = os.path.join(workdir, "spread-records")
        os.makedirs(records)
        spread = rt.sweep(pipeline(records, sleep_s=0.005), s, policies(), out=os.path.join(workdir, "spread"),
                          verbose=True, **SETTINGS)
        report["spread"] = {"errors": spread.errors, "finished": sorted(spread.results)}

        records = os.path.join(workdir, "removed-records")
        os.makedirs(records)
        box = {}

        def run():
            try:
                box["result"] = rt.sweep(pipeline(records, sleep_s=0.01), s, policies(),
                                         out=os.path.join(workdir, "removed"), verbose=True, **SETTINGS)
            except BaseException as exc:  # reported, not swallowed
                box["error"] = repr(exc)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        deadline = time.time() + 120
        while time.time() < deadline and thread.is_alive():
            if any(node == worker.node_id for node, _ in backtests_started(records)):
                break
            time.sleep(0.02)
        report["running_on_worker_when_removed"] = [
            n for node, n in backtests_started(records) if node == worker.node_id]
        report["saved_before_removal"] = sorted(
            d for d in os.listdir(os.path.join(workdir, "removed"))
            if os.path.exists(os.path.join(workdir, "removed", d, "summary.json")))
        cluster.remove_node(worker)
        thread.join(timeout=180)
        report["removed"] = {"hung": thread.is_alive(), "error": box.get("error")}
        if "result" in box:
            report["removed"].update(errors=box["result"].errors, finished=sorted(box["result"].results))
    finally:
        with open(os.path.join(workdir, "report.json"), "w") as f:
            json.dump(report, f, indent=2)
        ray.shutdown()
        cluster.shutdown()
    print("CLUSTER SCRIPT DONE", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
