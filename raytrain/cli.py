"""The ``raytrain`` command: run a backtest or sweep declared in a file, rebuild reports, run the demo.

    raytrain run pipeline.py --out out/run      results + out/run/report/index.html
    raytrain report out/run                     rebuild the report from saved results
    raytrain report out/run --matrix out/m      ... with each policy's regret against the oracle
    raytrain demo --fast                        the flagship flights sweep on a local Ray
    raytrain demo --fast --oracle               ... plus the evaluation matrix and the oracle

Errors a user can fix print as one paragraph on stderr, with exit code 2.
"""

from __future__ import annotations

import argparse
import os
import sys
import textwrap
import time

__all__ = ["main", "build_parser"]

RUN_HELP = """\
Run the backtest or sweep declared in FILE.py. The file defines:
  PIPELINE   a list of components, e.g. [Training, Serving]
  STREAM     a raytrain.Stream, or a function of no arguments that returns one
  POLICIES   {name: policy} for a sweep (one backtest per policy), or
  POLICY     one policy for one backtest (neither: the pipeline's own hooks decide)
  SETTINGS   optional dict of backtest arguments: tick, warmup, metric, window, latency, cost, ...
Command-line options override SETTINGS. Results are saved in --out (a sweep resumes there if rerun),
then the report is written to OUT/report/index.html."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="raytrain", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Backtest ML retraining policies on data streams, on Ray.",
        epilog="Run `raytrain COMMAND --help` for a command's options. Docs: README.md, docs/report.md.")
    from raytrain import __version__

    parser.add_argument("--version", action="version", version=f"raytrain {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    run = commands.add_parser("run", help="run a backtest or sweep declared in a Python file",
                              description=RUN_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("file", metavar="FILE.py", help="the declaration file")
    run.add_argument("--out", metavar="DIR", help="where results and the report go (default: out/<file name>)")
    run.add_argument("--tick", help='tick length: a duration like "1D", "6h", or a number of events')
    run.add_argument("--warmup", help='warm-up that trains the first model, unscored: "30D" or a number of events')
    run.add_argument("--metric", help='metric to score, e.g. accuracy, log_loss, mae (overrides SETTINGS)')
    run.add_argument("--shards", type=int, metavar="N", help="serving replicas per serving component")
    run.add_argument("--max-concurrent", type=int, metavar="N",
                     help="sweeps: backtests in flight at once (default: the cluster's CPUs)")
    _common(run)
    run.add_argument("--no-report", action="store_true", help="save the results only, skip the HTML report")

    rep = commands.add_parser("report", help="(re)build the HTML report from saved results",
                              description="Build the report (index.html and PNG figures) of results saved by "
                                          "`raytrain run`, rt.sweep(out=...) or result.save(...).")
    rep.add_argument("dir", metavar="DIR", help="the saved results (a sweep's or a backtest's directory)")
    rep.add_argument("--to", metavar="OUT_DIR", help="where to write the report (default: DIR/report)")
    rep.add_argument("--metric", help="which measured metric to show (default: the first)")
    rep.add_argument("--matrix", metavar="MATRIX_DIR",
                     help="an evaluation matrix saved by EvaluationMatrix.save (same stream and settings): adds each "
                          "policy's regret against the hindsight oracle (default: DIR/matrix if it holds one)")

    demo = commands.add_parser("demo", help="run the flagship flights sweep and write its report",
                               description="Five retraining policies (never, every 30 days, accuracy drop, "
                                           "feature drift, ADWIN) for a gradient-boosting flight-delay model, "
                                           "replayed day by day over 2013's NYC flights on a local Ray.")
    demo.add_argument("--fast", action="store_true", help="replay only the first 60,000 flights (about 2 months)")
    demo.add_argument("--out", metavar="DIR", default="out/demo", help="where results and the report go "
                                                                        "(default: out/demo; a rerun resumes)")
    demo.add_argument("--max-concurrent", type=int, metavar="N", help="backtests in flight at once")
    demo.add_argument("--oracle", action="store_true",
                      help="also compute the evaluation matrix (a candidate model every 7 days; every day with "
                           "--fast), saved in OUT/matrix, and show each policy's regret against the hindsight "
                           "oracle in the report")
    _common(demo)
    return parser


def _common(sub):
    sub.add_argument("--address", help="Ray cluster address (default: $RAY_ADDRESS, else a local Ray started "
                                       "on demand; 'local' forces a fresh local one)")
    sub.add_argument("-q", "--quiet", action="store_true", help="no progress lines (they show only on a terminal)")


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    from raytrain.errors import RaytrainError

    try:
        return {"run": _run, "report": _report, "demo": _demo}[args.command](args)
    except RaytrainError as exc:
        _fail(exc)
        return 2
    except KeyboardInterrupt:
        print("\nraytrain: interrupted. A sweep saved what finished; rerun the same command to resume.",
              file=sys.stderr)
        return 130


def _fail(exc) -> None:
    message = " ".join(str(exc).split())  # one paragraph, whatever the message's layout
    cause = exc.__cause__
    if cause is not None and str(cause) and str(cause) not in message:
        message += f" (caused by {type(cause).__name__}: {' '.join(str(cause).split())})"
    print(textwrap.fill(f"raytrain: error: {message}", width=100, break_long_words=False, break_on_hyphens=False),
          file=sys.stderr)


def _run(args) -> int:
    import raytrain as rt
    from raytrain.declaration import load_declaration

    decl = load_declaration(args.file)
    settings = dict(decl.settings)
    for key in ("tick", "warmup", "metric", "shards"):
        value = getattr(args, key)
        if value is not None:
            settings[key] = int(value) if key in ("tick", "warmup") and str(value).isdigit() else value
    out = args.out or os.path.join("out", os.path.splitext(os.path.basename(decl.path))[0])
    verbose = False if args.quiet else None
    started = time.perf_counter()
    if decl.is_sweep:
        result = rt.sweep(decl.pipeline, decl.stream, decl.policies, out=out, max_concurrent=args.max_concurrent,
                          address=args.address, verbose=verbose, **settings)
        _print_sweep(result)
    else:
        if args.max_concurrent is not None:
            print("raytrain: note: --max-concurrent applies to sweeps (POLICIES); this file runs one backtest.",
                  file=sys.stderr)
        result = rt.backtest(decl.pipeline, decl.stream, policy=decl.policy, address=args.address,
                             progress=verbose, **settings)
        result.save(out)
        print(result)
    print(f"results: {out} ({time.perf_counter() - started:.1f}s)")
    if not args.no_report:
        title = os.path.splitext(os.path.basename(decl.path))[0]
        print(f"report:  {rt.report(result, os.path.join(out, 'report'), title=title)}")
    return 0


def _report(args) -> int:
    import raytrain as rt

    from raytrain.evaluation import META_FILE

    target = args.to or os.path.join(args.dir, "report")
    matrix = args.matrix
    if matrix is None and os.path.exists(os.path.join(args.dir, "matrix", META_FILE)):
        matrix = os.path.join(args.dir, "matrix")  # where `raytrain demo --oracle` saves it
    print(rt.report(args.dir, target, metric=args.metric, matrix=matrix))
    return 0


def _demo(args) -> int:
    import raytrain as rt
    from raytrain.demo import run_demo

    started = time.perf_counter()
    print(f"raytrain demo: five retraining policies on the {'first 60,000' if args.fast else '327,346'} NYC "
          f"flights of 2013, daily ticks; results in {args.out}", file=sys.stderr)
    result = run_demo(args.out, fast=args.fast, address=args.address, max_concurrent=args.max_concurrent,
                      verbose=False if args.quiet else None)
    _print_sweep(result)
    matrix = None
    if args.oracle:
        from raytrain.demo import demo_matrix

        every = 1 if args.fast else 7
        print(f"raytrain demo: evaluation matrix, a candidate model every {every} day(s); saved in "
              f"{os.path.join(args.out, 'matrix')}", file=sys.stderr)
        at = time.perf_counter()
        matrix = demo_matrix(os.path.join(args.out, "matrix"), fast=args.fast, every=every, address=args.address,
                             max_concurrent=args.max_concurrent)
        print(f"{matrix} in {time.perf_counter() - at:.1f}s")
        _print_regret(matrix, result)
    print(f"demo wall time {time.perf_counter() - started:.1f}s")
    print(f"report:  {rt.report(result, os.path.join(args.out, 'report'), title='flights demo', matrix=matrix)}")
    return 0


def _print_regret(matrix, sweep) -> None:
    regret = matrix.regret(sweep)
    front = matrix.oracle(max(int(regret["retrains"].max()) + 2, 5))
    print("oracle frontier (k -> best " + matrix.metric + " with at most k retrains):")
    print("  " + "  ".join(f"{int(k)}: {v:.4f}" for k, v in zip(front["k"], front["metric"])))
    print(regret[[matrix.metric, "retrains", "oracle", "regret"]].to_string(float_format=lambda v: f"{v:.4f}"))


def _print_sweep(sweep) -> None:
    import pandas as pd

    t = sweep.table()
    metric = next((r.summary["metric_names"][0] for r in sweep.results.values()), None)
    cols = {"status": "status"}
    if metric:
        cols.update({metric: f"{metric} mean", f"{metric}_worst": "worst tick", "retrains": "retrains",
                     "cpu_seconds": "compute s"})
        if "cost" in t and t["cost"].notna().any():
            cols["cost"] = "cost"
    shown = pd.DataFrame({label: t[col] for col, label in cols.items() if col in t})
    if "retrains" in shown:
        shown["retrains"] = shown["retrains"].astype("Int64")
    print(shown.to_string(float_format=lambda v: f"{v:.4f}"))
    for name, error in sweep.errors.items():
        print(f"{name}: FAILED: {error.splitlines()[0]}")
    if sweep.results and metric:
        print(f"best {metric}: {sweep.best()}")


if __name__ == "__main__":
    sys.exit(main())
