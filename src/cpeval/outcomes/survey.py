"""Survey measures: fear-of-crime items and indices, victimisation, weighted proportions and their SEs.

Survey answers arrive as text labels or numeric codes; both are mapped to positions on the declared scale
(1 = least fearful). Unknown answers are errors that list every label seen. Weighted proportions come with
design-based (linearisation) standard errors clustered by area, as Stata's ``svy: mean`` with the area as
the primary sampling unit (single stratum, with-replacement approximation) gives.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from cpeval.designs.outcomes import normalise_label

if TYPE_CHECKING:
    import pandas as pd

    from cpeval.designs.outcomes import FearSpec


class ConstantItemError(ValueError):
    """Item ``index`` (0-based) of a standardised index has one value in the reference rows."""

    def __init__(self, index: int):
        self.index = index
        super().__init__(f"item {index + 1} of the index has no variation in the reference rows")


class LabelError(ValueError):
    """Answers that are neither scale labels, codes nor declared missing values."""

    def __init__(self, column: str, unknown: list[Any], seen: list[Any], scale: list[str]):
        self.column, self.unknown, self.seen = column, unknown, seen
        super().__init__(
            f"{len(unknown)} answer value(s) are not on the declared scale: {_show(unknown)}. Labels seen in the "
            f"data: {_show(seen)}; the scale is {scale}. Add them to fear.scale, fear.codes or fear.missing"
        )


def _show(values: list[Any], limit: int = 12) -> str:
    shown = ", ".join(repr(v) for v in values[:limit])
    return shown + (f", ... ({len(values)} in all)" if len(values) > limit else "")


def code_item(series: pd.Series, spec: FearSpec, column: str) -> np.ndarray:
    """Scale position (1..k, float; NaN = missing) of each answer, from text labels or numeric codes."""
    import pandas as pd

    scale = [normalise_label(s) for s in spec.scale]
    lookup: dict[str, float] = {lab: float(i + 1) for i, lab in enumerate(scale)}
    codes = spec.codes if spec.codes is not None else list(range(1, len(scale) + 1))
    for i, c in enumerate(codes):
        lookup.setdefault(normalise_label(_num_text(c)), float(i + 1))
    missing = {normalise_label(_num_text(m)) for m in spec.missing}
    raw = series.astype(object)
    observed = raw[pd.notna(raw)]
    distinct = pd.unique(observed.to_numpy())
    mapping: dict[Any, float] = {}
    unknown: list[Any] = []
    for v in distinct:
        key = normalise_label(_num_text(v))
        if key in missing:
            mapping[v] = np.nan
        elif key in lookup:
            mapping[v] = lookup[key]
        else:
            unknown.append(v)
    if unknown:
        seen = sorted({str(v) for v in distinct})
        raise LabelError(column, sorted(map(str, unknown)), seen, list(spec.scale))
    out = raw.map(mapping).astype(float)
    return out.to_numpy()


def _num_text(v: Any) -> str:
    """2.0 and '2' and 2 all read as '2'."""
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v))
    s = str(v).strip()
    try:
        f = float(s)
    except ValueError:
        return s
    return str(int(f)) if f.is_integer() else s


def fearful_share(positions: np.ndarray, spec: FearSpec) -> np.ndarray:
    """1 if the answer is one of ``fear.fearful``, 0 if another scale answer, NaN if missing."""
    scale = [normalise_label(s) for s in spec.scale]
    fearful_pos = [scale.index(normalise_label(f)) + 1 for f in spec.fearful or []]
    out = np.isin(positions, fearful_pos).astype(float)
    out[np.isnan(positions)] = np.nan
    return out


def _wmean_sd(x: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    ok = ~np.isnan(x)
    x, w = x[ok], w[ok]
    m = float(np.sum(w * x) / np.sum(w))
    sd = float(np.sqrt(np.sum(w * (x - m) ** 2) / np.sum(w)))
    return m, sd


def standardised_index(
    items: np.ndarray, weights: np.ndarray, reference: np.ndarray, min_share: float = 0.5
) -> np.ndarray:
    """Mean of the items' z-scores (Kling, Liebman & Katz 2007 style), in SD units of the reference sample.

    ``items`` is respondents x items (scale positions, NaN = missing); each item is standardised by its
    weighted mean and SD among ``reference`` rows (the baseline wave). A respondent's index is the mean of
    the items answered, if at least ``min_share`` of them are; else NaN.
    """
    z = np.full(items.shape, np.nan)
    for j in range(items.shape[1]):
        m, sd = _wmean_sd(items[reference, j], weights[reference])
        if not sd > 0:
            raise ConstantItemError(j)
        z[:, j] = (items[:, j] - m) / sd
    answered = (~np.isnan(z)).sum(axis=1)
    enough = answered >= max(1, int(np.ceil(min_share * items.shape[1])))
    return np.where(enough, np.nansum(z, axis=1) / np.maximum(answered, 1), np.nan)


def cronbach_alpha(items: np.ndarray) -> tuple[float, int]:
    """Cronbach's alpha on complete cases: k/(k-1) * (1 - sum of item variances / variance of the sum).

    Returns (alpha, number of complete cases). Unweighted, as usually reported.
    """
    complete = items[~np.isnan(items).any(axis=1)]
    k = items.shape[1]
    if len(complete) < 3 or k < 2:
        return float("nan"), len(complete)
    item_var = complete.var(axis=0, ddof=1).sum()
    total_var = complete.sum(axis=1).var(ddof=1)
    if not total_var > 0:
        return float("nan"), len(complete)
    return float(k / (k - 1) * (1 - item_var / total_var)), len(complete)


@dataclass(frozen=True)
class WeightedMean:
    """A weighted mean (or proportion) with its design-based SE, clustered by area."""

    estimate: float
    std_error: float
    n: int
    n_clusters: int
    weight_total: float


def weighted_mean_se(y: np.ndarray, w: np.ndarray, cluster: np.ndarray | None = None) -> WeightedMean:
    """Ratio estimator sum(w y) / sum(w) with a linearisation SE clustered by ``cluster``.

    var = G/(G-1) * sum_g (sum_{i in g} w_i (y_i - p))^2 / (sum w)^2. Without clusters every respondent is
    its own cluster. Rows with a missing ``y`` are left out.
    """
    y, w = np.asarray(y, float), np.asarray(w, float)
    ok = ~np.isnan(y) & ~np.isnan(w)
    y, w = y[ok], w[ok]
    g = np.arange(len(y)) if cluster is None else np.unique(np.asarray(cluster)[ok], return_inverse=True)[1]
    wsum = float(w.sum())
    if len(y) == 0 or wsum <= 0:
        return WeightedMean(float("nan"), float("nan"), 0, 0, 0.0)
    p = float(np.sum(w * y) / wsum)
    scores = np.bincount(g, weights=w * (y - p))
    n_g = len(scores)
    se = float(np.sqrt(n_g / (n_g - 1) * np.sum(scores**2)) / wsum) if n_g > 1 else float("nan")
    return WeightedMean(p, se, len(y), int(n_g), wsum)


def ratio_from_totals(wy: np.ndarray, wsum: np.ndarray) -> WeightedMean:
    """The same estimator from per-cluster totals (sum w y, sum w), one row per cluster."""
    wy, wsum = np.asarray(wy, float), np.asarray(wsum, float)
    ok = ~np.isnan(wy) & ~np.isnan(wsum) & (wsum > 0)
    wy, wsum = wy[ok], wsum[ok]
    total = float(wsum.sum())
    if total <= 0:
        return WeightedMean(float("nan"), float("nan"), 0, 0, 0.0)
    p = float(wy.sum() / total)
    g = len(wy)
    se = float(np.sqrt(g / (g - 1) * np.sum((wy - p * wsum) ** 2)) / total) if g > 1 else float("nan")
    return WeightedMean(p, se, g, g, total)


def victimisation_values(times: np.ndarray, measure: str) -> tuple[np.ndarray, np.ndarray]:
    """Per-respondent numerator y and denominator d so that sum(w y) / sum(w d) is the measure.

    prevalence: y = 1(victimised), d = 1; incidence: y = times, d = 1; concentration (crimes per victim):
    y = times, d = 1(victimised).
    """
    t = np.asarray(times, float)
    victim = (t > 0).astype(float)
    victim[np.isnan(t)] = np.nan
    one = np.where(np.isnan(t), np.nan, 1.0)
    if measure == "prevalence":
        return victim, one
    if measure == "incidence":
        return t, one
    return t, victim


def repeat_victimisation(times: np.ndarray, weights: np.ndarray) -> dict[str, float]:
    """Weighted prevalence, incidence, concentration, and how much crime repeat victims suffer (para 21(g))."""
    t, w = np.asarray(times, float), np.asarray(weights, float)
    ok = ~np.isnan(t)
    t, w = t[ok], w[ok]
    wsum = w.sum()
    victims = w[t > 0].sum()
    crimes = (w * t).sum()
    repeat = w[t >= 2].sum()
    return {
        "prevalence": float(victims / wsum) if wsum else float("nan"),
        "incidence": float(crimes / wsum) if wsum else float("nan"),
        "concentration": float(crimes / victims) if victims else float("nan"),
        "repeat_victims_share_of_victims": float(repeat / victims) if victims else float("nan"),
        "repeat_victims_share_of_crimes": float((w * t)[t >= 2].sum() / crimes) if crimes else float("nan"),
    }


def victimisation_from_incidents(
    incidents: pd.DataFrame, area: str, victim: str, period: str | None = None
) -> pd.DataFrame:
    """Crimes, distinct victims and repeat victims per area (and period) from one row per recorded incident.

    The result has the columns ``crimes``, ``victims`` and ``repeat_victims`` (victims with two or more
    incidents in the cell), ready for ``victimisation: {crimes: crimes, victims: victims}`` outcomes.
    Incidents without a victim id are counted as crimes with a victim of their own.
    """
    import pandas as pd

    keys = [area] + ([period] if period else [])
    missing = [c for c in [*keys, victim] if c not in incidents.columns]
    if missing:
        raise KeyError(f"incident data lack the columns {missing}; they have {list(incidents.columns)}")
    ids = incidents[victim].astype(object)
    anon = ids.isna()
    ids = ids.where(~anon, pd.Series([f"_anon_{i}" for i in range(len(ids))], index=ids.index))
    per_victim = incidents.assign(_v=ids).groupby([*keys, "_v"], sort=True).size().rename("n").reset_index()
    out = per_victim.groupby(keys, sort=True).agg(
        crimes=("n", "sum"), victims=("n", "size"), repeat_victims=("n", lambda s: int((s >= 2).sum()))
    )
    return out.reset_index()
