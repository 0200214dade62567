"""The ``optbasin`` command line: parses, calls the packages, prints. Exit codes: 0 ok, 1 a run
finished with failed trials, 2 bad input or an unusable run directory (a message naming file,
field and reason; no traceback), 130 / 143 a run stopped by SIGINT / SIGTERM (resume continues)."""

from __future__ import annotations

import argparse
import signal
import sys
import warnings
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path

from optbasin.config import MAX_TRIALS
from optbasin.errors import ConfigError, Interrupted, OptbasinError

EXIT_OK, EXIT_RUN_FAILED, EXIT_BAD_INPUT = 0, 1, 2


def _print_problems(e: OptbasinError) -> None:
    if isinstance(e, ConfigError):
        n = len(e.problems)
        print(f"error: {n} problem{'s' if n != 1 else ''} found", file=sys.stderr)
        for p in e.problems:
            print(f"  {p}", file=sys.stderr)
    else:
        print(f"error: {e}", file=sys.stderr)


# --------------------------------------------------------------------------------------------
def cmd_run(args: argparse.Namespace) -> int:
    from optbasin.adaptive.driver import refuse_search
    from optbasin.sweeps import sweep

    p = sweep.plan(args.sweep, args.catalog, args.output, max_trials=args.max_trials)
    if args.adaptive:
        refuse_search(p, args.sweep)
    if p.spec.adaptive is not None and not args.adaptive:
        print("note: the sweep file's 'adaptive:' applies with --adaptive; running the declared grid", file=sys.stderr)
    return _execute(p, args, adaptive=args.adaptive)


def cmd_resume(args: argparse.Namespace) -> int:
    from optbasin.adaptive.driver import is_adaptive
    from optbasin.sweeps import search, sweep

    p = sweep.resume_plan(args.run_dir, args.max_trials)
    meta = p.store.read_meta() or {}
    if search.is_refine_run(args.run_dir, meta):
        p.trials = search.as_refine(p.trials)
    return _execute(p, args, adaptive=is_adaptive(meta))


def _execute(p, args: argparse.Namespace, adaptive: bool = False) -> int:
    from optbasin.analysis.claims import check_claim_metrics

    check_claim_metrics(p.spec.claims, str(p.sweep_file))  # the claims' metrics: the analysis's registry
    if p.searching:
        print(
            f"sweep {p.spec.name!r}: {p.n_trials} trials ({p.spec.search.method} search, {p.spec.search.trials} "
            f"trials per task x optimizer, seed {p.spec.seeds[0]}) -> {p.store.root}"
        )
        if args.dry_run:
            print("  (the search samples its points as it runs; `optbasin refine` then lays a grid around the best)")
            return EXIT_OK
    else:
        print(
            f"sweep {p.spec.name!r}: {len(p.trials)} trials "
            f"({_plural(len(p.spec.tasks), 'task')} x {_plural(len(p.spec.optimizers), 'optimizer')} x grids x "
            f"{_plural(len(p.spec.seeds), 'seed')}) -> {p.store.root}"
        )
    from optbasin.analysis.feasibility import sweep_warnings

    for w in sweep_warnings(p.spec, adaptive=adaptive):
        print(f"warning: {w}", file=sys.stderr)
    if args.dry_run:
        for t in p.trials:
            hp = ", ".join(f"{k}={t.hparams[k]}" for k in t.swept)
            print(f"  {t.trial_id}  {t.task:<14} {t.optimizer:<14} seed={t.seed}  {hp}")
        return EXIT_OK
    from optbasin.adaptive.driver import run_plan
    from optbasin.sweeps.signals import StopRequest, stop_on_signals

    on_commit = _live_report(p.store.root) if args.report else None
    trackers = list(p.spec.trackers)
    if trackers:  # the sweep file's `trackers:` (optbasin/export/live.py)
        from optbasin.export import live

        live.check(trackers)
        on_commit = live.throttled(p.store.root, trackers, also=on_commit)
    try:
        with stop_on_signals(StopRequest()):  # a signal before or after Ray Tune runs: stop there
            outcome = run_plan(  # adaptive: in rounds (adaptive/driver.py); the API's run_sweep calls the same
                p,
                adaptive=adaptive,
                address=args.address,
                progress=not args.quiet,
                show_ray_logs=args.ray_logs,
                on_commit=on_commit,
            )
    except (Interrupted, KeyboardInterrupt) as e:
        signum = e.signum if isinstance(e, Interrupted) else signal.SIGINT
        print(
            f"\ninterrupted ({signal.Signals(signum).name}): finished trials are saved in {p.store.root}; "
            f"continue with: optbasin resume {p.store.root}",
            file=sys.stderr,
        )
        return 128 + signum
    if outcome.skipped:
        print(
            f"{_plural(outcome.skipped, 'trial')} already complete in {p.store.root} "
            f"{'was' if outcome.skipped == 1 else 'were'} skipped"
        )
    _print_summary(p.store.root)
    if args.report:  # the final state, also for a page open on the live report
        _write_report([p.store.root], p.store.root / "report.html", live=True)
    if trackers:
        with _notes():
            live.export_all(p.store.root, trackers)
        print(f"exported to {', '.join(trackers)}")
    failed = outcome.counts.get("failed", 0)
    if failed:
        from optbasin.sweeps.failures import failure_lines

        print(f"{failed} trial(s) failed:", file=sys.stderr)
        for line in failure_lines(outcome.errors.items()):
            print(f"  {line}", file=sys.stderr)
    print(f"results: {p.store.root}/trials.parquet, {p.store.root}/steps.parquet")
    print(f"next: optbasin analyze {p.store.root}   |   optbasin report {p.store.root}")
    return EXIT_RUN_FAILED if failed else EXIT_OK


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _live_report(run_dir: Path):
    """A callback that rewrites the live report (an open page updates in place) at the sweep's start
    and as trials commit: at most every 10 s, and never more than ~10% of the driver's time (the
    interval grows with the build time)."""
    import time

    state = {"next": 0.0}

    def refresh() -> None:
        now = time.monotonic()
        if now >= state["next"]:
            _write_report([run_dir], run_dir / "report.html", live=True)
            took = time.monotonic() - now
            state["next"] = now + max(10.0, 10 * took)

    return refresh


