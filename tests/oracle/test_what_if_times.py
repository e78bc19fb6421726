"""what_if() takes retrain times in any form pandas reads (pandas 3 parses them to microseconds)."""

import numpy as np
import pandas as pd
import pytest

from raytrain import ConfigError, EvaluationMatrix


def small_matrix() -> EvaluationMatrix:
    starts = pd.date_range("2024-01-01", periods=3, freq="1D").values.astype("datetime64[ns]")
    return EvaluationMatrix(
        values=np.array([[np.nan, 0.5, 0.5], [np.nan, np.nan, 0.9]]), events=np.array([0, 10, 10]),
        candidate_ticks=np.array([0, 1]), serve_from=np.array([1, 2]), tick_starts=starts,
        tick_ends=starts + np.timedelta64(1, "D"), metric="accuracy")


@pytest.mark.parametrize("when", ["2024-01-03", pd.Timestamp("2024-01-03"), np.datetime64("2024-01-03", "s"),
                                  pd.Timestamp("2024-01-03").as_unit("ns")])
def test_what_if_reads_any_time_unit(when):
    em = small_matrix()
    assert em.what_if([when]) == pytest.approx(0.7)
    assert em.what_if([]) == pytest.approx(0.5)


def test_what_if_off_candidate_names_the_time():
    with pytest.raises(ConfigError, match="No candidate model was trained at 2024-01-02 12:00:00"):
        small_matrix().what_if(["2024-01-02 12:00"])
