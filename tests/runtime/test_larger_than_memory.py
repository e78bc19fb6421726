"""A lazy Parquet stream is read tick by tick, never whole, and a history budget bounds memory.

The serving actor samples its own resident memory at every tick; the stream is several times larger
than what the actor may hold (budget + a few cached row groups + slack, whatever the number of events:
under a budget the history keeps its per-event outputs and labels with its budgeted chunks too).
"""

import json
import os

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import raytrain as rt

N_ROWS, N_FEATURES, FILES, ROW_GROUP = 600_000, 64, 6, 10_000
FEATURES = [f"f{i}" for i in range(N_FEATURES)]
BUDGET = 8_000_000


def rss_bytes() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


class Training(rt.Component):
    def run(self, data):
        return float(data["y"].mean())


class Serving(rt.Component):
    out_dir = None

    def run(self, batch, model):
        return np.full(len(batch), int(model > 0.5))

    def after_run(self):
        recent = self.history.inputs[-2000:]          # hooks still read history, spilled or not
        assert list(recent.columns) == FEATURES and len(recent) == min(2000, len(self.history))
        rss = rss_bytes()
        if not hasattr(self, "first_rss"):
            self.first_rss = rss
        self.peak_rss = max(getattr(self, "peak_rss", 0), rss)
        with open(os.path.join(self.out_dir, "memory.json"), "w") as f:
            json.dump({"first": self.first_rss, "peak": self.peak_rss, "rows": len(self.history)}, f)


def write_stream(path, n_rows=N_ROWS, files=FILES):
    rng = np.random.default_rng(0)
    per_file = n_rows // files
    start = pd.Timestamp("2024-01-01").value
    for i in range(files):
        t = start + (i * per_file + np.arange(per_file, dtype=np.int64)) * 1_000_000_000
        cols = {"time": pa.array(t, pa.int64()).cast(pa.timestamp("ns"))}
        x = rng.random((per_file, N_FEATURES))
        cols.update({name: x[:, j] for j, name in enumerate(FEATURES)})
        cols["y"] = (x[:, 0] + x[:, 1] > 1).astype(np.int64)
        pq.write_table(pa.table(cols), os.path.join(path, f"part-{i:03d}.parquet"), row_group_size=ROW_GROUP)


@pytest.fixture(scope="module")
def parquet_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("big_stream")
    write_stream(str(path))
    return path


@pytest.mark.slow
def test_lazy_stream_with_history_budget_keeps_memory_bounded(ray_session, parquet_dir, tmp_path):
    stream = rt.Stream.from_parquet(parquet_dir, time="time", label="y", label_delay="10min", lazy=True)
    assert stream.table is None and len(stream) == N_ROWS
    raw_bytes = sum(os.path.getsize(p) for p in parquet_dir.iterdir())
    in_memory_bytes = N_ROWS * (N_FEATURES + 2) * 8            # what the stream takes as Arrow in memory

    Serving.out_dir = str(tmp_path)
    result = rt.backtest([Training, Serving], stream, tick=10_000, warmup=10_000,
                         window=rt.Sliding(rows=10_000), history_budget=BUDGET)
    assert result.summary["events"] == N_ROWS - 10_000
    assert result.metrics["accuracy"].between(0.3, 0.7).all()

    mem = json.loads((tmp_path / "memory.json").read_text())
    assert mem["rows"] == N_ROWS - 10_000
    growth = mem["peak"] - mem["first"]
    # Under a budget the history's outputs and (lazy stream) labels live with its chunks, inside the
    # budget, as long as nobody reads them per event: this hook reads only inputs, so no per-row buffer
    # and no label index grows with the stream (event and label times are the source's own arrays,
    # there before the first tick).
    cache_bytes = 2 * ROW_GROUP * (N_FEATURES + 3) * 8        # the source's row-group cache
    bound = BUDGET + cache_bytes + 64_000_000                 # + pandas/arrow working memory of one tick
    print(f"\nstream: {in_memory_bytes / 1e6:.0f} MB in memory ({raw_bytes / 1e6:.0f} MB Parquet), "
          f"history budget {BUDGET / 1e6:.0f} MB; serving actor RSS first tick {mem['first'] / 1e6:.0f} MB, "
          f"peak {mem['peak'] / 1e6:.0f} MB, growth {growth / 1e6:.0f} MB (bound {bound / 1e6:.0f} MB)")
    assert growth < bound
    assert growth < in_memory_bytes / 2, "the actor holds much of the stream: it is not streaming"


