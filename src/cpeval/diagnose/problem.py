"""Everything a simulation needs, prepared once: the simulated design's variants, their DGPs and true effects.

A :class:`Problem` is sent once to each worker (a process initializer, or a dask ``scatter``); tasks then
carry only (variant, first simulation, seeds).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cpeval.diagnose.scenario import Variant


@dataclass(frozen=True)
class Problem:
    name: str
    kind: str
    method: str
    level: float
    power: float
    simulations: int
    seed: int
    design_hash: str
    data_hash: str
    checks: tuple[str, ...]
    variants: tuple[Variant, ...]
    origin: str | None = None

    def task_key(self, variant: int, first: int, count: int) -> str:
        """Cache key of one task: design, data, variant and the seeds of its simulations."""
        import hashlib

        v = self.variants[variant]
        payload = f"{self.design_hash}|{self.data_hash}|{sorted(v.change.items())}|{self.seed}|{first}|{count}"
        return hashlib.sha256(payload.encode()).hexdigest()[:32]


def prepare(design_or_path: Any, data: Any = None, *, simulations: int | None = None,
            vary: list[str] | dict[str, list[int]] | None = None, effect: dict[str, Any] | None = None) -> Problem:
    from cpeval.data import load_panel
    from cpeval.designs import design_from_dict
    from cpeval.designs.load import design_hash
    from cpeval.diagnose import dgp as dgps
    from cpeval.diagnose.scenario import base_frame, fit_dgps, plan_outcomes, sim_design_dict
    from cpeval.diagnose.variants import apply_variant, label, parse_vary
    from cpeval.errors import DesignError
    from cpeval.pipeline import check, resolve_design

    design = resolve_design(design_or_path)
    if effect is not None or design.diagnose is None:  # command-line overrides go through validation too
        raw = design.model_dump(mode="json", by_alias=True)
        section = raw.get("diagnose") or {}
        if effect is not None:
            section["effect"] = {**section.get("effect", {}), **effect}
        raw["diagnose"] = section
        origin = design.origin
        design = design_from_dict(raw, source=str(origin or "<design>"))
        design._origin = origin
    spec = design.diagnose
    sims = spec.simulations if simulations is None else simulations
    if isinstance(sims, bool) or not isinstance(sims, int) or sims < 1:
        raise DesignError(f"diagnose: simulations must be a whole number of at least 1, got {sims!r}")
    panel = check(design, data)  # the headline estimates' panel (buffer areas left out when the design says so)
    frequency = panel.periods.frequency if panel.periods is not None else design.data.frequency
    columns = {o.name: o.column for o in design.outcomes}
    raw = sim_design_dict(design, columns)
    sim = design_from_dict(raw, source=f"{design.origin or '<design>'} (diagnosis)")
    frame = base_frame(panel)
    base = load_panel(sim, frame)
    cells = dgps.cells_of(base, frequency) if base.time is not None else None
    fitted = fit_dgps(design, sim, base, cells)
    changes = parse_vary(vary) or parse_vary(spec.vary) or [{}]
    if {} not in changes:
        changes = [{}, *changes]
    variants = []
    for change in changes:
        vraw, vframe = apply_variant(sim, raw, frame, base, change) if change else (raw, frame)
        vsim = design_from_dict(vraw, source=f"{design.origin or '<design>'} (diagnosis, {label(change)})")
        vpanel = load_panel(vsim, vframe) if change else base
        vcells = dgps.cells_of(vpanel, frequency, grid=cells) if cells is not None else None
        variants.append(Variant(
            label=label(change), change=change, panel=vpanel, cells=vcells,
            outcomes=plan_outcomes(design, vsim, vpanel, vcells, fitted), n_units=vpanel.n_units,
            n_treated=_n_treated(vpanel, vsim), n_pre=_n_pre(vcells),
        ))
    _preload(sim)
    return Problem(
        name=design.name, kind=sim.kind, method=sim.estimator.method, level=design.inference.level,  # type: ignore[attr-defined]
        power=spec.power, simulations=sims, seed=design.inference.seed, design_hash=design_hash(design),
        data_hash=panel.sha256, checks=_check_names(sim), variants=tuple(variants), origin=design.origin,
    )


def _preload(design: Any) -> None:
    """Import the estimator and the checks here, so that forked workers inherit them instead of each importing
    them again."""
    from cpeval.checks import CHECKS
    from cpeval.estimation.registry import estimator_for

    estimator_for(design)
    for name in _check_names(design):
        CHECKS[(design.kind, name)]()


def _check_names(design: Any) -> tuple[str, ...]:
    checks = design.checks
    requested = getattr(checks, "requested", None)
    return tuple(requested) if requested is not None else tuple(checks)


def _n_treated(panel: Any, design: Any) -> int:
    from cpeval.data.panel import TREATED

    frame = panel.frame
    treated = frame[TREATED].to_numpy() == 1
    if design.kind == "rct" and design.treatment.cluster:
        return int(frame.loc[treated, design.treatment.cluster].nunique())
    return int(frame.loc[treated, panel.unit].nunique())


def _n_pre(cells: Any) -> int | None:
    if cells is None or not cells.treated.any():
        return None
    import numpy as np

    return len(np.unique(cells.period[cells.period < cells.period[cells.treated].min()]))
