"""The report's figures, drawn with matplotlib's Agg canvas (no pyplot: the user's backend is untouched)."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

from raytrain.report.data import ReportData

__all__ = ["metric_over_time", "cost_vs_metric", "pareto_front", "png_bytes"]

RETRAIN_COLOR = "#d62728"


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def png_bytes(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def pareto_front(costs, scores, higher_is_better: bool = True) -> np.ndarray:
    """Mask of the points no other point beats: at most the cost and at least the score, one strictly.

    >>> pareto_front([1.0, 2.0, 3.0], [0.70, 0.80, 0.75]).tolist()
    [True, True, False]
    """
    c = np.asarray(costs, dtype=float)
    s = np.asarray(scores, dtype=float) * (1 if higher_is_better else -1)
    ok = ~(np.isnan(c) | np.isnan(s))
    front = np.zeros(len(c), dtype=bool)
    for i in np.flatnonzero(ok):
        others = ok & (c <= c[i]) & (s >= s[i]) & ((c < c[i]) | (s > s[i]))
        front[i] = not others.any()
    return front


def _smooth(values: pd.Series) -> pd.Series:
    span = max(1, len(values) // 40)
    return values.rolling(span, min_periods=1, center=True).mean() if span > 1 else values


def _close_groups(x, y, tol_x: float = 0.08, tol_y: float = 0.03) -> list:
    """Indices of points whose labels would overlap (within ``tol_x`` / ``tol_y`` of the axis ranges)."""
    def scaled(v):
        v = np.asarray(v, dtype=float)
        span = np.nanmax(v) - np.nanmin(v) if len(v) and np.isfinite(v).any() else 0.0
        return (v - np.nanmin(v)) / span if span > 0 else np.zeros_like(v)

    sx, sy = scaled(x), scaled(y)
    groups, seen = [], set()
    for i in range(len(sx)):
        if i in seen:
            continue
        members = [j for j in range(i, len(sx)) if j not in seen and abs(sx[j] - sx[i]) <= tol_x and abs(sy[j] - sy[i]) <= tol_y]
        seen.update(members)
        groups.append(members)
    return groups


def metric_over_time(data: ReportData, metric: str | None = None):
    """One panel per finished policy: the metric per tick, retrains as red lines, the first policy in grey."""
    metric = metric or data.metric_names[0]
    names = [n for n in data.order if n in data.results]
    fig = _figure(11, 0.6 + 1.7 * max(1, len(names)))
    axes = fig.subplots(max(1, len(names)), 1, sharex=True, sharey=True, squeeze=False)[:, 0]
    reference = names[0] if len(names) > 1 else None
    colors = [f"C{i % 10}" for i in range(len(names))]
    for ax, name, color in zip(axes, names, colors):
        r = data.results[name]
        if reference and name != reference:
            ref = data.results[reference].metrics
            ax.plot(ref["start"], _smooth(ref[metric]), color="0.65", lw=1, label=f"{reference} (reference)")
        m = r.metrics
        ax.plot(m["start"], m[metric], color=color, lw=0.6, alpha=0.35)
        ax.plot(m["start"], _smooth(m[metric]), color=color, lw=1.6, label=name)
        retrains = r.retrains[r.retrains["trigger"] != "warmup"] if len(r.retrains) else r.retrains
        for t in retrains["time"] if len(retrains) else []:
            ax.axvline(t, color=RETRAIN_COLOR, alpha=0.5, lw=0.8)
        s = r.summary["metrics"][metric]
        ax.set_title(f"{name}: {metric} {s['weighted']:.4f} (worst tick {s['worst']:.4f}), "
                     f"{len(retrains)} retrains", loc="left", fontsize=10)
        ax.set_ylabel(metric)
        ax.grid(alpha=0.25)
        if reference and name != reference:
            ax.legend(loc="lower left", fontsize=8, frameon=False)
    if not names:
        axes[0].text(0.5, 0.5, "no policy finished", ha="center", va="center", transform=axes[0].transAxes)
    axes[-1].set_xlabel("simulated time (tick start); red lines: retrains; bold: smoothed, thin: per tick")
    return fig


def cost_vs_metric(data: ReportData, metric: str | None = None):
    """Each finished policy at (cost, event-weighted metric); the Pareto front joined and labelled."""
    metric = metric or data.metric_names[0]
    names = [n for n in data.order if n in data.results]
    higher = data.higher_is_better(metric) if names else True
    costs = np.array([data.cost_of(n) for n in names], dtype=float)
    scores = np.array([data.results[n].summary["metrics"][metric]["weighted"] for n in names], dtype=float)
    front = pareto_front(costs, scores, higher)
    fig = _figure(8, 5)
    ax = fig.subplots()
    ax.scatter(costs[~front], scores[~front], s=60, facecolors="none", edgecolors="0.45", label="dominated")
    ax.scatter(costs[front], scores[front], s=90, color="C0", edgecolors="black", zorder=3, label="Pareto front")
    order = np.argsort(costs[front], kind="stable")
    ax.plot(costs[front][order], scores[front][order], color="C0", lw=1.2, drawstyle="steps-post", zorder=2)
    middle = (np.nanmin(costs) + np.nanmax(costs)) / 2 if len(costs) else 0.0
    for members in _close_groups(costs, scores):  # one label for points drawn on top of each other
        i = members[0]
        on = bool(front[members].any())
        right = costs[i] > middle  # labels of right-hand points extend leftwards, inside the axes
        ax.annotate(", ".join(names[j] for j in members), (costs[i], scores[i]), textcoords="offset points",
                    xytext=(-6 if right else 6, 6), ha="right" if right else "left", fontsize=9,
                    fontweight="bold" if on else "normal", color="black" if on else "0.35",
                    bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.8))
    ax.set_xlabel(data.cost_unit() + " of all training runs")
    ax.set_ylabel(f"{metric} (event-weighted mean)")
    ax.set_title(f"cost against {metric}: {'up' if higher else 'down'} and to the left is better", loc="left",
                 fontsize=10)
    ax.grid(alpha=0.25)
    if names:
        ax.legend(loc="best", fontsize=8)
        ax.margins(x=0.15, y=0.12)
    else:
        ax.text(0.5, 0.5, "no policy finished", ha="center", va="center", transform=ax.transAxes)
    return fig, dict(zip(names, front.tolist()))
