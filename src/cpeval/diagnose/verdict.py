"""The diagnosis in words: whether the design can detect the declared effect, what it would need, and which of
its tests reject more often than they should. A rate is called too high when it exceeds the nominal rate by
more than twice its Monte Carlo standard error; a bias is reported when it exceeds three Monte Carlo standard
errors and a tenth of the estimator's sampling standard deviation (several outcomes and variants are judged at
once, so a looser rule would flag chance deviations). Nothing is flagged from fewer than
:data:`MIN_SIMULATIONS` successful simulations, whose Monte Carlo standard errors are themselves too rough."""

from __future__ import annotations

import math
from typing import Any


def _effect_words(o: Any) -> str:
    declared = o.declared_effect.strip()
    if declared.endswith("%"):
        pct = float(declared[:-1])
        return f"a {abs(pct):g}% {'fall' if pct < 0 else 'rise'} in {o.outcome}"
    return f"an effect of {float(declared):g} on {o.outcome}"


def _mde_words(o: Any) -> str:
    mde = o.mde.value
    if o.scale == "log":
        return f"a {100 * -math.expm1(-mde):.0f}% fall (or {100 * math.expm1(mde):.0f}% rise)"
    if o.dgp.get("family") in ("negative_binomial", "poisson") and o.baseline > 0:
        return f"{mde:.3g} ({mde / abs(o.baseline):.0%} of the treated units' expected {o.outcome})"
    return f"{mde:.3g}"


MIN_SIMULATIONS = 20  # fewer successful simulations than this: numbers reported, no flags raised


def _too_high(rate: Any, nominal: float) -> bool:
    return rate.value is not None and rate.value - 2 * (rate.mc_se or 0.0) > nominal


def headline(problem: Any, v: Any) -> str:
    """One sentence on the design as declared: adequate or not, and why."""
    alpha = 1 - problem.level
    weak = [f"{o.outcome} {o.power.value:.0%}" for o in v.outcomes
            if o.true_effect != 0 and o.power.value is not None and o.power.value < problem.power]
    loose = [o.outcome for o in v.outcomes if o.true_effect == 0 and o.simulations >= MIN_SIMULATIONS
             and _too_high(o.power, alpha)]
    loose += [f"check {c.check}" for c in v.checks if c.meaning in ("false_positive", "size")
              and c.simulations >= MIN_SIMULATIONS and _too_high(c.rate, alpha)]
    problems = ([f"power below {problem.power:.0%} for {', '.join(weak)}"] if weak else []) + (
        [f"tests that reject too often with no effect: {', '.join(loose)}"] if loose else [])
    if problems:
        return f"Not adequate as declared: {'; '.join(problems)}."
    if any(o.true_effect != 0 for o in v.outcomes):
        return (f"Adequate as declared: every declared effect is detected with at least {problem.power:.0%} power "
                "and no test rejects too often.")
    return ("No true effect was declared, so this diagnosis measures error rates and the minimum detectable "
            "effects; none of the design's tests rejects too often.")


def verdict(problem: Any, variants: tuple) -> tuple[str, ...]:
    alpha = 1 - problem.level
    target = problem.power
    unit = "randomisation units" if problem.kind == "rct" else "treated units"
    lines: list[str] = [headline(problem, variants[0])]
    for v in variants:
        head = "" if len(variants) == 1 else f"[{v.label}] "
        for o in v.outcomes:
            if o.failed:
                lines.append(f"{head}{o.outcome}: the estimator failed on {o.failed} of {o.failed + o.simulations} "
                             f"simulated data sets (the first: {o.failure}); the figures below use the others")
            if o.power.value is None:
                lines.append(f"{head}{o.outcome}: no simulation gave an interval or a test, so power is unknown")
                continue
            judged = o.simulations >= MIN_SIMULATIONS
            if o.true_effect != 0:
                text = (f"{head}this design has a {o.power.value:.0%} chance (MC SE {o.power.mc_se:.0%}) of detecting "
                        f"{_effect_words(o)}")
                if o.power.value >= target:
                    text += f"; that meets the {target:.0%} target"
                elif o.required_treated is not None and problem.kind == "rct":
                    text += f"; it needs about {o.required_treated} {unit} for {target:.0%}"
                elif o.required_treated is not None:
                    text += (f"; it needs about {o.required_treated} {unit} for {target:.0%} (with the same "
                             f"{v.n_units - v.n_treated} comparison units)")
                elif problem.kind != "synthetic_control":
                    text += f"; no number of {unit} reaches {target:.0%} with these comparison units"
                lines.append(text)
            else:
                text = (f"{head}with no true effect on {o.outcome}, the design's test rejects in "
                        f"{o.power.value:.1%} of simulations (MC SE {o.power.mc_se:.1%}; nominal {alpha:.0%})")
                if judged and _too_high(o.power, alpha):
                    text += (": more often than it should, so its intervals are too narrow (few clusters or "
                             "treated units?); read the wild bootstrap or randomisation inference instead")
                lines.append(text)
            if o.mde.value is not None:
                lines.append(f"{head}the smallest effect on {o.outcome} detected with {target:.0%} power is about "
                             f"{_mde_words(o)}")
            if judged and o.bias.value is not None and o.bias.mc_se and abs(o.bias.value) > 3 * o.bias.mc_se \
                    and abs(o.bias.value) > 0.1 * (o.sd_estimate or 0):
                lines.append(f"{head}{o.outcome}: the estimator is biased by {o.bias.value:.3g} "
                             f"(MC SE {o.bias.mc_se:.2g}) under this data-generating process")
            if judged and o.coverage.value is not None and o.coverage.value + 2 * (o.coverage.mc_se or 0) \
                    < problem.level:
                lines.append(f"{head}{o.outcome}: {problem.level:.0%} intervals cover the true effect in only "
                             f"{o.coverage.value:.0%} of simulations")
        for c in v.checks:
            judged = c.simulations >= MIN_SIMULATIONS
            if c.errors:
                lines.append(f"{head}check {c.check} failed on {c.errors} simulated data sets")
            if c.meaning == "false_positive" and judged and c.rate.value is not None and _too_high(c.rate, alpha):
                lines.append(f"{head}check {c.check} raises its flag in {c.rate.value:.0%} of simulations where "
                             f"nothing is wrong (nominal {alpha:.0%}): treat its warnings with caution")
            elif c.meaning == "size" and c.rate.value is not None:
                state = ""
                if judged:
                    state = f", {'above' if _too_high(c.rate, alpha) else 'within'} the nominal {alpha:.0%}"
                lines.append(f"{head}check {c.check}: its size is {c.rate.value:.1%} (MC SE {c.rate.mc_se:.1%})"
                             f"{state}")
    return tuple(lines)
