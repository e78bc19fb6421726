"""Bad input gets a clear error where it enters: what was wrong, the value seen, and how to fix it.

Errors from user code inside a running backtest surface at the driver as raytrain errors naming the
component, the hook and the simulated time, with the original exception as ``__cause__``.
"""

import threading

import numpy as np
import pandas as pd
import pytest

import raytrain as rt
from raytrain import ComponentError, ConfigError, HookError, RefreshError, StreamError
from raytrain.policies import Policy

FEATURES = ["x0", "x1"]


def frame(n=40):
    """Events every 15 minutes from midnight; labels known 20 minutes later."""
    t = pd.date_range("2024-02-01", periods=n, freq="15min")
    rng = np.random.default_rng(0)
    return pd.DataFrame({"t": t, "x0": rng.random(n), "x1": rng.random(n), "y": np.arange(n) % 2,
                         "arrived": t + pd.Timedelta("20min")})


def stream(n=40):
    return rt.Stream.from_pandas(frame(n), time="t", label="y", label_time="arrived")


# -- module-level components: shipped to Ray workers by value -----------------------------------------
class Training(rt.Component):
    def run(self, data):
        return float(data["y"].mean())


class Serving(rt.Component):
    def run(self, batch, model):
        return np.full(len(batch), round(model))


class RefreshesUnknown(Serving):
    name = "Serving"

    def after_run(self):
        rt.refresh("Trainer")   # a typo of "Training"


class RefreshesAServer(Serving):
    name = "Serving"

    def after_run(self):
        self.refresh("Serving")


class OneOutputShort(rt.Component):
    name = "Serving"

    def run(self, batch, model):
        return np.zeros(len(batch) - 1)


class ReturnsNothing(rt.Component):
    name = "Serving"

    def run(self, batch, model):
        pass


class TrainsNothing(rt.Component):
    name = "Training"

    def run(self, data):
        return None


class RefreshesEveryTick(Serving):
    name = "Serving"

    def after_run(self):
        rt.refresh("Training")


class ThresholdMissing(Exception):
    """A user's own exception type: it must come back as the cause, type intact."""


class FailsAfterRun(Serving):
    name = "Serving"

    def after_run(self):
        if self.now >= pd.Timestamp("2024-02-01 05:00"):
            raise ThresholdMissing(f"no threshold for {self.now}")


class FailsInSeedHook(Serving):
    name = "Serving"

    def beforeRun(self):   # the seed's camelCase alias
        if len(self.history.outputs[-100:]) >= 8:
            {}["threshold"]


class FailsToTrain(rt.Component):
    name = "Training"

    def run(self, data):
        raise ZeroDivisionError("division by zero in my fit")


class HoldsALock(Exception):
    def __init__(self):
        super().__init__("cannot pickle me")
        self.lock = threading.Lock()


class FailsUnpicklably(Serving):
    name = "Serving"

    def after_run(self):
        raise HoldsALock()


class FailingPolicy(Policy):
    def decide(self, view):
        raise ValueError(f"bad policy at tick {view.tick}")

    def __repr__(self):
        return "FailingPolicy()"


class NoRun(rt.Component):
    def after_run(self):
        pass


class AsksForLabels(rt.Component):
    def run(self, batch, model, labels):
        return batch


def backtest(*components, s=None, **kwargs):
    kwargs = {"tick": "1h", "warmup": "2h", **kwargs}
    return rt.backtest(list(components), s or stream(), **kwargs)


def no_ray_noise(err):
    message = str(err)
    assert "ray::" not in message and "Traceback" not in message, message


# -- the stream: raised by Stream.from_*, before anything runs ------------------------------------------------
def test_missing_time_column():
    with pytest.raises(StreamError) as err:
        rt.Stream.from_pandas(frame(), time="sched_dep", label="y")
    assert str(err.value) == ("The time column 'sched_dep' is not in the stream; its columns are "
                              "['t', 'x0', 'x1', 'y', 'arrived']. Pass time= with one of them.")


