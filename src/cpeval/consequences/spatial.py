"""Area roles for displacement: treated, buffer (catchment) and control, from a column or from centroids.

Treated areas are the ones the design treats (``treatment.indicator`` ever 1, a positive ``first_treated``
cohort, or the synthetic-control ``treatment.units``); the programme starts at the first treated period.
With ``roles_column`` the column's labels must agree with the treatment. With ``centroids`` untreated areas
whose centroid lies within ``buffer_distance`` of a treated centroid are buffers and the rest controls; a
treated area within that distance of another treated area is in two roles, an error unless
``overlap: treated`` is declared.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from cpeval.errors import DataError, Problem, ProblemCode, did_you_mean

if TYPE_CHECKING:
    from cpeval.designs.base import DesignBase
    from cpeval.designs.consequences import DisplacementSpec

EARTH_RADIUS_M = 6_371_008.8  # mean Earth radius (IUGG), metres


@dataclass(frozen=True)
class Roles:
    """Each area's role, when the programme started, and how the roles were assigned."""

    role: pd.Series  # index: area id, values 'treated' | 'buffer' | 'control'
    start: Any  # first treated period
    how: str
    overlapping: tuple[Any, ...] = ()  # treated areas also within a buffer (kept treated by overlap: treated)

    def areas(self, role: str) -> np.ndarray:
        return self.role.index[self.role.to_numpy() == role].to_numpy()

    @property
    def counts(self) -> dict[str, int]:
        return {r: int((self.role == r).sum()) for r in ("treated", "buffer", "control")}

    def to_dict(self) -> dict[str, Any]:
        return {"counts": self.counts, "how": self.how, "start": self.start,
                "overlapping": list(self.overlapping)}


def pairwise_distance(xy_a: np.ndarray, xy_b: np.ndarray, coordinates: str) -> np.ndarray:
    """Distances in metres between every row of ``xy_a`` and of ``xy_b`` (x/y metres, or lon/lat degrees by the
    haversine formula)."""
    if coordinates == "metres":
        diff = xy_a[:, None, :] - xy_b[None, :, :]
        return np.sqrt((diff**2).sum(axis=2))
    lon_a, lat_a = np.radians(xy_a[:, 0])[:, None], np.radians(xy_a[:, 1])[:, None]
    lon_b, lat_b = np.radians(xy_b[:, 0])[None, :], np.radians(xy_b[:, 1])[None, :]
    h = np.sin((lat_b - lat_a) / 2) ** 2 + np.cos(lat_a) * np.cos(lat_b) * np.sin((lon_b - lon_a) / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))


def treated_areas(frame: pd.DataFrame, design: DesignBase) -> tuple[pd.Series, Any]:
    """Whether each area is ever treated by the design, and the first treated period."""
    unit, time = design.data.unit, design.data.time
    treatment = design.treatment  # type: ignore[attr-defined]
    if design.kind == "synthetic_control":  # type: ignore[attr-defined]
        ids = pd.Index(pd.unique(frame[unit])).sort_values()
        return pd.Series(ids.astype(str).isin({str(u) for u in treatment.units}), index=ids), treatment.start
    if getattr(treatment, "first_treated", None):
        cohort = pd.to_numeric(frame[treatment.first_treated], errors="coerce").fillna(0)
        on = cohort > 0
        start = cohort[on].min() if bool(on.any()) else None
    else:
        on = pd.to_numeric(frame[treatment.indicator], errors="coerce").fillna(0) > 0
        start = frame.loc[on, time].min() if bool(on.any()) else None
    ever = on.groupby(frame[unit], sort=True).any()
    return ever, start


def _constant(frame: pd.DataFrame, unit: str, columns: list[str], key: str, problems: list[Problem]) -> pd.DataFrame:
    per_area = frame.groupby(unit, sort=True)[columns]
    distinct = per_area.nunique(dropna=False)
    varying = [c for c in columns if bool((distinct[c] > 1).any())]
    for c in varying:
        problems.append(Problem(ProblemCode.NOT_CONSTANT_IN_UNIT, c, f"{key} must be constant within each area; "
                                "it varies within some areas: give each area one value"))
    return per_area.first()


