"""The ``cpeval`` command line. Thin: every command calls the same public functions a notebook would.

Imports of pandas, pydantic and the estimators happen inside the command handlers so that
``cpeval --help`` answers instantly.

Exit codes: 0 success; 2 a problem with the input or the output folder (a CpevalError, or a bad command
line), printed as one message that says what to fix; 3 an internal error (any other exception: a bug in
cpeval), printed as one line asking for a report; 130 interrupted. A traceback appears only with ``--debug``
(accepted before or after the command).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

EXIT_USER_ERROR = 2
EXIT_INTERNAL_ERROR = 3
MAX_COUNT = 10_000_000  # largest --simulations
MAX_MESSAGE_LINES = 60  # of one error message


def _cmd_run(args: argparse.Namespace) -> int:
    if len(args.design) > 1 or args.scheduler is not None or args.workers is not None:
        return _cmd_portfolio(args)
    args.design = args.design[0]
    import warnings

    from cpeval._io import OutputDir
    from cpeval.errors import CpevalWarning
    from cpeval.pipeline import evaluate
    from cpeval.report import report_files
    from cpeval.report.pdf import find_browser, html_to_pdf

    browser = find_browser() if args.pdf else None  # before the work: a missing browser fails at once
    out = Path(args.out) if args.out else Path("out") / Path(args.design).stem
    with OutputDir(out) as target:  # checked and locked before the work, so a bad --out fails at once
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CpevalWarning)  # recorded in the result and printed below
            result = evaluate(args.design, quiet=args.quiet)
        files = report_files(result)  # results.json, report.md, report.html, figures/
        if browser is not None:
            files["report.pdf"] = html_to_pdf(str(files["report.html"]), browser)
        written = target.commit(files)
    print(result.summary())
    _print_written(written)
    return 0


def _cmd_portfolio(args: argparse.Namespace) -> int:
    import json

    from cpeval._io import OutputDir
    from cpeval.diagnose.portfolio import run_portfolio

    paths, args.design = args.design, None  # a portfolio's errors name their own design files
    out = Path(args.out) if args.out else Path("out") / "portfolio"
    stems = [Path(p).stem for p in paths]
    folders = [s if stems.count(s) == 1 else f"{i + 1:03d}_{s}" for i, s in enumerate(stems)]
    with OutputDir(out) as target:
        result = run_portfolio(paths, scheduler=args.scheduler, workers=args.workers,
                               cache=out.parent / ".cpeval-cache" / "portfolio", progress=False if args.quiet else None)
        files: dict[str, str | bytes] = {"portfolio.json": result.to_json(),
                                         "portfolio.csv": result.table().to_csv(index=False)}
        files.update({f"{f}/results.json": json.dumps(r, indent=2, sort_keys=True) + "\n"
                      for f, r in zip(folders, result.results, strict=True)})
        written = target.commit(files)
    print(result.summary())
    _print_written(written)
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    import warnings

    from cpeval._io import OutputDir
    from cpeval.errors import CpevalWarning, DesignError
    from cpeval.pipeline import evaluate, resolve_design
    from cpeval.report import report_files

    design = resolve_design(args.design)
    if design.claim is None:
        raise DesignError(f"{args.design}: no claim section to validate; add claim: {{outcomes: [...]}} with the "
                          "claimed estimate, its interval or standard error, scale and source (see `cpeval schema`)")
    out = Path(args.out) if args.out else Path("out") / f"{Path(args.design).stem}_validate"
    with OutputDir(out) as target:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CpevalWarning)  # recorded in the result
            result = evaluate(design, quiet=args.quiet)
        files = report_files(result)
        files["validation.md"] = result.claims.markdown()  # type: ignore[union-attr]
        files["validation.json"] = json_text(result.claims.to_dict())  # type: ignore[union-attr]
        written = target.commit(files)
    print(result.claims.summary())  # type: ignore[union-attr]
    if result.rating is not None:
        print(result.rating.summary())
    _print_written(written)
    return 0 if result.claims.reproduces else 1  # type: ignore[union-attr]


def _cmd_compare(args: argparse.Namespace) -> int:
    from cpeval._io import OutputDir
    from cpeval.appraise import compare_files

    comparison = compare_files(args.a, args.b)
    text = comparison.markdown()
    if args.out:
        with OutputDir(Path(args.out)) as target:
            written = target.commit({"compare.md": text, "compare.json": json_text(comparison.to_dict())})
        _print_written(written)
    print(text)
    return 0


def json_text(data: Any) -> str:
    import json

    return json.dumps(data, indent=2, sort_keys=True, allow_nan=False) + "\n"


def _print_written(paths: list[Path]) -> None:
    for path in paths:
        print(f"wrote {path}")


def _cmd_check(args: argparse.Namespace) -> int:
    from cpeval.pipeline import check

    panel = check(args.design)
    d = panel.design
    s = panel.summary
    print(
        f"{args.design}: design '{d.name}' ({d.kind}, method {d.estimator.method}) and data are valid: "  # type: ignore[attr-defined]
        f"{s['rows']} rows, {s['units']} units"
        + (f", {s['periods']} periods ({s['first_period']}-{s['last_period']})" if s.get("periods") else "")
    )
    if s.get("headline_comparison"):
        print(f"note: {s['headline_comparison']}")
    for w in panel.warnings:
        print(f"warning: {w}")
    return 0


def _cmd_cba(args: argparse.Namespace) -> int:
    import warnings

    from cpeval._io import OutputDir
    from cpeval.errors import CpevalWarning
    from cpeval.pipeline import resolve_design

    design = resolve_design(args.design)
    if design.cost_benefit is None:
        from cpeval.errors import DesignError

        raise DesignError(f"{args.design}: no cost_benefit section; add one (see `cpeval schema`) to run cba")
    from cpeval.designs import design_from_dict
    from cpeval.pipeline import evaluate

    # Overrides go through the same validation as the file (model_copy would skip it).
    raw = design.model_dump(mode="json", by_alias=True)
    raw["checks"] = []
    if args.simulations is not None:
        raw["cost_benefit"]["simulations"] = args.simulations
    overridden = design_from_dict(raw, source=str(args.design))
    overridden._origin = design.origin
    out = Path(args.out) if args.out else Path("out") / f"{Path(args.design).stem}_cba"
    with OutputDir(out) as target:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CpevalWarning)  # recorded in the result and printed below
            result = evaluate(overridden, quiet=args.quiet)
        from cpeval.report.cba import render_cba_markdown, render_figures

        cba = result.cost_benefit
        assert cba is not None  # the design has a cost_benefit section
        files: dict[str, str | bytes] = {
            "cost_benefit.json": result.to_json(), "cost_benefit.md": render_cba_markdown(cba.to_dict()),
        }
        files.update({f"figures/{k}": v for k, v in render_figures(result).items()})
        written = target.commit(files)
    print(cba.summary())
    _print_written(written)
    return 0


def _cmd_power(args: argparse.Namespace) -> int:
    import json

    from cpeval.power import power_analysis

    results = power_analysis(
        args.design, effect=args.effect, simulations=args.simulations,
        outcomes=[args.outcome] if args.outcome else None,
    )
    if args.json:
        sys.stdout.write(json.dumps([r.to_dict() for r in results], indent=2, sort_keys=True) + "\n")
    else:
        for r in results:
            print(r.summary())
    return 0


def _cmd_diagnose(args: argparse.Namespace) -> int:
    from cpeval._io import OutputDir
    from cpeval.diagnose import diagnose
    from cpeval.errors import DesignError

    effect: dict[str, str] = {}
    for item in args.effect or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise DesignError(f"--effect {item!r}: expected OUTCOME=VALUE, e.g. burglary=-10%")
        effect[name.strip()] = value.strip()
    parsed: dict[str, float | str] = {k: v if v.endswith("%") else _finite(v) for k, v in effect.items()}
    out = Path(args.out) if args.out else Path("out") / f"{Path(args.design).stem}_diagnosis"
    cache = None if args.no_cache else out.parent / ".cpeval-cache" / "diagnose"
    with OutputDir(out) as target:
        result = diagnose(args.design, simulations=args.simulations, vary=args.vary, effect=parsed or None,
                          scheduler=args.scheduler, workers=args.workers, cache=cache,
                          progress=None if not args.quiet else False)
        written = target.commit({"diagnosis.json": result.to_json(), "diagnosis.md": result.summary() + "\n"})
    if args.json:
        sys.stdout.write(result.to_json())
    else:
        print(result.summary())
        _print_written(written)
    return 0


def _cmd_schema(args: argparse.Namespace) -> int:
    import json

    from cpeval.designs import design_schema

    text = json.dumps(design_schema(), indent=2, sort_keys=True) + "\n"
    if args.out:
        from cpeval._io import write_file_atomically

        write_file_atomically(args.out, text)
        print(f"wrote {args.out}")
    else:
        sys.stdout.write(text)
    return 0


def _cmd_notebook(args: argparse.Namespace) -> int:
    from cpeval.templates import execute

    output = execute(args.design, args.output or f"{Path(args.design).stem}.ipynb", output_dir=args.out,
                     progress=not args.quiet)
    print(f"wrote {output}")
    return 0


def _cmd_init(args: argparse.Namespace) -> int:
    from cpeval.scaffold import scaffold

    for path in scaffold(args.name, kind=args.kind):
        print(f"wrote {path}")
    print(f"next: cd {args.name} && cpeval run design.yaml && cpeval notebook design.yaml -o analysis.ipynb")
    return 0


def _count(text: str) -> int:
    """A whole number of at least 0 and at most MAX_COUNT, for --simulations."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text[:40]!r}") from None
    if not 0 <= value <= MAX_COUNT:
        raise argparse.ArgumentTypeError(f"must be between 0 and {MAX_COUNT:,}, got {value}")
    return value