def test_missing_label_column():
    with pytest.raises(StreamError, match=r"The label column 'late' is not in the stream; its columns are "
                                          r"\['t', 'x0', 'x1', 'y', 'arrived'\]\. Pass label= with one of them\."):
        rt.Stream.from_pandas(frame(), time="t", label="late")


def test_unsorted_times():
    df = frame()
    df.loc[[7, 8], "t"] = df.loc[[8, 7], "t"].to_numpy()
    with pytest.raises(StreamError) as err:
        rt.Stream.from_pandas(df, time="t", label="y", label_time="arrived")
    assert str(err.value) == ("Stream is not sorted by 't': row 8 (2024-02-01 01:45:00) comes before row 7 "
                              "(2024-02-01 02:00:00). Sort it first, or pass sort=True.")
    assert isinstance(err.value, ValueError)


def test_null_times():
    df = frame()
    df.loc[[5, 9], "t"] = pd.NaT
    with pytest.raises(StreamError) as err:
        rt.Stream.from_pandas(df, time="t", label="y")
    assert str(err.value) == ("Column 't' has 2 missing times (first at row 5). Every event needs a time: drop or "
                              "fill those rows.")


def test_label_time_before_event_time():
    df = frame()
    df.loc[12, "arrived"] = df.loc[12, "t"] - pd.Timedelta("1s")
    with pytest.raises(StreamError) as err:
        rt.Stream.from_pandas(df, time="t", label="y", label_time="arrived")
    assert str(err.value) == (
        "Label time before event time in 1 rows: row 12 has 'arrived' = 2024-02-01 02:59:59 before 't' = "
        "2024-02-01 03:00:00. A label cannot be known before its event happens; fix or drop those rows.")


def test_timezone_aware_times():
    df = frame()
    df["t"] = df["t"].dt.tz_localize("Europe/Paris")
    with pytest.raises(StreamError) as err:
        rt.Stream.from_pandas(df, time="t", label="y")
    assert str(err.value) == (
        "Column 't' is timezone-aware (Europe/Paris); raytrain's clock is naive. Convert it first, e.g. "
        "df['t'] = df['t'].dt.tz_convert('UTC').dt.tz_localize(None).")


def test_a_missing_label_time_column_and_label_times_that_are_timezone_aware():
    with pytest.raises(StreamError, match=r"The label_time column 'landed' is not in the stream.*Pass label_time="):
        rt.Stream.from_pandas(frame(), time="t", label="y", label_time="landed")
    df = frame()
    df["arrived"] = df["arrived"].dt.tz_localize("UTC")
    with pytest.raises(StreamError, match=r"Column 'arrived' is timezone-aware \(UTC\)"):
        rt.Stream.from_pandas(df, time="t", label="y", label_time="arrived")


def test_sort_true_does_not_hide_null_times():
    df = frame()
    df.loc[2, "t"] = pd.NaT
    with pytest.raises(StreamError, match=r"Column 't' has 1 missing times \(first at row 2\)"):
        rt.Stream.from_pandas(df, time="t", label="y", sort=True)


def test_a_negative_label_delay():
    with pytest.raises(ConfigError, match=r"label_delay must be a positive duration; got '-1h'"):
        rt.Stream.from_pandas(frame(), time="t", label="y", label_delay="-1h")


