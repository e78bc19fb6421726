"""A component's history without Ray: masking at the simulated now, read-only views, the inputs view."""

import pickle
import tempfile

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings, strategies as st

from raytrain import History, Stream

T0 = pd.Timestamp("2024-01-01")


def at(minutes):
    return int((T0 + pd.Timedelta(minutes=minutes)).value)


def stream(labels=(1, 0, 1, 1, 0, 0), delays=(5, 60, 0, None, 30, 200)):
    """Six events, one every 10 minutes; label i arrives delays[i] minutes after its event (None: never)."""
    n = len(labels)
    t = T0 + pd.to_timedelta(np.arange(n) * 10, unit="min")
    arrived = [ti + pd.Timedelta(minutes=d) if d is not None else pd.NaT for ti, d in zip(t, delays)]
    df = pd.DataFrame({"t": t, "temp": np.arange(n) * 1.5, "city": [f"c{i}" for i in range(n)],
                       "y": list(labels), "arrived": pd.to_datetime(arrived)})
    return Stream.from_pandas(df, time="t", label="y", label_time="arrived")


def filled(s=None, now=None):
    s = s or stream()
    h = History(s.inputs)
    h.append(s.table.slice(0, 3), np.array([10, 11, 12]), version=1)
    h.append(s.table.slice(3, 3), np.array([13, 14, 15]), version=2)
    if now is not None:
        h.advance(now)
    return h


def label_list(h):
    return [None if np.isnan(v) else int(v) for v in h.labels]


# label i is known at its event time + delay: 00:05, 01:10, 00:20, never, 01:10, 04:10
@pytest.mark.parametrize("now_min, known", [
    (0, []), (5, []), (6, [0]), (20, [0]), (21, [0, 2]), (70, [0, 2]), (71, [0, 1, 2, 4]),
    (250, [0, 1, 2, 4]), (251, [0, 1, 2, 4, 5]), (10**6, [0, 1, 2, 4, 5]),
])
def test_a_label_is_visible_iff_its_label_time_is_strictly_before_now(now_min, known):
    s = stream()
    h = filled(s, now=at(now_min))
    truth = [1, 0, 1, 1, 0, 0]
    assert label_list(h) == [truth[i] if i in known else None for i in range(6)]
    assert list(np.flatnonzero(h.known)) == known
    lt = h.label_times
    assert list(np.flatnonzero(~np.isnat(lt))) == known
    assert list(lt[known].astype("int64")) == list(s.label_times_ns()[known])
    assert h.now == pd.Timestamp(at(now_min))


def test_labels_are_revealed_step_by_step_never_early_and_never_taken_back():
    h = filled()
    seen = []
    for minute in range(0, 400, 7):
        h.advance(at(minute))
        known = set(np.flatnonzero(h.known))
        assert all(seen_set <= known for seen_set in seen)
        seen.append(known)
        visible = ~np.isnat(h.label_times)
        assert np.all(h.label_times[visible] < np.datetime64(at(minute), "ns"))
    assert 3 not in seen[-1]   # a null label time: never


def test_everything_else_is_in_row_order_and_unmasked():
    h = filled(now=at(0))
    assert len(h) == 6
    assert list(h.times) == [np.datetime64(at(10 * i), "ns") for i in range(6)]
    assert h.times.dtype == np.dtype("datetime64[ns]")
    assert list(h.outputs) == [10, 11, 12, 13, 14, 15]
    assert list(h.versions) == [1, 1, 1, 2, 2, 2]


def test_rows_appended_after_the_clock_moved_are_masked_at_the_current_now():
    s = stream()
    h = History(s.inputs)
    h.advance(at(25))
    h.append(s.table.slice(0, 3), np.zeros(3))
    assert label_list(h) == [1, None, 1]


def test_the_clock_never_goes_back():
    h = filled(now=at(30))
    with pytest.raises(ValueError, match="clock went back"):
        h.advance(at(29))


def test_one_output_per_row():
    s = stream()
    with pytest.raises(ValueError, match="2 outputs for 3 rows"):
        History(s.inputs).append(s.table.slice(0, 3), np.zeros(2))


def test_views_are_read_only():
    h = filled(now=at(100))
    for array in (h.times, h.outputs, h.labels, h.label_times, h.versions, h.known, h.inputs["temp"]):
        with pytest.raises(ValueError):
            array[0] = array[1]
    with pytest.raises(ValueError):
        h.labels[-3:][:] = 1


def test_a_view_taken_at_one_now_keeps_what_was_known_then():
    # A hook keeping last tick's labels to compare with this tick's must not see them change under it.
    h = filled(now=at(30))
    labels, known = h.labels, h.known
    before_labels, before_known = label_list(h), list(known)
    h.advance(at(300))
    assert label_list(h) == [1, 0, 1, None, 0, 0]
    assert [None if np.isnan(v) else int(v) for v in labels] == before_labels
    assert list(known) == before_known


