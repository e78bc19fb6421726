"""rt.report(): figures as PNG files and one self-contained HTML page (images embedded as base64)."""

from __future__ import annotations

import base64
import datetime as _dt
import html
import math
import os

from raytrain.errors import ConfigError, RaytrainError
from raytrain.report.data import ReportData, collect
from raytrain.report.figures import cost_vs_metric, metric_over_time, png_bytes

__all__ = ["report"]

INDEX = "index.html"


def report(result_or_dir, out_dir, *, metric: str | None = None, title: str | None = None) -> str:
    """Write the report of a sweep, a backtest, or a directory saved by either; return index.html's path.

    ``out_dir`` receives ``index.html`` (self-contained: open it anywhere, mail it) and the figures as
    ``metric_over_time.png`` and ``cost_vs_metric.png``. ``metric``: which measured metric to show
    (default: the first). See docs/report.md for how to read it.

        path = rt.report(sweep, "out/report")          # or rt.report("out/sweep", "out/report")
    """
    try:
        import matplotlib  # noqa: F401
    except ImportError as exc:
        raise RaytrainError("Reports need matplotlib: pip install matplotlib (or raytrain[examples]).") from exc
    data = collect(result_or_dir, title)
    names = data.metric_names
    if metric is None:
        metric = names[0] if names else "metric"
    elif names and metric not in names:
        raise ConfigError(f"Unknown metric {metric!r} for this report; the results measured {names}.")
    out_dir = os.fspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)

    figures, front = [], {}
    if data.results:
        curve = png_bytes(metric_over_time(data, metric))
        fig, front = cost_vs_metric(data, metric)
        pareto = png_bytes(fig)
        for filename, png, caption in (
                ("metric_over_time.png", curve, f"{metric} over simulated time, one panel per policy; red lines are retrains"),
                ("cost_vs_metric.png", pareto, f"{data.cost_unit()} against mean {metric}; the Pareto front is joined")):
            with open(os.path.join(out_dir, filename), "wb") as f:
                f.write(png)
            figures.append((filename, png, caption))
    page = _page(data, metric, figures, front)
    path = os.path.join(out_dir, INDEX)
    with open(path, "w", encoding="utf-8") as f:
        f.write(page)
    return path


CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;max-width:1200px;
     padding:0 1rem;color:#222;line-height:1.45}
h1{font-size:1.6rem;margin-bottom:.2rem} h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd}
.sub{color:#666;margin-top:0} table{border-collapse:collapse;font-size:.9rem}
th,td{padding:.3rem .6rem;border-bottom:1px solid #e5e5e5;text-align:right;vertical-align:top}
th{background:#f5f5f5} td.name,th.name,td.err{text-align:left} td.name{white-space:nowrap}
.repr{display:block;color:#777;font-size:.75rem;font-weight:normal} td.err{color:#a00;max-width:36rem;white-space:pre-wrap}
tr.best td{background:#eef7ee;font-weight:600} tr.failed td{background:#fdf0f0}
.tag{font-size:.75rem;padding:0 .35rem;border-radius:.3rem;margin-left:.4rem;font-weight:normal}
.tag.best{background:#2a7;color:#fff} .tag.pareto{background:#1f77b4;color:#fff}
.settings th{text-align:left;background:none;font-weight:600} .settings td{text-align:left}
figure{margin:1rem 0} figure img{max-width:100%;border:1px solid #eee} figcaption{color:#555;font-size:.9rem}
.note{color:#555;font-size:.9rem}
"""


def _page(data: ReportData, metric: str, figures: list, front: dict) -> str:
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
        "<h2>Policies</h2>", _table(data, metric, best, front),
        f'<p class="note">{esc(metric)}: event-weighted mean over the scored ticks, and the worst single tick. '
        "Retrains exclude the warm-up model. Compute is measured CPU time of all training runs (warm-up "
        "included); cost is the Cost model's price when one was given. "
        '<span class="tag best">best</span> best mean; <span class="tag pareto">Pareto</span> no other policy '
        "is both cheaper and better.</p>",
    ]
    for filename, png, caption in figures:
        parts += [f"<h2>{esc(_heading(caption))}</h2>", "<figure>",
                  f'<img alt="{esc(filename)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">',
                  f"<figcaption>{esc(caption)}.</figcaption></figure>"]
    parts += ["<h2>Settings</h2>", _settings(data), "<p class=\"note\">Exact rules (tick boundaries, label "
              "visibility, when a new model serves): docs/semantics.md. Reading this page: docs/report.md.</p>",
              "</body></html>"]
    return "\n".join(parts)


def _heading(caption: str) -> str:
    text = caption.split(",")[0].split(";")[0]
    return text[:1].upper() + text[1:]


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


def _table(data: ReportData, metric: str, best, front: dict) -> str:
    esc = html.escape
    t = data.table(metric)
    has_cost = "cost" in t and t["cost"].notna().any()
    head = ["policy", "status", f"{metric} mean", f"{metric} mean per tick", f"worst tick", "retrains",
            "compute (CPU s)", "training (s)", "rows trained"] + (["cost"] if has_cost else []) + ["wall (s)", "error"]
    rows = ["<table class=\"policies\"><thead><tr>"
            + "".join(f'<th class="{"name" if h in ("policy", "status", "error") else ""}">{esc(h)}</th>' for h in head)
            + "</tr></thead><tbody>"]
    for r in t.to_dict("records"):
        name = r["policy"]
        tags = (' <span class="tag best">best</span>' if name == best else "") + \
               (' <span class="tag pareto">Pareto</span>' if front.get(name) else "")
        klass = "best" if name == best else ("failed" if r["status"] != "ok" else "")
        shown = data.results[name].summary.get("settings", {}).get("policy") if name in data.results else None
        if shown and shown != name:
            tags += f'<span class="repr">{esc(shown)}</span>'
        if r["status"] == "ok":
            cells = [_num(r["mean"], 4), _num(r["mean_tick"], 4), _num(r["worst"], 4), _num(r["retrains"], 0),
                     _num(r["cpu_seconds"], 2), _num(r["train_seconds"], 2), _num(r["rows_trained"], 0)]
            cells += [_num(r["cost"], 2)] if has_cost else []
            cells += [_num(r["wall_seconds"], 1)]
            err = ""
        else:
            cells = [""] * (8 + has_cost)
            err = r["error"] or ""
        rows.append(f'<tr class="{klass}" data-policy="{esc(name)}"><td class="name">{esc(name)}{tags}</td>'
                    f'<td class="name">{esc(r["status"])}</td>' + "".join(f"<td>{c}</td>" for c in cells)
                    + f'<td class="err">{esc(err)}</td></tr>')
    rows.append("</tbody></table>")
    return "\n".join(rows)


def _settings(data: ReportData) -> str:
    esc = html.escape
    rows = data.settings()
    if not rows:
        return '<p class="note">No policy finished, so the run\'s settings were not recorded.</p>'
    return ('<table class="settings">' + "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in rows)
            + "</table>")
