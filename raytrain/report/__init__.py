"""Reports: what a backtest or a sweep did, as PNG figures and one self-contained HTML page.

    path = rt.report(sweep, "out/report")          # or a BacktestResult, or a directory saved by either
    # out/report/index.html, metric_over_time.png, cost_vs_metric.png

Pure: matplotlib (Agg backend) and pandas, no Ray. How to read the page: docs/report.md.
"""

from raytrain.report.build import report
from raytrain.report.data import ReportData, collect
from raytrain.report.figures import cost_vs_metric, metric_over_time, pareto_front

__all__ = ["report", "ReportData", "collect", "metric_over_time", "cost_vs_metric", "pareto_front"]
