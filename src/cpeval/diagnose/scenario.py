"""What a diagnosis simulates: the design rebuilt on synthetic columns, its variants, and each outcome's DGP
and true effect.

Every simulated design is built with :func:`cpeval.designs.design_from_dict` from the design's own dump, so it
goes through the same validation as a design file: outcomes become plain columns (derived outcomes are
derived once, from the real data, before the DGP is fitted), the sections a diagnosis does not simulate
(cost-benefit, consequences) are left out, and every ``n_jobs`` is 1 (the diagnosis parallelises over
simulations instead).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from cpeval.diagnose import dgp as dgps
from cpeval.errors import DesignError


@dataclass(frozen=True)
class OutcomePlan:
    name: str
    column: str
    dgp: Any  # CountDgp | LevelDgp | TrialDgp
    effect: float  # count multiplier (CountDgp) or additive shift (LevelDgp, TrialDgp)
    truth: float  # the true effect on the scale the estimator reports
    declared: str  # the effect as declared ("-10%", "0")
    scale: str  # "log" or "level"

    def draw(self, rng: np.random.Generator, cells: Any, z: np.ndarray | None, cluster: np.ndarray | None):
        if isinstance(self.dgp, dgps.TrialDgp):
            return self.dgp.draw(rng, cluster, z, self.effect)
        return self.dgp.draw(rng, cells, self.effect)


@dataclass(frozen=True)
class Variant:
    label: str
    change: dict[str, int]
    panel: Any  # the validated Panel of the simulated design (columns as the data gave them)
    cells: Any  # dgps.Cells in the coordinates of the fitted DGP; None for trials
    outcomes: tuple[OutcomePlan, ...]
    n_units: int
    n_treated: int  # treated units (did, synthetic control) or units assigned (trials: clusters if clustered)
    n_pre: int | None


def sim_design_dict(design: Any, columns: dict[str, str]) -> dict[str, Any]:
    """The design as a dict whose outcomes are the plain columns ``columns`` (outcome name -> column)."""
    raw = design.model_dump(mode="json", by_alias=True)
    outcomes = []
    for o in design.outcomes:
        measure = {"rate": "level"}.get(o.measure, o.measure)
        spec = {"name": o.name, "column": columns[o.name], "family": o.family, "measure": measure,
                "better_if": o.better_if, "label": o.label}
        if measure == "log":
            spec["take_log"] = False
        outcomes.append(spec)
    raw["outcomes"] = outcomes
    data = raw["data"]
    if data.get("path") is None and data.get("dataset") is None:
        data["dataset"] = "diagnose.synthetic"
    for key in ("source", "aggregate", "frequency"):
        data[key] = None
    for key in ("cost_benefit", "consequences", "diagnose"):
        raw[key] = None
    one_process(raw)
    return raw


def one_process(node: Any) -> None:
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "n_jobs":
                node[k] = 1
            else:
                one_process(v)
    elif isinstance(node, list):
        for v in node:
            one_process(v)


def base_frame(panel: Any) -> Any:
    """The panel's rows sorted by unit and period (so that nothing depends on the data's row order), with the
    columns of the simulated design (cpeval's own columns dropped)."""
    from cpeval.data.panel import COHORT, TREATED

    keys = [panel.unit] + ([panel.time] if panel.time is not None else [])
    frame = panel.frame.sort_values(keys, kind="mergesort")
    return frame.drop(columns=[c for c in (TREATED, COHORT) if c in frame]).reset_index(drop=True)


def effect_for(design: Any, outcome: Any, spec: Any, cells: Any, dgp: Any, scale: str) -> tuple[float, float, str]:
    """(effect applied by the DGP, true effect on the estimator's scale, the declaration as text)."""
    from cpeval.designs.diagnose import parse_effect

    declared = (spec.effect.get(outcome.name, 0.0) if spec is not None else 0.0)
    value, percent = parse_effect(declared, f"diagnose.effect.{outcome.name}")
    base = dgp.baseline(cells)
    if isinstance(dgp, dgps.CountDgp):
        if percent:
            mult = 1.0 + value
            truth = math.log(mult) if scale == "log" else base * value
        elif scale == "log":
            mult, truth = math.exp(value), value
        else:
            mult, truth = 1.0 + value / base, value
            if mult <= 0:
                raise DesignError(f"diagnose.effect.{outcome.name}: a change of {value:g} per unit-period is more "
                                  f"than the treated units' expected count ({base:.3g}); give a smaller fall")
        return mult, truth, str(declared)
    if percent:
        shift = math.log1p(value) if outcome.measure == "log" else base * value
        return shift, shift, str(declared)
    return value, value, str(declared)


def plan_outcomes(design: Any, sim: Any, panel: Any, cells: Any, fitted: dict[str, Any]) -> tuple[OutcomePlan, ...]:
    from cpeval.estimation.registry import effect_scale

    spec = design.diagnose
    plans = []
    for o, so in zip(design.outcomes, sim.outcomes, strict=True):
        scale = "log" if (effect_scale(sim.kind, sim.estimator.method) == "log" or so.measure == "log") else "level"
        dgp = fitted[o.name]
        effect, truth, declared = effect_for(design, o, spec, cells, dgp, scale)
        plans.append(OutcomePlan(o.name, so.column, dgp, effect, truth, declared, scale))
    return tuple(plans)


def fit_dgps(design: Any, sim: Any, panel: Any, cells: Any) -> dict[str, Any]:
    """Each outcome's DGP, fitted to the simulated design's panel of the real data."""
    spec = design.diagnose
    out = {}
    poisson = getattr(sim.estimator, "method", None) == "poisson"
    for o, so in zip(design.outcomes, sim.outcomes, strict=True):
        ospec = spec.dgp.get(o.name) if spec is not None else None
        family = getattr(ospec, "family", "auto")
        if sim.kind == "rct":
            out[o.name] = dgps.fit_trial(panel, sim, so, ospec)
            continue
        y = panel.frame[so.column].to_numpy(float)
        count = family in ("negative_binomial", "poisson") or (family == "auto" and (o.measure == "count" or poisson))
        if count:
            if np.nanmin(y) < 0:
                raise DesignError(f"diagnose.dgp.{o.name}: a count model needs counts of 0 or more, but "
                                  f"{so.column!r} has negative values; set family: normal")
            exposure = None
            if poisson and getattr(sim.estimator, "exposure", None) == "population" and sim.data.population:
                exposure = panel.frame[sim.data.population].to_numpy(float)
            out[o.name] = dgps.fit_count(y, cells, ospec, exposure=exposure)
        else:
            out[o.name] = dgps.fit_level(y, cells, ospec, survey=o.from_respondents)
    return out
