"""A time-ordered stream of events with labels that become known later.

A Stream is a validated, single-chunk Arrow table with three reserved columns besides the inputs:

    __time__        event time (timestamp[ns])
    __label__       the true label (whatever the label column holds)
    __label_time__  when the label becomes known (timestamp[ns]; null: never)

Validation happens here, where the data enters, so a bad stream never reaches Ray.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from raytrain.clock import format_time, parse_duration
from raytrain.errors import StreamError
from raytrain.source import LABEL, LABEL_TIME, TIME, ParquetSource, TableSource

__all__ = ["Stream", "TIME", "LABEL", "LABEL_TIME"]

_RESERVED = (TIME, LABEL, LABEL_TIME)


@dataclass(frozen=True, eq=False)
class Stream:
    """Events ordered by time, their labels, and when each label becomes known.

    Build one with :meth:`from_pandas`, :meth:`from_arrow` or :meth:`from_parquet`.

    >>> df = pd.DataFrame({"t": pd.date_range("2024-01-01", periods=4, freq="h"), "x": [1, 2, 3, 4],
    ...                    "y": [0, 1, 0, 1]})
    >>> s = Stream.from_pandas(df, time="t", label="y", label_delay="2h")
    >>> len(s), s.inputs
    (4, ['x'])
    """

    table: pa.Table | None = field(repr=False)   # the whole stream in memory; None for a lazy one
    time: str
    label: str
    inputs: list
    label_source: str  # for reports: "event time", "delay 2h" or "column 'arrived'"
    source: object = field(repr=False, default=None)  # raytrain.source.TableSource or ParquetSource

    # -- construction -------------------------------------------------------------------------------
    @classmethod
    def from_pandas(cls, df: pd.DataFrame, *, time: str, label: str, label_time: str | None = None,
                    label_delay=None, inputs: list | None = None, sort: bool = False) -> "Stream":
        """A stream from a DataFrame; ``time`` and ``label`` name its columns.

        Labels become known at the ``label_time`` column, after a fixed ``label_delay``, or (neither)
        at the event time. ``inputs`` picks the columns components see (default: all others).
        """
        if not isinstance(df, pd.DataFrame):
            raise StreamError(f"from_pandas takes a pandas.DataFrame; got {type(df).__name__}.")
        df = df.copy(deep=False)
        df.attrs = {}  # user metadata (e.g. drift points) is not part of the stream; Arrow cannot always hold it
        table = pa.Table.from_pandas(df, preserve_index=False)
        return cls.from_arrow(table, time=time, label=label, label_time=label_time, label_delay=label_delay,
                              inputs=inputs, sort=sort)

    @classmethod
    def from_parquet(cls, path, *, time: str, label: str, label_time: str | None = None, label_delay=None,
                     inputs: list | None = None, sort: bool = False, lazy: bool = False) -> "Stream":
        """A stream from a Parquet file or a directory of Parquet files (read in file-name order).

        ``lazy=True`` never loads the data whole: only the time and label-time columns are kept in
        memory (16 bytes a row); components read each tick's rows from the files as the clock reaches
        them. The files must then already be sorted by time (within and across files, in name order),
        and readable at the same path from every Ray node.
        """
        path = os.fspath(path)
        if not os.path.exists(path):
            raise StreamError(f"No Parquet file or directory at {path!r}. Check the path.")
        if lazy:
            return cls._lazy_parquet(path, time=time, label=label, label_time=label_time,
                                     label_delay=label_delay, inputs=inputs, sort=sort)
        try:
            table = pq.read_table(path)
        except (pa.ArrowInvalid, OSError) as exc:
            raise StreamError(f"Could not read Parquet from {path!r}: {exc}") from exc
        return cls.from_arrow(table, time=time, label=label, label_time=label_time, label_delay=label_delay,
                              inputs=inputs, sort=sort)

    @classmethod
    def _lazy_parquet(cls, path, *, time, label, label_time, label_delay, inputs, sort) -> "Stream":
        if sort:
            raise StreamError("A lazy Parquet stream cannot be sorted on the fly; sort the files first, or "
                              "drop lazy=True to load and sort it in memory.")
        files = sorted(os.path.join(path, f) for f in os.listdir(path) if f.endswith(".parquet")) \
            if os.path.isdir(path) else [path]
        if not files:
            raise StreamError(f"No .parquet files in directory {path!r}.")
        try:
            names = pq.ParquetFile(files[0]).schema_arrow.names
            needed = [time, label] + ([label_time] if label_time else [])
            _check_columns(names, time, label, label_time, label_delay)
            table = pa.concat_tables([pq.read_table(f, columns=needed) for f in files])
        except (pa.ArrowInvalid, OSError) as exc:
            raise StreamError(f"Could not read Parquet from {path!r}: {exc}") from exc
        times, ltimes, source, _ = _clock_columns(table, time, label, label_time, label_delay, sort=False)
        inputs = _inputs(names, inputs, time, label, label_time)
        never = np.iinfo(np.int64).max
        src = ParquetSource(files, time, label, inputs, times, np.where(ltimes == _NAT, never, ltimes))
        return cls(None, time, label, inputs, source, src)

    @classmethod
    def from_arrow(cls, table: pa.Table, *, time: str, label: str, label_time: str | None = None,
                   label_delay=None, inputs: list | None = None, sort: bool = False) -> "Stream":
        """A stream from a pyarrow Table (or RecordBatch)."""
        if isinstance(table, pa.RecordBatch):
            table = pa.Table.from_batches([table])
        if not isinstance(table, pa.Table):
            raise StreamError(f"from_arrow takes a pyarrow.Table; got {type(table).__name__}.")
        names = table.column_names
        _check_columns(names, time, label, label_time, label_delay)
        times, ltimes, source, table = _clock_columns(table, time, label, label_time, label_delay, sort)
        labels = table.column(label)
        inputs = _inputs(names, inputs, time, label, label_time)

        time_type = pa.timestamp("ns")
        columns = [pa.array(times, type=pa.int64()).cast(time_type), labels,
                   pa.array(np.where(ltimes == _NAT, 0, ltimes), mask=(ltimes == _NAT)).cast(time_type)]
        columns += [table.column(c) for c in inputs]
        built = pa.Table.from_arrays(columns, names=[TIME, LABEL, LABEL_TIME] + inputs).combine_chunks()
        return cls(built, time, label, inputs, source, TableSource(built))

    # -- access -------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return self.source.num_rows

    def __repr__(self) -> str:
        t = self.times_ns()
        return (f"Stream({len(self):,} events{' (lazy Parquet)' if self.lazy else ''}, {format_time(t[0])} .. "
                f"{format_time(t[-1])}, time={self.time!r}, label={self.label!r}, labels known at "
                f"{self.label_source}, inputs={self.inputs})")

    @property
    def lazy(self) -> bool:
        return self.source.lazy

    def times_ns(self) -> np.ndarray:
        if self.lazy:
            return self.source.times_ns
        return self.table.column(TIME).cast(pa.int64()).to_numpy()

    def label_times_ns(self) -> np.ndarray:
        """Label times as int64 ns; a label that never arrives has the largest int64."""
        if self.lazy:
            return self.source.label_times_ns
        col = self.table.column(LABEL_TIME).cast(pa.int64()).fill_null(np.iinfo(np.int64).max)
        return col.to_numpy()

    def to_pandas(self) -> pd.DataFrame:
        """The stream with its user-facing column names (time, inputs, label, label time)."""
        df = self.source.rows(0, len(self)).to_pandas()
        return df.rename(columns={TIME: self.time, LABEL: self.label, LABEL_TIME: "label_time"})


_NAT = np.iinfo(np.int64).min


def _as_ns(column: pa.ChunkedArray, name: str, allow_null: bool = False) -> np.ndarray:
    kind = column.type
    if pa.types.is_timestamp(kind) and kind.tz is not None:
        raise StreamError(
            f"Column {name!r} is timezone-aware ({kind.tz}); raytrain's clock is naive. Convert it first, "
            f"e.g. df[{name!r}] = df[{name!r}].dt.tz_convert('UTC').dt.tz_localize(None).")
    if pa.types.is_timestamp(kind) or pa.types.is_date(kind):
        column = column.cast(pa.timestamp("ns"))
    else:
        raise StreamError(
            f"Column {name!r} must hold datetimes; it holds {kind}. Convert it with pandas.to_datetime "
            f"(for seconds since the epoch: pd.to_datetime(df[{name!r}], unit='s')).")
    if column.null_count and not allow_null:
        row = int(np.flatnonzero(column.is_null().to_numpy(zero_copy_only=False))[0])
        raise StreamError(
            f"Column {name!r} has {column.null_count} missing times (first at row {row}). Every event needs "
            f"a time: drop or fill those rows.")
    return column.cast(pa.int64()).fill_null(_NAT).to_numpy().astype(np.int64, copy=True)


def _check_times(times: np.ndarray, name: str, sort: bool) -> None:
    if sort or len(times) < 2:
        return
    back = np.flatnonzero(times[1:] < times[:-1])
    if len(back):
        row = int(back[0]) + 1
        raise StreamError(
            f"Stream is not sorted by {name!r}: row {row} ({format_time(times[row])}) comes before row "
            f"{row - 1} ({format_time(times[row - 1])}). Sort it first, or pass sort=True.")


def _check_columns(names, time, label, label_time, label_delay) -> None:
    for role, col in (("time", time), ("label", label)) + ((("label_time", label_time),) if label_time else ()):
        if col not in names:
            raise StreamError(
                f"The {role} column {col!r} is not in the stream; its columns are {names}. "
                f"Pass {role}= with one of them.")
    clash = [c for c in names if c in _RESERVED]
    if clash:
        raise StreamError(f"Column names {clash} are reserved by raytrain; rename them.")
    if label_time is not None and label_delay is not None:
        raise StreamError("Pass label_time= (a column) or label_delay= (a duration), not both.")


def _clock_columns(table, time, label, label_time, label_delay, sort):
    """Validated event times and label times (int64 ns; NaT-min where a label never arrives)."""
    times = _as_ns(table.column(time), time)
    _check_times(times, time, sort)
    if sort:
        order = np.argsort(times, kind="stable")
        table = table.take(pa.array(order))
        times = times[order]

    labels = table.column(label)
    if labels.null_count:
        row = int(np.flatnonzero(labels.is_null().to_numpy(zero_copy_only=False))[0])
        raise StreamError(
            f"The label column {label!r} has {labels.null_count} missing values (first at row {row}, "
            f"time {format_time(times[row])}). The evaluator needs every true label: drop those rows "
            f"first (df.dropna(subset=[{label!r}])). For labels that arrive late, use label_time=.")

    if label_time is not None:
        ltimes = _as_ns(table.column(label_time), label_time, allow_null=True)
        never = ltimes == _NAT
        early = np.flatnonzero(~never & (ltimes < times))
        if len(early):
            row = int(early[0])
            raise StreamError(
                f"Label time before event time in {len(early)} rows: row {row} has {label_time!r} = "
                f"{format_time(ltimes[row])} before {time!r} = {format_time(times[row])}. A label cannot "
                f"be known before its event happens; fix or drop those rows.")
        source = f"column {label_time!r}"
    elif label_delay is not None:
        delay = parse_duration(label_delay, "label_delay", allow_zero=True)
        ltimes = times + int(delay.value)
        source = f"delay {label_delay}"
    else:
        ltimes = times.copy()
        source = "event time"
    return times, ltimes, source, table


def _inputs(names, inputs, time, label, label_time) -> list:
    if inputs is None:
        return [c for c in names if c not in (time, label, label_time)]
    inputs = list(inputs)
    missing = [c for c in inputs if c not in names]
    if missing:
        raise StreamError(f"inputs names columns {missing} that are not in the stream; its columns are {names}.")
    clash = [c for c in inputs if c in (time, label, label_time)]
    if clash:
        raise StreamError(
            f"inputs must not include the time, label or label-time columns ({clash}): "
            f"components would see the answer.")
    return inputs
