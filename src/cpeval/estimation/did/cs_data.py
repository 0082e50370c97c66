"""Arrange a validated panel for Callaway & Sant'Anna: sampling units, cohorts, periods, weights, clusters.

Three layouts, as in R ``did``:

- a balanced panel: a units x periods outcome matrix, so each (g, t) cell is one vectorised difference;
- an unbalanced panel (``estimator.unbalanced: keep``): rows are observations, the repeated-cross-section
  estimators are used, and influence functions are summed within a unit (R's ``allow_unbalanced_panel``);
  with ``unbalanced: balance`` (the default, as in R) units not seen in every period are dropped instead;
- repeated cross-sections (``estimator.panel: false``): every row is its own sampling unit (a survey
  respondent), so ``data.unit`` is a respondent id that never repeats across waves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from cpeval.data.panel import COHORT
from cpeval.errors import EstimationError
from cpeval.estimation.demean import codes_of
from cpeval.estimation.inference import code_labels

if TYPE_CHECKING:
    from cpeval.data.panel import Panel
    from cpeval.designs.did import DidDesign


@dataclass
class CsData:
    layout: str  # "balanced panel" | "unbalanced panel" | "repeated cross-sections"
    periods: np.ndarray  # (T,) period labels as numbers (dates become 0..T-1)
    period_labels: list  # (T,) the original labels, for reporting
    n: int  # sampling units
    n_obs: int
    unit_group: np.ndarray  # (n,) cohort in period units (0 = never treated / comparison only)
    unit_weight: np.ndarray  # (n,)
    cluster: np.ndarray | None  # (n,) cluster codes, None = the sampling unit
    n_clusters: int
    # labels of the rows of cluster-summed influence functions (cluster labels, or unit labels without
    # clustering; None for unclustered repeated cross-sections), to line influence up across outcomes
    sample_labels: np.ndarray | None = None
    # balanced panel
    Y: np.ndarray | None = None  # (n, T)
    X: np.ndarray | None = None  # (n, T, k) covariates (no intercept)
    # observation rows (unbalanced panel, repeated cross-sections)
    y: np.ndarray | None = None
    tcode: np.ndarray | None = None
    ids: np.ndarray | None = None
    row_group: np.ndarray | None = None
    row_weight: np.ndarray | None = None
    Xrow: np.ndarray | None = None  # (m, k)
    notes: list[str] = field(default_factory=list)

    def label(self, value: float) -> object:
        """The original label of a period (or cohort) given in the numeric period scale."""
        return _label(value, self.periods, self.period_labels)


def _period_codes(times: pd.Series) -> tuple[np.ndarray, np.ndarray, bool]:
    """Codes of the periods (0..T-1 in time order), the sorted distinct values and whether they are dates."""
    codes, labels_raw = codes_of(times.to_numpy(), labels=True)
    return codes, labels_raw, pd.api.types.is_datetime64_any_dtype(times)


def _period_scale(labels_raw: np.ndarray, is_date: bool, panel: Panel) -> tuple[np.ndarray, list]:
    """The numeric period scale (dates become 0..T-1) and the labels to report."""
    numeric = np.arange(len(labels_raw), dtype=float) if is_date else labels_raw.astype(float)
    labels = [str(v)[:10] if is_date else v.item() for v in labels_raw]
    if panel.periods is not None:  # dates mapped to integer periods by the data layer: report the dates
        labels = [panel.period_label(v) for v in labels]
    return numeric, labels


def _cohort_numbers(cohort: pd.Series, labels_raw: np.ndarray, is_date: bool) -> np.ndarray:
    """Cohorts in the numeric period scale; NaN (never treated) becomes 0."""
    if is_date or pd.api.types.is_datetime64_any_dtype(cohort):
        vals = pd.to_datetime(cohort).to_numpy()
        out = np.searchsorted(labels_raw, vals).astype(float)
        return np.where(pd.isna(vals), 0.0, out)
    return np.nan_to_num(cohort.to_numpy(dtype=float), nan=0.0)


def _cohort_rules(g: np.ndarray, periods: np.ndarray, labels: list, est: Any) -> tuple[np.ndarray, np.ndarray | None,
                                                                                      np.ndarray | None, list[str]]:
    """R did's rules for cohorts, applied to the cohort of every row (or unit): returns the cohorts (late
    ones and, without never-treated units, the last one made comparison units), which of them to drop (None:
    none), which periods to keep (None: all) and the notes saying so."""
    notes: list[str] = []
    delta = est.anticipation
    # cohorts first treated after the last period are comparison units, as in R did
    late = g > periods[-1]
    if late.any():
        g = np.where(late, 0.0, g)
        notes.append("units first treated after the last period are used as never-treated comparison units")
    # no never-treated units and not-yet-treated comparisons: the last cohort serves as comparison group,
    # and periods from its treatment (less anticipation) on are dropped (R did's rule)
    keep_period = None
    if est.control_group == "not_yet_treated" and not (g == 0).any():
        gmax = g.max()
        keep_period = periods < gmax - delta
        g = np.where(g == gmax, 0.0, g)
        notes.append(
            f"no never-treated units: the last cohort ({_label(gmax, periods, labels)}) is the comparison "
            "group, and periods from its adoption on are dropped"
        )
    # cohorts without a pre-treatment (base) period cannot be estimated
    no_base = (g > 0) & ~(g - delta > periods[0])
    drop = None
    if no_base.any():
        gs = sorted({_label(v, periods, labels) for v in np.unique(g[no_base])})
        drop = no_base
        notes.append(f"cohorts {gs} have no period before treatment (less anticipation) and are dropped")
    return g, drop, keep_period, notes


def _too_few_periods(T: int, notes: list[str]) -> EstimationError:
    return EstimationError(
        f"Callaway & Sant'Anna needs at least two periods, {T} remain"
        + (f" ({'; '.join(notes)})" if notes else "") + ": lower "
        "estimator.anticipation, add never-treated units or add data from more periods"
    )


def _grid(units: np.ndarray, times: np.ndarray) -> tuple[int, int] | None:
    """(units, periods) when the rows are a balanced panel sorted by unit and then period (as the data layer
    leaves them): every unit has one row per period, in the same period order. None otherwise."""
    N = len(units)
    if N == 0:
        return None
    other = np.flatnonzero(units != units[0])
    T = int(other[0]) if len(other) else N
    if N % T:
        return None
    n = N // T
    U, tm = units.reshape(n, T), times.reshape(n, T)
    try:
        ordered = bool(np.all(U[1:, 0] > U[:-1, 0])) and bool(np.all(tm[0, 1:] > tm[0, :-1]))
    except TypeError:  # labels of types that do not compare
        return None
    if not ordered or not (U[:, :1] == U).all() or not (tm[:1] == tm).all():
        return None
    return n, T


def _unit_constant(values: np.ndarray, n: int, T: int) -> bool:
    m = values.reshape(n, T)
    return bool((m[:, :1] == m).all())


def prepare(panel: Panel, column: str, design: DidDesign) -> CsData:
    est = design.estimator
    frame = panel.outcome_rows(column)
    unit, time = panel.unit, panel.time
    assert time is not None
    if est.panel:
        units_raw, times_raw = frame[unit].to_numpy(), frame[time].to_numpy()
        grid = _grid(units_raw, times_raw)
        if grid is not None:
            return _prepare_grid(panel, frame, column, design, grid)
    tcode, labels_raw, is_date = _period_codes(frame[time])
    periods, labels = _period_scale(labels_raw, is_date, panel)
    g_row = _cohort_numbers(frame[COHORT], labels_raw, is_date)
    y_all = frame[column].to_numpy(dtype=float)
    w_all = frame[design.data.weights].to_numpy(dtype=float) if design.data.weights else np.ones(len(frame))
    x_all = frame[est.covariates].to_numpy(dtype=float) if est.covariates else np.zeros((len(frame), 0))
    cl_all = cl_raw = None
    if est.cluster and est.cluster != unit:
        cl_raw = frame[est.cluster].to_numpy()
        cl_all = _codes(cl_raw)[0]
    g_row, drop, keep_period, notes = _cohort_rules(g_row, periods, labels, est)
    keep = np.ones(len(frame), bool)
    if keep_period is not None:
        keep &= keep_period[tcode]
    if drop is not None:
        keep &= ~drop

    if not keep.all():
        frame_keep = np.flatnonzero(keep)
        tcode, g_row, y_all, w_all, x_all = (a[frame_keep] for a in (tcode, g_row, y_all, w_all, x_all))
        if cl_all is not None and cl_raw is not None:
            cl_all, cl_raw = cl_all[frame_keep], cl_raw[frame_keep]
        units_raw = frame[unit].to_numpy()[frame_keep]
        used_t = np.unique(tcode)
        periods, labels = periods[used_t], [labels[i] for i in used_t]
        tcode = np.searchsorted(used_t, tcode)
    else:
        units_raw = frame[unit].to_numpy()
    T = len(periods)
    if T < 2:
        raise _too_few_periods(T, notes)

    if not est.panel:  # repeated cross-sections: every row is its own sampling unit
        m = len(y_all)
        cluster, n_cl = _clusters(cl_all, m)
        return CsData(
            layout="repeated cross-sections", periods=periods, period_labels=labels, n=m, n_obs=m,
            unit_group=g_row, unit_weight=w_all, cluster=cluster, n_clusters=n_cl,
            sample_labels=None if cluster is None else code_labels(cluster, cl_raw), y=y_all, tcode=tcode,
            ids=np.arange(m), row_group=g_row, row_weight=w_all, Xrow=x_all, notes=notes,
        )

    ids, unit_labels = _codes(units_raw)
    unit_labels = np.asarray(unit_labels)
    n = int(ids.max()) + 1
    first = np.full(n, -1)
    first[ids[::-1]] = np.arange(len(ids))[::-1]  # first row of each unit
    w_unit = w_all[first]
    if design.data.weights and not np.allclose(w_all, w_unit[ids]):
        notes.append(_weights_note(design))
    cluster = None
    n_cl = n
    cl_raw_unit = None
    if cl_all is not None and cl_raw is not None:
        cl_unit, cl_raw_unit = cl_all[first], cl_raw[first]
        if not np.array_equal(cl_all, cl_unit[ids]):
            raise _cluster_varies(est.cluster)
        cluster, n_cl = _clusters(cl_unit, n)
    counts = np.bincount(ids, minlength=n)
    if (counts < T).any():
        if est.unbalanced == "keep":
            notes.append(
                f"unbalanced panel: {int((counts < T).sum())} of {n} units miss some periods; kept, using the "
                "repeated-cross-section estimators with influence functions summed by unit"
            )
            return CsData(
                layout="unbalanced panel", periods=periods, period_labels=labels, n=n, n_obs=len(ids),
                unit_group=g_row[first], unit_weight=w_unit, cluster=cluster, n_clusters=n_cl,
                sample_labels=unit_labels if cluster is None else code_labels(cluster, cl_raw_unit), y=y_all,
                tcode=tcode, ids=ids, row_group=g_row, row_weight=w_all, Xrow=x_all, notes=notes,
            )
        full = counts == T
        notes.append(
            f"unbalanced panel: dropped {int((~full).sum())} of {n} units not observed in every period "
            "(set estimator.unbalanced: keep to use them)"
        )
        if not full.any():
            raise EstimationError("no unit is observed in every period; set estimator.unbalanced: keep")
        rows = full[ids]
        new_id = np.cumsum(full) - 1
        ids, tcode, y_all, x_all, g_row = new_id[ids[rows]], tcode[rows], y_all[rows], x_all[rows], g_row[rows]
        if cluster is not None and cl_raw_unit is not None:
            cluster, n_cl = _clusters(cluster[full], int(full.sum()))
            cl_raw_unit = cl_raw_unit[full]
        unit_labels = unit_labels[full]
        w_unit = w_unit[full]
        n = int(full.sum())
        first = np.full(n, -1)
        first[ids[::-1]] = np.arange(len(ids))[::-1]
    Y = np.empty((n, T))
    Y[ids, tcode] = y_all
    X = None
    if x_all.shape[1]:
        X = np.empty((n, T, x_all.shape[1]))
        X[ids, tcode] = x_all
    return CsData(
        layout="balanced panel", periods=periods, period_labels=labels, n=n, n_obs=len(ids),
        unit_group=g_row[first], unit_weight=w_unit, cluster=cluster, n_clusters=n_cl,
        sample_labels=unit_labels if cluster is None else code_labels(cluster, cl_raw_unit), Y=Y, X=X,
        notes=notes,
    )


def _prepare_grid(panel: Panel, frame: pd.DataFrame, column: str, design: DidDesign,
                  grid: tuple[int, int]) -> CsData:
    """``prepare`` for a balanced panel sorted by unit and period: the outcome column is the units x periods
    matrix already (a view, no copy), and everything per unit is read from each unit's first row."""
    est = design.estimator
    n, T = grid
    unit, time = panel.unit, panel.time
    first = np.arange(n) * T
    labels_raw = frame[time].to_numpy()[:T]
    is_date = pd.api.types.is_datetime64_any_dtype(frame[time])
    periods, labels = _period_scale(labels_raw, is_date, panel)
    g = _cohort_numbers(frame[COHORT].iloc[first], labels_raw, is_date)
    g, drop, keep_period, notes = _cohort_rules(g, periods, labels, est)
    units = np.ones(n, bool) if drop is None else ~drop
    cols = np.ones(T, bool) if keep_period is None else keep_period
    if not units.any():
        raise _too_few_periods(0, notes)
    T_kept = int(cols.sum())
    if T_kept < 2:
        raise _too_few_periods(T_kept, notes)

    def matrix(name: str) -> np.ndarray:
        m = frame[name].to_numpy(dtype=float).reshape(n, T)
        return m if units.all() and cols.all() else m[np.ix_(units, cols)]

    Y = matrix(column)
    w = matrix(design.data.weights) if design.data.weights else np.ones((int(units.sum()), 1))
    if design.data.weights and not np.allclose(w, w[:, :1]):
        notes.append(_weights_note(design))
    X = np.stack([matrix(c) for c in est.covariates], axis=2) if est.covariates else None
    kept = np.flatnonzero(units)
    unit_labels = frame[unit].to_numpy()[first[kept]]
    cluster, n_cl, sample_labels = None, len(kept), unit_labels
    if est.cluster and est.cluster != unit:
        cl_raw = frame[est.cluster].to_numpy().reshape(n, T)[np.ix_(units, cols)]
        if not _unit_constant(cl_raw, len(kept), T_kept):
            raise _cluster_varies(est.cluster)
        cl_unit = _codes(cl_raw[:, 0])[0]
        cluster, n_cl = _clusters(cl_unit, len(kept))
        sample_labels = code_labels(cluster, cl_raw[:, 0])
    return CsData(
        layout="balanced panel", periods=periods[cols],
        period_labels=[lb for lb, c in zip(labels, cols, strict=True) if c], n=len(kept),
        n_obs=len(kept) * T_kept, unit_group=g[kept], unit_weight=np.ascontiguousarray(w[:, 0]),
        cluster=cluster, n_clusters=n_cl, sample_labels=sample_labels, Y=Y, X=X, notes=notes,
    )


