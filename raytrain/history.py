"""A component's history: what flowed through it, and the labels known so far.

Rows are appended once per tick as zero-copy slices of the stream's Arrow table plus the component's
outputs. Hooks read it through array views that respect the simulated clock: a label (and its label
time) is visible only once its label time is strictly before *now*; until then it reads as missing
(NaN for numeric labels, None otherwise), never as the future value.

    h.times[-100:]         numpy datetime64[ns]
    h.outputs[-100:]       numpy, one output per event
    h.labels[-100:]        numpy; NaN / None where the label is not known yet
    h.label_times          numpy datetime64[ns]; NaT where not known yet
    h.versions             numpy int64: the model version that produced each output
    h.known_order          numpy int64: row indices in the order their labels became visible
    h.inputs[-100:]        pandas DataFrame of the input columns of those rows
    h.inputs["temp"]       numpy: one input column, every row
    h.frame()              all of it as one DataFrame

Arrays returned are read-only: the history is the record of what happened.
"""

from __future__ import annotations

import bisect
import os
import pickle
import shutil
import tempfile

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from raytrain.source import LABEL, LABEL_TIME, TIME

__all__ = ["History"]

_NEVER = np.iinfo(np.int64).max
_COLUMNS = ("_times", "_label_times", "_true_labels")  # the per-event columns given with each append


