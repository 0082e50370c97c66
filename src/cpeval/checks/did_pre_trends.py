"""Pre-trend check: are the event-study leads jointly zero? (cluster-robust Wald test)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from cpeval.checks.did_common import NO_VARIANCE, event_coefficients
from cpeval.results import CheckResult

if TYPE_CHECKING:
    from cpeval.data.panel import Panel
    from cpeval.results import Effect


def pre_trends(panel: Panel, effects: Sequence[Effect]) -> list[CheckResult]:
    from cpeval.estimation.did.event_study import joint_wald

    out: list[CheckResult] = []
    for effect in effects:
        ec = event_coefficients(panel, effect)
        lead = ec.lead
        test = joint_wald(ec.beta[lead], ec.vcov[lead][:, lead], ec.df)
        rows = tuple(r for r in ec.effect.path if r["kind"] == "lead")
        source = "the estimated event study" if ec.effect is effect else "an event study fitted for this check"
        if not test["df"]:
            out.append(CheckResult(
                name="pre_trends", status="info", outcome=effect.outcome,
                message="no lead to test: the window has no pre-treatment event time before the reference",
            ))
            continue
        if not ec.has_variance:
            out.append(CheckResult(
                name="pre_trends", status="info", outcome=effect.outcome, table=rows, message=(
                    f"not tested ({source}): {NO_VARIANCE}, so there is no covariance to test the "
                    f"{test['df']} leads against; read the lead estimates in the table as descriptions only"),
            ))
            continue
        alpha = 1 - ec.level
        stat = f"Wald F({test['df']}, {test['df2']}) = {test['f_statistic']:.3g}, p = {test['p_value']:.3g}"
        if test["p_value"] < alpha:
            status, msg = "warn", (
                f"the {test['df']} leads are jointly different from zero ({stat}; {source}): treated and "
                "comparison units were already diverging before treatment, so the parallel-trends assumption "
                "is doubtful; read the effect with the honest_did sensitivity"
            )
        else:
            status, msg = "pass", (
                f"no evidence of pre-treatment divergence ({stat}; {source}); a pre-trend test has limited "
                "power, so passing it does not prove parallel trends (Roth 2022): see honest_did"
            )
        out.append(CheckResult(
            name="pre_trends", status=status, outcome=effect.outcome, message=msg, table=rows,
            values={**test, "source_method": ec.method, "reference_period": ec.ref},
        ))
    return out