@contextmanager
def _notes():
    """Print the report's and the store's warnings as one-line notes (no file:line noise)."""
    from optbasin.dashboards.report import ReportWarning
    from optbasin.sweeps.store import MissingStepsWarning

    kinds = (ReportWarning, MissingStepsWarning)
    with warnings.catch_warnings(record=True) as caught:
        for k in kinds:
            warnings.simplefilter("always", k)
        yield
    for w in caught:
        if issubclass(w.category, kinds):
            print(f"note: {w.message}", file=sys.stderr)
        else:
            warnings.showwarning(w.message, w.category, w.filename, w.lineno)


def _write_report(run_dirs: list[Path], out: Path, live: bool, png: bool = False, claims: str | None = None) -> Path:
    from optbasin.dashboards import write_report

    with _notes():
        return write_report(run_dirs, out, claims=claims, live=live, png_dir=out.parent / "figures" if png else None)


def _print_summary(run_dir: Path) -> None:
    """Per task and optimizer: best lr, best loss, basin width, divergences (from the analysis)."""
    from optbasin.analysis import analyze_runs
    from optbasin.analysis.text import _num, lr_at_edge

    with _notes():
        result = analyze_runs([run_dir])
    board = result.leaderboard
    if board.empty:
        print("no trials recorded")
        return
    print(f"{'task':<14} {'optimizer':<14} {'best lr':>9} {'best loss':>10} {'basin':>8} {'diverged':>9} {'failed':>7}")
    for r in board.to_dict("records"):
        width = r.get("basin_width_rel0.1", float("nan"))
        cut = ">=" if r.get("basin_width_rel0.1_cut") and width == width else "  "  # cut by the grid's edge
        basin = f"{width:>5.2f}d" if width == width else f"{'-':>6}"  # undefined (NaN): a dash
        edge = "*" if lr_at_edge(r["best_at_edge"]) else " "  # other axes' edges: in the analysis notes
        print(
            f"{r['task']:<14} {r['optimizer']:<14} {_num(r['best_lr'], '.3g'):>8}{edge} "
            f"{_num(r['best_loss'], '.4f'):>10} {cut}{basin} {r['diverged']:>9} {r['failed']:>7}"
        )
    if (board["failed"] == board["trials"]).any():
        print(f"-: no completed trial to score (every trial failed; the causes: optbasin status {run_dir})")
    print(
        "loss: final validation loss, median over seeds (diverged and failed trials count as the initial loss); "
        "basin: decades of lr within 10% of the best (>= cut by the grid's edge); * best lr at the grid's edge"
    )
    if not result.verdicts.empty:
        from optbasin.analysis.text import verdict_lines

        print("\n".join(verdict_lines(result)))