def test_string_labels_read_as_none_until_known():
    s = stream(labels=("a", "b", "a", "c", "b", "a"))
    h = filled(s, now=at(21))
    assert list(h.labels) == ["a", None, "a", None, None, None]


def test_empty_history():
    h = History(["temp"])
    assert len(h) == 0 and len(h.times) == 0 and len(h.labels) == 0 and len(h.outputs) == 0
    assert h.now is None
    assert list(h.inputs[:].columns) == ["temp"] and len(h.inputs[-100:]) == 0


# -- the inputs view ---------------------------------------------------------------------------------------
def test_inputs_slice_like_arrays_into_dataframes():
    h = filled(now=at(0))
    assert h.inputs.columns == ["temp", "city"] and len(h.inputs) == 6
    last = h.inputs[-2:]
    assert isinstance(last, pd.DataFrame) and list(last.columns) == ["temp", "city"]
    assert list(last["temp"]) == [6.0, 7.5] and list(last["city"]) == ["c4", "c5"]
    assert list(h.inputs[-100:]["temp"]) == [0.0, 1.5, 3.0, 4.5, 6.0, 7.5]  # crossing both appended chunks
    assert list(h.inputs[1:4]["city"]) == ["c1", "c2", "c3"]
    assert list(h.inputs[::2]["city"]) == ["c0", "c2", "c4"]
    assert list(h.inputs[::-1]["city"]) == ["c5", "c4", "c3", "c2", "c1", "c0"]
    assert list(h.inputs[[5, 0]]["city"]) == ["c5", "c0"]
    assert list(h.inputs[h.known]["city"]) == []
    assert list(h.inputs[np.array([True, False] * 3)]["city"]) == ["c0", "c2", "c4"]
    assert list(h.inputs["temp"]) == [0.0, 1.5, 3.0, 4.5, 6.0, 7.5]
    assert list(h.inputs.to_pandas()["city"]) == [f"c{i}" for i in range(6)]


def test_inputs_of_unknown_column_says_which_exist():
    h = filled()
    with pytest.raises(KeyError, match=r"'y' is not an input column; inputs are \['temp', 'city'\]"):
        h.inputs["y"]


def test_frame_view_has_everything_masked_at_now():
    h = filled(now=at(21))
    df = h.frame()
    assert list(df.columns) == ["time", "temp", "city", "output", "label", "label_time", "version"]
    assert list(df["time"]) == list(pd.to_datetime(h.times))
    assert [None if np.isnan(v) else int(v) for v in df["label"]] == [1, None, 1, None, None, None]
    assert df["label_time"].isna().tolist() == [False, True, False, True, True, True]
    assert list(df["output"]) == [10, 11, 12, 13, 14, 15] and list(df["version"]) == [1, 1, 1, 2, 2, 2]


# -- the index read from the stream's own columns (no copy) ----------------------------------------------
def stream_columns(s):
    t = s.table
    return (t.column("__time__").cast("int64").to_numpy(),
            t.column("__label_time__").cast("int64").fill_null(np.iinfo(np.int64).max).to_numpy(),
            t.column("__label__").to_numpy())


def everything(h):
    return {"times": h.times, "labels": h.labels, "known": h.known, "order": h.known_order,
            "label_times": h.label_times, "versions": h.versions, "outputs": h.outputs,
            "inputs": h.inputs[:].to_numpy()}


def assert_same(a, b):
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


@pytest.mark.parametrize("now_min", [0, 21, 71, 251])
def test_an_index_over_the_stream_columns_reads_exactly_like_copies(now_min):
    s = stream()
    h = History(s.inputs, stream_columns=stream_columns(s))
    h.append(s.table.slice(1, 2), np.array([11, 12]), version=1, origin=1)
    h.append(s.table.slice(3, 3), np.array([13, 14, 15]), version=2, origin=3)
    h.advance(at(now_min))
    copies = History(s.inputs)
    copies.append(s.table.slice(1, 2), np.array([11, 12]), version=1)
    copies.append(s.table.slice(3, 3), np.array([13, 14, 15]), version=2)
    copies.advance(at(now_min))
    assert_same(everything(h), everything(copies))
    assert np.shares_memory(h.times, stream_columns(s)[0]) or len(h.times) == 0
    assert len(h.times) == 5 and h.times[-1] == s.table.column("__time__").to_numpy()[5]


def test_rows_that_do_not_continue_the_stream_prefix_are_copied_and_read_correctly():
    s = stream()
    h = History(s.inputs, stream_columns=stream_columns(s))
    h.append(s.table.slice(0, 2), np.array([10, 11]), version=1, origin=0)
    h.append(s.table.slice(4, 2), np.array([14, 15]), version=1, origin=4)  # rows 2..3 skipped
    h.advance(at(10**6))
    copies = History(s.inputs)
    copies.append(s.table.slice(0, 2), np.array([10, 11]), version=1)
    copies.append(s.table.slice(4, 2), np.array([14, 15]), version=1)
    copies.advance(at(10**6))
    assert_same(everything(h), everything(copies))