def _weights_note(design: DidDesign) -> str:
    return (f"weights {design.data.weights!r} vary within units; each unit is weighted by its value in its "
            "first period (R did requires time-invariant weights)")


def _cluster_varies(cluster: str | None) -> EstimationError:
    return EstimationError(
        f"estimator.cluster {cluster!r} varies within units; in a panel each unit must belong to "
        "one cluster (choose a coarser cluster such as a region)"
    )


def _codes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes of unit or cluster labels in the sorted order of the labels, so that the row order of the
    data does not decide which bootstrap multiplier a unit or cluster gets (labels of types that do not
    sort together keep the order of their first appearance)."""
    try:
        return pd.factorize(values, sort=True)
    except TypeError:
        return pd.factorize(values)


def _clusters(codes: np.ndarray | None, n: int) -> tuple[np.ndarray | None, int]:
    if codes is None:
        return None, n
    uniq, inv = np.unique(codes, return_inverse=True)
    return inv, len(uniq)


def _label(g: float, periods: np.ndarray, labels: list) -> object:
    hit = np.flatnonzero(periods == g)
    return labels[hit[0]] if len(hit) else number(g)


def number(x: float) -> float | int:
    """``x`` as an int when it is whole, else as a float (plain Python numbers for tables and JSON)."""
    return int(x) if float(x).is_integer() else float(x)
