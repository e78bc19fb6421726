"""Memory of a 10-million-event backtest against the stream's raw Arrow size.

Same stream and components as throughput.py (SEA, ticks of 100,000 events, retrain every 1,000,000,
sliding window of 500,000 rows). Three runs, each in a fresh Ray session after a small warm-up
backtest (so the worker pool exists and every run starts from the same actor baseline):
  1. the in-memory stream, no history budget;
  2. the same with history_budget="64MB";
  3. a lazy Parquet stream (row groups of 100,000 rows) with history_budget="64MB".

What is counted. A thread in the driver samples, every ~20 ms (slower on a busy machine: the rate
achieved is printed), every process of this Ray session: the driver and all its descendants (gcs_server,
raylet, the coordinator, the component actors, idle workers, agents; the serving and training actors
are told apart by the pid their component writes down). Per process: RSS, PSS and USS (psutil's
memory_full_info(): uss = Private_Clean + Private_Dirty of smaps_rollup), peak over the backtest and
growth = peak - value just before it started. Object-store pages are shared memory (/dev/shm/plasma*),
mapped by whichever processes read an object: the raylet hosts the store but never touches them, and a
page that only one process maps (the driver's right after its ray.put, an actor's checkpoint that nobody
read yet) is private, so in that process's USS. USS below therefore excludes those pages (read from the
plasma block of /proc/<pid>/smaps; shown as "store pages") and the object store is counted once, from
Ray's accounting: total minus available "object_store_memory", peak minus its value before the run.

    total = object-store growth at peak + sum over processes of the peak USS growth

The user's own Stream in the driver is not counted: it exists before the backtest and is the reference
size (stream.table.nbytes). Its copy in the object store is counted, as are the coordinator's
checkpoints of actor state, which also live there. Summing per-process peaks over-counts a little (they
need not coincide). Runs 2 and 3 state the serving actor's peak USS growth as "budget + X MB".

    python benchmarks/memory.py [--events 10000000]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import tempfile
import threading
import time

import pyarrow as pa
import pyarrow.parquet as pq
import ray
import psutil  # after ray: Ray ships psutil in ray/thirdparty_files

import raytrain as rt
from raytrain.datasets import sea
from throughput import Training, Serving

MB = 1e6
TICK, BUDGET = 100_000, 64_000_000


class Noted:
    """Writes down which process runs it (a file per role in pid_dir, set in the driver: the classes
    travel to the actors by value)."""
    pid_dir = None

    def note(self, role):
        path = os.path.join(Noted.pid_dir, role)
        if not os.path.exists(path):
            with open(path, "w") as f:
                f.write(str(os.getpid()))


class TrainingNoted(Training, Noted):
    def run(self, data):
        self.note("training")
        return super().run(data)


class ServingNoted(Serving, Noted):
    def run(self, batch, model):
        self.note("serving")
        return super().run(batch, model)


def memory(proc, split_store) -> dict:
    """RSS, PSS, USS (psutil, from smaps_rollup) in bytes; USS without this process's private object-store
    pages, which are read from the plasma mapping's block of /proc/<pid>/smaps (for Ray processes)."""
    full = proc.memory_full_info()
    store = 0
    if split_store:
        text = open(f"/proc/{proc.pid}/smaps").read()
        i = text.find("plasma")
        while i >= 0:
            j = text.find("VmFlags", i)
            store += 1024 * sum(map(int, re.findall(r"\nPrivate_\w+:\s+(\d+)", text[i:j])))
            i = text.find("plasma", j)
    return {"rss": full.rss, "pss": full.pss, "uss": full.uss - store, "store": store}


class Sampler(threading.Thread):
    """Peak of each quantity per process, and of the object store's usage, until stop(). The driver, the
    actors, raylet and gcs_server are read at every sweep, the session's other processes every 25th."""

    def __init__(self, period=0.02):
        super().__init__(daemon=True)
        self.period, self.halt, self.sweeps, self.peak = period, threading.Event(), 0, {}
        self.store_total = ray.cluster_resources()["object_store_memory"]
        self.store_before = self.store_peak = self.store_used()
        self.procs, self.names = {}, {}
        self.before = self.sample(everything=True)

    def store_used(self) -> float:
        return self.store_total - ray.available_resources().get("object_store_memory", 0)

    def sample(self, everything) -> dict:
        me = psutil.Process()
        if everything:  # (re)discover the processes and their titles: an idle worker may become an actor
            for p in [me] + me.children(recursive=True):
                try:
                    self.procs[p.pid], self.names[p.pid] = p, " ".join(map(os.path.basename, p.cmdline()[:2]))
                except psutil.Error:
                    pass
        out = {}
        for pid, p in list(self.procs.items()):
            name = self.names[pid]
            actor = pid == me.pid or any(k in name for k in ("Coordinator", "ComponentActor"))
            if everything or actor or name.startswith(("raylet", "gcs_server")):
                try:
                    out[pid] = memory(p, split_store=actor or name.startswith("ray::"))
                except (psutil.Error, OSError):
                    del self.procs[pid]  # the process ended
        return out

    def run(self):
        self.start_time = time.perf_counter()
        while not self.halt.is_set():
            sweep = time.perf_counter()
            for pid, m in self.sample(everything=self.sweeps % 25 == 0).items():
                peak = self.peak.setdefault(pid, dict(m))
                for key, value in m.items():
                    peak[key] = max(peak[key], value)
            self.store_peak = max(self.store_peak, self.store_used())
            self.sweeps += 1
            self.halt.wait(max(0.005, self.period - (time.perf_counter() - sweep)))  # a sweep every ~20 ms

    def stop(self):
        self.halt.set()
        self.join()
        return (time.perf_counter() - self.start_time) / max(self.sweeps, 1)