def assign_roles(frame: pd.DataFrame, design: DesignBase, spec: DisplacementSpec, source: str = "<data>") -> Roles:
    """Each area's role. Raises :class:`DataError` listing every problem (unknown labels, roles that disagree
    with the treatment, an empty role, undeclared overlap)."""
    unit = design.data.unit
    problems: list[Problem] = []
    ever, start = treated_areas(frame, design)
    if spec.roles_column is not None:
        col = spec.roles_column
        labels = _constant(frame, unit, [col], "consequences.displacement.roles_column", problems)[col]
        by_label = {spec.label(r): r for r in ("treated", "buffer", "control")}
        text = labels.astype(str)
        unknown = sorted(set(text.unique()) - set(by_label))
        if unknown:
            problems.append(Problem(ProblemCode.UNKNOWN_LABEL, col, f"values {unknown} are not role labels (expected "
                                    f"{sorted(by_label)}){did_you_mean(unknown[0], by_label)}; correct the data or "
                                    "map them with consequences.displacement.role_labels"))
        role = text.map(by_label)
        says_treated = role == "treated"
        conflict = (says_treated != ever.reindex(role.index).fillna(False)) & role.notna()
        if bool(conflict.any()):
            bad = list(role.index[conflict.to_numpy()][:5])
            problems.append(Problem(ProblemCode.ROLE_CONFLICT, col, f"areas {bad} are labelled against the design's "
                                    "treatment (a 'treated' label on an untreated area, or another label on a treated "
                                    "one); make the labels agree with the treatment"))
        how = f"column {col!r}"
        overlapping: tuple[Any, ...] = ()
    else:
        c = spec.centroids
        assert c is not None  # the spec validator guarantees one way
        xy = _constant(frame, unit, [c.x, c.y], "consequences.displacement.centroids", problems)
        if bool(xy.isna().any().any()):
            problems.append(Problem(ProblemCode.MISSING_VALUES, c.x, "some areas have no centroid; fill x and y"))
            raise DataError(source, problems)
        is_t = ever.reindex(xy.index).fillna(False).to_numpy(dtype=bool)
        pts = xy.to_numpy(dtype=float)
        dist = pairwise_distance(pts, pts[is_t], c.coordinates)
        near = dist <= c.buffer_distance
        if is_t.any():
            near[np.flatnonzero(is_t), np.arange(int(is_t.sum()))] = False  # an area is not its own buffer
        in_buffer = near.any(axis=1)
        role = pd.Series(np.where(is_t, "treated", np.where(in_buffer, "buffer", "control")), index=xy.index)
        overlapping = tuple(xy.index[is_t & in_buffer])
        if overlapping and spec.overlap == "error":
            problems.append(Problem(ProblemCode.ROLE_CONFLICT, c.x, f"{len(overlapping)} treated areas (e.g. "
                                    f"{list(overlapping[:3])}) lie within {c.buffer_distance:g} m of another treated "
                                    "area, so they are also buffers; declare consequences.displacement.overlap: "
                                    "treated to keep them treated, or reduce buffer_distance"))
        how = (f"centroids ({c.coordinates}, {'haversine' if c.coordinates == 'lonlat' else 'Euclidean'} "
               f"distance), buffer {c.buffer_distance:g} m")
    for r in ("treated", "buffer", "control"):
        if not problems and int((role == r).sum()) == 0:
            fix = {"buffer": "widen centroids.buffer_distance",
                   "control": "narrow centroids.buffer_distance (every untreated area lies within it)"}.get(r)
            if spec.centroids is None or fix is None:
                fix = f"label some areas {spec.label(r)!r}"
            problems.append(Problem(ProblemCode.EMPTY_ROLE, spec.roles_column or spec.centroids.x,  # type: ignore[union-attr]
                                    f"no area has the role {r!r}, so displacement cannot be assessed; {fix}"))
    if problems:
        raise DataError(source, problems)
    return Roles(role=role.rename("role"), start=start, how=how, overlapping=overlapping)