def test_lazy_and_in_memory_streams_give_identical_results(ray_session, tmp_path):
    write_stream(str(tmp_path), n_rows=60_000, files=3)
    lazy = rt.Stream.from_parquet(tmp_path, time="time", label="y", label_delay="10min", lazy=True)
    whole = rt.Stream.from_parquet(tmp_path, time="time", label="y", label_delay="10min")
    Serving.out_dir = str(tmp_path)
    kwargs = dict(tick=5_000, warmup=5_000, policy=rt.Every(events=15_000))
    a = rt.backtest([Training, Serving], lazy, history_budget="1MB", **kwargs)
    b = rt.backtest([Training, Serving], whole, **kwargs)
    pd.testing.assert_frame_equal(a.metrics, b.metrics)
    cols = ["time", "trigger", "version", "rows", "serves_from"]
    pd.testing.assert_frame_equal(a.retrains[cols], b.retrains[cols])


def test_history_spills_to_parquet_and_stays_readable():
    from raytrain.history import History
    from raytrain.source import LABEL, LABEL_TIME, TIME

    h = History(["x"], budget_bytes=2_000)
    for k in range(10):
        t = pd.Timestamp("2024-01-01").value + np.arange(k * 100, (k + 1) * 100, dtype=np.int64)
        rows = pa.table({TIME: pa.array(t).cast(pa.timestamp("ns")), LABEL: np.zeros(100),
                         LABEL_TIME: pa.array(t).cast(pa.timestamp("ns")), "x": np.arange(k * 100, (k + 1) * 100.0)})
        h.append(rows, np.arange(k * 100, (k + 1) * 100))
    # the budget + the newest chunk: its rows (32 bytes each) and their times, label times, labels and
    # outputs (32 bytes more: with no stream columns to index, the history keeps its own)
    assert h._mem_bytes <= 2_000 + 100 * 64 and h.memory_bytes() <= 2_000 + 100 * 64
    spilled = [s for s in h._sources if s[0] == "spill"]
    assert spilled and all(os.path.exists(s[1]) for s in spilled)
    assert sum(isinstance(p, str) and os.path.exists(p) for p in h._parked) == len(spilled)
    np.testing.assert_array_equal(h.outputs, np.arange(1000))
    np.testing.assert_array_equal(h.inputs["x"], np.arange(1000.0))
    np.testing.assert_array_equal(h.inputs[-150:]["x"].to_numpy(), np.arange(850.0, 1000.0))
    np.testing.assert_array_equal(h.inputs[5:15]["x"].to_numpy(), np.arange(5.0, 15.0))


class SpillWatcher(rt.Component):
    """Serving that writes down where its history spills, and whether files are there mid-backtest."""
    name = "Serving"
    out_dir = None

    def run(self, batch, model):
        return np.full(len(batch), int(model > 0.5))

    def after_run(self):
        spill_dir = self.history.spill_dir
        if spill_dir is not None and os.listdir(spill_dir):
            with open(os.path.join(self.out_dir, "spill_dir"), "w") as f:
                f.write(spill_dir)


def test_spilled_history_files_are_deleted_when_the_backtest_ends(ray_session, tmp_path):
    write_stream(str(tmp_path), n_rows=30_000, files=1)
    stream = rt.Stream.from_parquet(tmp_path, time="time", label="y", label_delay="10min")
    SpillWatcher.out_dir = str(tmp_path)
    rt.backtest([Training, SpillWatcher], stream, tick=2_000, warmup=2_000, history_budget="200KB")
    spill_dir = (tmp_path / "spill_dir").read_text()
    assert spill_dir and not os.path.exists(spill_dir), f"{spill_dir} was left behind"
