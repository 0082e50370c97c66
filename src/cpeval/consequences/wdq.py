"""The Weighted Displacement Quotient of Bowers & Johnson (2003).

Bowers, K. J. & Johnson, S. D. (2003). Measuring the geographical displacement and diffusion of benefit
effects of crime prevention activity. *Journal of Quantitative Criminology* 19(3), 275-301.

With recorded crimes R (treated, "response" area), D (buffer, "displacement" area) and C (control area),
before (0) and after (1) the programme:

- success measure            SM  = R1/C1 - R0/C0  (negative: the treated area fell relative to the control)
- buffer displacement measure BDM = D1/C1 - D0/C0  (positive: the buffer rose relative to the control)
- weighted displacement quotient WDQ = BDM / SM
- total net effect           TNE = (R0 * C1/C0 - R1) + (D0 * C1/C0 - D1)  (crimes prevented across the
  treated area and its buffer, positive when the programme prevented crime overall)

The two are tied: TNE = -C1 * SM * (1 + WDQ), so with a success (SM < 0) the net effect is positive exactly
when WDQ > -1. The quotient is read only after a success in the treated area: with SM = 0 it is undefined
(a division by zero), and with SM > 0 the programme area did worse than the control and there is no gain to
displace. With no control crimes before (or after) the ratios themselves do not exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

WdqReading = Literal[
    "diffusion_greater_than_gain",  # WDQ > 1
    "diffusion",  # 0 < WDQ <= 1
    "no_displacement_or_diffusion",  # WDQ = 0
    "displacement_smaller_than_gain",  # -1 < WDQ < 0
    "gain_wiped_out",  # WDQ <= -1
    "no_change_in_treated_area",  # SM = 0: quotient undefined
    "no_success_in_treated_area",  # SM > 0: nothing to displace
    "no_control_crimes",  # C0 = 0 or C1 = 0: no ratios at all
]

SENTENCES: dict[str, str] = {
    "diffusion_greater_than_gain": "Crime also fell in the surrounding area, by more than the fall in the programme "
    "area itself (diffusion of benefits).",
    "diffusion": "Crime also fell in the surrounding area, by less than in the programme area (diffusion of "
    "benefits).",
    "no_displacement_or_diffusion": "Crime in the surrounding area moved with the control area: no sign of "
    "displacement or of diffusion of benefits.",
    "displacement_smaller_than_gain": "Some crime appears to have moved to the surrounding area, but less than "
    "was prevented in the programme area, so the net effect is still a reduction.",
    "gain_wiped_out": "The rise in the surrounding area matches or exceeds the fall in the programme area: "
    "displacement has wiped out the gain.",
    "no_change_in_treated_area": "Crime in the programme area did not change relative to the control area, so "
    "there is no gain whose displacement could be measured (the quotient is undefined).",
    "no_success_in_treated_area": "Crime in the programme area rose relative to the control area, so there is no "
    "gain to displace and the quotient is not interpreted.",
    "no_control_crimes": "The control area recorded no crimes in one of the periods, so the control-relative "
    "ratios of the quotient cannot be formed.",
}

# Readings a report shows as adverse (warn) and as the programme's harm (fail).
ADVERSE: dict[str, str] = {
    "displacement_smaller_than_gain": "warn",
    "gain_wiped_out": "fail",
    "no_success_in_treated_area": "warn",
}


@dataclass(frozen=True)
class WdqResult:
    """The quotient's parts, its reading and one plain sentence. ``None`` marks a quantity that does not exist
    for these counts (``reading`` says why)."""

    treated: tuple[float, float]
    buffer: tuple[float, float]
    control: tuple[float, float]
    success_measure: float | None
    buffer_displacement_measure: float | None
    quotient: float | None
    total_net_effect: float | None
    reading: WdqReading

    @property
    def sentence(self) -> str:
        return SENTENCES[self.reading]

    @property
    def status(self) -> str:
        return ADVERSE.get(self.reading, "pass")

    def to_dict(self) -> dict[str, Any]:
        return {
            "treated": list(self.treated), "buffer": list(self.buffer), "control": list(self.control),
            "success_measure": self.success_measure,
            "buffer_displacement_measure": self.buffer_displacement_measure,
            "quotient": self.quotient, "total_net_effect": self.total_net_effect,
            "reading": self.reading, "sentence": self.sentence,
        }


def _pair(name: str, value: Any) -> tuple[float, float]:
    import math

    from cpeval.errors import EstimationError

    try:
        before, after = (float(v) for v in value)
    except (TypeError, ValueError) as exc:
        raise EstimationError(f"WDQ: {name} must be two counts (before, after); got {value!r}") from exc
    if not (math.isfinite(before) and math.isfinite(after)) or before < 0 or after < 0:
        raise EstimationError(f"WDQ: {name} counts must be finite and >= 0; got ({before}, {after})")
    return before, after


def read_quotient(quotient: float) -> WdqReading:
    """Bowers & Johnson's reading of a quotient computed after a success in the treated area."""
    if quotient > 1:
        return "diffusion_greater_than_gain"
    if quotient > 0:
        return "diffusion"
    if quotient == 0:
        return "no_displacement_or_diffusion"
    if quotient > -1:
        return "displacement_smaller_than_gain"
    return "gain_wiped_out"


def wdq(treated: Any, buffer: Any, control: Any) -> WdqResult:
    """Weighted Displacement Quotient from (before, after) counts of the treated, buffer and control areas.

    Periods before and after must be of equal length (or the counts rates over equal lengths): the measures
    compare ratios to the control, which absorbs a common change, not a change in the period's length.
    """
    r0, r1 = _pair("treated", treated)
    d0, d1 = _pair("buffer", buffer)
    c0, c1 = _pair("control", control)
    if c0 == 0 or c1 == 0:
        return WdqResult((r0, r1), (d0, d1), (c0, c1), None, None, None, None, "no_control_crimes")
    sm = r1 / c1 - r0 / c0
    bdm = d1 / c1 - d0 / c0
    growth = c1 / c0
    tne = (r0 * growth - r1) + (d0 * growth - d1)
    if sm == 0:
        reading: WdqReading = "no_change_in_treated_area"
        quotient = None
    elif sm > 0:
        reading, quotient = "no_success_in_treated_area", None
    else:
        quotient = bdm / sm
        reading = read_quotient(quotient)
    return WdqResult((r0, r1), (d0, d1), (c0, c1), sm, bdm, quotient, tne, reading)
