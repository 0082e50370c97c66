"""The ``consequences:`` section: unintended consequences to assess (UN Guidelines para 23(d)).

Pydantic specs only. Every part is optional; what is declared is checked against the rest of the design and
the data before anything is fitted (``cpeval.consequences.plan``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from cpeval.designs.strict import StrictModel, unique_names

Role = Literal["treated", "buffer", "control"]
ROLES: tuple[str, ...] = ("treated", "buffer", "control")
Refuter = Literal["placebo_treatment", "random_common_cause", "data_subset", "placebo_timing"]
REFUTERS: tuple[str, ...] = ("placebo_treatment", "random_common_cause", "data_subset", "placebo_timing")


class Centroids(StrictModel):
    """Area centroids from which cpeval assigns roles: areas treated by the design are 'treated', untreated
    areas within ``buffer_distance`` of a treated area's centroid are 'buffer', the rest 'control'."""

    x: str = Field(..., description="Column of the centroid's x (easting, metres) or longitude (degrees).")
    y: str = Field(..., description="Column of the centroid's y (northing, metres) or latitude (degrees).")
    coordinates: Literal["metres", "lonlat"] = Field(
        "metres", description="'metres': projected x/y in metres (Euclidean distance); 'lonlat': longitude and "
        "latitude in degrees (great-circle distance by the haversine formula, Earth radius 6,371,008.8 m)."
    )
    buffer_distance: float = Field(..., gt=0, description="Buffer radius in metres around each treated centroid.")


class DisplacementSpec(StrictModel):
    """Spatial displacement and diffusion of benefits: which areas are treated, buffer (catchment) or control."""

    roles_column: str | None = Field(
        None, description="Column naming each area's role; its values are the role_labels (default: the words "
        "treated, buffer, control). Constant within an area."
    )
    role_labels: dict[str, str | int] = Field(
        default_factory=dict, description="Value of roles_column for each role, e.g. {treated: T, buffer: B, "
        "control: C}; a role left out keeps its own name."
    )
    centroids: Centroids | None = Field(None, description="Assign roles from area centroids instead.")
    overlap: Literal["error", "treated"] = Field(
        "error", description="A treated area within the buffer distance of another treated area is both: "
        "'error' (default) refuses such data; 'treated' keeps it treated. With roles_column, an area whose "
        "label disagrees with the design's treatment is always an error."
    )
    outcomes: list[str] = Field(
        default_factory=list, description="Design outcomes (names) assessed for displacement; default: every "
        "count outcome."
    )
    headline_comparison: Literal["controls", "all_untreated"] = Field(
        "controls", description="Comparison group of the design's headline estimates: 'controls' (default) leaves "
        "the buffer areas out, since crime displaced into them (or diffused benefits) would bias the headline; "
        "'all_untreated' keeps them as comparisons, with a warning."
    )

    @field_validator("role_labels")
    @classmethod
    def _known_roles(cls, v: dict[str, str | int]) -> dict[str, str | int]:
        from cpeval.errors import did_you_mean

        for key in v:
            if key not in ROLES:
                raise ValueError(f"role_labels: {key!r} is not a role; the roles are treated, buffer and control"
                                 f"{did_you_mean(key, ROLES)}")
        values = list(v.values())
        if len(set(map(str, values))) != len(values):
            raise ValueError(f"role_labels: two roles share a label ({values}); give each role its own value")
        return v

    @model_validator(mode="after")
    def _one_way(self) -> DisplacementSpec:
        if (self.roles_column is None) == (self.centroids is None):
            raise ValueError("give exactly one of 'roles_column' (a column naming each area treated, buffer or "
                             "control) or 'centroids' (x, y and a buffer_distance in metres)")
        if self.role_labels and self.roles_column is None:
            raise ValueError("role_labels apply to roles_column; remove them or name the roles_column")
        return self

    def label(self, role: str) -> str:
        return str(self.role_labels.get(role, role))


class AdverseIndicator(StrictModel):
    """An indicator that should not move the adverse way (stop and search, arrests by group, school exclusions,
    an area-reputation survey item, house prices, other offences or hours in the treated area)."""

    name: str = Field(..., min_length=1, description="Short name used in results.")
    column: str = Field(..., description="Data column of the indicator (per area and period).")
    adverse_if: Literal["increase", "decrease"] = Field(..., description="Which direction is adverse.")
    measure: Literal["count", "rate", "level", "proportion"] = Field("count", description="Kind of measure.")
    concern: Literal["stigmatisation", "offence_displacement", "temporal_displacement", "other"] = Field(
        "other", description="What the indicator stands for, for the report's grouping."
    )
    label: str | None = Field(None, description="Longer label for reports.")


class GroupSpec(StrictModel):
    """A resident group: its stops (or arrests) column and its residents column, per area and period."""

    name: str = Field(..., min_length=1, description="Group name, e.g. 'group_a'.")
    events: str = Field(..., description="Column counting stops (or arrests) of people of this group.")
    residents: str | None = Field(None, description="Column counting residents of this group (the denominator); "
                                  "required.")

    @model_validator(mode="after")
    def _has_residents(self) -> GroupSpec:
        if self.residents is None:
            raise ValueError(f"group {self.name!r} has no residents: rates are per resident of the group, so name "
                             "the column counting this group's residents in 'residents:'")
        return self


