"""Data drift: retrain when the inputs served lately no longer look like the serving model's training data.

``FeatureDrift(["temp", "wind_speed"])`` compares, feature by feature, the most recent served inputs
that the serving model was *not* trained on with the rows it *was* trained on (``view.training_rows()``):

- ``test="auto"`` (default): two-sample Kolmogorov-Smirnov for numeric features (the p-value of
  ``scipy.stats.ks_2samp(method="asymp")``, computed against the training sample sorted once per model),
  chi-square on the category counts for the others (``scipy.stats.chi2_contingency``); fires when
  a p-value is below ``alpha`` divided by the number of features (Bonferroni), so watching many features
  does not multiply false alarms. ``"ks"`` and ``"chi2"`` force one test (chi-square bins numeric
  features at the training data's deciles).
- ``test="psi"``: the population stability index over the training data's deciles (categories for
  non-numeric features); fires when one exceeds ``threshold`` (0.2 by convention: "a significant shift").

A test runs once ``min_samples`` recent rows exist and then every ``check_every`` new rows, so a tick
costs O(1) in between and a long run does not re-test the whole history every tick. Needs scipy.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from raytrain.errors import ConfigError
from raytrain.policies._checks import duration_ns, positive_int, real, retrain_pending
from raytrain.policies.base import Policy

__all__ = ["FeatureDrift"]

_TESTS = ("auto", "ks", "chi2", "psi")
_BINS = 10
_PSI_FLOOR = 1e-4  # a bin empty on one side would make PSI infinite


class FeatureDrift(Policy):
    """Retrain when recent inputs drift away from the serving model's training data.

    ``features``: an input name or a list of them (default: every input). ``recent``: how many of the
    latest served rows to test (default 1000), or ``window``: the rows of the last duration instead;
    either way only rows the serving model was not trained on. ``alpha`` (tests, default 0.01) or
    ``threshold`` (PSI, default 0.2). ``min_samples`` (200): recent rows needed before testing.
    ``check_every``: new rows between tests (default: half of ``recent``, or ``min_samples`` with a
    window). ``max_reference`` (10,000): training rows kept per model, evenly spaced. Once it finds
    drift it keeps answering so until a retrain happens.

    >>> FeatureDrift(["x0", "x1"])
    FeatureDrift(['x0', 'x1'])
    >>> FeatureDrift("temp", test="psi", threshold=0.25, window="7D")
    FeatureDrift(['temp'], test='psi', threshold=0.25, window='7D')
    """

    def __init__(self, features=None, test: str = "auto", *, alpha: float | None = None,
                 threshold: float | None = None, min_samples: int = 200, recent: int | None = None,
                 window=None, check_every: int | None = None, max_reference: int = 10_000):
        if isinstance(features, str):
            features = [features]
        if features is not None:
            features = list(features)
            bad = [f for f in features if not isinstance(f, str)]
            if not features or bad:
                raise ConfigError(f"FeatureDrift features must be input column names (strings); got {features!r}. "
                                  f"For example: FeatureDrift(['temp', 'wind_speed']), or None for every input.")
        self.features = features
        if test not in _TESTS:
            raise ConfigError(f"FeatureDrift test must be one of {list(_TESTS)}; got {test!r}.")
        self.test = test
        if test == "psi" and alpha is not None:
            raise ConfigError(f"FeatureDrift(test='psi') takes threshold= (e.g. 0.2), not alpha={alpha!r}: PSI is "
                              f"not a p-value.")
        if test != "psi" and threshold is not None:
            raise ConfigError(f"FeatureDrift(test={test!r}) takes alpha= (a significance level such as 0.01), not "
                              f"threshold={threshold!r}; threshold= is for test='psi'.")
        self.alpha = None if alpha is None else real(alpha, "FeatureDrift alpha", 0.0, 1.0, open_low=True,
                                                     open_high=True, example="alpha=0.01")
        self.threshold = None if threshold is None else real(threshold, "FeatureDrift threshold", 0.0, open_low=True,
                                                             example="threshold=0.2")
        if recent is not None and window is not None:
            raise ConfigError(f"FeatureDrift takes recent= (rows) or window= (a duration), not both; got "
                              f"recent={recent!r}, window={window!r}.")
        self.recent = None if recent is None else positive_int(recent, "FeatureDrift recent=", "recent=1000")
        self.window = window
        self._window_ns = None if window is None else duration_ns(window, "FeatureDrift window=")
        self.min_samples = positive_int(min_samples, "FeatureDrift min_samples=", "min_samples=200")
        if self.min_samples > self._recent:
            raise ConfigError(f"FeatureDrift min_samples={self.min_samples} is more than recent={self._recent}, so "
                              f"it could never test. Lower min_samples or raise recent.")
        self.check_every = None if check_every is None else positive_int(
            check_every, "FeatureDrift check_every=", "check_every=500")
        self.max_reference = positive_int(max_reference, "FeatureDrift max_reference=", "max_reference=10_000")
        self.checks = 0  # tests run so far in this backtest (for cost measurements)
        self._reset()

    @property
    def _recent(self) -> int:
        return self.recent if self.recent is not None else (1000 if self.window is None else np.iinfo(np.int64).max)

    @property
    def _check_every(self) -> int:
        if self.check_every is not None:
            return self.check_every
        return max(self.min_samples, self._recent // 2) if self.window is None else self.min_samples

    def _reset(self) -> None:
        self._names = self.features
        self._reference = None       # (version, trained_at_ns, {feature: prepared reference})
        self._checked_len = None     # history length at the last test, per serving model
        self._checked_key = None
        self._latched = None         # the drift found for the serving model, until something retrains
        self._latched_key = None
        self.checks = 0

    def bind(self, context) -> None:
        self._reset()
        inputs = list(context.inputs)
        if self.features is None:
            self._names = inputs
            return
        unknown = [f for f in self.features if f not in inputs]
        if unknown:
            raise ConfigError(f"FeatureDrift features {unknown} are not inputs of the stream; its inputs are "
                              f"{inputs}. Pass names from that list.")

    # -- deciding ------------------------------------------------------------------------------------
    def decide(self, view) -> str | None:
        if retrain_pending(view):
            return None
        key = (view.version, view.last_retrain_ns)
        if self._latched is not None and self._latched_key == key:
            return self._latched   # keep asking until a retrain answers it (matters under & and cooldowns)
        if self._checked_key != key:
            self._checked_key, self._checked_len = key, None
        h = view.history
        n = len(h)
        if self._checked_len is not None and n - self._checked_len < self._check_every:
            return None
        times = h.times.view(np.int64)
        first = int(np.searchsorted(times, view.trained_at_ns, side="left"))  # rows it was not trained on
        if self._window_ns is not None:
            first = max(first, int(np.searchsorted(times, view.now_ns - self._window_ns, side="left")))
        first = max(first, n - self._recent)
        if n - first < self.min_samples:
            return None
        self._checked_len = n
        reason = self.check(view, h.inputs[first:n])
        if reason:
            self._latched, self._latched_key = reason, key
        return reason

    def check(self, view, recent: pd.DataFrame) -> str | None:
        """Test ``recent`` rows against the serving model's training data; the reason if they drifted."""
        self.checks += 1
        reference = self._prepared_reference(view)
        results = []   # (severity for sorting, text)
        for name in self._names:
            ref = reference[name]
            if ref is None:
                continue
            stat, text = _test(ref, recent[name])
            if stat is not None:
                results.append((stat, text))
        if not results:
            return None
        n_ref = reference[None]
        if self.test == "psi":
            limit = 0.2 if self.threshold is None else self.threshold
            fired = sorted([r for r in results if r[0] > limit], key=lambda r: -r[0])
            rule = f"PSI > {limit:g}"
        else:
            alpha = 0.01 if self.alpha is None else self.alpha
            limit = alpha / len(self._names)
            fired = sorted([r for r in results if r[0] < limit], key=lambda r: r[0])
            rule = f"alpha {alpha:g}/{len(self._names)}" if len(self._names) > 1 else f"alpha {alpha:g}"
        if not fired:
            return None
        more = f" and {len(fired) - 3} more" if len(fired) > 3 else ""
        return (", ".join(text for _, text in fired[:3]) + more +
                f" ({rule}; {len(recent):,} recent vs {n_ref:,} training rows)")

    def _prepared_reference(self, view) -> dict:
        key = (view.version, view.trained_at_ns)
        if self._reference is not None and self._reference[0] == key:
            return self._reference[1]
        if view.training_rows is None:
            raise ConfigError("FeatureDrift needs view.training_rows(): the rows the serving model was trained on.")
        frame = view.training_rows()
        if len(frame) > self.max_reference:  # evenly spaced rows: deterministic, and spread over time
            frame = frame.iloc[np.linspace(0, len(frame) - 1, self.max_reference).astype(np.int64)]
        prepared = {None: len(frame)}
        for name in self._names:
            prepared[name] = _prepare(frame[name], self.test, name) if len(frame) else None
        self._reference = (key, prepared)
        return prepared

    def __repr__(self) -> str:
        args = [repr(self.features)] if self.features is not None else []
        for name, value, default in (("test", self.test, "auto"), ("alpha", self.alpha, None),
                                     ("threshold", self.threshold, None), ("min_samples", self.min_samples, 200),
                                     ("recent", self.recent, None), ("window", self.window, None),
                                     ("check_every", self.check_every, None),
                                     ("max_reference", self.max_reference, 10_000)):
            if value != default:
                args.append(f"{name}={value!r}")
        return f"FeatureDrift({', '.join(args)})"


