"""No look-ahead, tested adversarially.

Spy components record, at every hook call and every training run, what they can see: the latest event
time and the latest label time in their history or training data, which labels are known, what the
batch holds and which model they were given. The records travel back from the Ray actors as JSON lines
(one file per process) and are checked on the driver against the stream itself:

- every event time and every label time a hook, a policy or a training run sees is < its now;
- a label is visible iff its label time < now: the test recomputes, from the raw stream, exactly how many
  rows and labels each history and each training run must hold, so nothing is hidden too long either;
- a batch holds exactly its tick's events, without the label or its time;
- the model serving a tick is the latest one trained at or before tick start - latency.

Hypothesis draws small streams (ties, zero delays, labels that never arrive, label order scrambled
against event order), tick sizes by duration and by count, warm-ups, latencies and refresh schedules.
Each example is a real backtest on the session's Ray.
"""

import json
import os
import uuid

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import raytrain as rt
from raytrain.clock import plan_ticks
from raytrain.policies import Policy

TIME, LABEL, LT = "t", "y", "lt"
INPUTS = ["x", "k"]
NAT = np.iinfo(np.int64).min


# -- the spies (module level: shipped to Ray workers by value) --------------------------------------
def _write(out_dir, run_id, record):
    record["run_id"] = run_id
    record["pid"] = os.getpid()
    with open(os.path.join(out_dir, f"{os.getpid()}.jsonl"), "a") as f:
        f.write(json.dumps(record) + "\n")


def _ns(values) -> np.ndarray:
    """datetime64 values (NaT allowed) as int64 ns."""
    return np.asarray(values, dtype="datetime64[ns]").astype(np.int64)


def _max(values):
    values = [v for v in values if v != NAT]
    return int(max(values)) if values else None


def _history_seen(history, now_ns: int) -> dict:
    """Everything a hook could learn about time and labels from a serving history."""
    times = _ns(history.times)
    label_times = _ns(history.label_times)
    labels = np.asarray(history.labels, dtype=float)
    known = ~np.isnan(labels)
    shown = label_times != NAT
    inputs = history.inputs[:]
    return {
        "rows": int(len(history)),
        "max_time": _max(times),
        "max_label_time": _max(label_times),
        "known": int(known.sum()),
        "label_sum": float(labels[known].sum()),
        # a known label must show its label time, and that time must be before now
        "known_without_time": int(np.sum(known & ~shown)),
        "time_without_label": int(np.sum(shown & ~known)),
        "known_at_or_after_now": int(np.sum(known & shown & (label_times >= now_ns))),
        "known_flags_disagree": int(np.sum(np.asarray(history.known) != known)),
        "frame_labels_disagree": int(np.sum(np.isnan(history.frame()["label"].to_numpy(dtype=float)) == known)),
        "input_rows": int(len(inputs)),
        "input_columns": list(inputs.columns),
    }


class Spy(rt.Component):
    """Shared configuration, set on the class by the test before each backtest."""

    out_dir = None
    run_id = None
    label_time_col = "label_time"
    refresh_every = 0        # serving hooks refresh Training every n-th served tick (0: never)
    trainer_refresh = False  # Training's own after_run asks for another run after every other run

    def record(self, **fields):
        _write(self.out_dir, self.run_id, {"component": type(self).__name__, "now": int(self.now.value), **fields})


class SpyTraining(Spy):
    name = "Training"

    def _data_seen(self) -> dict:
        data = self.data
        label_times = _ns(data[self.label_time_col])
        return {"data_rows": int(len(data)), "data_max_time": _max(_ns(data[TIME])),
                "data_max_label_time": _max(label_times), "data_never_labels": int(np.sum(label_times == NAT)),
                "data_label_sum": float(data[LABEL].sum()),
                "history_max_time": _max(_ns(self.history.times))}

    def before_run(self):
        self.record(hook="before_run", **self._data_seen())

    def run(self, data):
        assert data is self.data
        seen = self._data_seen()
        self.record(hook="run", columns=list(data.columns), **seen)
        return {"trained_now": int(self.now.value), "max_time": seen["data_max_time"],
                "max_label_time": seen["data_max_label_time"]}

    def after_run(self):
        self.record(hook="after_run", **self._data_seen())
        self._runs = getattr(self, "_runs", 0) + 1
        if self.trainer_refresh and self._runs % 2:
            self.refresh("Training")


