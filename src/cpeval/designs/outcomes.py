"""Outcome declarations: what is measured, in what units, and which direction is good.

An outcome either names a data column as it is (``column: l_homicide``), or declares how cpeval derives it
from the data before anything is validated or fitted (:func:`cpeval.outcomes.derive`):

- a rate per 1,000 / 100,000 population: ``column: burglary, measure: rate, per: 1000``
- a log taken by cpeval, with an explicit rule for zeros:
  ``column: burglary, measure: log, take_log: true, zeros: add_one``
  (a column that already holds natural logs says so: ``column: l_homicide, measure: log, take_log: false``)
- a total of several crime types: ``total_of: [burglary, robbery, theft]``
- a harm (seriousness) index: ``seriousness: {weights: cambridge_chi, columns: {robbery: robbery_count}}``
- fear of crime from respondent rows: ``fear: {item: safe_after_dark, scale: [...], fearful: [...]}``
- victimisation prevalence, incidence or concentration: ``victimisation: {measure: prevalence, ...}``

Survey outcomes read respondent rows, from the design's own data or from a separate ``survey`` source,
and are aggregated to one weighted mean per area and wave before estimation.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from cpeval.designs.data_source import DataSource
from cpeval.designs.families import BUILDERS, FAMILY_ORDER, IMPLIED_FAMILY

Family = Literal[FAMILY_ORDER]  # type: ignore[valid-type]  # the names declared in designs/families.py
Measure = Literal["count", "rate", "log", "level", "proportion"]
ZeroRule = Literal["add_one", "drop", "error"]

RATE_BASES: tuple[int, ...] = (1, 100, 1_000, 10_000, 100_000)
DERIVED_PREFIX = "_cpeval_outcome_"


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class SurveySpec(_Strict):
    """A separate source of respondent rows (a repeated cross-section), grouped by area and wave."""

    path: str | None = Field(None, description="CSV or parquet of respondent rows, relative to the design file.")
    dataset: str | None = Field(None, description="A packaged dataset instead, e.g. 'cpeval.city_survey'.")
    source: DataSource | None = Field(
        None, description="Or where survey microdata live, as data.source says for incident records: {kind: files, "
        "path} (CSV/Parquet file, glob or folder), {kind: duckdb, path, table | query} or {kind: sql, url, table | "
        "query} (read-only; the query, rows read and their fingerprint are recorded with the outcome)."
    )
    empty_cells: Literal["error", "missing"] = Field(
        "error", description="An area of the panel with no respondents (or none answering) in a wave of the survey: "
        "an error (default), or 'missing' to leave that area-wave out of this outcome."
    )
    unit: str | None = Field(None, description="Area column of the survey (default: data.unit).")
    wave: str | None = Field(
        None, description="Wave column; its values must be periods of data.time (default: data.time)."
    )
    weights: str | None = Field(None, description="Survey weight column (default: every respondent weighs 1).")

    @model_validator(mode="after")
    def _one_source(self) -> SurveySpec:
        if sum(x is not None for x in (self.path, self.dataset, self.source)) != 1:
            raise ValueError(
                f"survey: give exactly one of 'path', 'dataset' or 'source' (got path={self.path!r}, "
                f"dataset={self.dataset!r}, source={'given' if self.source is not None else None})"
            )
        return self


class SeriousnessSpec(_Strict):
    """A harm-weighted index: sum over offence types of weight x count."""

    weights: str = Field(
        ...,
        description="A shipped weight table ('cambridge_chi', 'ons_css') or the path of your own CSV with "
        "columns offence, weight (relative to the design file).",
    )
    columns: dict[str, str] = Field(
        ..., min_length=1, description="Offence (as named in the weight table) -> data column of its counts."
    )
    contributions: bool = Field(
        True,
        description="Fit the estimator to each offence's weighted counts to show how much of the change each "
        "offence type contributes (one extra fit per offence; turn off for slow estimators).",
    )


class FearSpec(_Strict):
    """A fear-of-crime survey item (or several, as a standardised index)."""

    item: str | None = Field(None, description="Column of a single item, e.g. safe_after_dark.")
    items: list[str] | None = Field(
        None, min_length=2, description="Several item columns averaged into a standardised index."
    )
    scale: list[str] = Field(
        ..., min_length=2, description="Answer labels in order, from least to most fearful."
    )
    fearful: list[str] | None = Field(
        None, description="Answers counted as fearful (single item): the outcome is the weighted share."
    )
    codes: list[int | float] | None = Field(
        None, description="Numeric codes of the scale labels, in the same order (default 1, 2, ...)."
    )
    missing: list[str | int | float] = Field(
        default_factory=list, description="Answers treated as missing (e.g. \"don't know\", refused, 9)."
    )

    @model_validator(mode="after")
    def _rules(self) -> FearSpec:
        if (self.item is None) == (self.items is None):
            raise ValueError("fear: give exactly one of 'item' (one question) or 'items' (an index)")
        norm = [normalise_label(s) for s in self.scale]
        if len(set(norm)) != len(norm):
            raise ValueError(f"fear.scale: labels must be distinct; got {self.scale}")
        if self.fearful is not None:
            if self.items is not None:
                raise ValueError("fear.fearful applies to a single 'item'; an index of 'items' is a mean score")
            unknown = [f for f in self.fearful if normalise_label(f) not in norm]
            if unknown:
                raise ValueError(f"fear.fearful: {unknown} are not labels of fear.scale {self.scale}")
            if not self.fearful:
                raise ValueError("fear.fearful: list at least one answer counted as fearful")
        if self.codes is not None and len(self.codes) != len(self.scale):
            raise ValueError(
                f"fear.codes: give one code per scale label ({len(self.scale)}), got {len(self.codes)}"
            )
        return self

    @property
    def columns(self) -> list[str]:
        return [self.item] if self.item is not None else list(self.items or [])


class VictimisationSpec(_Strict):
    """Victimisation: prevalence (share victimised), incidence (crimes per head), concentration (per victim)."""

    measure: Literal["prevalence", "incidence", "concentration"]
    column: str | None = Field(
        None, description="Survey form: column with the number of times each respondent was victimised."
    )
    crimes: str | None = Field(None, description="Area form: column of crimes (incidents) recorded.")
    victims: str | None = Field(None, description="Area form: column of distinct victims.")

    @model_validator(mode="after")
    def _form(self) -> VictimisationSpec:
        survey_form = self.column is not None
        area_form = self.crimes is not None or self.victims is not None
        if survey_form == area_form:
            raise ValueError(
                "victimisation: give either 'column' (respondent rows: times victimised) or "
                "'crimes'/'victims' (area rows)"
            )
        if area_form:
            need = {"prevalence": ["victims"], "incidence": ["crimes"], "concentration": ["crimes", "victims"]}
            missing = [k for k in need[self.measure] if getattr(self, k) is None]
            if missing:
                raise ValueError(f"victimisation.{self.measure} from area rows needs {', '.join(missing)}")
        return self


class OutcomeSpec(BaseModel):
    """One outcome of the evaluation."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    name: str = Field(..., min_length=1, description="Short name used in results and reports.")
    source_column: str | None = Field(
        None,
        alias="column",
        min_length=1,
        description="Data column holding the outcome (or, with 'per' or take_log: true, the count it is "
        "derived from). Not needed for total_of, seriousness, fear or victimisation outcomes.",
    )
    family: Family = Field("crime", description=" | ".join(FAMILY_ORDER) + " (UN para 23(c)).")
    measure: Measure = Field(
        "level",
        description="count | rate | log | level | proportion. 'log': the outcome is analysed on the natural-log "
        "scale and the effect reported as a proportional change; take_log then says whether cpeval takes the "
        "log or the column already holds one.",
    )
    better_if: Literal["decrease", "increase"] = Field(
        "decrease", description="Which direction of change is an improvement."
    )
    label: str | None = Field(None, description="Longer label for reports.")
    role: Literal["primary", "secondary", "falsification"] = Field(
        "primary", description="primary: what the programme aims to change; secondary: other outcomes of "
        "interest; falsification: an outcome the programme should not move (a clear effect on it points at the "
        "comparison, not the programme). Reports show it beside the outcome.")
    per: int | None = Field(
        None,
        description="Rate base: divide by data.population and multiply by this (1000 or 100000); for survey "
        "incidence or prevalence, per this many respondents.",
    )
    take_log: bool | None = Field(
        None,
        description="Required with measure: log. true: cpeval takes the natural log of the column (or of the "
        "rate, total or index it derives) under the 'zeros' rule. false: the column already holds natural logs "
        "(e.g. l_homicide, the log of homicides per 100,000) and is analysed as it is; cpeval warns if its "
        "values look like counts (all whole numbers >= 0, or any above 25).",
    )
    zeros: ZeroRule | None = Field(
        None,
        description="Rule for zeros when cpeval takes the log (take_log: true): add_one (log(y+1)), drop (zero "
        "rows left out of this outcome) or error. Required with take_log: true; the rule is reported with the "
        "effect.",
    )
    total_of: list[str] | None = Field(None, min_length=2, description="Columns summed into a total count.")
    seriousness: SeriousnessSpec | None = Field(None, description="A harm-weighted index.")
    fear: FearSpec | None = Field(None, description="A fear-of-crime item or index from respondent rows.")
    victimisation: VictimisationSpec | None = Field(None, description="Victimisation measure.")
    survey: SurveySpec | None = Field(
        None, description="Where respondent rows come from, if not the design's own data."
    )

    @model_validator(mode="before")
    @classmethod
    def _defaults(cls, raw: Any) -> Any:
        if not isinstance(raw, dict):
            return raw
        raw = dict(raw)
        if raw.get("seriousness") is not None:
            raw.setdefault("family", "seriousness")
            raw.setdefault("measure", "rate" if raw.get("per") else "level")
        elif raw.get("fear") is not None:
            raw.setdefault("family", "fear")
            fear = raw["fear"]
            fearful = fear.get("fearful") if isinstance(fear, dict) else getattr(fear, "fearful", None)
            raw.setdefault("measure", "proportion" if fearful else "level")
        elif raw.get("victimisation") is not None:
            vic = raw["victimisation"]
            m = vic.get("measure") if isinstance(vic, dict) else getattr(vic, "measure", None)
            default = {"prevalence": "proportion", "incidence": "rate", "concentration": "level"}.get(m, "level")
            if m == "prevalence" and raw.get("per"):
                default = "rate"
            raw.setdefault("measure", default)
        elif raw.get("total_of") is not None:
            raw.setdefault("measure", "count")
        return raw

    @model_validator(mode="after")
    def _rules(self) -> OutcomeSpec:
        sources = [k for k in BUILDERS if getattr(self, k) is not None]
        if len(sources) > 1:
            raise ValueError(f"outcome {self.name!r}: give only one of {', '.join(sources)}")
        if sources and self.source_column is not None:
            raise ValueError(
                f"outcome {self.name!r}: 'column' is not used with {sources[0]}; remove it (cpeval derives the "
                "outcome column)"
            )
        if not sources and self.source_column is None:
            raise ValueError(
                f"outcome {self.name!r}: give 'column' (the data column) or one of total_of, seriousness, fear, "
                "victimisation"
            )
        if self.fear is not None and self.per is not None:
            raise ValueError(f"outcome {self.name!r}: 'per' does not apply to a fear outcome")
        if self.per is not None and self.per not in RATE_BASES:
            raise ValueError(f"outcome {self.name!r}: per must be one of {RATE_BASES}, got {self.per}")
        if self.measure == "log":
            self._log_rules(sources)
        elif self.take_log is not None:
            raise ValueError(f"outcome {self.name!r}: take_log applies to measure: log, not {self.measure!r}")
        elif self.zeros is not None:
            raise ValueError(f"outcome {self.name!r}: 'zeros' applies to measure 'log', not {self.measure!r}")
        if self.per is not None and self.measure not in ("rate", "log"):
            raise ValueError(
                f"outcome {self.name!r}: 'per' makes a rate; set measure: rate (or measure: log with take_log: "
                f"true and zeros), not {self.measure!r}"
            )
        for k, (family, what) in IMPLIED_FAMILY.items():
            if getattr(self, k) is not None and self.family != family:
                raise ValueError(f"outcome {self.name!r}: {what} has family {family!r}, not {self.family!r}")
        if self.survey is not None and not self.from_respondents:
            raise ValueError(
                f"outcome {self.name!r}: 'survey' is only for fear and survey victimisation outcomes"
            )
        return self

    def _log_rules(self, sources: list[str]) -> None:
        """measure: log says who takes the log: cpeval (take_log: true, with a zeros rule) or nobody (false)."""
        name = f"outcome {self.name!r}"
        derived_from = "a rate from 'per'" if self.per is not None else sources[0] if sources else None
        rule = "zeros: add_one | drop | error"
        if self.take_log is None:
            head = f"{name}: measure: log needs take_log, to say whether cpeval takes the log"
            if self.zeros is not None:
                raise ValueError(
                    f"{head}: zeros: {self.zeros} is the rule for cpeval taking the log; add take_log: true"
                )
            if derived_from is not None:
                raise ValueError(f"{head}: to take the log of {derived_from}, add take_log: true and a rule for "
                                 f"zeros ({rule})")
            raise ValueError(
                f"{head}. If {self.source_column!r} already holds natural logs, add take_log: false; if it holds "
                f"counts or rates, add take_log: true and a rule for zeros ({rule})"
            )
        if self.take_log and self.zeros is None:
            what = derived_from or f"column {self.source_column!r}"
            raise ValueError(f"{name}: take_log: true needs the rule for zeros when cpeval takes the log of {what}: "
                             f"{rule}")
        if not self.take_log and derived_from is not None:
            raise ValueError(
                f"{name}: take_log: false says the column is already a log, but cpeval derives this outcome "
                f"({derived_from}); set take_log: true and a rule for zeros ({rule})"
            )
        if not self.take_log and self.zeros is not None:
            raise ValueError(
                f"{name}: 'zeros' is the rule for cpeval taking the log; with take_log: false the column is "
                "already a log, so remove zeros (or set take_log: true if the column holds counts)"
            )

    # ----------------------------------------------------------------------------------------------------
    @property
    def display(self) -> str:
        return self.label or self.name

    @property
    def derived(self) -> bool:
        """Whether cpeval computes this outcome's column (rather than reading it as it is)."""
        return bool(self.take_log) or self.per is not None or any(getattr(self, k) is not None for k in BUILDERS)

    @property
    def counts_scale(self) -> bool:
        """Whether the outcome is a count, a rate or a harm index (a weighted count): non-negative quantities a
        count model such as Poisson can fit. Logs, levels and proportions are not."""
        return self.measure in ("count", "rate") or (self.seriousness is not None and self.measure == "level")

    @property
    def from_respondents(self) -> bool:
        """Whether the outcome is built from respondent rows (a fear item or survey victimisation)."""
        return self.fear is not None or (self.victimisation is not None and self.victimisation.column is not None)

    @property
    def column(self) -> str:
        """The column estimators read: the data column, or the column :func:`cpeval.outcomes.derive` adds."""
        if not self.derived:
            assert self.source_column is not None
            return self.source_column
        return DERIVED_PREFIX + re.sub(r"\W", "_", self.name)

    @property
    def allows_missing(self) -> bool:
        """Rows without a value are structural, not a data problem (survey waves, dropped zeros, no victims)."""
        concentration = self.victimisation is not None and self.victimisation.measure == "concentration"
        return self.from_respondents or self.zeros == "drop" or concentration

    @property
    def auxiliary_columns(self) -> dict[str, str]:
        """Extra derived columns kept with the panel: harm components, survey weight totals and sizes."""
        if not self.derived:
            return {}
        cols: dict[str, str] = {}
        if self.seriousness is not None and self.measure != "log":  # components of a log do not add up
            for offence in self.seriousness.columns:
                cols[f"{self.column}__harm__{offence}"] = f"outcomes[{self.name}].seriousness.columns.{offence}"
        if self.from_respondents:
            cols[f"{self.column}__wsum"] = f"outcomes[{self.name}] survey weight total"
            cols[f"{self.column}__wy"] = f"outcomes[{self.name}] survey weighted total"
            cols[f"{self.column}__n"] = f"outcomes[{self.name}] respondents"
        return cols


def normalise_label(value: Any) -> str:
    """Labels compare case-insensitively with surrounding and repeated spaces ignored."""
    return " ".join(str(value).strip().lower().split())