def _finite(text: str) -> float:
    import math

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text[:40]!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text[:40]!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    from cpeval._version import __version__
    from cpeval.templates import KINDS

    parser = argparse.ArgumentParser(
        prog="cpeval",
        description="Evaluate crime-prevention programmes from a declarative design file.",
        epilog="Exit codes: 0 done; 2 a problem with the input or --out (the message says what to fix); "
        "3 an internal error (a bug in cpeval: please report it with the --debug output).",
    )
    parser.add_argument("--version", action="version", version=f"cpeval {__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(name: str, help: str, handler: Any) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help)
        # also after the command; SUPPRESS keeps a --debug given before the command
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show full tracebacks")
        p.set_defaults(handler=handler)
        return p

    p = command("run", "run an evaluation and write results.json, report.md and report.html", _cmd_run)
    p.add_argument("design", nargs="+", help="path to a design .yaml file; several make a portfolio: each design's "
                   "results.json and one summary table (portfolio.csv) across them")
    p.add_argument("--scheduler", metavar="ADDRESS", help="portfolio on a dask.distributed scheduler")
    p.add_argument("--workers", type=_count, help="portfolio on this many local processes (default: every core)")
    p.add_argument("--out", help="output directory (default: out/<design name>); replaced as a whole")
    p.add_argument("--quiet", action="store_true", help="no progress messages on stderr")
    p.add_argument("--pdf", action="store_true", help="also print report.html to report.pdf with headless Chromium "
                   "(Debian package: chromium)")

    p = command("validate", "re-run a design and judge its claim: exit 0 when every claimed effect reproduces, "
                "1 when any does not", _cmd_validate)
    p.add_argument("design", help="path to a design .yaml file with a claim section")
    p.add_argument("--out", help="output directory (default: out/<design name>_validate); replaced as a whole")
    p.add_argument("--quiet", action="store_true", help="no progress messages on stderr")

    p = command("compare", "two evaluations' results.json side by side, outcome by outcome", _cmd_compare)
    p.add_argument("a", help="the first results.json")
    p.add_argument("b", help="the second results.json")
    p.add_argument("--out", help="also write compare.md and compare.json into this folder")

    p = command("check", "validate a design and its data without estimating", _cmd_check)
    p.add_argument("design", help="path to a design .yaml file")

    p = command("cba", "run the design's cost-benefit analysis alone (estimates, no checks)", _cmd_cba)
    p.add_argument("design", help="path to a design .yaml file with a cost_benefit section")
    p.add_argument("--out", help="output directory (default: out/<design name>_cba); replaced as a whole")
    p.add_argument("--simulations", type=_count, help="Monte Carlo draws (overrides cost_benefit.simulations)")
    p.add_argument("--quiet", action="store_true", help="no progress messages on stderr")

    p = command("power", "minimum detectable effect and power of a randomised-trial design", _cmd_power)
    p.add_argument("design", help="path to a design .yaml file (kind: rct)")
    p.add_argument("--effect", type=_finite, help="effect to detect, in outcome units (overrides power.effect)")
    p.add_argument("--simulations", type=_count, help="simulated trials (overrides power.simulations; 0 = none)")
    p.add_argument("--outcome", help="only this outcome")
    p.add_argument("--json", action="store_true", help="print the results as JSON")

    p = command("diagnose", "simulate a design to see whether it can detect the effect hoped for", _cmd_diagnose)
    p.add_argument("design", help="path to a design .yaml file (any kind)")
    p.add_argument("--simulations", type=_count, help="simulations per variant (overrides diagnose.simulations)")
    p.add_argument("--effect", action="append", metavar="OUTCOME=VALUE",
                   help="true effect, e.g. burglary=-10%% or harm=-2 (overrides diagnose.effect; repeatable)")
    p.add_argument("--vary", action="append", metavar="KEY=V1,V2",
                   help="variants side by side: treated_units=10,20,40 or pre_periods=6,12 (repeatable)")
    p.add_argument("--scheduler", metavar="ADDRESS", help="a dask.distributed scheduler (default: local processes)")
    p.add_argument("--workers", type=_count, help="local processes (default: every core; 1 = in this process)")
    p.add_argument("--out", help="output directory (default: out/<design name>_diagnosis); finished simulations are "
                   "cached in .cpeval-cache/ beside it, so an interrupted diagnosis resumes")
    p.add_argument("--no-cache", action="store_true", help="neither read nor write the results cache")
    p.add_argument("--json", action="store_true", help="print the diagnosis as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress bar")

    p = command("notebook", "render the design kind's analysis notebook and execute it", _cmd_notebook)
    p.add_argument("design", help="path to a design .yaml file")
    p.add_argument("-o", "--output", help="the notebook to write (default: <design name>.ipynb)")
    p.add_argument("--out", help="also write results.json, report.md and figures/ into this folder")
    p.add_argument("--quiet", action="store_true", help="no progress bar")

    p = command("init", "start an evaluation folder: design, example data, notebook and README", _cmd_init)
    p.add_argument("name", help="the folder to create (must not exist yet)")
    p.add_argument("--kind", required=True, choices=KINDS, help="the design kind")

    p = command("schema", "print the JSON Schema of design files (for editor validation)", _cmd_schema)
    p.add_argument("--out", help="write the schema to this file instead of stdout")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return EXIT_USER_ERROR
    from cpeval.errors import CpevalError, OutputError

    try:
        return int(args.handler(args))
    except CpevalError as exc:
        if args.debug:
            raise
        message = str(exc)
        design = getattr(args, "design", None)
        named = message.split(":", 1)[0].endswith(Path(design).name) if design else True
        if not named and not isinstance(exc, OutputError):
            message = f"{design}: {message}"  # every message names the file it is about
        lines = message.splitlines()
        if len(lines) > MAX_MESSAGE_LINES:  # a data file with thousands of problems: the first ones suffice
            lines = [*lines[:MAX_MESSAGE_LINES], f"  ... and {len(lines) - MAX_MESSAGE_LINES} more lines"]
        print("cpeval: error: " + "\n".join(line[:2_000] for line in lines), file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("cpeval: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (cpeval schema | head): nothing left to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:  # the last line of defence: anything else is a bug, reported in one line
        if args.debug:
            raise
        from cpeval.errors import echo

        text = echo(str(exc), 300).strip("'\"")
        print(
            f"cpeval: internal error: {type(exc).__name__}: {text}; this is a bug in cpeval, please report it "
            "with the output of the same command run with --debug",
            file=sys.stderr,
        )
        return EXIT_INTERNAL_ERROR


if __name__ == "__main__":
    raise SystemExit(main())
