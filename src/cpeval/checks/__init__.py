"""Checks: pre-trends, placebos, refuters, displacement, stigmatisation. Each returns a CheckResult."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from cpeval.errors import CpevalError
from cpeval.results import CheckResult

if TYPE_CHECKING:
    from cpeval.data.panel import Panel
    from cpeval.results import Effect

# A check takes the panel and the effects already estimated and returns one or more CheckResults.
CheckFunction = Callable[["Panel", Sequence["Effect"]], Sequence[CheckResult]]

# (kind, check name) -> function returning the check function, so checks import lazily.
def _rct_balance() -> CheckFunction:
    from cpeval.checks.rct_balance import check_balance

    return check_balance


def _rct_attrition() -> CheckFunction:
    from cpeval.checks.rct_attrition import check_attrition

    return check_attrition


CHECKS: dict[tuple[str, str], Callable[[], CheckFunction]] = {
    ("rct", "balance"): _rct_balance,
    ("rct", "attrition"): _rct_attrition,
}


def run_checks(names: Sequence[str], panel: Panel, effects: Sequence[Effect]) -> list[CheckResult]:
    """Run the named checks. A check that raises a CpevalError or a numerical error becomes status 'error'."""
    kind = panel.design.kind  # type: ignore[attr-defined]
    out: list[CheckResult] = []
    for name in names:
        try:
            out.extend(CHECKS[(kind, name)]()(panel, effects))
        except (CpevalError, ArithmeticError, ValueError, RuntimeError, KeyError, IndexError) as exc:
            out.append(CheckResult(name=name, status="error", message=f"{type(exc).__name__}: {exc}"))
    return out


def _did_pre_trends() -> CheckFunction:
    from cpeval.checks.did_pre_trends import pre_trends

    return pre_trends


def _did_bacon() -> CheckFunction:
    from cpeval.checks.did_bacon import bacon

    return bacon


def _did_honest() -> CheckFunction:
    from cpeval.checks.did_honest import honest_did

    return honest_did


CHECKS.update(
    {("did", "pre_trends"): _did_pre_trends, ("did", "bacon"): _did_bacon, ("did", "honest_did"): _did_honest}
)


def _synth_check(name: str) -> Callable[[], CheckFunction]:
    def load() -> CheckFunction:
        import importlib

        return getattr(importlib.import_module(f"cpeval.checks.synth_{name}"), name)

    return load


CHECKS.update(
    {("synthetic_control", n): _synth_check(n)
     for n in ("placebo_space", "placebo_time", "leave_one_out", "balance", "convex_hull")}
)
