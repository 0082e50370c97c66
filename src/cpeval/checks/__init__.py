"""Checks: pre-trends, placebos, refuters, displacement, stigmatisation. Each returns a CheckResult."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from cpeval._lazy import lazy
from cpeval.errors import CpevalError
from cpeval.results import CheckResult

if TYPE_CHECKING:
    from cpeval.data.panel import Panel
    from cpeval.results import Effect

# A check takes the panel and the effects already estimated and returns one or more CheckResults.
CheckFunction = Callable[["Panel", Sequence["Effect"]], Sequence[CheckResult]]

# (kind, check name) -> loader of the check function; checks import only when a design asks for them.
CHECKS: dict[tuple[str, str], Callable[[], CheckFunction]] = {
    ("did", "pre_trends"): lazy("cpeval.checks.did_pre_trends", "pre_trends"),
    ("did", "bacon"): lazy("cpeval.checks.did_bacon", "bacon"),
    ("did", "honest_did"): lazy("cpeval.checks.did_honest", "honest_did"),
    ("rct", "balance"): lazy("cpeval.checks.rct_balance", "check_balance"),
    ("rct", "attrition"): lazy("cpeval.checks.rct_attrition", "check_attrition"),
    **{
        ("synthetic_control", name): lazy(f"cpeval.checks.synth_{name}", name)
        for name in ("placebo_space", "placebo_time", "leave_one_out", "balance", "convex_hull")
    },
}


def run_checks(names: Sequence[str], panel: Panel, effects: Sequence[Effect]) -> list[CheckResult]:
    """Run the named checks. A check that cannot be done on these data (a CpevalError) or whose numerics fail
    (a singular matrix, an overflow) becomes a result with status 'error' and the reason; any other exception
    is a bug in cpeval and propagates."""
    from numpy.linalg import LinAlgError

    kind = panel.design.kind  # type: ignore[attr-defined]
    out: list[CheckResult] = []
    for name in names:
        try:
            out.extend(CHECKS[(kind, name)]()(panel, effects))
        except (CpevalError, ArithmeticError, LinAlgError) as exc:
            out.append(CheckResult(name=name, status="error", message=f"{type(exc).__name__}: {exc}"))
    return out