class DisproportionalitySpec(StrictModel):
    """Stops (or arrests) per resident by group, the group rate ratio against a reference group, and its change
    in treated against control areas (a triple difference)."""

    events: str = Field("stops", description="What is counted, for the report (stops, arrests, ...).")
    groups: list[GroupSpec] = Field(..., min_length=2, description="At least two resident groups.")
    reference: str = Field(..., description="The group others are compared with.")
    per: int = Field(1000, gt=0, description="Rates per this many residents.")

    @model_validator(mode="after")
    def _reference(self) -> DisproportionalitySpec:
        from cpeval.errors import did_you_mean

        names = [g.name for g in self.groups]
        if len(set(names)) != len(names):
            raise ValueError(f"groups: names must be unique; got {names}")
        if self.reference not in names:
            raise ValueError(f"reference: {self.reference!r} is not one of the groups ({', '.join(names)})"
                             f"{did_you_mean(self.reference, names)}")
        return self


class ConditionalSpec(StrictModel):
    """Conditional (heterogeneous) effects of a trial with individual data, by econml double machine learning."""

    model: Literal["linear_dml", "causal_forest_dml"] = Field(
        "linear_dml", description="econml LinearDML (effect linear in the moderators, analytic intervals) or "
        "CausalForestDML (a causal forest; intervals by the bootstrap of little bags)."
    )
    outcome_model: Literal["linear", "lasso", "random_forest", "gradient_boosting"] = Field(
        "random_forest", description="Nuisance model of the outcome given moderators and covariates."
    )
    treatment_model: Literal["logistic", "random_forest", "gradient_boosting"] = Field(
        "logistic", description="Nuisance model of assignment (a classifier)."
    )
    folds: int = Field(5, ge=2, le=20, description="Cross-fitting folds (split seeded from inference.seed).")


class SubgroupSpec(StrictModel):
    """What works for whom: effects by declared moderators, with a test of difference."""

    moderators: list[str] = Field(..., min_length=1, description="Columns whose levels define subgroups "
                                  "(constant within an area for panel designs).")
    outcomes: list[str] = Field(default_factory=list, description="Design outcomes to split; default: all.")
    conditional: ConditionalSpec | None = Field(
        None, description="Trials with individual data: conditional effects by econml as well."
    )


class TemporalOutcome(StrictModel):
    """One offence counted separately in the programme's operating hours or days and outside them."""

    name: str = Field(..., min_length=1, description="Short name used in results, e.g. 'street_crime'.")
    inside: str = Field(..., description="Column counting the offence in the programme's operating hours/days "
                        "(per area and period).")
    outside: str = Field(..., description="Column counting the same offence in all other hours/days.")
    label: str | None = Field(None, description="Longer label for reports.")

    @model_validator(mode="after")
    def _two_columns(self) -> TemporalOutcome:
        if self.inside == self.outside:
            raise ValueError(f"temporal outcome {self.name!r}: inside and outside name the same column "
                             f"({self.inside!r}); name the column of the programme's hours and the column of the "
                             "other hours")
        return self


class TemporalSpec(StrictModel):
    """Temporal displacement: crime in the programme areas moving to the hours or days outside the programme's
    operating window, estimated with the design's estimator."""

    window: str = Field(..., min_length=1, description="The programme's operating hours or days in words, for "
                        "the report, e.g. 'Thursday to Saturday, 20:00-04:00'.")
    outcomes: list[TemporalOutcome] = Field(..., min_length=1, description="Offences counted inside and outside "
                                            "the window.")

    @field_validator("outcomes")
    @classmethod
    def _unique(cls, v: list[TemporalOutcome]) -> list[TemporalOutcome]:
        return unique_names(v, "temporal outcome")


class ConsequencesSpec(StrictModel):
    """Unintended consequences to assess, positive and negative (UN Guidelines para 23(d))."""

    displacement: DisplacementSpec | None = Field(None, description="Spatial displacement / diffusion.")
    temporal: TemporalSpec | None = Field(None, description="Crime moving to the hours or days outside the "
                                          "programme's operating window.")
    adverse: list[AdverseIndicator] = Field(default_factory=list, description="Indicators with an adverse "
                                            "direction, estimated with the design.")
    disproportionality: DisproportionalitySpec | None = Field(None, description="Stops by resident group.")
    subgroups: SubgroupSpec | None = Field(None, description="Effects by moderators (who is harmed).")
    refute: list[Refuter] = Field(default_factory=list, description="dowhy refuters: placebo_treatment, "  # type: ignore[valid-type]
                                  "random_common_cause, data_subset, placebo_timing (panels).")
    refute_simulations: int = Field(20, ge=2, le=1000, description="Simulations per dowhy refuter.")

    @field_validator("adverse")
    @classmethod
    def _unique(cls, v: list[AdverseIndicator]) -> list[AdverseIndicator]:
        return unique_names(v, "adverse indicator")

    def data_columns(self) -> dict[str, str]:
        """Every data column this section names, mapped to its key."""
        cols: dict[str, str] = {}
        d = self.displacement
        if d is not None and d.roles_column:
            cols[d.roles_column] = "consequences.displacement.roles_column"
        if d is not None and d.centroids is not None:
            cols[d.centroids.x] = "consequences.displacement.centroids.x"
            cols[d.centroids.y] = "consequences.displacement.centroids.y"
        for i, o in enumerate(self.temporal.outcomes if self.temporal is not None else []):
            cols.setdefault(o.inside, f"consequences.temporal.outcomes[{i}].inside")
            cols.setdefault(o.outside, f"consequences.temporal.outcomes[{i}].outside")
        for i, a in enumerate(self.adverse):
            cols.setdefault(a.column, f"consequences.adverse[{i}].column")
        if self.disproportionality is not None:
            for i, g in enumerate(self.disproportionality.groups):
                cols.setdefault(g.events, f"consequences.disproportionality.groups[{i}].events")
                cols.setdefault(str(g.residents), f"consequences.disproportionality.groups[{i}].residents")
        if self.subgroups is not None:
            for i, m in enumerate(self.subgroups.moderators):
                cols.setdefault(m, f"consequences.subgroups.moderators[{i}]")
        return cols
