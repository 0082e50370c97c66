"""From a validated panel to the matrices a synthetic control needs (vectorised: one pivot per column)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from cpeval.errors import EstimationError
from cpeval.results import jsonable

if TYPE_CHECKING:
    from cpeval.data.panel import Panel
    from cpeval.designs.synth import Predictor, SynthDesign


@dataclass(frozen=True)
class SynthData:
    """Outcome and predictors of every unit in wide form. Columns index ``units``."""

    outcome: str
    times: np.ndarray  # (T,)
    units: tuple[Any, ...]  # (N,) original ids
    y: np.ndarray  # (T, N) outcome
    treated: tuple[int, ...]  # indices of treated units
    donors: tuple[int, ...]  # indices of donor units
    n_pre: int  # periods before treatment.start
    fit_mask: np.ndarray  # (T,) bool: periods whose outcome fit chooses V
    x: np.ndarray  # (k, N) predictors (raw scale)
    labels: tuple[str, ...]  # (k,) predictor labels
    outcome_only: bool  # no predictors declared: the fit-window outcomes are the predictors

    @property
    def names(self) -> list[str]:
        return [str(u) for u in self.units]

    def with_start(self, n_pre: int, fit_mask: np.ndarray, x: np.ndarray, labels: tuple[str, ...]) -> SynthData:
        return SynthData(
            self.outcome, self.times, self.units, self.y, self.treated, self.donors, n_pre, fit_mask, x, labels,
            self.outcome_only,
        )


def _period_mask(times: np.ndarray, p: Predictor, before: Any) -> np.ndarray:
    key = f"estimator.predictors ({p.label!r})"
    if p.at is not None:
        mask = times == _cast(p.at, times, key)
    elif p.periods is not None:
        mask = np.isin(times, [_cast(t, times, key) for t in p.periods])
    elif p.from_ is not None:
        mask = (times >= _cast(p.from_, times, key)) & (times <= _cast(p.to, times, key))
    else:
        mask = times < before
    return mask


def _cast(value: Any, times: np.ndarray, key: str) -> Any:
    """A period named in the design at ``key``, in the type of the data's period column."""
    dates = np.issubdtype(times.dtype, np.datetime64)
    try:
        if dates:
            return np.datetime64(pd.Timestamp(value))
        if isinstance(value, str) and np.issubdtype(times.dtype, np.number):
            return float(value) if "." in value else int(value)
    except ValueError:
        kind = "a date" if dates else "a number"
        raise EstimationError(
            f"{key}: period {value!r} is not {kind}, but the data's period column holds {kind[2:]}s (first "
            f"period {jsonable(times[0])!r}); write the period as the data do"
        ) from None
    return value


def predictor_matrix(
    wide: dict[str, np.ndarray], times: np.ndarray, predictors: list[Predictor], before: Any, names: list[str]
) -> np.ndarray:
    """(k, N) matrix of predictor values: the mean of each column over its periods, missing values skipped."""
    rows = []
    for p in predictors:
        mask = _period_mask(times, p, before)
        if not mask.any():
            raise EstimationError(
                f"estimator.predictors: {p.label!r} selects no period present in the data; check its "
                "'from'/'to', 'periods' or 'at'"
            )
        block = wide[p.column][mask]
        with np.errstate(all="ignore"):
            count = np.sum(~np.isnan(block), axis=0)
            value = np.nansum(block, axis=0) / np.where(count > 0, count, 1)
        if (count == 0).any():
            bad = [names[i] for i in np.flatnonzero(count == 0)[:5]]
            raise EstimationError(
                f"estimator.predictors: {p.label!r} has no observed value of column {p.column!r} in its "
                f"periods for units {bad}; choose periods where the column is observed"
            )
        rows.append(value)
    return np.vstack(rows) if rows else np.empty((0, len(names)))


