"""Funder validation: each claimed outcome against the re-analysis, with a verdict and the reasons for it.

The claim is put on the scale of cpeval's effect (log points for log outcomes and rate ratios, the outcome's
units otherwise; a percent change of a level effect through the treated units' pre-treatment baseline), and:

1. *cannot_compare* when the re-analysis has no finite estimate or interval, or a percent change has no baseline;
2. *different_sign* when the two estimates have opposite signs and the re-analysis either excludes zero or
   excludes the claimed estimate;
3. *not_significant* when the claim's interval excludes zero and the re-analysis interval does not;
4. otherwise *reproduced* when the claimed estimate is within ``claim.tolerance`` (a share, default 10%) of the
   re-analysis estimate, else *larger* or *smaller*.

Whether a difference is beyond sampling error is decided by one rule: the claimed estimate lies outside the
re-analysis confidence interval (at the design's level). Both analyses use the same data, so their errors are
not independent and a z-test on the difference with both standard errors, z = (c - r) / sqrt(se_c^2 + se_r^2),
is conservative; it is reported beside the rule, never used for the verdict. A claim *reproduces* (exit status
0 of ``cpeval validate``) when its verdict is *reproduced*, or *larger*/*smaller* within sampling error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from cpeval.appraise.render import VERDICT_WORDS, claim_markdown
from cpeval.payloads import baseline_mean
from cpeval.results import critical_value, jsonable

if TYPE_CHECKING:
    from cpeval.designs.claim import ClaimedOutcome, ClaimSpec
    from cpeval.results import EvaluationResult

Verdict = Literal["reproduced", "larger", "smaller", "different_sign", "not_significant", "cannot_compare"]
# checks whose findings bear on a claim, with how a reader should take them
BEARING: dict[str, str] = {
    "pre_trends": "pre-treatment trends",
    "placebo_time": "placebo in time",
    "placebo_space": "placebo in space",
    "honest_did": "honest DiD sensitivity",
    "attrition": "attrition",
    "balance": "balance",
    "convex_hull": "synthetic fit",
    "bacon": "staggered-adoption decomposition",
}


@dataclass(frozen=True)
class ClaimVerdict:
    """One claimed outcome against the re-analysis. Numbers are on the claim's own scale."""

    outcome: str
    scale: str
    verdict: Verdict
    reproduces: bool
    reason: str
    source: str
    claimed: float
    claimed_interval: tuple[float, float] | None
    claimed_std_error: float | None = None
    reanalysis: float | None = None
    reanalysis_interval: tuple[float, float] | None = None
    difference: float | None = None  # claimed - re-analysis, on the claim's scale
    ratio: float | None = None  # claimed / re-analysis, on the effect's scale
    beyond_sampling_error: bool | None = None  # the claimed estimate outside the re-analysis interval
    z_difference: float | None = None  # (c - r) / sqrt(se_c^2 + se_r^2), reported only
    robustness: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return jsonable({k: getattr(self, k) for k in self.__dataclass_fields__})

    def sentence(self) -> str:
        return f"{self.outcome}: {VERDICT_WORDS[self.verdict]}. {self.reason}"


@dataclass(frozen=True)
class ClaimValidation:
    """Every claimed outcome's verdict; ``reproduces`` when all of them do."""

    by: str | None
    verdicts: tuple[ClaimVerdict, ...]
    rule: str = ("beyond sampling error = the claimed estimate lies outside the re-analysis interval; "
                 "z on the difference (both SEs, as if independent) reported only")

    @property
    def reproduces(self) -> bool:
        return all(v.reproduces for v in self.verdicts)

    def to_dict(self) -> dict[str, Any]:
        return jsonable({"by": self.by, "reproduces": self.reproduces, "rule": self.rule,
                         "verdicts": [v.to_dict() for v in self.verdicts]})

    def summary(self) -> str:
        head = "every claim reproduces" if self.reproduces else "not every claim reproduces"
        return "\n".join([f"Claim{' by ' + self.by if self.by else ''}: {head}",
                          *(f"  {'OK ' if v.reproduces else 'NO '} {v.sentence()}" for v in self.verdicts)])

    def markdown(self) -> str:
        return claim_markdown(self)