def test_a_checkpointed_index_keeps_row_ranges_and_reattaches_to_the_stream():
    import pickle

    s = stream()
    cols = stream_columns(s)
    h = History(s.inputs, stream_columns=cols, reader=lambda a, b: s.table.slice(a, b - a))
    h.append(s.table.slice(0, 3), np.array([10, 11, 12]), version=1, origin=0)
    h.advance(at(21))
    blob = pickle.dumps(h)
    back = pickle.loads(blob)
    assert back._times.column is None and back._true_labels.column is None  # not in the checkpoint
    back.reattach(lambda a, b: s.table.slice(a, b - a), cols)
    for x in (h, back):
        x.append(s.table.slice(3, 3), np.array([13, 14, 15]), version=2, origin=3)
        x.advance(at(71))
    assert_same(everything(back), everything(h))


def test_versions_are_one_value_per_row():
    s = stream()
    h = History(s.inputs)
    for i, version in enumerate([1, 1, 2, 5, 5, 5]):
        h.append(s.table.slice(i, 1), np.array([i]), version=version)
    assert h.versions.tolist() == [1, 1, 2, 5, 5, 5]
    assert h.versions.dtype == np.int64 and not h.versions.flags.writeable
    assert History(s.inputs).versions.tolist() == []


# -- the label index is built on first read: reading late gives what reading all along gave -----------

@settings(max_examples=150, deadline=None)
@given(delays=st.lists(st.one_of(st.none(), st.integers(0, 90)), min_size=1, max_size=30),
       steps=st.lists(st.tuples(st.integers(0, 40), st.integers(0, 4)), min_size=1, max_size=12),
       read_at=st.integers(0, 12))
def test_labels_read_late_equal_labels_read_all_along(delays, steps, read_at):
    """Rows arrive in batches while the clock moves by random amounts (some rows are appended after
    their label time has passed); one history is read after every step, the other only from step
    ``read_at`` on. Every view must agree wherever both are read."""
    n = len(delays)
    s = stream(labels=[i % 2 for i in range(n)], delays=delays)
    cols = stream_columns(s)
    eager = History(s.inputs, stream_columns=cols)
    late = History(s.inputs, stream_columns=cols)
    now, row = 0, 0
    for i, (move, take) in enumerate(steps):
        now += move
        take = min(take, n - row)
        for h in (eager, late):
            h.advance(at(now))
            if take:
                h.append(s.table.slice(row, take), np.arange(row, row + take), version=i, origin=row)
        row += take
        views = everything(eager)
        if i >= read_at:
            assert_same(views, everything(late))
    assert_same(everything(eager), everything(late))


# -- under a budget: per-event columns live with the chunks until read; every view is unchanged -----------
def budget_cases(s, budget, spill_dir, lazy):
    """(no-budget history, budgeted one) over stream ``s``. ``lazy``: like a lazy Parquet stream, the
    labels are not among the stream columns; False: no stream columns at all, rows spilled to Parquet."""
    reader = lambda a, b: s.table.slice(a, b - a)
    if lazy:
        cols = stream_columns(s)[:2] + (None,)
        return (History(s.inputs, stream_columns=cols),
                History(s.inputs, budget_bytes=budget, reader=reader, spill_dir=spill_dir, stream_columns=cols))
    return History(s.inputs), History(s.inputs, budget_bytes=budget, spill_dir=spill_dir)


def all_views(h):
    views = everything(h)
    views["inputs temp"] = h.inputs[h.input_names[0]]
    views["inputs tail"] = h.inputs[-3:].to_numpy()
    views["frame"] = h.frame()
    return views


def assert_same_views(a, b):
    pd.testing.assert_frame_equal(a.pop("frame"), b.pop("frame"))
    assert_same(a, b)


@settings(max_examples=60, deadline=None)
@given(delays=st.lists(st.one_of(st.none(), st.integers(0, 90)), min_size=1, max_size=25),
       steps=st.lists(st.tuples(st.integers(0, 40), st.integers(0, 4)), min_size=1, max_size=10),
       read_at=st.integers(0, 10), budget=st.sampled_from([0, 300, 2_000, 10**9]),
       lazy=st.booleans(), float_from=st.integers(0, 10), checkpoint_at=st.integers(0, 12))