def test_times_that_are_not_datetimes():
    df = frame().assign(t=lambda d: d["t"].astype("int64") // 10**9)
    with pytest.raises(StreamError) as err:
        rt.Stream.from_pandas(df, time="t", label="y")
    assert "Column 't' must hold datetimes; it holds int64" in str(err.value)
    assert "pd.to_datetime(df['t'], unit='s')" in str(err.value)
    with pytest.raises(StreamError, match="Column 't' must hold datetimes; it holds (large_)?string"):
        rt.Stream.from_pandas(frame().assign(t=lambda d: d["t"].astype(str)), time="t", label="y")


def test_missing_labels_reserved_names_and_conflicting_options():
    df = frame()
    df["y"] = df["y"].astype(float)
    df.loc[4, "y"] = np.nan
    with pytest.raises(StreamError, match=r"label column 'y' has 1 missing values \(first at row 4, time "
                                          r"2024-02-01 01:00:00\).*dropna"):
        rt.Stream.from_pandas(df, time="t", label="y")
    with pytest.raises(StreamError, match=r"Column names \['__label__'\] are reserved"):
        rt.Stream.from_pandas(frame().assign(__label__=1), time="t", label="y")
    with pytest.raises(StreamError, match="label_time= .* or label_delay= .*not both"):
        rt.Stream.from_pandas(frame(), time="t", label="y", label_time="arrived", label_delay="1h")
    with pytest.raises(StreamError, match=r"inputs names columns \['z'\]"):
        rt.Stream.from_pandas(frame(), time="t", label="y", inputs=["x0", "z"])
    with pytest.raises(StreamError, match=r"must not include the time, label or label-time columns \(\['y'\]\)"):
        rt.Stream.from_pandas(frame(), time="t", label="y", inputs=["x0", "y"])
    with pytest.raises(StreamError, match="from_pandas takes a pandas.DataFrame; got dict"):
        rt.Stream.from_pandas({"t": []}, time="t", label="y")
    with pytest.raises(StreamError, match="from_arrow takes a pyarrow.Table; got DataFrame"):
        rt.Stream.from_arrow(frame(), time="t", label="y")


# -- the pipeline and the settings: raised by backtest() before Ray is asked for anything ------------------------
def test_a_component_with_no_run(ray_session):
    with pytest.raises(ConfigError) as err:
        backtest(Training, NoRun)
    assert type(err.value) is ConfigError
    assert str(err.value) == ("Component NoRun has no run method. Define run(self, data) to train a model, or "
                              "run(self, batch, model) to serve one output per event.")


@pytest.mark.parametrize("components, fragment", [
    ([], "The pipeline is empty"),
    ([Training], "has no serving component"),
    ([Training, Serving()], "must be Component subclasses (the class, not an instance)"),
    ([Training, Serving, RefreshesUnknown], "Two components are called 'Serving'"),
    ([Training, AsksForLabels], "AsksForLabels.run asks for ['labels'], which raytrain does not provide"),
])
def test_pipelines_that_cannot_run(ray_session, components, fragment):
    with pytest.raises(ConfigError) as err:
        rt.backtest(components, stream(), tick="1h", warmup="2h")
    assert fragment in str(err.value)


@pytest.mark.parametrize("kwargs, message", [
    (dict(tick="1 fortnight"), "tick='1 fortnight' is not a duration pandas understands. Use a string like "
                               "'30min', '6h', '1D' or '7D'."),
    (dict(tick="-1h"), "tick must be a positive duration; got '-1h'."),
    (dict(tick=0), "tick as a number of events must be at least 1; got 0."),
    (dict(tick=2.5), "tick must be a duration such as '2h' or '1D'; got the number 2.5. Pass a string with a "
                     "unit, or a pandas.Timedelta."),
    (dict(warmup="0min"), "warmup must be a positive duration; got '0min'."),
    (dict(warmup=-5), "warmup as a number of events must be at least 1; got -5."),
    (dict(warmup=[2]), "warmup must be a duration like '30D' or a number of events; got [2]."),
    (dict(latency="-10min"), "latency must be a positive duration; got '-10min'."),
    (dict(latency=30), "latency must be a duration such as '2h' or '1D'; got the number 30."),
    (dict(latency="later"), "latency='later' is not a duration pandas understands."),
])
def test_bad_tick_warmup_and_latency(ray_session, kwargs, message):
    with pytest.raises(ConfigError) as err:
        backtest(Training, Serving, **kwargs)
    assert type(err.value) is ConfigError
    assert str(err.value).startswith(message)


def test_unknown_metric_lists_the_known_ones(ray_session):
    with pytest.raises(ConfigError) as err:
        backtest(Training, Serving, metric="acuracy")
    assert str(err.value).startswith("Unknown metric 'acuracy'. Known metrics: ['accuracy', ")
    assert "or pass a callable f(y_true, y_pred) -> float" in str(err.value)


def test_a_warmup_covering_the_whole_stream(ray_session):
    with pytest.raises(ConfigError) as err:
        backtest(Training, Serving, warmup="10h")   # the stream spans 10 hours: ten 1h ticks
    assert str(err.value) == ("warmup='10h' covers the whole stream (10 ticks of '1h'); nothing would be scored. "
                              "Use a shorter warm-up or a longer stream.")
    with pytest.raises(ConfigError, match=r"warmup=40 covers the whole stream \(8 ticks of 5\)"):
        backtest(Training, Serving, tick=5, warmup=40)


def test_a_stream_that_is_not_a_stream(ray_session):
    with pytest.raises(ConfigError, match=r"stream must be a raytrain.Stream; got DataFrame\. Build one with "
                                          r"Stream.from_pandas"):
        rt.backtest([Training, Serving], frame(), tick="1h")


# -- refresh -------------------------------------------------------------------------------------------------
def test_refresh_outside_a_backtest():
    with pytest.raises(RefreshError) as err:
        rt.refresh("Training")
    assert str(err.value) == ("refresh('Training') was called outside a running backtest. Call it from a "
                              "component's before_run / after_run hook while raytrain.backtest runs the pipeline.")
    with pytest.raises(RefreshError, match=r"refresh\('Training'\) was called outside a running backtest"):
        Serving().refresh("Training")


def test_unknown_refresh_target_surfaces_at_the_driver(ray_session):
    with pytest.raises(RefreshError) as err:
        backtest(Training, RefreshesUnknown)
    assert type(err.value) is RefreshError
    assert str(err.value) == (
        "Serving.after_run at 2024-02-01 03:00:00 asked to refresh 'Trainer', but the pipeline has no component "
        "of that name; its components are ['Serving', 'Training']. Use one of those names (a component's name is "
        "its class name unless it sets `name`).")


def test_refreshing_a_serving_component(ray_session):
    with pytest.raises(RefreshError) as err:
        backtest(Training, RefreshesAServer)
    assert "Serving.after_run asked to refresh 'Serving', which serves every tick" in str(err.value)
    assert "Refresh the component that trains its model" in str(err.value)
    no_ray_noise(err.value)


# -- user code misbehaving inside the backtest ----------------------------------------------------------------
def test_run_returning_the_wrong_number_of_outputs(ray_session):
    with pytest.raises(ComponentError) as err:
        backtest(Training, OneOutputShort)
    assert type(err.value) is ComponentError
    # the first scored tick: [02:00, 03:00) holds 4 events
    assert str(err.value) == (
        "Serving.run at 2024-02-01 02:00:00 (tick 2) returned 3 outputs of shape (3,) for a batch of 4 events. "
        "Return exactly one output per event (a 1-D array of length len(batch)).")


def test_run_returning_none(ray_session):
    with pytest.raises(ComponentError) as err:
        backtest(Training, ReturnsNothing)
    assert str(err.value) == ("Serving.run at 2024-02-01 02:00:00 (tick 2) returned None for 4 events. Return one "
                              "output per event (e.g. model.predict(batch[FEATURES])).")


def test_training_returning_no_model(ray_session):
    with pytest.raises(ComponentError) as err:
        backtest(TrainsNothing, Serving)
    assert str(err.value).startswith("Training.run at 2024-02-01 02:00:00 returned None; a training component "
                                     "returns the model")


def test_an_exception_in_after_run(ray_session):
    with pytest.raises(HookError) as err:
        backtest(Training, FailsAfterRun)
    e = err.value
    assert (e.component, e.hook, e.now) == ("Serving", "after_run", "2024-02-01 05:00:00")
    assert str(e) == ("Serving.after_run raised ThresholdMissing: no threshold for 2024-02-01 05:00:00 "
                      "(simulated time 2024-02-01 05:00:00).")
    assert type(e.__cause__) is ThresholdMissing and str(e.__cause__) == "no threshold for 2024-02-01 05:00:00"
    assert e.original is e.__cause__


def test_an_exception_in_a_seed_style_hook(ray_session):
    with pytest.raises(HookError) as err:
        backtest(Training, FailsInSeedHook)
    e = err.value
    # 8 events served by 04:00; before_run runs at the tick's start
    assert (e.component, e.hook, e.now) == ("Serving", "before_run", "2024-02-01 04:00:00")
    assert "Serving.before_run raised KeyError: 'threshold' (simulated time 2024-02-01 04:00:00)" in str(e)
    assert isinstance(e.__cause__, KeyError)
    assert isinstance(e, ComponentError)
    no_ray_noise(e)


def test_an_exception_in_training(ray_session):
    with pytest.raises(HookError) as err:
        backtest(FailsToTrain, Serving)
    e = err.value
    assert (e.component, e.hook, e.now) == ("Training", "run", "2024-02-01 02:00:00")
    assert "ZeroDivisionError: division by zero in my fit" in str(e)
    assert isinstance(e.__cause__, ZeroDivisionError)


def test_an_exception_in_a_policy(ray_session):
    with pytest.raises(HookError) as err:
        backtest(Training, Serving, policy=FailingPolicy())
    e = err.value
    assert (e.component, e.hook, e.now) == ("policy", "decide", "2024-02-01 03:00:00")
    assert "FailingPolicy() raised ValueError: bad policy at tick 2" in str(e)
    assert isinstance(e.__cause__, ValueError)


def test_an_exception_that_cannot_be_pickled_still_reports_its_type(ray_session):
    with pytest.raises(HookError) as err:
        backtest(Training, FailsUnpicklably)
    e = err.value
    assert (e.component, e.hook) == ("Serving", "after_run")
    assert "HoldsALock: cannot pickle me" in str(e)
    assert e.__cause__ is not None and "HoldsALock: cannot pickle me" in str(e.__cause__)


def test_no_label_known_when_the_first_model_trains(ray_session):
    df = frame()
    df["arrived"] = df["t"] + pd.Timedelta("3h")
    late = rt.Stream.from_pandas(df, time="t", label="y", label_time="arrived")
    with pytest.raises(ConfigError) as err:
        backtest(Training, Serving, s=late)
    assert str(err.value) == ("Training has no labeled rows to train on at 2024-02-01 02:00:00: no label is known "
                              "yet. Lengthen warmup= so that some labels arrive before the first model is trained.")


def test_a_failed_backtest_leaves_the_next_one_unharmed(ray_session):
    with pytest.raises(HookError):
        backtest(Training, FailsAfterRun)
    result = backtest(Training, Serving)
    assert len(result.metrics) == 8 and list(result.metrics["events"]) == [4] * 8


def test_a_retrain_whose_window_selects_no_rows(ray_session):
    # Events 00:00-02:45 and 08:00-09:45; a 1h sliding window is empty for the retrains in between.
    df = frame(12)
    later = frame(8).assign(t=lambda d: d["t"] + pd.Timedelta("8h"), arrived=lambda d: d["arrived"] + pd.Timedelta("8h"))
    gappy = rt.Stream.from_pandas(pd.concat([df, later], ignore_index=True), time="t", label="y", label_time="arrived")
    try:
        result = backtest(Training, RefreshesEveryTick, s=gappy, window=rt.Sliding("1h"))
    except ConfigError as err:
        # acceptable: a clear error that names the window; not advice about the warm-up, which was fine
        assert "Sliding('1h')" in str(err), str(err)
        assert "Lengthen warmup" not in str(err), str(err)
    else:
        # or the empty retrain is skipped and the model before it keeps serving
        assert (result.retrains["rows"] > 0).all()