def to_effect_scale(value: float, scale: str, effect_scale: str, baseline: float | None) -> float:
    """A claimed number on the effect's scale (see the module docstring)."""
    if effect_scale == "log":
        return {"log_points": value, "percent_change": math.log1p(value / 100) if value > -100 else -math.inf,
                "rate_ratio": math.log(value) if value > 0 else -math.inf}[scale]
    if scale == "percent_change":
        return value / 100 * baseline  # type: ignore[operator]
    return value


def from_effect_scale(value: float, scale: str, effect_scale: str, baseline: float | None) -> float:
    """The inverse of :func:`to_effect_scale`."""
    if effect_scale == "log":
        return {"log_points": value, "percent_change": 100 * math.expm1(value), "rate_ratio": math.exp(value)}[scale]
    if scale == "percent_change":
        return 100 * value / baseline  # type: ignore[operator]
    return value


def robustness_findings(result: EvaluationResult, outcome: str) -> tuple[str, ...]:
    """The checks and consequences that bear on a claim about ``outcome``, one sentence each."""
    found = [f"{BEARING[c.name]} ({c.status}): {c.message}" for c in result.checks
             if c.name in BEARING and c.outcome in (outcome, None)]
    breakdown = [c.values.get("breakdown_mbar") for c in result.checks
                 if c.name == "honest_did" and c.outcome == outcome and c.values.get("breakdown_mbar") is not None]
    found += [f"honest DiD breakdown value Mbar = {b:.3g}: the robust interval excludes zero only while "
              f"post-treatment departures from parallel trends stay below {b:.3g} times the largest pre-treatment one"
              if b > 0 else "honest DiD breakdown value Mbar = 0: the robust interval includes zero under any "
              "departure from parallel trends as large as the pre-treatment ones" for b in breakdown]
    if result.consequences is not None:
        found += [f"displacement ({f.status}): {f.sentence}" for f in result.consequences.findings
                  if f.topic == "displacement" and f.outcome in (outcome, None)]
    return tuple(found)