def test_a_budgeted_history_reads_exactly_like_an_unbudgeted_one(delays, steps, read_at, budget, lazy,
                                                                 float_from, checkpoint_at):
    """Same appends and clock moves into a history without a budget and one with (its columns parked in
    the chunks, which are re-read or spilled). The budgeted one is read only from step ``read_at`` on
    (its columns rebuilt then), and checkpointed and restored at step ``checkpoint_at``; outputs turn
    from int to float at step ``float_from``. Every view must agree wherever it is read."""
    n = len(delays)
    s = stream(labels=[i % 2 for i in range(n)], delays=delays)
    with tempfile.TemporaryDirectory() as spill_dir:
        free, budgeted = budget_cases(s, budget, spill_dir, lazy)
        now, row = 0, 0
        for i, (move, take) in enumerate(steps):
            if i == checkpoint_at:
                budgeted = pickle.loads(pickle.dumps(budgeted))
                budgeted.reattach(lambda a, b: s.table.slice(a, b - a), stream_columns(s)[:2] + (None,) if lazy else None)
            now += move
            take = min(take, n - row)
            outputs = np.arange(row, row + take) + (0.5 if i >= float_from else 0)
            for h in (free, budgeted):
                h.advance(at(now))
                if take:
                    h.append(s.table.slice(row, take), outputs, version=i // 3, origin=row if lazy else None)
            row += take
            if i >= read_at:
                assert_same_views(all_views(free), all_views(budgeted))
        assert len(budgeted) == len(free) == row
        assert_same_views(all_views(free), all_views(budgeted))


def test_string_labels_and_object_outputs_survive_a_budget(tmp_path):
    s = stream(labels=("a", "b", "a", "c", "b", "a"))
    free, budgeted = budget_cases(s, 0, str(tmp_path), lazy=True)
    for h in (free, budgeted):
        h.append(s.table.slice(0, 3), np.array(["x", "y", "z"], dtype=object), version=1, origin=0)
        h.append(s.table.slice(3, 3), np.array(["u", "v", "w"], dtype=object), version=2, origin=3)
        h.advance(at(21))
    assert list(budgeted.labels) == ["a", None, "a", None, None, None]
    assert_same_views(all_views(free), all_views(budgeted))


def tick_rows(k, n=1_000):
    t = T0.value + np.arange(k * n, (k + 1) * n, dtype=np.int64) * 10**9
    return pa.table({"__time__": pa.array(t).cast(pa.timestamp("ns")), "__label__": np.arange(n) % 2,
                     "__label_time__": pa.array(t + 60 * 10**9).cast(pa.timestamp("ns")),
                     "x": np.arange(k * n, (k + 1) * n, dtype=np.float64)})


@pytest.mark.parametrize("lazy", [True, False])
def test_a_budget_bounds_the_memory_of_a_history_nobody_reads_per_event(lazy, tmp_path):
    """Under a budget, outputs (and for a lazy stream, labels) are not kept per event in memory: what the
    history holds stays within budget + one chunk however many ticks were appended; reading outputs
    then rebuilds them exactly."""
    ticks, n, budget = 300, 1_000, 100_000
    whole = pa.concat_tables([tick_rows(k, n) for k in range(ticks)]).combine_chunks()
    times = whole.column("__time__").cast("int64").to_numpy()
    label_times = whole.column("__label_time__").cast("int64").to_numpy()
    reader = lambda a, b: whole.slice(a, b - a)

    def history(budget_bytes):
        if lazy:  # the stream's times are in memory, the labels are not
            return History(["x"], budget_bytes=budget_bytes, reader=reader, spill_dir=str(tmp_path),
                           stream_columns=(times, label_times, None))
        return History(["x"], budget_bytes=budget_bytes, spill_dir=str(tmp_path))

    h, free = history(budget), history(None)
    chunk_bytes = tick_rows(0, n).nbytes + 4 * 8 * n  # a chunk's rows and its parked columns (at most 4)
    peak = {}
    for k in range(ticks):
        for x in (h, free):
            x.advance(int(times[k * n]))
            x.append(whole.slice(k * n, n), np.full(n, k, dtype=np.int64), version=k // 50,
                     origin=k * n if lazy else None)
            x.advance(int(times[(k + 1) * n - 1]) + 1)
        peak[k] = max(peak.get(k - 1, 0), h.memory_bytes())
        if k % 50 == 0:
            assert h.inputs[-10:]["x"].tolist() == list(np.arange((k + 1) * n - 10, (k + 1) * n, dtype=float))
    assert peak[ticks - 1] <= budget + chunk_bytes, peak[ticks - 1]
    assert peak[ticks - 1] == peak[ticks // 10]          # flat: independent of the number of events
    assert free.memory_bytes() > ticks * n * 8            # without a budget the outputs are kept whole
    np.testing.assert_array_equal(h.outputs, np.repeat(np.arange(ticks), n))
    assert h.memory_bytes() >= ticks * n * 8              # once read, outputs are kept whole (documented)
    assert_same_views(all_views(free), all_views(h))