class SpyServing(Spy):
    name = "Serving"

    def before_run(self):
        self._tick_start = int(self.now.value)
        # what self.batch holds before run: checked on its own in test_before_run_sees_no_event_of_its_tick
        early = _ns(self.batch[TIME]) if self.batch is not None else np.empty(0, dtype=np.int64)
        self.record(hook="before_run", early_batch_rows=int(len(early)), early_batch_max_time=_max(early),
                    **_history_seen(self.history, int(self.now.value)))

    def run(self, batch, model):
        times = _ns(batch[TIME])
        self.record(hook="run", columns=list(batch.columns), batch_rows=int(len(batch)),
                    batch_min_time=int(times.min()), batch_max_time=int(times.max()),
                    model_trained_now=model["trained_now"], model_max_time=model["max_time"],
                    model_max_label_time=model["max_label_time"], **_history_seen(self.history, int(self.now.value)))
        return np.zeros(len(batch), dtype=np.int64)

    def after_run(self):
        times = _ns(self.batch[TIME])
        self.record(hook="after_run", tick_start=self._tick_start, batch_rows=int(len(self.batch)),
                    batch_min_time=int(times.min()) if len(times) else None,
                    batch_max_time=_max(times), **_history_seen(self.history, int(self.now.value)))
        self._served = getattr(self, "_served", 0) + 1
        if self.refresh_every and self._served % self.refresh_every == 0:
            self.refresh("Training")


class SpyShadow(SpyServing):
    """A second serving component: the backtest then moves in lockstep, one tick per call."""

    name = "Shadow"


class SpyPolicy(Policy):
    """A policy that looks at everything a PolicyView offers, and fires every n-th tick."""

    def __init__(self, out_dir, run_id, every):
        self.out_dir, self.run_id, self.every, self.asked = out_dir, run_id, every, 0

    def decide(self, view):
        rows = view.training_rows()
        label_time_col = [c for c in rows.columns if c not in (TIME, LABEL, *INPUTS)][0]
        label_times = _ns(rows[label_time_col])
        _write(self.out_dir, self.run_id, {
            "component": "SpyPolicy", "hook": "decide", "now": int(view.now_ns), "trained_at": int(view.trained_at_ns),
            "last_retrain": int(view.last_retrain_ns), "trained_rows": int(len(rows)),
            "trained_max_time": _max(_ns(rows[TIME])), "trained_max_label_time": _max(label_times),
            "trained_never_labels": int(np.sum(label_times == NAT)),
            **_history_seen(view.history, int(view.now_ns))})
        self.asked += 1
        return "the spy says so" if self.every and self.asked % self.every == 0 else None

    def __repr__(self):
        return f"SpyPolicy(every={self.every})"


# -- driving and checking ------------------------------------------------------------------------------
def make_stream(times, labels, mode, delay=None, delays_min=None):
    df = pd.DataFrame({TIME: pd.to_datetime(np.asarray(times, dtype=np.int64)), "x": np.arange(len(times), dtype=float),
                       "k": np.arange(len(times)) % 3, LABEL: np.asarray(labels, dtype=np.int64)})
    if mode == "column":
        lt = [t + pd.Timedelta(minutes=d) if d is not None else pd.NaT for t, d in zip(df[TIME], delays_min)]
        df[LT] = pd.to_datetime(pd.Series(lt, dtype="datetime64[ns]"))
        return rt.Stream.from_pandas(df, time=TIME, label=LABEL, label_time=LT, inputs=INPUTS)
    if mode == "delay":
        return rt.Stream.from_pandas(df, time=TIME, label=LABEL, label_delay=delay, inputs=INPUTS)
    return rt.Stream.from_pandas(df, time=TIME, label=LABEL, inputs=INPUTS)


def spy_backtest(stream, out_dir, *, tick, warmup, latency=None, refresh_every=0, policy_every=None,
                 trainer_refresh=False, shadow=False, window=None):
    run_id = uuid.uuid4().hex
    os.makedirs(out_dir, exist_ok=True)
    Spy.out_dir, Spy.run_id, Spy.refresh_every = str(out_dir), run_id, refresh_every
    Spy.trainer_refresh, Spy.label_time_col = trainer_refresh, label_time_name(stream)
    policy = SpyPolicy(str(out_dir), run_id, policy_every) if policy_every is not None else None
    pipeline = [SpyTraining, SpyShadow, SpyServing] if shadow else [SpyTraining, SpyServing]
    try:
        result = rt.backtest(pipeline, stream, tick=tick, warmup=warmup, latency=latency, policy=policy,
                             window=window, metric="accuracy")
    finally:
        Spy.out_dir = Spy.run_id = None
        Spy.refresh_every, Spy.trainer_refresh = 0, False
    records = []
    for name in sorted(os.listdir(out_dir)):
        with open(os.path.join(out_dir, name)) as f:
            records += [json.loads(line) for line in f]
    records = [r for r in records if r["run_id"] == run_id]
    return result, records