class _Growable:
    """A numpy buffer that doubles when full, so appending a tick costs amortised O(rows)."""

    def __init__(self, dtype=None):
        self.dtype = None if dtype is None else np.dtype(dtype)
        self.buf = None
        self.n = 0
        self.shared = False  # a view of buf was handed out: copy before changing rows in place

    def append(self, values: np.ndarray) -> None:
        values = np.asarray(values)
        if self.buf is None:
            self.dtype = values.dtype if self.dtype is None else self.dtype
            self.buf = np.empty(max(1024, 2 * len(values)), dtype=self.dtype)
        elif values.dtype != self.dtype and not np.can_cast(values.dtype, self.dtype, "safe"):
            self.dtype = np.result_type(self.dtype, values.dtype)
            self.buf = self.buf.astype(self.dtype)
        need = self.n + len(values)
        if need > len(self.buf):
            grown = np.empty(max(need, len(self.buf) + len(self.buf) // 2), dtype=self.dtype)  # 1.5x: amortised O(1)
            grown[: self.n] = self.buf[: self.n]
            self.buf = grown
        self.buf[self.n: need] = values
        self.n = need

    def view(self) -> np.ndarray:
        if self.buf is None:
            return np.empty(0, dtype=self.dtype or np.float64)
        out = self.buf[: self.n]
        out.flags.writeable = False
        self.shared = True
        return out

    def __setstate__(self, state) -> None:
        self.__dict__.update(state)
        if self.buf is not None and not self.buf.flags.writeable:  # arrays from Ray's object store are read-only
            self.buf = self.buf.copy()

    def writable(self) -> np.ndarray:
        """The buffer for an in-place update. Copied first if a view is out, so that a view keeps
        showing what was known when it was taken (labels revealed later must not appear in it)."""
        if self.shared:
            fresh = np.empty_like(self.buf)
            fresh[: self.n] = self.buf[: self.n]
            self.buf = fresh
            self.shared = False
        return self.buf


class _StreamPrefix:
    """Rows ``offset..offset+n`` of a column the whole stream already has in memory (event times, label
    times, labels): the history indexes them without copying. Same reading interface as _Growable."""

    def __init__(self, column: np.ndarray):
        self.column, self.offset, self.n = column, None, 0
        self.buf = column[:0]
        self.dtype = column.dtype

    def extends(self, origin: int) -> bool:
        """Would rows starting at stream row ``origin`` continue this prefix?"""
        return self.offset is None or origin == self.offset + self.n

    def append_rows(self, origin: int, n: int) -> None:
        if self.offset is None:
            self.offset = origin
            self.buf = self.column[origin:]
        self.n += n

    def view(self) -> np.ndarray:
        out = self.buf[: self.n]
        out.flags.writeable = False
        return out

    def copied(self) -> _Growable:
        grown = _Growable(self.dtype)
        grown.append(self.buf[: self.n])
        return grown

    def __getstate__(self) -> dict:  # a checkpoint keeps the row range, not the stream's column
        return {"offset": self.offset, "n": self.n, "dtype": self.dtype}

    def __setstate__(self, state) -> None:
        self.__dict__.update(state, column=None, buf=None)

    def reattach(self, column: np.ndarray) -> None:
        self.column = column
        self.buf = column[self.offset or 0:]


class _Runs:
    """An int64 column stored as runs (a model version changes a few times per backtest, not per row);
    spelled out one value per row only once somebody reads it, then kept up to date."""

    def __init__(self):
        self.starts, self.values, self.n = [], [], 0
        self.rows = None  # _Growable, once read

    def append(self, value: int, n: int) -> None:
        if not self.values or self.values[-1] != value:
            self.starts.append(self.n)
            self.values.append(int(value))
        self.n += n
        if self.rows is not None:
            self.rows.append(np.full(n, value, dtype=np.int64))

    def view(self) -> np.ndarray:
        if self.rows is None:
            self.rows = _Growable(np.int64)
            lengths = np.diff(np.asarray(self.starts + [self.n], dtype=np.int64))
            self.rows.append(np.repeat(np.asarray(self.values, dtype=np.int64), lengths))
        return self.rows.view()


class _LabelIndex:
    """The labels known at now: their values (missing elsewhere), which rows they are, and the order
    they arrived in. Built the first time a hook or policy reads labels, then kept up to date as the
    clock moves; a history nobody asks about labels never pays for it.

    A label is known iff its label time is strictly before now. Labels arrive in label-time order
    (ties: row order), so building it late gives exactly what keeping it from the start would have,
    as long as no row is appended after its label time has passed (History builds it first then)."""

    def __init__(self, label_times: np.ndarray, labels: np.ndarray, n: int, now: int | None):
        lt = label_times[:n]
        revealed = lt < now if now is not None else np.zeros(n, dtype=bool)
        idx = np.flatnonzero(revealed)
        self.known = _Growable()
        self.revealed = _Growable(np.bool_)
        self.order = _Growable(np.int64)
        if n:
            known = _missing_like(labels[:n], n)
            known[idx] = labels[idx]
            self.known.append(known)
            self.revealed.append(revealed)
        self.order.append(idx[np.argsort(lt[idx], kind="stable")])
        self.pending = np.flatnonzero(~revealed)
        self.next_due = int(lt[self.pending].min()) if len(self.pending) else _NEVER

    def add(self, start: int, n: int, label_times: np.ndarray, labels: np.ndarray) -> None:
        self.known.append(_missing_like(labels, n))
        self.revealed.append(np.zeros(n, dtype=bool))
        self.pending = np.concatenate([self.pending, np.arange(start, start + n, dtype=np.int64)])
        self.next_due = min(self.next_due, int(label_times.min()))

    def advance(self, now: int, label_times: np.ndarray, labels: np.ndarray) -> None:
        """Reveal every pending label whose label time is before now (buffers indexed by history row)."""
        if self.next_due >= now:  # no pending label is due: nothing to look at
            return
        lt = label_times[self.pending]
        due = lt < now
        idx = self.pending[due]
        # Within one step of the clock, labels arrive in label-time order (ties: row order).
        self.order.append(idx[np.argsort(lt[due], kind="stable")])
        self.known.writable()[idx] = labels[idx]
        self.revealed.writable()[idx] = True
        self.pending = self.pending[~due]
        self.next_due = int(lt[~due].min()) if len(self.pending) else _NEVER


class History:
    """The append-only record of one component, read through clock-aware views.

    Memory. Without a budget the per-event columns are numpy buffers kept whole: the outputs, and the
    event times, label times and labels where they are not the stream's own in-memory columns (those
    are indexed in place, not copied); the label index (about 17 bytes an event) is built the first time
    labels are read. With ``budget_bytes`` these buffers are not kept: each tick's values stay with its
    Arrow chunk, count in the budget and are spilled with it, so a history nobody reads per event holds
    at most the budget plus its newest chunk (plus a few hundred bytes of bookkeeping per chunk), however
    many events it has seen; ``memory_bytes()`` reports it. Reading a column (``outputs``, ``times``,
    ``labels``, ``known``, ``label_times``, ``known_order``, ``frame()``) rebuilds it once from the
    chunks, reading spilled ones back, and from then on keeps it whole and up to date outside the
    budget: reading opts that column into O(events) memory, as without a budget (reading labels also
    builds the label index and keeps the label and label-time columns). ``inputs`` keeps nothing: it
    reads the chunks that hold the rows asked for. ``versions`` is kept as runs of one value until first
    read, with or without a budget.
    """

    def __init__(self, inputs: list, budget_bytes: int | None = None, reader=None, spill_dir: str | None = None,
                 stream_columns: tuple | None = None):
        """``budget_bytes``: keep at most this much of the Arrow record in memory; older chunks are
        dropped when ``reader(a, b)`` can read the stream rows back, else spilled to Parquet files in
        ``spill_dir``. Either way they stay readable by hooks. Under a budget the outputs (and the times,
        label times and labels not read from ``stream_columns``) go with the chunks too, until first
        read (see above). ``stream_columns``: the whole stream's (event times, label times, labels or
        None) as numpy; while appended rows are consecutive stream rows (given by ``origin``), the index
        reads them there instead of copying them."""
        self.input_names = list(inputs)
        self.budget_bytes, self._reader, self.spill_dir = budget_bytes, reader, spill_dir
        self._own_spill_dir = False       # did we make spill_dir (and so delete it when done)
        self._mem_bytes = 0
        self._evicted = 0                 # chunks before this index are out of memory
        self._chunks: list = []           # pa.Table slices of the stream: the Arrow record of rows
        self._chunk_starts: list = []     # the first row of each chunk
        self._sources: list = []          # how to rebuild each chunk after a checkpoint is restored
        self._parked: list = []           # per chunk: its values of the parked columns, or a spill path, or None
        self._n = 0
        times, label_times, labels = stream_columns or (None, None, None)
        self._times = _StreamPrefix(times) if times is not None else _Growable(np.int64)
        self._label_times = _StreamPrefix(label_times) if label_times is not None else _Growable(np.int64)
        self._true_labels = _StreamPrefix(labels) if labels is not None else _Growable()
        self._outputs = _Growable()
        self._versions = _Runs()
        self._label_index: _LabelIndex | None = None  # built when labels are first read
        self._now: int | None = None
        # Under a budget, the per-event columns of our own (not the stream's) are "parked": each append's
        # values go with its chunk (budgeted, spilled with it) and the column's buffer stays empty until
        # it is first read; see _column().
        self._parked_columns = () if budget_bytes is None else tuple(
            attr for attr in _COLUMNS + ("_outputs",) if isinstance(getattr(self, attr), _Growable))

    # -- writing (the runtime only) ------------------------------------------------------------------
    def append(self, rows: pa.Table, outputs, version: int = 0, origin: int | None = None, columns=None) -> None:
        """Add a tick's rows and the component's outputs for them. ``origin``: the rows are the stream
        table's rows origin..origin+n (then a checkpoint stores the range, not the data). ``columns``:
        the rows' (times, label times, labels) as numpy when the caller has them already."""
        n = rows.num_rows
        outputs = np.asarray(outputs)
        if len(outputs) != n:
            raise ValueError(f"{len(outputs)} outputs for {n} rows")
        if n == 0:
            return
        start = self._n
        if columns is None:
            columns = (rows.column(TIME).cast(pa.int64()).to_numpy(),
                       rows.column(LABEL_TIME).cast(pa.int64()).fill_null(_NEVER).to_numpy(),
                       rows.column(LABEL).to_numpy(zero_copy_only=False))
        if self._label_index is None and self._now is not None and columns[1].min() < self._now:
            self._labels()  # rows whose label time has passed already: their labels arrive now, in this order
        last = self._chunks[-1] if self._chunks and self._sources[-1][0] == "table" else None
        if origin is None and n == 1 and last is not None and last.num_rows < 1024 and last.schema == rows.schema:
            # One-row tables of their own (a training run's record) join the previous one: a checkpoint
            # then pickles a few tables, not one per training run.
            merged = pa.concat_tables([last, rows]).combine_chunks()
            self._chunks[-1], self._sources[-1] = merged, ("table", merged)
        else:
            self._chunks.append(rows)
            self._chunk_starts.append(start)
            self._sources.append(("rows", origin, n) if origin is not None else ("table", rows))
            self._parked.append(None)
        if self.budget_bytes is not None:  # nbytes of a slice walks its buffers: only when it is needed
            self._mem_bytes += rows.nbytes
        parking = self._parked_columns
        for attr, values in zip(_COLUMNS, columns):
            index = getattr(self, attr)
            if isinstance(index, _StreamPrefix):
                if origin is not None and index.extends(origin):
                    index.append_rows(origin, n)
                    continue
                index = index.copied()  # not the next stream rows: from here on the index keeps copies
                setattr(self, attr, index)
            if attr in parking:
                self._park(attr, values)
            else:
                index.append(values)
        if "_outputs" in parking:
            self._park("_outputs", outputs)
        else:
            self._outputs.append(outputs)
        self._versions.append(version, n)
        self._n += n
        if self._label_index is not None:
            self._label_index.add(start, n, columns[1], columns[2])
        if self.budget_bytes is not None:
            self._enforce_budget()
        if self._now is not None:
            self.advance(self._now)

    def advance(self, now_ns: int) -> None:
        """Move the clock to now and reveal every label whose label time is before it."""
        if self._now is not None and now_ns < self._now:
            raise ValueError(f"the clock went back from {self._now} to {now_ns}")
        self._now = int(now_ns)
        if self._label_index is not None:
            self._label_index.advance(self._now, self._label_times.buf, self._true_labels.buf)

    def _labels(self) -> _LabelIndex:
        if self._label_index is None:
            n = len(self)
            self._unpark("_label_times", "_true_labels")  # one pass over spilled chunks for both
            lt, labels = self._label_times.buf, self._true_labels.buf
            if not n:
                lt, labels = np.empty(0, np.int64), np.empty(0)
            self._label_index = _LabelIndex(lt, labels, n, self._now)
        return self._label_index

    # -- parked columns (under a budget) ----------------------------------------------------------------
    def _park(self, attr: str, values: np.ndarray) -> None:
        """Keep this append's values of a parked column with the newest chunk (a copy: the caller's
        array may change later, and a view could keep a larger buffer alive)."""
        values = np.array(values)
        held = self._parked[-1]
        if held is None:
            held = self._parked[-1] = {}
        held.setdefault(attr, []).append(values)  # one array per append: replaying them is exact
        self._mem_bytes += values.nbytes

    def _column(self, attr: str):
        """The column's buffer; a parked column is first rebuilt from the chunks, then kept whole."""
        self._unpark(attr)
        return getattr(self, attr)

    def _unpark(self, *attrs: str) -> None:
        """Rebuild these parked columns from the chunks (each spilled chunk read once), then keep them
        whole: their buffers are empty until now, so appending replays exactly what they would hold."""
        attrs = tuple(a for a in attrs if a in self._parked_columns)
        if not attrs:
            return
        for i in range(len(self._parked)):
            values = self._parked_values(i)
            for attr in attrs:
                for v in values.get(attr, ()):
                    getattr(self, attr).append(v)
        self._parked_columns = tuple(a for a in self._parked_columns if a not in attrs)
        for i, held in enumerate(self._parked):
            if isinstance(held, dict):
                for attr in attrs:
                    self._mem_bytes -= sum(v.nbytes for v in held.pop(attr, ()))
                if not held:
                    self._parked[i] = None

    def _parked_values(self, i: int) -> dict:
        held = self._parked[i]
        if isinstance(held, str):
            with open(held, "rb") as f:
                return pickle.load(f)
        return held or {}

    # -- checkpoints (the runtime only) ----------------------------------------------------------------
    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_chunks"] = None  # slices of the stream are stored as row ranges; see reattach()
        state["_reader"] = None
        return state

    def reattach(self, reader, stream_columns: tuple | None = None) -> None:
        """After unpickling: read stream rows through ``reader(a, b)`` and the index columns from
        ``stream_columns`` again; chunks load on demand."""
        self._reader = reader
        for attr, column in zip(("_times", "_label_times", "_true_labels"), stream_columns or ()):
            index = getattr(self, attr)
            if isinstance(index, _StreamPrefix):
                index.reattach(column)
        self._chunks = [src[1] if src[0] == "table" else None for src in self._sources]
        self._mem_bytes = self._held_bytes()
        self._evicted = 0

    def _enforce_budget(self) -> None:
        while self._mem_bytes > self.budget_bytes and self._evicted < len(self._chunks) - 1:
            i, self._evicted = self._evicted, self._evicted + 1
            chunk = self._chunks[i]
            if chunk is not None:
                if not (self._sources[i][0] == "rows" and self._reader is not None):
                    path = os.path.join(self._spill_dir(), f"chunk-{i:08d}.parquet")
                    pq.write_table(chunk, path)
                    self._sources[i] = ("spill", path)
                self._chunks[i] = None
                self._mem_bytes -= chunk.nbytes
            held = self._parked[i]
            if isinstance(held, dict):  # outputs are not in the stream: spilled even when the rows are re-read
                path = os.path.join(self._spill_dir(), f"parked-{i:08d}.pickle")
                with open(path, "wb") as f:
                    pickle.dump(held, f, protocol=pickle.HIGHEST_PROTOCOL)
                self._parked[i] = path
                self._mem_bytes -= _parked_bytes(held)

    def _spill_dir(self) -> str:
        if self.spill_dir is None:
            self.spill_dir = tempfile.mkdtemp(prefix="raytrain-history-")
            self._own_spill_dir = True
        return self.spill_dir

    def discard_spills(self) -> None:
        """Delete the files this history spilled to a directory of its own (the runtime calls it once
        the backtest is over: a sweep of budgeted backtests would otherwise fill the disk)."""
        if self._own_spill_dir:
            shutil.rmtree(self.spill_dir, ignore_errors=True)
            self.spill_dir, self._own_spill_dir = None, False

    def _chunk(self, i: int) -> pa.Table:
        chunk = self._chunks[i]
        if chunk is not None:
            return chunk
        kind = self._sources[i][0]
        if kind == "rows":
            _, a, n = self._sources[i]
            return self._reader(a, a + n)
        return pq.read_table(self._sources[i][1])

    # -- reading (hooks) -----------------------------------------------------------------------------
    def __len__(self) -> int:
        return self._n

    def __repr__(self) -> str:
        return f"History({len(self):,} rows, now={pd.Timestamp(self._now) if self._now is not None else None})"

    def _held_bytes(self) -> int:
        """What the budget counts: the chunks in memory and the parked values held with them."""
        return (sum(c.nbytes for c in self._chunks if c is not None)
                + sum(_parked_bytes(held) for held in self._parked if isinstance(held, dict)))

    def memory_bytes(self) -> int:
        """Bytes this history holds in memory: its Arrow chunks (slices of an in-memory stream are
        counted although they share the stream's buffers), per-event buffers and label index; not
        the stream's own columns it indexes in place."""
        total = self._held_bytes()
        buffers = [getattr(self, a) for a in _COLUMNS + ("_outputs",)] + [self._versions.rows]
        if self._label_index is not None:
            index = self._label_index
            buffers += [index.known, index.revealed, index.order]
            total += index.pending.nbytes
        return total + sum(b.buf.nbytes for b in buffers if isinstance(b, _Growable) and b.buf is not None)

    @property
    def now(self) -> pd.Timestamp | None:
        return None if self._now is None else pd.Timestamp(self._now)

    @property
    def times(self) -> np.ndarray:
        return self._column("_times").view().view("datetime64[ns]")

    @property
    def outputs(self) -> np.ndarray:
        return self._column("_outputs").view()

    @property
    def labels(self) -> np.ndarray:
        return self._labels().known.view()

    @property
    def known(self) -> np.ndarray:
        """True where the label is already visible."""
        return self._labels().revealed.view()

    @property
    def known_order(self) -> np.ndarray:
        """Indices of the rows whose label is visible, in the order the labels arrived."""
        return self._labels().order.view()

    @property
    def label_times(self) -> np.ndarray:
        known = self.known  # first: building the label index rebuilds a parked label-time column
        lt = self._label_times.view()
        out = np.where(known, lt, np.iinfo(np.int64).min).view("datetime64[ns]")
        out.flags.writeable = False
        return out

    @property
    def versions(self) -> np.ndarray:
        return self._versions.view()

    @property
    def inputs(self) -> "Rows":
        return Rows(self)

    def frame(self) -> pd.DataFrame:
        """Everything as a DataFrame: time, inputs, output, label, label_time, version."""
        df = self.inputs[:]
        df.insert(0, "time", self.times)
        df["output"] = self.outputs
        df["label"] = self.labels
        df["label_time"] = self.label_times
        df["version"] = self.versions
        return df

    def _rows(self, start: int, stop: int) -> pa.Table:
        """Input rows [start, stop) as one table, concatenating only the chunks that hold them."""
        if stop <= start:
            return self._table().slice(0, 0)
        first = bisect.bisect_right(self._chunk_starts, start) - 1
        last = bisect.bisect_left(self._chunk_starts, stop)
        table = pa.concat_tables([self._chunk(i).select(self.input_names) for i in range(first, last)])
        return table.slice(start - self._chunk_starts[first], stop - start)

    def _table(self) -> pa.Table:
        if not self._chunks:
            return pa.table({c: pa.array([], type=pa.null()) for c in self.input_names})
        return pa.concat_tables([self._chunk(i).select(self.input_names) for i in range(len(self._chunks))])


class Rows:
    """The input columns of a history: ``rows[-100:]`` is a DataFrame, ``rows["temp"]`` a numpy column."""

    def __init__(self, history: History):
        self._h = history

    def __len__(self) -> int:
        return len(self._h)

    @property
    def columns(self) -> list:
        return list(self._h.input_names)

    def __getitem__(self, key):
        if isinstance(key, slice):
            start, stop, step = key.indices(len(self._h))
            if step == 1:  # touch only the chunks that hold the rows: reading the latest rows stays cheap
                return self._h._rows(start, max(start, stop)).to_pandas()
        table = self._h._table()
        if isinstance(key, str):
            if key not in self._h.input_names:
                raise KeyError(f"{key!r} is not an input column; inputs are {self._h.input_names}")
            out = table.column(key).to_numpy()
            out.flags.writeable = False
            return out
        if isinstance(key, slice):
            start, stop, step = key.indices(table.num_rows)
            return table.take(pa.array(np.arange(start, stop, step))).to_pandas()
        index = np.asarray(key)
        if index.dtype == bool:
            index = np.flatnonzero(index)
        return table.take(pa.array(index.astype(np.int64))).to_pandas()

    def to_pandas(self) -> pd.DataFrame:
        return self[:]

    def __repr__(self) -> str:
        return f"Rows({len(self):,} rows of {self._h.input_names})"


def _parked_bytes(held: dict) -> int:
    return sum(v.nbytes for values in held.values() for v in values)


def _missing_like(labels: np.ndarray, n: int) -> np.ndarray:
    if labels.dtype.kind in "biuf":
        return np.full(n, np.nan, dtype=np.float64)
    return np.full(n, None, dtype=object)
