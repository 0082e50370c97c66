"""The ``cpeval`` command line. Thin: every command calls the same public functions a notebook would.

Imports of pandas, pydantic and the estimators happen inside the command handlers so that
``cpeval --help`` answers instantly. A CpevalError prints one clean message and exits with code 2; a
traceback appears only with ``--debug``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

EXIT_USER_ERROR = 2


def _cmd_run(args: argparse.Namespace) -> int:
    import warnings

    from cpeval._io import write_files_atomically
    from cpeval.errors import CpevalWarning
    from cpeval.pipeline import evaluate
    from cpeval.report import render_markdown
    from cpeval.report.figures import render_figures

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CpevalWarning)  # recorded in the result and printed below
        result = evaluate(args.design, quiet=args.quiet)
    out = Path(args.out) if args.out else Path("out") / Path(args.design).stem
    files: dict[str, str | bytes] = {"results.json": result.to_json(), "report.md": render_markdown(result)}
    files.update(render_figures(result))
    written = write_files_atomically(out, files)
    print(result.summary())
    for path in written:
        print(f"wrote {path}")
    return 0


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
    for w in panel.warnings:
        print(f"warning: {w}")
    return 0


def _cmd_cba(args: argparse.Namespace) -> int:
    import warnings

    from cpeval._io import write_files_atomically
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
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CpevalWarning)  # recorded in the result and printed below
        result = evaluate(overridden, quiet=args.quiet)
    from cpeval.report.cba import render_cba_markdown, render_figures

    cba = result.extras["cost_benefit"]
    out = Path(args.out) if args.out else Path("out") / f"{Path(args.design).stem}_cba"
    files: dict[str, str | bytes] = {"cost_benefit.json": result.to_json(), "cost_benefit.md": render_cba_markdown(cba)}
    files.update({f"figures/{k}": v for k, v in render_figures(result).items()})
    written = write_files_atomically(out, files)
    from cpeval.cba.result import CostBenefitResult

    print(CostBenefitResult.from_dict(cba).summary())
    for path in written:
        print(f"wrote {path}")
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


def _cmd_schema(args: argparse.Namespace) -> int:
    import json

    from cpeval.designs import design_schema

    text = json.dumps(design_schema(), indent=2, sort_keys=True) + "\n"
    if args.out:
        from cpeval._io import write_files_atomically

        path = Path(args.out)
        write_files_atomically(path.parent if str(path.parent) else ".", {path.name: text})
        print(f"wrote {path}")
    else:
        sys.stdout.write(text)
    return 0


def build_parser() -> argparse.ArgumentParser:
    from cpeval import __version__

    parser = argparse.ArgumentParser(
        prog="cpeval",
        description="Evaluate crime-prevention programmes from a declarative design file.",
    )
    parser.add_argument("--version", action="version", version=f"cpeval {__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("run", help="run an evaluation and write results.json and report.md")
    p.add_argument("design", help="path to a design .yaml file")
    p.add_argument("--out", help="output directory (default: out/<design name>)")
    p.add_argument("--quiet", action="store_true", help="no progress messages on stderr")
    p.set_defaults(handler=_cmd_run)

    p = sub.add_parser("check", help="validate a design and its data without estimating")
    p.add_argument("design", help="path to a design .yaml file")
    p.set_defaults(handler=_cmd_check)

    p = sub.add_parser("cba", help="run the design's cost-benefit analysis alone (estimates, no checks)")
    p.add_argument("design", help="path to a design .yaml file with a cost_benefit section")
    p.add_argument("--out", help="output directory (default: out/<design name>_cba)")
    p.add_argument("--simulations", type=int, help="Monte Carlo draws (overrides cost_benefit.simulations)")
    p.add_argument("--quiet", action="store_true", help="no progress messages on stderr")
    p.set_defaults(handler=_cmd_cba)

    p = sub.add_parser("power", help="minimum detectable effect and power of a randomised-trial design")
    p.add_argument("design", help="path to a design .yaml file (kind: rct)")
    p.add_argument("--effect", type=float, help="effect to detect, in outcome units (overrides power.effect)")
    p.add_argument("--simulations", type=int, help="simulated trials (overrides power.simulations; 0 = none)")
    p.add_argument("--outcome", help="only this outcome")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.set_defaults(handler=_cmd_power)

    p = sub.add_parser("schema", help="print the JSON Schema of design files (for editor validation)")
    p.add_argument("--out", help="write the schema to this file instead of stdout")
    p.set_defaults(handler=_cmd_schema)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return EXIT_USER_ERROR
    from cpeval.errors import CpevalError

    try:
        return int(args.handler(args))
    except CpevalError as exc:
        if args.debug:
            raise
        message = str(exc)
        design = getattr(args, "design", None)
        if design and not message.split(":", 1)[0].endswith(Path(design).name):
            message = f"{design}: {message}"  # every message names the file it is about
        print(f"cpeval: error: {message}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("cpeval: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