# -- the tests, one reference prepared once per serving model ------------------------------------------
class _Ref:
    def __init__(self, kind: str, name: str, **data):
        self.kind, self.name = kind, name
        self.__dict__.update(data)


def _is_numeric(values: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype)


def _prepare(values: pd.Series, test: str, name: str) -> _Ref:
    numeric = _is_numeric(values)
    if test == "ks" and not numeric:
        raise ConfigError(f"FeatureDrift(test='ks'): feature {name!r} is not numeric ({values.dtype}); KS compares "
                          f"numbers. Use test='auto' (chi-square for categories) or test='psi'.")
    if numeric:
        v = values.to_numpy(dtype=np.float64)
        v = np.sort(v[np.isfinite(v)])
        if test in ("auto", "ks"):
            return _Ref("ks", name, sorted=v)
        edges = np.unique(np.quantile(v, np.linspace(0, 1, _BINS + 1)[1:-1])) if len(v) else np.empty(0)
        counts = np.bincount(np.searchsorted(edges, v, side="right"), minlength=len(edges) + 1)
        return _Ref("psi" if test == "psi" else "chi2", name, edges=edges, counts=counts)
    counts = values.astype(object).where(values.notna(), "<missing>").value_counts()
    return _Ref("psi_cat" if test == "psi" else "chi2_cat", name, categories=counts)


