"""rt.report(): figures as PNG files and one self-contained HTML page (images embedded as base64)."""

from __future__ import annotations

import base64
import datetime as _dt
import html
import math
import os

from raytrain.errors import ConfigError, RaytrainError
from raytrain.report.data import ReportData, collect
from raytrain.report.figures import cost_vs_metric, matrix_heatmap, metric_over_time, png_bytes, retrains_vs_metric

__all__ = ["report"]

INDEX = "index.html"


def report(result_or_dir, out_dir, *, metric: str | None = None, title: str | None = None, matrix=None) -> str:
    """Write the report of a sweep, a backtest, or a directory saved by either; return index.html's path.

    ``out_dir`` receives ``index.html`` (self-contained: open it anywhere, mail it) and the figures as
    ``metric_over_time.png`` and ``cost_vs_metric.png``. ``metric``: which measured metric to show
    (default: the first). ``matrix``: an :class:`~raytrain.EvaluationMatrix` (or a directory written by
    its ``save``) computed with the same stream and settings; the table then shows each policy's regret
    against the hindsight oracle with as many retrains, and ``retrains_vs_metric.png`` (the oracle's
    frontier) and ``evaluation_matrix.png`` (the heatmap) are added. See docs/report.md.

        path = rt.report(sweep, "out/report")          # or rt.report("out/sweep", "out/report")
        path = rt.report(sweep, "out/report", matrix=rt.evaluation_matrix(...))
    """
    try:
        import matplotlib  # noqa: F401
    except ImportError as exc:
        raise RaytrainError("Reports need matplotlib: pip install matplotlib (or raytrain[examples]).") from exc
    data = collect(result_or_dir, title)
    em = _load_matrix(matrix)
    names = data.metric_names
    if metric is None:
        metric = em.metric if em is not None and em.metric in names else (names[0] if names else "metric")
    elif names and metric not in names:
        raise ConfigError(f"Unknown metric {metric!r} for this report; the results measured {names}.")
    if em is not None and names and metric != em.metric:
        raise ConfigError(f"The evaluation matrix scores {em.metric!r}, the report shows {metric!r}: pass "
                          f"metric={em.metric!r}, or compute the matrix with metric={metric!r}.")
    out_dir = os.fspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)

    figures, front, oracle = [], {}, None
    if data.results:
        curve = png_bytes(metric_over_time(data, metric))
        fig, front = cost_vs_metric(data, metric)
        shown = [("metric_over_time.png", curve, f"{metric} over simulated time",
                  f"{metric} over simulated time, one panel per policy; red lines are retrains"),
                 ("cost_vs_metric.png", png_bytes(fig), f"{data.cost_unit()} against mean {metric}",
                  f"{data.cost_unit()} against mean {metric}; the Pareto front is joined")]
        if em is not None:
            oracle = _oracle(em, data)
            every = _every(em)
            shown += [
                ("retrains_vs_metric.png", png_bytes(retrains_vs_metric(data, metric, oracle["frontier"],
                                                                        oracle["regret"])),
                 f"Retrains against mean {metric}: the oracle's frontier",
                 f"the black step line is the best {metric} any schedule of at most k retrains could score, in "
                 f"hindsight ({_candidates(every)}); each policy is a point at its retrains and its {metric}, and "
                 f"the dotted line up to the frontier is its regret"),
                ("evaluation_matrix.png", png_bytes(matrix_heatmap(em)), "The evaluation matrix",
                 f"{metric} of the model trained at each candidate point (down) on each later tick (across); "
                 f"blank where a model cannot serve yet. The oracle and the regret are read off this matrix")]
        for filename, png, heading, caption in shown:
            with open(os.path.join(out_dir, filename), "wb") as f:
                f.write(png)
            figures.append((filename, png, heading, caption))
    page = _page(data, metric, figures, front, em, oracle)
    path = os.path.join(out_dir, INDEX)
    with open(path, "w", encoding="utf-8") as f:
        f.write(page)
    return path


def _load_matrix(matrix):
    from raytrain.evaluation import EvaluationMatrix

    if matrix is None or isinstance(matrix, EvaluationMatrix):
        return matrix
    if isinstance(matrix, (str, os.PathLike)):
        return EvaluationMatrix.load(matrix)
    raise ConfigError(f"matrix= takes an EvaluationMatrix (rt.evaluation_matrix(...)) or a directory written by "
                      f"its save(); got {type(matrix).__name__}.")


def _every(em) -> int:
    try:
        return int(em.settings.get("every", 1))
    except (TypeError, ValueError):
        return 1


def _candidates(every: int) -> str:
    return "retraining at the end of any tick" if every == 1 else f"retraining only every {every} ticks"


