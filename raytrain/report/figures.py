"""The report's figures, drawn with matplotlib's Agg canvas (no pyplot: the user's backend is untouched)."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

from raytrain.report.data import ReportData

__all__ = ["metric_over_time", "cost_vs_metric", "retrains_vs_metric", "matrix_heatmap", "pareto_front", "png_bytes"]

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


def retrains_vs_metric(data: ReportData, metric: str, frontier: pd.DataFrame, regret: pd.DataFrame):
    """The oracle's frontier (k -> best metric with at most k retrains) as a step line, and every finished
    policy as a point at (its retrains, its metric), joined to the frontier above it by a dotted line."""
    higher = data.higher_is_better(metric)
    names = [n for n in data.order if n in regret.index]
    ks = frontier["k"].to_numpy(dtype=float)
    best = frontier["metric"].to_numpy(dtype=float)
    x = regret.loc[names, "retrains"].to_numpy(dtype=float)
    y = regret.loc[names, metric].to_numpy(dtype=float)
    oracle = regret.loc[names, "oracle"].to_numpy(dtype=float)
    fig = _figure(8, 5)
    ax = fig.subplots()
    # steps-post with one extra point, so the last k gets a visible step of its own
    ax.plot(np.append(ks, ks[-1] + 1), np.append(best, best[-1]), color="black", lw=1.6, drawstyle="steps-post",
            zorder=2, label="oracle: best with at most k retrains")
    ax.scatter(ks, best, s=14, color="black", zorder=3)
    for xi, yi, oi in zip(x, y, oracle):
        ax.plot([xi, xi], [yi, oi], color="0.55", lw=0.9, ls=":", zorder=1)
    colors = [f"C{i % 10}" for i in range(len(names))]
    ax.scatter(x, y, s=80, c=colors, edgecolors="black", zorder=4, label="policies (dotted: regret)")
    middle = (ks[0] + ks[-1] + 1) / 2
    for members in _close_groups(np.append(x, ks), np.append(y, best))[:]:
        members = [j for j in members if j < len(names)]
        if not members:
            continue
        i = members[0]
        right = x[i] > middle
        ax.annotate(", ".join(names[j] for j in members), (x[i], y[i]), textcoords="offset points",
                    xytext=(-8 if right else 8, -12 if higher else 6), ha="right" if right else "left", fontsize=9,
                    bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.8))
    ax.set_xlabel("retrains (warm-up model not counted)")
    ax.set_ylabel(f"{metric} (event-weighted mean)")
    ax.set_title(f"retrains against {metric}: the oracle's frontier and every policy "
                 f"({'higher' if higher else 'lower'} is better)", loc="left", fontsize=10)
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.grid(alpha=0.25)
    ax.legend(loc="lower right" if higher else "upper right", fontsize=8)
    ax.margins(x=0.08, y=0.12)
    return fig


def matrix_heatmap(matrix):
    """EvaluationMatrix.heatmap drawn on an Agg figure of the report's own."""
    fig = _figure(9, 5.5)
    matrix.heatmap(ax=fig.subplots())
    return fig