def role(name, pid, pids) -> str:
    if pid == os.getpid():
        return "driver"
    actors = {p: f"{r} ComponentActor" for r, p in pids.items()}
    return actors.get(pid) or next((k for k in ("Coordinator", "raylet", "gcs_server") if k in name), "other")


def measure(title, stream, warm, arrow_bytes, **kwargs) -> None:
    ray.init(address="local", include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    try:
        report(title, stream, warm, arrow_bytes, **kwargs)
    finally:
        ray.shutdown()


def report(title, stream, warm, arrow_bytes, **kwargs) -> None:
    rt.backtest([TrainingNoted, ServingNoted], warm, tick=TICK, warmup=TICK, progress=False)  # warm the pool
    for f in os.listdir(Noted.pid_dir):
        os.remove(os.path.join(Noted.pid_dir, f))
    sampler = Sampler()
    sampler.start()
    start = time.perf_counter()
    r = rt.backtest([TrainingNoted, ServingNoted], stream, tick=TICK, warmup=TICK, policy=rt.Every(events=1_000_000),
                    window=rt.Sliding(rows=500_000), progress=False, **kwargs)
    wall, period = time.perf_counter() - start, sampler.stop()
    pids = {f: int(open(os.path.join(Noted.pid_dir, f)).read()) for f in os.listdir(Noted.pid_dir)}
    print(f"\n{title}: {r.summary['events']:,} events in {wall:.1f}s, {r.summary['retrains']} retrains; "
          f"a sample every {period * 1e3:.0f} ms")
    print(f"{'process (MB)':24s} {'USS before':>10s} {'peak':>7s} {'growth':>7s} {'RSS peak':>9s} {'PSS peak':>9s} "
          f"{'store pages':>11s}")
    rows = {}  # per role: sums over its processes (a process started during the run grew by all of it)
    for pid, peak in sampler.peak.items():
        before = sampler.before.get(pid, dict.fromkeys(peak, 0))
        row = rows.setdefault(role(sampler.names[pid], pid, pids), dict.fromkeys(("n", "before", "growth", *peak), 0))
        for key, value in [("n", 1), ("before", before["uss"]), ("growth", peak["uss"] - before["uss"]), *peak.items()]:
            row[key] += value
    for name, row in sorted(rows.items(), key=lambda kv: -kv[1]["growth"]):
        label = f"{name} ({row['n']} processes)" if row["n"] > 1 else name
        print(f"{label:24s} {row['before'] / MB:10.0f} {row['uss'] / MB:7.0f} {row['growth'] / MB:+7.0f} "
              f"{row['rss'] / MB:9.0f} {row['pss'] / MB:9.0f} {row['store'] / MB:11.0f}")
    grown = sum(row["growth"] for row in rows.values())
    store = sampler.store_peak - sampler.store_before
    total = store + grown
    print(f"object store: +{store / MB:.0f} MB at peak ({sampler.store_before / MB:.0f} MB before: the warm-up's "
          f"stream); sum of USS growths {grown / MB:.0f} MB")
    print(f"total {total / MB:.0f} MB = {total / arrow_bytes:.2f}x the stream's {arrow_bytes / MB:.0f} MB as Arrow")
    serving = rows["serving ComponentActor"]["growth"]
    if "history_budget" in kwargs:
        print(f"serving actor: peak USS growth {serving / MB:.0f} MB = budget {BUDGET / MB:.0f} MB "
              f"{'+' if serving >= BUDGET else '-'} {abs(serving - BUDGET) / MB:.0f} MB")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    args = parser.parse_args(argv)

    df = sea(n=args.events, seed=0, freq="1s", label_delay="10min")
    df.attrs.clear()
    cols = dict(time="time", label="y", label_time="label_time", inputs=["x0", "x1", "x2"])
    stream = rt.Stream.from_pandas(df, **cols)
    warm = rt.Stream.from_pandas(df.iloc[: 3 * TICK], **cols)
    arrow = stream.table.nbytes
    print(f"stream: {len(stream):,} events, {arrow / MB:.0f} MB as Arrow; driver pid {os.getpid()}")

    tmp = tempfile.mkdtemp(prefix="raytrain-memory-")
    Noted.pid_dir, parquet = os.path.join(tmp, "pids"), os.path.join(tmp, "stream")
    os.mkdir(Noted.pid_dir)
    os.mkdir(parquet)
    table = pa.Table.from_pandas(df, preserve_index=False)
    del df
    for i in range(0, table.num_rows, 1_000_000):  # files of 1M rows, row groups of one tick
        pq.write_table(table.slice(i, 1_000_000), os.path.join(parquet, f"part-{i:010d}.parquet"), row_group_size=TICK)
    del table
    lazy = rt.Stream.from_parquet(parquet, lazy=True, **cols)
    size = sum(os.path.getsize(os.path.join(parquet, f)) for f in os.listdir(parquet))
    print(f"lazy stream: {size / MB:.0f} MB of Parquet in {len(os.listdir(parquet))} files, row groups of {TICK:,}")
    print("MB per process role: USS before the run, its peak and growth, peak RSS and PSS, and the peak of "
          "object-store pages private to it (excluded from USS, counted in the object store)")
    try:
        measure("1. in-memory stream, no history budget", stream, warm, arrow)
        measure("2. in-memory stream, history_budget=64MB", stream, warm, arrow, history_budget=BUDGET)
        measure("3. lazy Parquet stream, history_budget=64MB", lazy, warm, arrow, history_budget=BUDGET)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