def _oracle(em, data: ReportData) -> dict:
    """Regret of every finished policy and the frontier to a little beyond the most retrains used."""
    import numpy as np
    import pandas as pd

    first = next(iter(data.results.values()))
    scored = first.metrics
    starts = pd.DatetimeIndex(pd.to_datetime(scored["start"])).asi8
    mine = pd.DatetimeIndex(em.tick_starts[int(em.serve_from[0]):]).asi8
    events = np.asarray(em.events[int(em.serve_from[0]):])
    if len(starts) != len(mine) or (starts != mine).any() or (scored["events"].to_numpy() != events).any():
        raise ConfigError(
            f"The evaluation matrix does not match these results: it scores {len(mine)} ticks from "
            f"{pd.Timestamp(mine[0]) if len(mine) else '-'} ({int(events.sum()):,} events), the results "
            f"{len(starts)} ticks from {pd.Timestamp(starts[0]) if len(starts) else '-'} "
            f"({int(scored['events'].sum()):,} events). Compute it with the same stream, tick and warm-up "
            f"(and window and latency) as the backtests.")
    regret = em.regret({n: data.results[n] for n in data.order if n in data.results})
    k_max = int(min(len(em.candidate_ticks) - 1, max(int(regret["retrains"].max()) + 2, 5)))
    k_max = max(k_max, int(regret["retrains"].max()))
    return {"regret": regret, "frontier": em.oracle(k_max)}


CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;max-width:1200px;
     padding:0 1rem;color:#222;line-height:1.45}
