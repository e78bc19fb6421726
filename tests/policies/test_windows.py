"""Training windows: Expanding and Sliding select visible rows only, exactly."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from raytrain.errors import ConfigError
from raytrain.windows import Expanding, Sliding

H = 3_600_000_000_000


@settings(max_examples=100, deadline=None)
@given(gaps=st.lists(st.integers(0, 5), min_size=1, max_size=60),
       delays=st.lists(st.one_of(st.none(), st.integers(0, 10)), min_size=60, max_size=60),
       now_h=st.integers(0, 200), hours=st.integers(1, 50), rows=st.integers(1, 80))
def test_windows_select_exactly_the_visible_rows_they_describe(gaps, delays, now_h, hours, rows):
    times = np.cumsum(gaps).astype(np.int64) * H
    lts = np.array([t + d * H if d is not None else np.iinfo(np.int64).max
                    for t, d in zip(times, delays)], dtype=np.int64)
    now = now_h * H
    visible = np.flatnonzero((times < now) & (lts < now))
    assert Expanding().select(times, lts, now).tolist() == visible.tolist()
    assert Sliding(rows=rows).select(times, lts, now).tolist() == visible[-rows:].tolist()
    recent = visible[times[visible] >= now - hours * H]
    assert Sliding(f"{hours}h").select(times, lts, now).tolist() == recent.tolist()


@pytest.mark.parametrize("make, message", [
    (lambda: Sliding(), "exactly one"),
    (lambda: Sliding("30D", rows=10), "exactly one"),
    (lambda: Sliding("-30D"), "Sliding duration must be a positive duration"),
    (lambda: Sliding(30), "got the number 30"),
    (lambda: Sliding(rows=0), "rows= must be a whole number of at least 1; got 0"),
    (lambda: Sliding(rows=1.5), "got 1.5"),
])
def test_bad_parameters_are_clear_errors_at_construction(make, message):
    with pytest.raises(ConfigError, match=message):
        make()


def test_reprs():
    assert [repr(w) for w in (Expanding(), Sliding("90D"), Sliding(rows=50_000))] == [
        "Expanding()", "Sliding('90D')", "Sliding(rows=50000)"]