def prepare(panel: Panel, design: SynthDesign, outcome_column: str) -> SynthData:
    """Pivot the panel to wide matrices for one outcome."""
    frame = panel.frame
    unit, time = panel.unit, panel.time
    assert time is not None
    est = design.estimator
    columns = list(dict.fromkeys([outcome_column, *(p.column for p in est.predictors)]))
    wide_df = frame.pivot(index=time, columns=unit, values=columns).sort_index()
    times = wide_df.index.to_numpy()
    units = tuple(wide_df[outcome_column].columns)
    names = [str(u) for u in units]
    wide = {c: wide_df[c].to_numpy(dtype=float) for c in columns}
    y = wide[outcome_column]
    if np.isnan(y).any():
        raise EstimationError(
            f"outcome {outcome_column!r} is missing for some unit-periods; a synthetic control needs every unit "
            "observed in every period (fill or drop those units)"
        )
    lookup = {n: i for i, n in enumerate(names)}
    treated = tuple(lookup[str(u)] for u in design.treatment.units)
    if est.donors is None:
        donors = tuple(i for i in range(len(units)) if i not in treated)
    else:
        donors = tuple(lookup[str(d)] for d in est.donors if str(d) in lookup and lookup[str(d)] not in treated)
    start = _cast(design.treatment.start, times, "treatment.start")
    n_pre = int((times < start).sum())
    if est.fit_window is not None:
        fw = est.fit_window
        lo, hi = (_cast(t, times, "estimator.fit_window") for t in (fw.from_, fw.to))
        fit_mask = (times >= lo) & (times <= hi) & (times < start)
    else:
        fit_mask = times < start
    if fit_mask.sum() < 1:
        raise EstimationError(
            f"estimator.fit_window selects no period before treatment.start {jsonable(design.treatment.start)!r} "
            f"(the data's periods run from {jsonable(times[0])!r} to {jsonable(times[-1])!r}); widen it"
        )
    if est.predictors:
        x = predictor_matrix(wide, times, est.predictors, start, names)
        labels = tuple(p.label for p in est.predictors)
        outcome_only = False
    else:
        x = y[fit_mask]
        labels = tuple(f"{outcome_column}({t})" for t in times[fit_mask])
        outcome_only = True
    return SynthData(outcome_column, times, units, y, treated, donors, n_pre, fit_mask, x, labels, outcome_only)


def shifted(data: SynthData, panel: Panel, design: SynthDesign, fake_start: Any) -> SynthData:
    """The same data with a fake (earlier) treatment start: predictor windows and the fit window are cut
    to the periods before ``fake_start``; predictors left with no period are dropped."""
    times = data.times
    start = _cast(fake_start, times, "checks.placebo_time.start")
    n_pre = int((times < start).sum())
    fit_mask = data.fit_mask & (times < start)
    if not fit_mask.any():
        fit_mask = times < start
    est = design.estimator
    if data.outcome_only:
        labels = tuple(f"{data.outcome}({t})" for t in times[fit_mask])
        return data.with_start(n_pre, fit_mask, data.y[fit_mask], labels)
    columns = list(dict.fromkeys(p.column for p in est.predictors))
    wide_df = panel.frame.pivot(index=panel.time, columns=panel.unit, values=columns).sort_index()
    wide = {c: wide_df[c].to_numpy(dtype=float) for c in columns}
    rows, kept = [], []
    for p in est.predictors:
        mask = _period_mask(times, p, start) & (times < start)
        block = wide[p.column][mask]
        if not mask.any() or np.isnan(block).all(axis=0).any():
            continue
        rows.append(np.nanmean(block, axis=0))
        kept.append(p.label)
    if not rows:
        raise EstimationError(
            f"checks.placebo_time.start {jsonable(fake_start)!r}: no predictor has data before it (predictor "
            "windows are cut at the placebo start); choose a later start"
        )
    return data.with_start(n_pre, fit_mask, np.vstack(rows), tuple(kept))