def training_rows(times, lts, now, window=None):
    """The rows a training run at now must get: event and label before now, narrowed by the window."""
    visible = np.flatnonzero((times < now) & (lts < now))
    if isinstance(window, rt.Sliding) and window.rows is not None:
        return visible[-window.rows:]
    if isinstance(window, rt.Sliding):
        return visible[times[visible] >= now - pd.Timedelta(window.duration).value]
    return visible


def check_no_lookahead(stream, result, records, latency_ns=0, window=None):
    """Every record against the raw stream; returns the records grouped by (component, hook)."""
    times, lts = stream.times_ns(), stream.label_times_ns()     # a label that never arrives: int64 max
    labels = stream.table.column("__label__").to_numpy().astype(float)
    by = {}
    for r in records:
        by.setdefault((r["component"], r["hook"]), []).append(r)
    trainer_runs = sorted(by[("SpyTraining", "run")], key=lambda r: r["now"])
    assert len(by[("SpyServing", "after_run")]) == len(result.metrics) and trainer_runs, "the spies did not report"
    first = min(r["now"] for r in by[("SpyServing", "before_run")])
    assert first == trainer_runs[0]["now"], "serving starts where the warm-up model was trained"
    assert len({r["now"] for r in trainer_runs}) == len(trainer_runs), "two training runs at one now"

    def expected_history(now):
        rows = np.flatnonzero((times >= first) & (times < now))
        known = rows[lts[rows] < now]
        return len(rows), len(known), float(labels[known].sum())

    for r in records:
        now, what = r["now"], f"{r['component']}.{r['hook']} at {pd.Timestamp(r['now'])}: {r}"
        for key in ("max_time", "max_label_time", "data_max_time", "data_max_label_time", "history_max_time",
                    "model_max_time", "model_max_label_time", "trained_max_time", "trained_max_label_time"):
            if r.get(key) is not None:
                assert r[key] < now, f"look-ahead: {key} = {pd.Timestamp(r[key])} >= now; {what}"
        if "rows" in r:                             # a serving history, as a hook or a policy sees it
            assert r["known_without_time"] == r["time_without_label"] == 0, what
            assert r["known_at_or_after_now"] == 0, what
            assert r["known_flags_disagree"] == r["frame_labels_disagree"] == 0, what
            assert r["input_rows"] == r["rows"] and r["input_columns"] == INPUTS, what
            assert (r["rows"], r["known"], r["label_sum"]) == expected_history(now), what
        if "data_rows" in r:                        # a training run's data, in its hooks and in run
            rows = training_rows(times, lts, now, window)
            assert r["data_never_labels"] == 0, what
            assert (r["data_rows"], r["data_label_sum"]) == (len(rows), float(labels[rows].sum())), what
        if "columns" in r:                          # what run() was handed
            expected = [TIME] + INPUTS + ([LABEL, label_time_name(stream)] if r["component"] == "SpyTraining" else [])
            assert r["columns"] == expected, what
        if r["hook"] == "run" and r["component"] in ("SpyServing", "SpyShadow"):
            assert r["batch_min_time"] >= now, what
            # latency delays retrained models; the warm-up model serves from the first scored tick
            ready = [first] + [t["now"] for t in trainer_runs[1:] if t["now"] + latency_ns <= now]
            assert r["model_trained_now"] == max(ready), f"not the latest model ready at tick start; {what}"
        if r["component"] == "SpyPolicy":
            assert r["trained_at"] <= r["last_retrain"] <= now, what
            rows = training_rows(times, lts, r["trained_at"], window)
            assert r["trained_rows"] == len(rows) and r["trained_never_labels"] == 0, what
            if r["trained_max_time"] is not None:
                assert r["trained_max_time"] < r["trained_at"] and r["trained_max_label_time"] < r["trained_at"], what

    # the served ticks chain without gaps from the end of warm-up past the last event; each batch is
    # exactly its tick's events, all before the tick's end
    for server in ("SpyServing", "SpyShadow"):
        start = first
        for r in sorted(by.get((server, "after_run"), []), key=lambda r: r["now"]):
            assert r["tick_start"] == start < r["now"], r
            in_tick = np.flatnonzero((times >= start) & (times < r["now"]))
            assert r["batch_rows"] == len(in_tick), r
            if len(in_tick):
                assert (r["batch_min_time"], r["batch_max_time"]) == (times[in_tick[0]], times[in_tick[-1]]), r
            start = r["now"]
        assert start > times[-1] or (server, "after_run") not in by, f"{server}: some events were never served"
    return by