def cmd_refine(args: argparse.Namespace) -> int:
    from optbasin.sweeps import search, sweep

    p = sweep.resume_plan(args.run_dir, args.max_trials)
    path = search.write_refine(p.spec, p.store, args.decades, args.per_decade)
    print(f"refined grid: {path}")
    if args.dry_run:
        print(path.read_text())
        return EXIT_OK
    meta = p.store.read_meta() or {}
    refined = sweep.plan(
        path,
        meta.get("catalog_dirs", []),
        output=str(p.store.root),
        base_dir=Path(meta.get("sweep_file", path)).parent,
        max_trials=args.max_trials,
    )
    refined.trials = search.as_refine(refined.trials)
    return _execute(refined, args)


def cmd_status(args: argparse.Namespace) -> int:
    from optbasin.sweeps.run_status import status_lines
    from optbasin.sweeps.store import ResultsStore

    store = ResultsStore(args.run_dir)
    meta = store.read_meta()
    if meta is None:
        raise OptbasinError(f"{args.run_dir}: not an optbasin run directory (no meta.json)")
    print("\n".join(status_lines(args.run_dir, meta, store.trials())))
    return EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    from optbasin.validate import fairness_warnings, validate_files

    problems = validate_files(args.files, args.catalog, args.max_trials)
    if problems:
        raise ConfigError(problems)
    for w in fairness_warnings(args.files, args.catalog, args.max_trials):
        print(f"warning: {w}", file=sys.stderr)
    print(f"ok: {len(args.files)} file(s) valid")
    return EXIT_OK


def cmd_list(args: argparse.Namespace) -> int:
    from optbasin import listing

    print(listing.render(args.what, args.name, args.catalog))
    return EXIT_OK


def cmd_analyze(args: argparse.Namespace) -> int:
    from optbasin.analysis import analyze_runs

    if len(args.run_dirs) > 1 and not args.out:  # the first run's own analysis/ is not the combined one
        raise OptbasinError(
            f"an analysis of {len(args.run_dirs)} run directories needs -o/--out DIR for its tables "
            f"(they would replace {Path(args.run_dirs[0]) / 'analysis'}, the analysis of that run "
            "alone)"
        )
    with _notes():
        result = analyze_runs(args.run_dirs, claims_file=args.claims)
    print(result.to_text())
    out = Path(args.out) if args.out else Path(args.run_dirs[0]) / "analysis"
    result.write(out)
    print(f"tables: {out}/")
    if args.json:
        result.to_json(Path(args.json))
        print(f"json: {args.json}")
    if args.markdown:
        from optbasin.analysis.markdown import render_markdown

        Path(args.markdown).parent.mkdir(parents=True, exist_ok=True)
        Path(args.markdown).write_text(render_markdown(result))
        print(f"markdown: {args.markdown}")
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    if len(args.run_dirs) > 1 and not args.output:  # the first run's own report.html is not the merged one
        raise OptbasinError(
            f"a report of {len(args.run_dirs)} run directories needs -o/--output FILE "
            f"(it would replace {Path(args.run_dirs[0]) / 'report.html'}, the report of that run alone)"
        )
    out = Path(args.output) if args.output else Path(args.run_dirs[0]) / "report.html"
    path = _write_report([Path(d) for d in args.run_dirs], out, live=False, png=args.png, claims=args.claims)
    print(f"report: {path}")
    return EXIT_OK


SHORTEST_USEFUL_VAL = 1025  # tokens: one window of gpt2-small's context 1024, plus its target


def cmd_shards(args: argparse.Namespace) -> int:
    from optbasin.tasks.shards import write_shards

    try:
        s = write_shards(
            args.texts,
            args.tokenizer,
            args.out,
            val_fraction=args.val_fraction,
            force=args.force,
            workers=args.workers,
            log=lambda m: print(m, file=sys.stderr),
        )
    except KeyboardInterrupt:
        print("\ninterrupted: no shards written (existing ones are untouched)", file=sys.stderr)
        return 128 + signal.SIGINT
    print(
        f"{s.out}/train.bin: {s.train_tokens:,} tokens; {s.out}/val.bin: {s.val_tokens:,} tokens "
        f"({s.documents:,} document{'s' if s.documents != 1 else ''}, {s.seconds:.1f} s)"
    )
    print(f"use it: task params {{data_dir: {s.out}}}")
    if s.val_tokens < SHORTEST_USEFUL_VAL:
        print(
            f"warning: {s.out}/val.bin has {s.val_tokens} tokens, fewer than one gpt2-small window "
            f"({SHORTEST_USEFUL_VAL}): that task refuses it; raise --val-fraction",
            file=sys.stderr,
        )
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    from optbasin.export import export_run

    with _notes():
        r = export_run(args.run_dir, args.to, out=args.out)
    print(
        f"{args.to}: {r['trials']} trials of {args.run_dir} -> {r['destination']} "
        f"({r['written']} written, {r['unchanged']} unchanged)"
    )
    return EXIT_OK