def ks_pvalue(reference_sorted: np.ndarray, sample: np.ndarray) -> float:
    """The two-sided p-value of ``scipy.stats.ks_2samp(reference, sample, method="asymp")``, in
    O(len(sample) log len(reference)) against a reference sorted once per serving model.

    Both empirical CDFs are step functions; between two points of the sample its CDF is flat, so the
    largest gaps sit at the sample's points (from the right) or just before them (from the left).
    """
    from scipy import stats

    ref, cur = reference_sorted, np.sort(sample)
    n1, n2 = len(ref), len(cur)
    above = np.searchsorted(ref, cur, side="left") / n1 - np.searchsorted(cur, cur, side="left") / n2
    below = np.searchsorted(cur, cur, side="right") / n2 - np.searchsorted(ref, cur, side="right") / n1
    d = max(float(above.max()), float(below.max()), 0.0)
    m, n = max(n1, n2), min(n1, n2)
    en = np.round(m * n / (m + n))
    if en < 1:  # one value on each side: no evidence either way (scipy says nan)
        return 1.0
    return float(np.clip(stats.kstwo.sf(d, en), 0.0, 1.0))


def _test(ref: _Ref, values: pd.Series) -> tuple:
    """(p-value or PSI, text); (None, '') when there is nothing to compare."""
    from scipy import stats

    if ref.kind == "ks":
        v = values.to_numpy(dtype=np.float64)
        v = v[np.isfinite(v)]
        if len(v) == 0 or len(ref.sorted) == 0:
            return None, ""
        p = ks_pvalue(ref.sorted, v)
        return p, f"KS p={p:.2g} on {ref.name!r}"
    if ref.kind in ("chi2", "psi"):
        v = values.to_numpy(dtype=np.float64)
        v = v[np.isfinite(v)]
        if len(v) == 0:
            return None, ""
        expected = ref.counts
        observed = np.bincount(np.searchsorted(ref.edges, v, side="right"), minlength=len(ref.edges) + 1)
    else:
        cur = values.astype(object).where(values.notna(), "<missing>").value_counts()
        both = ref.categories.index.union(cur.index, sort=False)
        expected = ref.categories.reindex(both, fill_value=0).to_numpy()
        observed = cur.reindex(both, fill_value=0).to_numpy()
    if ref.kind in ("psi", "psi_cat"):
        e = np.maximum(expected / max(expected.sum(), 1), _PSI_FLOOR)
        o = np.maximum(observed / max(observed.sum(), 1), _PSI_FLOOR)
        psi = float(np.sum((o - e) * np.log(o / e)))
        return psi, f"PSI {psi:.2f} on {ref.name!r}"
    table = np.vstack([expected, observed])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or table[0].sum() == 0 or table[1].sum() == 0:
        return (1.0, f"chi2 p=1 on {ref.name!r}") if table.shape[1] >= 1 else (None, "")
    p = float(stats.chi2_contingency(table).pvalue)
    return p, f"chi2 p={p:.2g} on {ref.name!r}"