def label_time_name(stream):
    return LT if stream.label_source.startswith("column") else "label_time"


# -- a hand-built stream where every visible label is known in advance -----------------------------------
# row: event time, label time (None: never), label
HAND = [("00:10", "00:20", 1), ("00:50", "03:30", 0), ("01:00", "01:00", 1), ("01:59", None, 1),
        ("02:00", "02:59", 0), ("02:30", "03:00", 1), ("03:10", "03:20", 1), ("03:40", "05:00", 0),
        ("04:20", "04:21", 1), ("05:00", "05:00", 1)]


def hand_stream():
    day = pd.Timestamp("2024-05-01")
    times = [int((day + pd.Timedelta(t + ":00")).value) for t, _, _ in HAND]
    delays = [None if lt is None else int((pd.Timedelta(lt + ":00") - pd.Timedelta(t + ":00")).total_seconds() // 60)
              for t, lt, _ in HAND]
    return make_stream(times, [y for _, _, y in HAND], "column", delays_min=delays)


def hm(stamp):
    return int((pd.Timestamp("2024-05-01") + pd.Timedelta(stamp + ":00")).value)


@pytest.mark.parametrize("tick, warmup, window, ticks, expected_rows", [
    # ticks: (serving after_run now, rows in the serving history, labels known in it)
    # expected_rows: rows each training run gets (event and label before now; row 3's label never comes)
    ("1h", "2h", None, [("03:00", 2, 1), ("04:00", 4, 3), ("05:00", 5, 4), ("06:00", 6, 6)], [2, 3, 6, 7, 9]),
    # a 2h window keeps the visible rows with event time in [now - 2h, now)
    ("1h", "2h", "2h", [("03:00", 2, 1), ("04:00", 4, 3), ("05:00", 5, 4), ("06:00", 6, 6)], [2, 2, 3, 2, 2]),
    # count ticks end at the next tick's first event; the last one 1 ns after its last event
    (2, 4, None, [("03:10", 2, 2), ("04:20", 4, 3), ("05:00:00.000000001", 6, 6)], [2, 4, 6, 9]),
])
def test_hand_built_stream_shows_exactly_the_labels_known_at_each_now(ray_session, tmp_path, tick, warmup, window,
                                                                     ticks, expected_rows):
    stream = hand_stream()
    window = rt.Sliding(window) if window else None
    result, records = spy_backtest(stream, tmp_path, tick=tick, warmup=warmup, refresh_every=1, window=window)
    by = check_no_lookahead(stream, result, records, window=window)

    def at(stamp):
        return int((pd.Timestamp("2024-05-01") + pd.Timedelta(stamp if ":" in stamp[3:] else stamp + ":00")).value)

    served = sorted(by[("SpyServing", "after_run")], key=lambda r: r["now"])
    assert [(r["now"], r["rows"], r["known"]) for r in served] == [(at(t), rows, known) for t, rows, known in ticks]
    # training runs: at the end of warm-up (02:00), then after every served tick (refresh_every=1)
    runs = sorted(by[("SpyTraining", "run")], key=lambda r: r["now"])
    nows = [hm("02:00")] + [at(t) for t, _, _ in ticks]
    assert [r["now"] for r in runs] == nows
    assert [r["data_rows"] for r in runs] == expected_rows
    # a refresh at the end of tick k serves from tick k+1
    assert list(result.metrics["version"]) == list(range(1, len(ticks) + 1))
    assert list(result.retrains["time"].astype("int64")) == nows


def test_before_run_sees_no_event_of_its_tick(ray_session, tmp_path):
    # before_run runs at the tick's start: this tick's events (times >= now) are still in the future, so
    # self.batch must not hold them yet (it may be None, empty, or hold earlier events).
    stream = hand_stream()
    _, records = spy_backtest(stream, tmp_path, tick="1h", warmup="2h")
    before = [r for r in records if r["component"] == "SpyServing" and r["hook"] == "before_run"]
    assert len(before) == 4
    peeks = [(pd.Timestamp(r["now"]), r["early_batch_rows"], pd.Timestamp(r["early_batch_max_time"]))
             for r in before if r["early_batch_max_time"] is not None and r["early_batch_max_time"] >= r["now"]]
    assert not peeks, f"before_run saw events at or after its now (now, rows, latest event): {peeks}"


# -- the adversarial search ---------------------------------------------------------------------------------
@st.composite
def scenarios(draw):
    n = draw(st.integers(6, 36))
    gaps = draw(st.lists(st.sampled_from([0, 0, 0, 1, 7, 20, 30, 59, 60, 61, 150]), min_size=n - 1, max_size=n - 1))
    t0 = pd.Timestamp("2024-03-01") + pd.Timedelta(minutes=draw(st.integers(0, 24 * 60 - 1)))
    times = t0.value + np.cumsum([0] + gaps).astype(np.int64) * 60_000_000_000
    labels = draw(st.lists(st.integers(0, 3), min_size=n, max_size=n))
    mode = draw(st.sampled_from(["column", "column", "delay", "event"]))
    delay = draw(st.sampled_from(["0s", "1min", "45min", "2h"])) if mode == "delay" else None
    # per-row delays scramble the label order against the event order; None: the label never arrives
    delays = (draw(st.lists(st.one_of(st.none(), st.sampled_from([0, 0, 1, 10, 59, 60, 61, 240, 900])),
                            min_size=n, max_size=n)) if mode == "column" else None)
    tick = draw(st.one_of(st.sampled_from(["10min", "30min", "1h", "3h"]), st.integers(1, 6)))
    warmup = draw(st.one_of(st.none(), st.sampled_from(["1h", "3h"]), st.integers(1, 10)))
    latency = draw(st.sampled_from([None, None, "0s", "30min", "4h"]))
    refresh_every = draw(st.sampled_from([0, 1, 2, 3]))
    policy_every = draw(st.sampled_from([None, None, 0, 1, 2]))
    trainer_refresh = draw(st.booleans())
    shadow = draw(st.booleans())
    # a window by rows never empties once a label is known; duration windows: see the hand-built case
    window = draw(st.sampled_from([None, None, 1, 5]))
    try:
        plan = plan_ticks(times, tick, warmup)
    except rt.ConfigError as err:
        assert "covers the whole stream" in str(err)
        assume(False)
    return dict(times=times, labels=labels, mode=mode, delay=delay, delays=delays, tick=tick, warmup=warmup,
                latency=latency, refresh_every=refresh_every, policy_every=policy_every, trainer_refresh=trainer_refresh,
                shadow=shadow, window=window, warmup_end=plan.warmup_end)


@given(scenario=scenarios())
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
def test_nothing_seen_is_at_or_after_now(ray_session, tmp_path_factory, scenario):
    s = scenario
    stream = make_stream(s["times"], s["labels"], s["mode"], s["delay"], s["delays"])
    out_dir = tmp_path_factory.mktemp("spy")
    visible_at_warmup = np.sum((stream.times_ns() < s["warmup_end"]) & (stream.label_times_ns() < s["warmup_end"]))
    if visible_at_warmup == 0:   # nothing to train the first model on: a clear error, not a peek ahead
        with pytest.raises(rt.ConfigError, match="no labeled rows to train on"):
            spy_backtest(stream, out_dir, tick=s["tick"], warmup=s["warmup"], latency=s["latency"])
        return
    window = rt.Sliding(rows=s["window"]) if s["window"] else None
    result, records = spy_backtest(stream, out_dir, tick=s["tick"], warmup=s["warmup"], latency=s["latency"],
                                   refresh_every=s["refresh_every"], policy_every=s["policy_every"],
                                   trainer_refresh=s["trainer_refresh"], shadow=s["shadow"], window=window)
    latency_ns = int(pd.Timedelta(s["latency"]).value) if s["latency"] else 0
    by = check_no_lookahead(stream, result, records, latency_ns, window)
    retrains = len(by[("SpyTraining", "run")]) - 1
    assert retrains == int((result.retrains["trigger"] != "warmup").sum())
    if s["policy_every"] is not None:
        assert len(by[("SpyPolicy", "decide")]) == len(result.metrics)
