"""Where a stream's rows come from: an Arrow table in memory, or Parquet files read a tick at a time.

Both give the runtime the same three things: the rows a..b of a tick as Arrow (reserved column names,
see raytrain.stream), the same as a pandas frame, and arbitrary rows (for a training run). Event times
and label times are always in memory (16 bytes a row): the clock and the no-look-ahead checks need them.
"""

from __future__ import annotations

import bisect
from collections import OrderedDict

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

__all__ = ["TableSource", "ParquetSource", "RESERVED"]

TIME, LABEL, LABEL_TIME = "__time__", "__label__", "__label_time__"
RESERVED = (TIME, LABEL, LABEL_TIME)


class TableSource:
    """A stream held whole as one single-chunk Arrow table (zero-copy from the object store)."""

    lazy = False

    def __init__(self, table: pa.Table):
        self.table = table

    @property
    def num_rows(self) -> int:
        return self.table.num_rows

    def rows(self, a: int, b: int) -> pa.Table:
        return self.table.slice(a, b - a)

    def labels(self, a: int, b: int) -> np.ndarray:
        return self.table.column(LABEL).slice(a, b - a).to_numpy(zero_copy_only=False)


class ParquetSource:
    """Parquet files read row group by row group, never whole. Picklable (paths and offsets only)."""

    lazy = True

    def __init__(self, files: list, time: str, label: str, inputs: list, times_ns: np.ndarray,
                 label_times_ns: np.ndarray, cache_row_groups: int = 2):
        self.files, self.time, self.label, self.inputs = list(files), time, label, list(inputs)
        self.times_ns, self.label_times_ns = times_ns, label_times_ns
        self.cache_row_groups = cache_row_groups
        self._groups = []  # (global first row, file index, row group index, rows)
        first = 0
        for i, path in enumerate(self.files):
            meta = pq.ParquetFile(path).metadata
            for g in range(meta.num_row_groups):
                n = meta.row_group(g).num_rows
                self._groups.append((first, i, g, n))
                first += n
        self._starts = [g[0] for g in self._groups]
        self.num_rows = first
        self._cache: OrderedDict = OrderedDict()

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_cache"] = OrderedDict()
        return state

    def _group(self, j: int) -> pa.Table:
        if j in self._cache:
            self._cache.move_to_end(j)
            return self._cache[j]
        first, i, g, n = self._groups[j]
        raw = pq.ParquetFile(self.files[i]).read_row_group(g, columns=[self.label] + self.inputs)
        t = pa.array(self.times_ns[first: first + n], pa.int64()).cast(pa.timestamp("ns"))
        lt = self.label_times_ns[first: first + n]
        never = lt == np.iinfo(np.int64).max
        lt_col = pa.array(np.where(never, 0, lt), pa.int64(), mask=never).cast(pa.timestamp("ns"))
        table = pa.Table.from_arrays([t, raw.column(self.label), lt_col] + [raw.column(c) for c in self.inputs],
                                     names=list(RESERVED) + self.inputs).combine_chunks()
        self._cache[j] = table
        while len(self._cache) > self.cache_row_groups:
            self._cache.popitem(last=False)
        return table

    def rows(self, a: int, b: int) -> pa.Table:
        if b <= a:
            return self._group(0).slice(0, 0) if self._groups else pa.table({})
        j0 = bisect.bisect_right(self._starts, a) - 1
        j1 = bisect.bisect_right(self._starts, b - 1) - 1
        parts = []
        for j in range(j0, j1 + 1):
            first, _, _, n = self._groups[j]
            lo, hi = max(a, first) - first, min(b, first + n) - first
            parts.append(self._group(j).slice(lo, hi - lo))
        return pa.concat_tables(parts).combine_chunks() if len(parts) > 1 else parts[0]

    def take_frame(self, index: np.ndarray) -> pd.DataFrame:
        """Arbitrary rows (sorted indices), read one row group at a time."""
        index = np.asarray(index, dtype=np.int64)
        if len(index) == 0:
            return self.rows(0, 0).to_pandas()
        parts, starts = [], np.asarray(self._starts)
        group_of = np.searchsorted(starts, index, side="right") - 1
        for j in np.unique(group_of):
            first = self._groups[j][0]
            local = index[group_of == j] - first
            parts.append(self._group(int(j)).take(pa.array(local)))
        return pa.concat_tables(parts).to_pandas()

    def labels(self, a: int, b: int) -> np.ndarray:
        return self.rows(a, b).column(LABEL).to_numpy(zero_copy_only=False)