h1{font-size:1.6rem;margin-bottom:.2rem} h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd}
.sub{color:#666;margin-top:0} table{border-collapse:collapse;font-size:.9rem}
th,td{padding:.3rem .6rem;border-bottom:1px solid #e5e5e5;text-align:right;vertical-align:top}
th{background:#f5f5f5} td.name,th.name,td.err{text-align:left} td.name{white-space:nowrap}
.repr{display:block;color:#777;font-size:.75rem;font-weight:normal;white-space:normal;max-width:20rem}
.scroll{overflow-x:auto} th.k{background:#eef2f8} td.k{background:#f7f9fc} td.err{color:#a00;max-width:36rem;white-space:pre-wrap}
tr.best td{background:#eef7ee;font-weight:600} tr.failed td{background:#fdf0f0}
.tag{font-size:.75rem;padding:0 .35rem;border-radius:.3rem;margin-left:.4rem;font-weight:normal}
.tag.best{background:#2a7;color:#fff} .tag.pareto{background:#1f77b4;color:#fff}
.settings th{text-align:left;background:none;font-weight:600} .settings td{text-align:left}
figure{margin:1rem 0} figure img{max-width:100%;border:1px solid #eee} figcaption{color:#555;font-size:.9rem}
.note{color:#555;font-size:.9rem}
"""


def _page(data: ReportData, metric: str, figures: list, front: dict, em=None, oracle=None) -> str:
    esc = html.escape
    finished, failed = len(data.results), len(data.errors)
    best = _best(data, metric)
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>raytrain report: {esc(data.title)}</title><style>{CSS}</style></head><body>",
        f"<h1>raytrain report: {esc(data.title)}</h1>",
        f'<p class="sub">{finished} {"policy" if finished == 1 else "policies"} finished'
        + (f", {failed} failed" if failed else "")
        + (f" &middot; best {esc(metric)}: <b>{esc(best)}</b>" if best else "")
        + f" &middot; written {_dt.datetime.now():%Y-%m-%d %H:%M}"
        + (f" from <code>{esc(data.source)}</code>" if data.source else "") + "</p>",
        "<h2>Policies</h2>", _table(data, metric, best, front, oracle["regret"] if oracle else None),
        f'<p class="note">{esc(metric)}: event-weighted mean over the scored ticks, and the worst single tick. '
        "Retrains exclude the warm-up model. Compute is measured CPU time of all training runs (warm-up "
        "included); cost is the Cost model's price when one was given. "
        '<span class="tag best">best</span> best mean; <span class="tag pareto">Pareto</span> no other policy '
        "is both cheaper and better.</p>",
        _oracle_note(data, metric, em, oracle),
    ]
    for filename, png, heading, caption in figures:
        parts += [f"<h2>{esc(heading[:1].upper() + heading[1:])}</h2>", "<figure>",
                  f'<img alt="{esc(filename)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">',
                  f"<figcaption>{esc(caption)}.</figcaption></figure>"]
    parts += ["<h2>Settings</h2>", _settings(data), "<p class=\"note\">Exact rules (tick boundaries, label "
              "visibility, when a new model serves): docs/semantics.md. Reading this page: docs/report.md.</p>",
              "</body></html>"]
    return "\n".join(parts)


def _oracle_note(data: ReportData, metric: str, em, oracle) -> str:
    """Under the table: how to read the regret columns, or how to get them."""
    from raytrain.metrics import METRICS

    esc = html.escape
    m = esc(metric)
    if em is None:
        known = METRICS.get(metric)
        return ('<p class="note oracle-hint">How far is each policy from the best possible? Compute '
                "<code>em = rt.evaluation_matrix(pipeline, stream, ...)</code> with the run's settings and pass "
                "<code>rt.report(..., matrix=em)</code> (or <code>raytrain report DIR --matrix MATRIX_DIR</code>) "
                "to add each policy's regret against the hindsight oracle with as many retrains (docs/oracle.md)."
                + ("" if known is not None and known.mean_over_events else
                   f" {m} is not a mean over events, so the oracle would optimise the event-weighted mean of "
                   f"per-tick {m} values, not {m} pooled over all events.")
                + "</p>")
    every = _every(em)
    text = (f"<b>oracle at same k</b>: the best event-weighted mean {m} any schedule of at most as many retrains "
            f"as the policy could have scored, found in hindsight over the evaluation matrix "
            f"({len(em.candidate_ticks) - 1:,} candidate retrains: {_candidates(every)}); <b>regret</b>: how much "
            f"{'higher' if em.higher_is_better else 'lower'} the oracle's {m} is than the policy's.")
    if every > 1:
        text += (f" With candidates only every {every} ticks the oracle cannot retrain in between, so a policy that "
                 f"does can beat it (a negative regret); compute the matrix with every=1 for the exact bound.")
    if not em.mean_over_events:
        text += (f" <b>{m} is not a mean over events</b>: the oracle optimises, and the regret compares, the "
                 f"event-weighted mean of per-tick {m} values (the table's mean column), not {m} computed over "
                 f"all scored events pooled together (docs/oracle.md).")
    return f'<p class="note oracle">{text}</p>'


def _best(data: ReportData, metric: str):
    scores = {n: r.summary["metrics"].get(metric, {}).get("weighted") for n, r in data.results.items()}
    scores = {n: v for n, v in scores.items() if v is not None and not math.isnan(v)}
    if len(scores) < 2:
        return None
    return (max if data.higher_is_better(metric) else min)(scores, key=scores.get)


def _num(value, digits: int) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float) and not value.is_integer() or digits:
        return f"{float(value):,.{digits}f}"
    return f"{int(value):,}"


def _table(data: ReportData, metric: str, best, front: dict, regret=None) -> str:
    esc = html.escape
    t = data.table(metric)
    has_cost = "cost" in t and t["cost"].notna().any()
    has_regret = regret is not None
    head = ["policy", "status", f"{metric} mean", f"{metric} mean per tick", f"worst tick", "retrains"] \
        + (["oracle at same k", "regret"] if has_regret else []) \
        + ["compute (CPU s)", "training (s)", "rows trained"] + (["cost"] if has_cost else []) + ["wall (s)", "error"]
    klass_of = {"policy": "name", "status": "name", "error": "name", "oracle at same k": "k", "regret": "k"}
    rows = ["<div class=\"scroll\"><table class=\"policies\"><thead><tr>"
            + "".join(f'<th class="{klass_of.get(h, "")}">{esc(h)}</th>' for h in head)
            + "</tr></thead><tbody>"]
    for r in t.to_dict("records"):
        name = r["policy"]
        tags = (' <span class="tag best">best</span>' if name == best else "") + \
               (' <span class="tag pareto">Pareto</span>' if front.get(name) else "")
        klass = "best" if name == best else ("failed" if r["status"] != "ok" else "")
        shown = data.results[name].summary.get("settings", {}).get("policy") if name in data.results else None
        if shown and shown != name:
            tags += f'<span class="repr">{esc(shown)}</span>'
        k_cells = set()
        if r["status"] == "ok":
            cells = [_num(r["mean"], 4), _num(r["mean_tick"], 4), _num(r["worst"], 4), _num(r["retrains"], 0)]
            if has_regret:
                cells += [f'<span class="oracle">{_num(float(regret.loc[name, "oracle"]), 4)}</span>',
                          f'<span class="regret">{_num(float(regret.loc[name, "regret"]), 4)}</span>']
                k_cells = {len(cells) - 2, len(cells) - 1}
            cells += [_num(r["cpu_seconds"], 2), _num(r["train_seconds"], 2), _num(r["rows_trained"], 0)]
            cells += [_num(r["cost"], 2)] if has_cost else []
            cells += [_num(r["wall_seconds"], 1)]
            err = ""
        else:
            cells = [""] * (8 + has_cost + 2 * has_regret)
            err = r["error"] or ""
        rows.append(f'<tr class="{klass}" data-policy="{esc(name)}"><td class="name">{esc(name)}{tags}</td>'
                    f'<td class="name">{esc(r["status"])}</td>'
                    + "".join(f'<td class="k">{c}</td>' if j in k_cells else f"<td>{c}</td>" for j, c in enumerate(cells))
                    + f'<td class="err">{esc(err)}</td></tr>')
    rows.append("</tbody></table></div>")
    return "\n".join(rows)


def _settings(data: ReportData) -> str:
    esc = html.escape
    rows = data.settings()
    if not rows:
        return '<p class="note">No policy finished, so the run\'s settings were not recorded.</p>'
    return ('<table class="settings">' + "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in rows)
            + "</table>")
