"""The oracle's dynamic programme against brute-force enumeration of every schedule (no Ray)."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from raytrain.oracle import frontier, replay, served_by


def brute_force(M, events, serve_from, k, first, higher):
    """Every subset of at most k retrain rows, each scored tick by tick from first principles."""
    m, n = M.shape
    rows = [i for i in range(first + 1, m) if serve_from[i] < n]
    best = None
    for r in range(k + 1):
        for combo in itertools.combinations(rows, r):
            num = den = 0.0
            for t in range(serve_from[first], n):
                deployed = [i for i in (first, *combo) if serve_from[i] <= t]
                model = max(deployed)  # the newest deployment serving at t
                if events[t] > 0 and not np.isnan(M[model, t]):
                    num += events[t] * M[model, t]
                    den += events[t]
            value = num / den
            if best is None or (value > best + 1e-12 if higher else value < best - 1e-12):
                best = value
    return best


@st.composite
def problems(draw):
    n = draw(st.integers(2, 9))
    warmup = draw(st.integers(0, n - 1))          # warm-up model serves from this tick
    latency = draw(st.integers(0, 2))             # in ticks
    every = draw(st.integers(1, 2))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    # candidate rows: the warm-up model, then retrains decided at the end of ticks warmup, warmup+every, ...
    decided = list(range(warmup, n - 1, every))
    serve_from = np.array([warmup] + [min(d + 1 + latency, n) for d in decided], dtype=np.int64)
    m = len(serve_from)
    M = rng.random((m, n)).round(2)
    M[np.arange(n)[None, :] < serve_from[:, None]] = np.nan
    events = rng.integers(0, 4, n).astype(float)
    events[rng.random(n) < 0.2] = 0
    M[:, events == 0] = np.nan                    # ticks without events have no metric
    if events[warmup:].sum() == 0:
        events[-1] = 1
        M[:, -1] = np.where(serve_from <= n - 1, rng.random(m).round(2), np.nan)
    return M, events, serve_from, draw(st.booleans())


@settings(max_examples=300, deadline=None)
@given(problems(), st.integers(0, 4))
def test_dp_equals_brute_force(problem, k_max):
    M, events, serve_from, higher = problem
    sols = frontier(M, events, serve_from, k_max, higher_is_better=higher)
    assert [s.k for s in sols] == list(range(k_max + 1))
    for s in sols:
        assert s.metric == pytest.approx(brute_force(M, events, serve_from, s.k, 0, higher), abs=1e-12)
        assert len(s.schedule) <= s.k
        # the schedule it reports really scores that metric
        assert replay(M, events, s.schedule, serve_from) == pytest.approx(s.metric, abs=1e-12)
    values = [s.metric for s in sols]
    assert all((b >= a - 1e-12) if higher else (b <= a + 1e-12) for a, b in zip(values, values[1:]))


def test_warmup_row_not_first_and_ties_keep_fewer_retrains():
    M = np.array([[np.nan, 0.2, 0.2, 0.2],
                  [0.5, 0.5, 0.5, 0.5],
                  [np.nan, np.nan, 0.5, 0.5]])
    sols = frontier(M, [1, 1, 1, 1], [0, 0, 2], k_max=1, first=1)
    assert sols[1].schedule == ()            # retraining to an equally good model is not worth a retrain
    assert sols[1].metric == pytest.approx(0.5)


def test_served_by_follows_latency():
    assert served_by((2,), [1, 2, 4], 6).tolist() == [-1, 0, 0, 0, 2, 2]
    assert served_by((1, 2), [1, 3, 3], 5).tolist() == [-1, 0, 0, 2, 2]  # same deploy tick: the later wins


def test_mixed_nan_on_a_tick_with_events_is_an_error():
    M = np.array([[0.5, 0.5], [np.nan, np.nan]])
    with pytest.raises(ValueError, match="Tick 0 has events"):
        frontier(M, [1, 1], [0, 0], k_max=1)


def test_year_of_daily_candidates_is_fast():
    import time

    rng = np.random.default_rng(0)
    m = n = 336
    M = rng.random((m, n))
    serve_from = np.arange(m) + 1
    serve_from[0] = 1
    M[np.arange(n)[None, :] < serve_from[:, None]] = np.nan
    t0 = time.perf_counter()
    sols = frontier(M, np.full(n, 100.0), serve_from, k_max=40)
    assert time.perf_counter() - t0 < 5
    assert len(sols[40].schedule) <= 40