def judge(claim: ClaimedOutcome, effect: Any, effect_scale: str, tolerance: float,
          robustness: tuple[str, ...] = ()) -> ClaimVerdict:
    """The verdict on one claimed outcome given cpeval's Effect for it (see the module docstring)."""
    common = dict(outcome=claim.outcome, scale=claim.scale, source=claim.source.cite(), claimed=claim.estimate,
                  claimed_interval=claim.conf_int, claimed_std_error=claim.std_error, robustness=robustness)
    baseline = baseline_mean(effect)
    r, lo, hi = effect.estimate, effect.ci_lower, effect.ci_upper

    def cannot(reason: str) -> ClaimVerdict:
        return ClaimVerdict(verdict="cannot_compare", reproduces=False, reason=reason, **common)

    if not all(math.isfinite(v) for v in (r, lo, hi)):
        return cannot(f"the re-analysis ({effect.method}) gives no finite estimate and interval "
                      f"(estimate {r:.4g}, interval [{lo:.4g}, {hi:.4g}]); judge the claim by its p-value "
                      f"{effect.p_value:.3g} and the placebo checks instead")
    if effect_scale == "level" and claim.scale == "percent_change" and baseline is None:
        return cannot("a percent change needs the treated units' pre-treatment mean of the outcome, and the "
                      "re-analysis has none (no pre-treatment rows, or a mean of zero); claim a level instead")
    c = to_effect_scale(claim.estimate, claim.scale, effect_scale, baseline)
    z_claim = critical_value(claim.level)
    if claim.conf_int is not None:
        c_lo, c_hi = (to_effect_scale(b, claim.scale, effect_scale, baseline) for b in claim.conf_int)
        se_c = (c_hi - c_lo) / (2 * z_claim)
    else:
        se_c = to_effect_scale(claim.std_error, claim.scale, effect_scale, baseline)  # type: ignore[arg-type]
        c_lo, c_hi = c - z_claim * se_c, c + z_claim * se_c
    se_r = effect.std_error
    z_diff = (c - r) / math.hypot(se_c, se_r) if math.isfinite(se_r) and math.hypot(se_c, se_r) > 0 else None
    outside = not lo <= c <= hi
    on_claim_scale = from_effect_scale(r, claim.scale, effect_scale, baseline)
    interval = (from_effect_scale(lo, claim.scale, effect_scale, baseline),
                from_effect_scale(hi, claim.scale, effect_scale, baseline))
    numbers = dict(reanalysis=on_claim_scale, reanalysis_interval=interval,
                   difference=claim.estimate - on_claim_scale, ratio=c / r if r != 0 else None,
                   beyond_sampling_error=outside, z_difference=z_diff)
    level = f"{effect.level:.0%}"
    shown = f"re-analysis {on_claim_scale:.4g} [{interval[0]:.4g}, {interval[1]:.4g}] ({claim.scale})"
    claim_sig = c_lo > 0 or c_hi < 0
    re_sig = lo > 0 or hi < 0
    if c * r < 0 and (re_sig or outside):
        reason = (f"claimed {claim.estimate:.4g}, {shown}: the re-analysis "
                  + ("excludes zero on the other side" if re_sig else "excludes the claimed estimate"))
        return ClaimVerdict(verdict="different_sign", reproduces=False, reason=reason, **common, **numbers)
    if claim_sig and not re_sig:
        reason = (f"the claim's interval excludes zero, but the re-analysis {level} interval includes it "
                  f"({shown}; p = {effect.p_value:.3g})")
        return ClaimVerdict(verdict="not_significant", reproduces=False, reason=reason, **common, **numbers)
    gap = abs(c - r)
    if gap <= tolerance * abs(r):
        reason = (f"claimed {claim.estimate:.4g}, {shown}: within {tolerance:.0%} of the re-analysis estimate")
        return ClaimVerdict(verdict="reproduced", reproduces=True, reason=reason, **common, **numbers)
    verdict: Verdict = "larger" if abs(c) > abs(r) else "smaller"
    times = f" ({abs(c / r):.2f} times the re-analysis)" if r != 0 else ""
    where = (f"outside the re-analysis {level} interval: beyond sampling error" if outside
             else f"inside the re-analysis {level} interval: within sampling error")
    ztext = f"; z on the difference {z_diff:.2f}" if z_diff is not None else ""
    reason = (f"claimed {claim.estimate:.4g}, {shown}: the claim is {verdict} by {abs(numbers['difference']):.4g}"
              f"{times}, {where}{ztext}")
    return ClaimVerdict(verdict=verdict, reproduces=not outside, reason=reason, **common, **numbers)


def validate_claims(spec: ClaimSpec, result: EvaluationResult, effect_scale: str) -> ClaimValidation:
    """Every claimed outcome of ``spec`` judged against ``result``'s effect for it."""
    verdicts = []
    for claim in spec.outcomes:
        effect = next((e for e in result.effects if e.outcome == claim.outcome), None)
        if effect is None:
            verdicts.append(ClaimVerdict(
                outcome=claim.outcome, scale=claim.scale, verdict="cannot_compare", reproduces=False,
                reason="the re-analysis has no effect for this outcome", source=claim.source.cite(),
                claimed=claim.estimate, claimed_interval=claim.conf_int))
            continue
        verdicts.append(judge(claim, effect, effect.scale or effect_scale, spec.tolerance,
                              robustness_findings(result, claim.outcome)))
    return ClaimValidation(by=spec.by, verdicts=tuple(verdicts))
