"""tests/test_docs.py: replay the first 33,000 flights (about five weeks) instead of the whole year.

The page's blocks call load_flights() for the year (about a minute per backtest); the test suite runs
the same code on a prefix of it. Nothing else changes; the test puts load_flights back afterwards.
"""
import raytrain.datasets

_load_flights = raytrain.datasets.load_flights


def _first_flights(n_rows=33_000, weather=True):
    return _load_flights(n_rows=n_rows, weather=weather)


raytrain.datasets.load_flights = _first_flights
