"""Pieces shared by every design kind. Pydantic specs only: no numerics here."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, PrivateAttr, field_validator, model_validator

from cpeval.designs.checks import Checks, MovedKeys, refuse_moved_keys
from cpeval.designs.claim import ClaimSpec
from cpeval.designs.consequences import ConsequencesSpec
from cpeval.designs.cost_benefit import CostBenefitSpec
from cpeval.designs.data_source import AggregateSpec, DataSource
from cpeval.designs.diagnose import DiagnoseSpec
from cpeval.designs.outcomes import OutcomeSpec
from cpeval.designs.report import ReportSpec
from cpeval.designs.strict import StrictModel


class DataSpec(StrictModel):
    """Where the data are and which columns identify units, periods, weights and population."""

    path: str | None = Field(
        None, description="CSV or parquet file, relative to the design file (or absolute)."
    )
    dataset: str | None = Field(
        None,
        description="A named packaged dataset instead of a file, e.g. 'causaldata.castle' or "
        "'cpeval.castle'.",
    )
    source: DataSource | None = Field(
        None, description="Incident records where they live: {kind: files, path}, {kind: duckdb, path, table | "
        "query} or {kind: sql, url, table | query}; needs data.aggregate to make the panel."
    )
    aggregate: AggregateSpec | None = Field(
        None, description="How data.source's incident records become the unit x period panel (area, period, "
        "offence categories, repeat victims, zero-filling, a joined table of area attributes)."
    )
    unit: str = Field(..., description="Unit id column (state, area, street segment, person).")
    time: str | None = Field(None, description="Period column (integer or date). Optional for an RCT.")
    frequency: Literal["year", "quarter", "month", "week"] | None = Field(
        None, description="Spacing of a date-valued period column. Dates become integer periods (labels kept "
        "for reports); without this key the frequency is inferred and the dates must be evenly spaced."
    )
    weights: str | None = Field(None, description="Optional observation (analytic) weights column.")
    population: str | None = Field(None, description="Optional population column, used for rates.")
    missing_outcomes: str = Field(
        "error",
        description="What to do with missing outcome values: 'error' (default) reports them as a data "
        "problem; 'drop' drops those rows for that outcome only and records a warning.",
        json_schema_extra={"enum": ["error", "drop"]},
    )

    @field_validator("missing_outcomes")
    @classmethod
    def _missing_choice(cls, v: str) -> str:
        if v not in ("error", "drop"):
            raise ValueError(f"expected 'error' or 'drop', got {v!r}")
        return v

    @model_validator(mode="after")
    def _one_source(self) -> DataSpec:
        if sum(x is not None for x in (self.path, self.dataset, self.source)) != 1:
            raise ValueError(
                "give exactly one of 'path' (a CSV or parquet file), 'dataset' (a packaged dataset "
                "such as 'causaldata.castle') or 'source' (incident records to aggregate)"
            )
        if (self.source is None) != (self.aggregate is None):
            raise ValueError("data.source and data.aggregate go together: the records in 'source' are "
                             "aggregated to the panel as 'aggregate' says")
        if self.aggregate is not None and self.time is None:
            raise ValueError("data.aggregate makes a unit x period panel; name its period column in data.time")
        if self.path is not None and not self.path.lower().endswith((".csv", ".parquet", ".pq")):
            raise ValueError(f"path {self.path!r} must end in .csv or .parquet")
        return self


InferenceMethod = Literal["auto", "analytic", "wild_bootstrap", "randomization"]

class WildBootstrapSpec(StrictModel):
    """Options of the restricted wild cluster bootstrap (and the Poisson score bootstrap)."""

    replications: int = Field(
        9999, ge=99, le=1_000_000, description="Bootstrap replications; with Rademacher weights and 2^G at most "
        "this many, all 2^G sign vectors are used once instead (full enumeration)."
    )
    weights: Literal["auto", "rademacher", "webb"] = Field(
        "auto", description="Auxiliary weights: 'rademacher' (+-1), 'webb' (six points), or 'auto': Webb with "
        "12 clusters (or bootstrap groups, see bootcluster) or fewer, Rademacher otherwise."
    )
    bootcluster: Literal["auto", "cluster", "observation"] = Field(
        "auto", description="Which rows share one auxiliary weight; the variance stays clustered either way. "
        "'cluster': one weight per cluster (the wild cluster bootstrap, WCR); 'observation': one weight per row "
        "(the ordinary wild bootstrap, the finest subcluster bootstrap of MacKinnon & Webb 2018); 'auto': "
        "observation weights when fewer than 10 clusters are treated or untreated, where the wild cluster "
        "bootstrap rejects far too rarely (0.1% and 1.2% at the 5% level with 2 and 3 treated areas of 40 in "
        "cpeval's null simulation, against 3-8% for observation weights), cluster weights otherwise (and always "
        "for the Poisson score bootstrap, which is refused below 5 treated or untreated clusters). With a single "
        "treated or untreated cluster no wild bootstrap is valid and the request is refused: use randomization."
    )


class InferenceSpec(StrictModel):
    """Confidence level and the seed every random step draws from."""

    level: float = Field(0.95, gt=0.5, lt=1.0, description="Confidence level of intervals.")
    seed: int = Field(2002, ge=0, description="Seed for every random step (bootstrap, permutations, MC).")
    bootstrap: int = Field(0, ge=0, description="Bootstrap replications where the estimator supports it.")
    permutations: int = Field(
        0, ge=0, description="Randomisation-inference permutations: a trial's re-randomisations (0 = none), or "
        "the re-assignments of treated areas for inference.method: randomization (0 = 999); every distinct "
        "assignment is used instead when there are no more than this many."
    )
    multiple_testing: Literal["none", "holm", "romano_wolf", "bh"] = Field(
        "none",
        description="Adjustment of p-values across the design's outcomes: 'holm' or 'romano_wolf' "
        "(family-wise error), 'bh' (Benjamini-Hochberg false discovery rate) or 'none'.",
    )
    method: InferenceMethod = Field(
        "auto",
        description="Inference reported beside the analytic (cluster-robust) one: 'wild_bootstrap' (restricted "
        "wild cluster bootstrap; score bootstrap for poisson), 'randomization' (re-assign which areas are "
        "treated, and when, among the units; the synthetic-control placebo test; the trial's re-randomisation), "
        "'analytic' (none), or 'auto': the wild bootstrap for twfe, event_study, sun_abraham, poisson and "
        "clustered trials when fewer than 10 clusters are treated or untreated (randomisation when fewer "
        "than 5 are: exact when the treated areas were drawn at random, and the score bootstrap fails there), "
        "and it then leads the report.",
    )
    wild_bootstrap: WildBootstrapSpec = Field(
        default_factory=WildBootstrapSpec, description="Options of inference.method: wild_bootstrap."
    )

    def requests(self, name: str) -> bool:
        """Whether ``inference.method`` is ``name`` (an inference method, not an estimator method)."""
        return name == self.method


class DesignBase(StrictModel):
    """Fields every design kind has. ``kind`` is the discriminator of :data:`cpeval.designs.Design`."""

    name: str = Field(..., min_length=1, description="A human name for the evaluation.")
    description: str | None = None
    data: DataSpec
    outcomes: list[OutcomeSpec] = Field(..., min_length=1)
    inference: InferenceSpec = Field(default_factory=InferenceSpec)
    checks: Checks = Field(default_factory=Checks, description="Checks to run, with their options.")
    consequences: ConsequencesSpec | None = Field(
        None, description="Unintended consequences to assess: displacement and diffusion of benefits, adverse "
        "indicators, disproportionality, subgroups, refuters (see cpeval.designs.consequences)."
    )
    cost_benefit: CostBenefitSpec | None = Field(
        None, description="Cost-benefit analysis of the effects (see cpeval.designs.cost_benefit)."
    )
    claim: ClaimSpec | None = Field(
        None, description="A grantee's claimed results, which `cpeval validate` checks against the re-analysis "
        "(see cpeval.designs.claim)."
    )
    report: ReportSpec = Field(
        default_factory=ReportSpec, description="How reports present the evaluation: disclosure control "
        "(suppress_below), what results.json keeps, and how headlines name the treated (see cpeval.designs.report)."
    )
    diagnose: DiagnoseSpec | None = Field(
        None, description="How `cpeval diagnose` simulates this design: the true effect per outcome, the number of "
        "simulations, the data-generating process and the variants (see cpeval.designs.diagnose)."
    )

    _origin: str | None = PrivateAttr(default=None)
    moved_keys: ClassVar[MovedKeys] = {}
    """Keys that are check options now, refused with the ``checks:`` entry to write instead."""

    @model_validator(mode="before")
    @classmethod
    def _refuse_moved_keys(cls, raw: Any) -> Any:
        refuse_moved_keys(raw, cls.moved_keys)
        return raw

    @field_validator("estimator", mode="before", check_fields=False)
    @classmethod
    def _estimator_of_its_method(cls, raw: Any) -> Any:
        """The method's own options model validates ``estimator`` (see ``designs.methods``)."""
        from cpeval.designs.methods import prepare_estimator

        return prepare_estimator(cls.model_fields["kind"].annotation.__args__[0], raw)  # type: ignore[union-attr]

    @model_validator(mode="after")
    def _shared_rules(self) -> DesignBase:
        names = [o.name for o in self.outcomes]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"outcome names must be unique; repeated: {', '.join(dupes)}")
        self._inference_method_applies()
        if self.diagnose is not None:
            self.diagnose.check_outcomes(names)
        if self.claim is not None:
            estimator = getattr(self, "estimator", None)
            scale = "level" if estimator is None else estimator.capabilities.effect_scale
            self.claim.check_outcomes({o.name: o.measure for o in self.outcomes}, scale)
        return self

    def _inference_method_applies(self) -> None:
        """inference.method must be one the design's estimator can serve (its capabilities say which)."""
        from cpeval.designs.methods import methods

        chosen = self.inference.method
        if chosen in ("auto", "analytic"):
            return
        kind = getattr(self, "kind", None)
        estimator = getattr(self, "estimator", None)
        if estimator is None:
            return
        if chosen not in estimator.capabilities.alternative_inference:
            fits = [name for name, model in methods(str(kind)).items()
                    if chosen in model.capabilities.alternative_inference]
            raise ValueError(
                f"inference.method: {chosen!r} does not apply to {kind} designs estimated by {estimator.method!r}"
                + (f"; it serves estimator.method {', '.join(fits)}" if fits else "")
                + "; use 'analytic' or 'auto', or another inference.method"
            )
        treatment = getattr(self, "treatment", None)
        if kind == "rct" and chosen == "wild_bootstrap" and getattr(treatment, "cluster", None) is None:
            raise ValueError(
                "inference.method: 'wild_bootstrap' needs a cluster-randomised trial (treatment.cluster); for "
                "individually randomised trials use 'randomization' (with inference.permutations)"
            )
        if kind == "rct" and chosen == "wild_bootstrap" and getattr(self, "estimand", "itt") != "itt":
            raise ValueError("inference.method: 'wild_bootstrap' applies to the ITT; set estimand: itt or use "
                             "'randomization'")
        if kind == "rct" and chosen == "randomization" and self.inference.permutations == 0:
            raise ValueError("inference.method: 'randomization' re-randomises the trial inference.permutations "
                             "times; set inference.permutations (e.g. 2000)")

    @property
    def origin(self) -> str | None:
        """The file this design was loaded from, if any."""
        return self._origin
