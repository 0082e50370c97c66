"""The ``diagnose`` section: how to simulate the declared design before the money is spent.

A diagnosis (``cpeval diagnose``) simulates the design many times under a data-generating process (DGP)
fitted to the design's own data, with a declared true effect, and runs the design's own estimator and
checks on every draw. This section declares the true effect, the number of simulations, the DGP where the
data should not decide it, and the variants to compare. Pydantic specs only: the numerics live in
:mod:`cpeval.diagnose`.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from cpeval.designs.strict import StrictModel
from cpeval.errors import did_you_mean

PERCENT = re.compile(r"^\s*([+-]?\d+(?:\.\d+)?)\s*%\s*$")
VARY_KEYS = ("treated_units", "pre_periods")
MAX_SIMULATIONS = 10_000_000


def parse_effect(value: float | str, where: str) -> tuple[float, bool]:
    """A declared effect as (number, is_percent): ``-0.1, True`` for "-10%", ``-2.0, False`` for -2."""
    if isinstance(value, bool):
        raise ValueError(f"{where}: expected a number or a percentage such as '-10%', got {value!r}")
    if isinstance(value, (int, float)):
        return float(value), False
    m = PERCENT.match(value)
    if m is None:
        raise ValueError(f"{where}: expected a number (in the estimate's units) or a percentage such as '-10%', "
                         f"got {value!r}")
    pct = float(m.group(1)) / 100.0
    if pct <= -1.0:
        raise ValueError(f"{where}: a fall of {value} or more leaves no crime to count; give a change above -100%")
    return pct, True


class DgpSpec(StrictModel):
    """The data-generating process of one outcome, where the data should not decide it. Unset values are
    estimated from the design's data (see :mod:`cpeval.diagnose.dgp`)."""

    family: Literal["auto", "negative_binomial", "poisson", "normal"] = Field(
        "auto", description="'auto': negative binomial for count outcomes (measure: count), normal with unit and "
        "period effects otherwise; 'poisson' is the negative binomial without overdispersion."
    )
    dispersion: float | None = Field(
        None, ge=0, description="Negative binomial overdispersion alpha (variance mu + alpha mu^2)."
    )
    sd: float | None = Field(None, gt=0, description="Normal: standard deviation of the noise (unit-period level; "
                             "for trials, of the outcome after blocks and covariates).")
    ar1: float | None = Field(None, gt=-1, lt=1, description="Normal: lag-1 autocorrelation of the noise within a "
                              "unit.")
    icc: float | None = Field(None, ge=0, lt=1, description="Trials: intra-cluster correlation of the outcome.")


class DiagnoseSpec(StrictModel):
    """Declared beside the design: ``diagnose: {effect: {burglary: '-10%'}, simulations: 500}``."""

    effect: dict[str, float | str] = Field(
        default_factory=dict, description="True effect per outcome: a number in the units the estimator reports "
        "(the outcome's units, or a log ratio for Poisson and log outcomes), or a percentage such as '-10%' (a "
        "proportional change in the treated units' expected outcome while treated). Outcomes not named have a "
        "true effect of zero, so the diagnosis measures the false-positive rate."
    )
    simulations: int = Field(200, description="Simulated replications of the design (at least 1).")
    power: float = Field(0.8, gt=0, lt=1, description="Target power for the minimum detectable effect and the "
                         "size the design would need.")
    dgp: dict[str, DgpSpec] = Field(
        default_factory=dict, description="Per outcome: the data-generating process where the data should not "
        "decide it (family, dispersion, sd, ar1, icc)."
    )
    vary: dict[str, list[int]] = Field(
        default_factory=dict, description="Variants diagnosed side by side: treated_units (how many units are "
        "treated) and/or pre_periods (how many periods before treatment), each a list of whole numbers."
    )

    @field_validator("simulations")
    @classmethod
    def _simulations(cls, v: int) -> int:
        if not 1 <= v <= MAX_SIMULATIONS:
            raise ValueError(f"diagnose.simulations must be between 1 and {MAX_SIMULATIONS:,}, got {v}; a diagnosis "
                             "needs at least one simulated replication (a few hundred give useful precision)")
        return v

    @field_validator("effect")
    @classmethod
    def _effects(cls, v: dict[str, float | str]) -> dict[str, float | str]:
        for name, value in v.items():
            parse_effect(value, f"diagnose.effect.{name}")
        return v

    @field_validator("vary")
    @classmethod
    def _vary(cls, v: dict[str, list[int]]) -> dict[str, list[int]]:
        for key, values in v.items():
            if key not in VARY_KEYS:
                raise ValueError(f"diagnose.vary: {key!r} cannot be varied; vary one of {', '.join(VARY_KEYS)}"
                                 f"{did_you_mean(key, VARY_KEYS)}")
            if not values:
                raise ValueError(f"diagnose.vary.{key}: give at least one value")
        return v

    def check_outcomes(self, names: list[str]) -> None:
        """Every outcome named in ``effect`` and ``dgp`` must be one of the design's outcomes."""
        for key, named in (("effect", self.effect), ("dgp", self.dgp)):
            for name in named:
                if name not in names:
                    raise ValueError(f"diagnose.{key}: {name!r} is not an outcome of this design (outcomes: "
                                     f"{', '.join(names)}){did_you_mean(name, names)}")