def cmd_bench(args: argparse.Namespace) -> int:
    from optbasin.bench import main as bench_main

    try:
        return bench_main(args)
    except (Interrupted, KeyboardInterrupt) as e:  # as `optbasin run`: one line, exit 128 + signal
        signum = e.signum if isinstance(e, Interrupted) else signal.SIGINT
        print(
            f"\ninterrupted ({signal.Signals(signum).name}): benchmark stopped, {args.json} not written",
            file=sys.stderr,
        )
        return 128 + signum


# --------------------------------------------------------------------------------------------
def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="optbasin", description="Sweep optimizers' hyperparameters; measure robustness.")
    sub = ap.add_subparsers(dest="command", required=True)

    def catalog_arg(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--catalog",
            action="append",
            default=[],
            metavar="DIR",
            help="directory of optimizer/task YAML files to add (repeatable)",
        )

    def max_trials_arg(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--max-trials",
            type=int,
            default=MAX_TRIALS,
            metavar="N",
            help=f"refuse sweeps of more than N trials (default {MAX_TRIALS})",
        )

    def run_args(p: argparse.ArgumentParser) -> None:
        max_trials_arg(p)
        p.add_argument("--address", help="join this Ray cluster (e.g. 10.0.0.1:6379 or 'auto') instead of a local Ray")
        p.add_argument("--report", action="store_true", help="keep RUN_DIR/report.html up to date while running")
        p.add_argument("--dry-run", action="store_true", help="list the trials and exit")
        p.add_argument("--quiet", action="store_true", help="no progress line")
        p.add_argument("--ray-logs", action="store_true", help="show Ray's own console output")

    p = sub.add_parser("run", help="run a sweep file (skips trials already complete in its output directory)")
    p.add_argument("sweep")
    p.add_argument(
        "--adaptive",
        action="store_true",
        help="run in rounds that close the grid, bisect basin edges and lr windows, and add seeds where a "
        "claim is open, within the sweep file's 'adaptive:' limits (README 'Adaptive sweeps')",
    )
    p.add_argument("--output", "-o", help="run directory (default: the sweep's 'output', else runs/<name>)")
    catalog_arg(p)
    run_args(p)
    p.set_defaults(fn=cmd_run)

    p = sub.add_parser("resume", help="finish an interrupted sweep from its run directory")
    p.add_argument("run_dir")
    run_args(p)
    p.set_defaults(fn=cmd_resume)

    p = sub.add_parser("refine", help="after a search: run a robustness grid around each optimizer's best point")
    p.add_argument("run_dir")
    p.add_argument("--decades", type=float, default=1.0, help="lr span on each side of the best (default 1)")
    p.add_argument("--per-decade", type=int, default=3, help="grid points per decade of lr (default 3)")
    run_args(p)
    p.set_defaults(fn=cmd_refine)

    p = sub.add_parser("status", help="how far a sweep got")
    p.add_argument("run_dir")
    p.set_defaults(fn=cmd_status)

    p = sub.add_parser("validate", help="check sweep / optimizer / task / claims YAML files; report every problem")
    p.add_argument("files", nargs="+")
    catalog_arg(p)
    max_trials_arg(p)
    p.set_defaults(fn=cmd_validate)

    p = sub.add_parser("list", help="list optimizers, tasks, or the parameter split of a task")
    p.add_argument("what", choices=["optimizers", "tasks", "params"])
    p.add_argument(
        "name",
        nargs="?",
        help="with 'optimizers': one optimizer in full (every default and where it "
        "comes from); with 'params': the task",
    )
    catalog_arg(p)
    p.set_defaults(fn=cmd_list)

    p = sub.add_parser("analyze", help="robustness leaderboard and claim verdicts of run directories")
    p.add_argument("run_dirs", nargs="+")
    p.add_argument("--claims", help="claims YAML (default: the sweep file's claims)")
    p.add_argument(
        "--out",
        "-o",
        help="directory for the CSV tables (default RUN_DIR/analysis; required with several run directories)",
    )
    p.add_argument("--json", help="also write everything as one JSON file")
    p.add_argument("--markdown", help="also write the leaderboard and the per-task claim verdicts as Markdown tables")
    p.set_defaults(fn=cmd_analyze)

    p = sub.add_parser("report", help="write the self-contained HTML report")
    p.add_argument("run_dirs", nargs="+")
    p.add_argument(
        "--output", "-o", help="HTML file (default RUN_DIR/report.html; required with several run directories)"
    )
    p.add_argument("--claims", help="claims YAML (default: the sweep file's claims)")
    p.add_argument(
        "--png",
        action="store_true",
        help="also export figures as PNG into figures/ next to the HTML (kaleido, else a headless Chromium)",
    )
    p.set_defaults(fn=cmd_report)

    p = sub.add_parser(
        "shards",
        help="tokenize local text files into nanoGPT token shards (train.bin / val.bin, "
        "uint16 GPT-2 ids) for a GPT task's data_dir",
    )
    p.add_argument(
        "texts",
        nargs="+",
        metavar="TEXT",
        help="UTF-8 text files (one document each), .jsonl files (one document per line, in its 'text' "
        "field) or directories of them",
    )
    p.add_argument(
        "--tokenizer",
        required=True,
        metavar="DIR",
        help="directory with GPT-2's encoder.json + vocab.bpe (OpenAI) or vocab.json + merges.txt "
        "(Hugging Face); nothing is downloaded",
    )
    p.add_argument("--out", required=True, metavar="DIR", help="directory for train.bin and val.bin")
    p.add_argument(
        "--val-fraction",
        type=float,
        default=0.0005,
        metavar="F",
        help="the tail of the token stream kept for validation (default 0.0005, as nanoGPT)",
    )
    p.add_argument("--workers", type=int, default=1, metavar="N", help="processes that tokenize (default 1)")
    p.add_argument("--force", action="store_true", help="replace existing shards in --out")
    p.set_defaults(fn=cmd_shards)

    p = sub.add_parser(
        "export",
        help="send a run's trials, leaderboard and verdicts to MLflow, TensorBoard or W&B (again: no duplicates)",
    )
    p.add_argument("run_dir")
    p.add_argument(
        "--to",
        required=True,
        choices=["mlflow", "tensorboard", "wandb"],
        help="mlflow: MLFLOW_TRACKING_URI; wandb: WANDB_MODE / WANDB_DIR / WANDB_PROJECT; tensorboard: --out",
    )
    p.add_argument("--out", metavar="DIR", help="with --to tensorboard: the log directory")
    p.set_defaults(fn=cmd_export)

    p = sub.add_parser(
        "bench", help="performance benchmarks (optimizer step cost, sweep efficiency, memory, populations, report load)"
    )
    p.add_argument("--quick", action="store_true", help="fewer repeats")
    p.add_argument(
        "--sweep", default="examples/quickstart.yaml", help="sweep file for the efficiency and overhead figures"
    )
    p.add_argument("--json", default="bench.json", help="where to write the results")
    p.add_argument(
        "--adaptive-sweep",
        default="examples/claims-cpu-quadratic.yaml",
        help="fixed design for the adaptive benchmark (its adaptive run starts from every other lr and a "
        "third of the seeds)",
    )
    p.add_argument(
        "--adaptive-steps",
        type=int,
        metavar="N",
        help="the adaptive benchmark's step budget per trial (default: the sweep file's)",
    )
    p.add_argument(
        "--only",
        choices=["report", "population", "overhead", "adaptive"],
        help="run one benchmark only: report = first paint and full draw of the report in headless "
        "Chromium; population = points per minute of populations vs one-point trials, memory per "
        "member, GPU projection; sweep = `optbasin run` end to end vs a plain process pool over "
        "the same trials (--sweep), with a phase breakdown; adaptive = trials an adaptive run "
        "needs for the verdicts of the fixed design --adaptive-sweep, as a ratio",
    )
    p.add_argument(
        "--report-runs",
        nargs="+",
        metavar="RUN_DIR",
        help="run directories for the report benchmark (default: synthetic results)",
    )
    p.set_defaults(fn=cmd_bench)
    return ap


@contextmanager
def _catalog_notes():
    """Print each CatalogNote (a user entry replacing a built-in) once, as a one-line note."""
    from optbasin.catalog import CatalogNote

    shown: set[str] = set()
    with warnings.catch_warnings():
        warnings.simplefilter("always", CatalogNote)
        previous = warnings.showwarning

        def show(message, category, filename, lineno, file=None, line=None):
            if not issubclass(category, CatalogNote):
                previous(message, category, filename, lineno, file, line)
            elif str(message) not in shown:
                shown.add(str(message))
                print(f"note: {message}", file=sys.stderr)

        warnings.showwarning = show
        yield


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        with _catalog_notes():
            return args.fn(args)
    except OptbasinError as e:
        _print_problems(e)
        return EXIT_BAD_INPUT
    except BrokenPipeError:  # output piped into `head` and closed early
        sys.stderr.close()
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
