"""``derive``: compute every derived outcome column before the data are validated and fitted.

Area outcomes (rates, logs, totals, harm indices, victimisation from area counts) are computed row by row.
Survey outcomes (fear items and indices, victimisation from respondents) are computed per respondent and,
when they come from a separate ``survey`` source, aggregated to one row per area and wave:

    value = sum(w * y) / sum(w * d)      (d = 1, except d = 1(victimised) for crimes per victim)

with ``w`` the survey weight. The area-wave value is then merged onto the design's panel by area and period
(wave = period). Each area-wave enters the DiD as one observation (equal weight, or ``data.weights`` if the
design sets them): the estimand is the average effect across treated areas, not across respondents; the
survey weights make each area-wave value estimate that area's population share. The totals
(``__wy``, ``__wsum``) and respondent counts (``__n``) are kept beside the outcome so the report can give
design-based standard errors clustered by area.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from cpeval.data.respondents import read_survey_source, reads_shared
from cpeval.data.sources import Source, design_folder, read_dataset, read_file, relative_to
from cpeval.designs.families import BUILDERS
from cpeval.errors import DataError, DesignError, Problem, ProblemCode, did_you_mean
from cpeval.outcomes.harm import harm_components, load_weight_table
from cpeval.outcomes.survey import (
    ConstantItemError,
    LabelError,
    code_item,
    cronbach_alpha,
    fearful_share,
    repeat_victimisation,
    standardised_index,
    victimisation_values,
)
from cpeval.outcomes.transforms import log_with_zero_rule, rate, total

if TYPE_CHECKING:
    from cpeval.designs.base import DesignBase
    from cpeval.designs.outcomes import OutcomeSpec


class _Skip(Exception):
    """This outcome has problems already recorded; derive the others and report everything at once."""


def derive(frame: pd.DataFrame, design: DesignBase, source: str = "<data>") -> pd.DataFrame:
    """A new frame with every derived outcome column of ``design`` added. ``frame`` is not modified.

    Raises :class:`DataError` listing every problem found (missing or non-numeric input columns, negative
    counts, unknown survey labels, survey waves matching no period) and :class:`DesignError` for a design
    that cannot be derived (a rate without ``data.population``, an unknown weight table or offence).
    """
    return derive_with_info(frame, design, source)[0]


def derive_with_info(
    frame: pd.DataFrame, design: DesignBase, source: str = "<data>"
) -> tuple[pd.DataFrame, dict[str, dict[str, Any]]]:
    """``derive``, and what the derivation found per outcome name, for the report (carried on the Panel):
    ``zero_rows`` (values the log's zero rule touched), and for survey outcomes ``cronbach_alpha``,
    ``alpha_complete_cases`` and ``index_reference`` (multi-item indices) or ``victimisation`` (repeat
    victimisation and concentration among respondents), and what a ``survey.source`` read (``survey_source``,
    ``survey_query``, ``survey_rows_read``, ``survey_rows_sha256``)."""
    out = frame.copy(deep=False)  # copy-on-write: shares the columns; added columns never reach ``frame``
    problems: list[Problem] = []
    info: dict[str, dict[str, Any]] = {}
    with reads_shared():  # a survey source named by several outcomes is read once
        for i, o in enumerate(design.outcomes):
            if not o.derived:
                continue
            found: dict[str, Any] = {}
            try:
                columns = _derive_one(frame, design, o, f"outcomes[{i}]", problems, found)
            except _Skip:
                continue
            for name, values in columns.items():
                out[name] = values
            info[o.name] = found
    if problems:
        raise DataError(source, problems)
    # row positions for labels: the caller's index (say unit and time levels beside the unit and time columns)
    # would make every grouping by those columns ambiguous
    out.index = pd.RangeIndex(len(out))
    return out, info


# --------------------------------------------------------------------------------------------------------
def _derive_one(
    frame: pd.DataFrame, design: DesignBase, o: OutcomeSpec, key: str, problems: list[Problem],
    found: dict[str, Any],
) -> dict[str, Any]:
    if o.from_respondents:
        return _derive_survey(frame, design, o, key, problems, found)
    cols: dict[str, Any] = {}
    builder = next((b for b in BUILDERS if getattr(o, b) is not None), None)
    if builder is None:
        assert o.source_column is not None
        _numeric_counts(frame, {o.source_column: f"{key}.column"}, design, problems)
        base, scale_cols = frame[o.source_column].astype(float), {}
    else:
        base, scale_cols = AREA_BUILDERS[builder](frame, design, o, key, problems)

    per = o.per
    if per is not None and o.victimisation is None:
        pop = _population(frame, design, o.name, per, key, problems)
        base = rate(base, pop, per)
        scale_cols = {c: rate(s, pop, per) for c, s in scale_cols.items()}
    if o.take_log:
        try:
            base, found["zero_rows"] = log_with_zero_rule(base, o.zeros)
        except ValueError as exc:
            problems.append(Problem(ProblemCode.NEGATIVE_VALUES, o.source_column, f"outcome {o.name!r}: {exc}"))
            raise _Skip from None
        scale_cols = {}  # components of a log do not add up to the log; none are kept
    cols[o.column] = base
    cols.update(scale_cols)
    return cols


def _harm_index(frame: pd.DataFrame, design: DesignBase, o: OutcomeSpec, key: str, problems: list[Problem]
                ) -> tuple[pd.Series, dict[str, pd.Series]]:
    """The harm-weighted sum of offence counts, and each offence's contribution (kept for the report)."""
    assert o.seriousness is not None
    table = load_weight_table(o.seriousness.weights, design.origin)
    for off in o.seriousness.columns:
        table.weight(off, f"{key}.seriousness.columns.{off}")  # unknown offences fail before data checks
    named = {c: f"{key}.seriousness.columns.{off}" for off, c in o.seriousness.columns.items()}
    _numeric_counts(frame, named, design, problems)
    comps = harm_components(frame, o.seriousness.columns, table, f"{key}.seriousness.columns")
    base = comps.sum(axis=1, min_count=len(comps.columns))
    return base, {f"{o.column}__harm__{off}": comps[off] for off in comps.columns}


def _total(frame: pd.DataFrame, design: DesignBase, o: OutcomeSpec, key: str, problems: list[Problem]
           ) -> tuple[pd.Series, dict[str, pd.Series]]:
    assert o.total_of is not None
    _numeric_counts(frame, {c: f"{key}.total_of" for c in o.total_of}, design, problems)
    return total(frame, o.total_of), {}


def _victimisation(frame: pd.DataFrame, design: DesignBase, o: OutcomeSpec, key: str, problems: list[Problem]
                   ) -> tuple[pd.Series, dict[str, pd.Series]]:
    return _area_victimisation(frame, design, o, key, problems), {}


# How each builder of designs/families.py computes an area outcome (fear, and victimisation from respondent
# rows, go through _derive_survey): the base series and any component columns kept beside it.
AREA_BUILDERS = {"seriousness": _harm_index, "total_of": _total, "victimisation": _victimisation}


def _numeric_counts(frame: pd.DataFrame, named: dict[str, str], design: DesignBase, problems: list[Problem]) -> None:
    bad = False
    present = [str(c) for c in frame.columns]
    for col, k in named.items():
        if col not in frame.columns:
            problems.append(
                Problem(ProblemCode.MISSING_COLUMN, col,
                        f"named by {k} but not in the data{did_you_mean(col, present)}")
            )
            bad = True
            continue
        s = frame[col]
        if not (pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s)):
            problems.append(Problem(ProblemCode.NON_NUMERIC, col, f"{k} must be numeric counts"))
            bad = True
            continue
        n_na = int(s.isna().sum())
        if n_na and design.data.missing_outcomes == "error":
            problems.append(
                Problem(
                    ProblemCode.MISSING_VALUES, col,
                    f"{n_na} of {len(s)} rows are missing ({k}); fill them, or set data.missing_outcomes: drop",
                )
            )
            bad = True
        if bool((s < 0).any()):
            problems.append(Problem(ProblemCode.NEGATIVE_VALUES, col, f"{k}: counts cannot be negative"))
            bad = True
    if bad:
        raise _Skip


def _population(
    frame: pd.DataFrame, design: DesignBase, name: str, per: int, key: str, problems: list[Problem]
) -> pd.Series:
    col = design.data.population
    if col is None:
        raise DesignError(
            f"{key}.per: outcome {name!r} is a rate per {per:,} population, so the design needs "
            "data.population, the column of residents"
        )
    if col not in frame.columns:
        return pd.Series(np.nan, index=frame.index)  # validation reports the missing column
    pop = pd.to_numeric(frame[col], errors="coerce")
    if bool((~(pop > 0)).any()):
        problems.append(
            Problem(ProblemCode.NON_POSITIVE, col, f"{int((~(pop > 0)).sum())} rows have a missing, zero or "
                    f"negative population, so the rate of {name!r} is undefined there")
        )
        raise _Skip
    return pop.astype(float)


def _area_victimisation(
    frame: pd.DataFrame, design: DesignBase, o: OutcomeSpec, key: str, problems: list[Problem]
) -> pd.Series:
    v = o.victimisation
    assert v is not None
    named = {c: f"{key}.victimisation.{k}" for k, c in (("crimes", v.crimes), ("victims", v.victims)) if c}
    _numeric_counts(frame, named, design, problems)
    if v.measure == "concentration":
        victims = frame[v.victims].astype(float)
        return (frame[v.crimes].astype(float) / victims).where(victims > 0)
    per = o.per or 1
    pop = _population(frame, design, o.name, per, key, problems)
    counts = frame[v.victims if v.measure == "prevalence" else v.crimes].astype(float)
    return rate(counts, pop, per)


# --------------------------------------------------------------------------------------------------------
# Survey outcomes
def survey_context(design: DesignBase, o: OutcomeSpec, frame: pd.DataFrame | None = None) -> dict[str, Any]:
    """Respondent rows of a survey outcome and the names of their area, wave and weight columns; for a
    ``survey.source``, also what was read (``provenance``)."""
    s = o.survey
    provenance: dict[str, Any] = {}
    if s is not None:
        unit = s.unit or design.data.unit
        wave = s.wave or design.data.time
        weights = s.weights
        if s.source is not None:
            read = read_survey_source(design, s.source)
            resp, label, provenance = read.frame, read.provenance["survey_source"], read.provenance
        else:
            resp = _read_survey(s.dataset, _resolve(s.path, design.origin)).frame
            label = s.dataset or str(s.path)
    else:
        assert frame is not None
        resp, label = frame, "data"
        unit, wave, weights = design.data.unit, design.data.time, design.data.weights
    return {"frame": resp, "label": label, "unit": unit, "wave": wave, "weights": weights, "separate": s is not None,
            "provenance": provenance}


def _resolve(path: str | None, origin: str | None) -> str | None:
    return None if path is None else str(relative_to(path, design_folder(origin)))


def _read_survey(dataset: str | None, path: str | None) -> Source:
    """The survey; files are re-read when they change (the cache key has their mtime and size)."""
    stamp: tuple[int, int] | None = None
    if dataset is None and path is not None and Path(path).is_file():
        st = Path(path).stat()
        stamp = (st.st_mtime_ns, st.st_size)
    return _read_survey_cached(dataset, path, stamp)


@lru_cache(maxsize=8)
def _read_survey_cached(dataset: str | None, path: str | None, stamp: tuple[int, int] | None) -> Source:
    if dataset is not None:
        return read_dataset(dataset)
    assert path is not None
    return read_file(Path(path), str(path), "survey.path")


def survey_sha256(dataset: str | None, path: str | None, origin: str | None) -> str:
    """sha256 of the survey file's bytes (of the frame, for a packaged dataset), so a result records exactly
    which survey data it used."""
    return _read_survey(dataset, _resolve(path, origin)).sha256


def respondent_values(
    design: DesignBase, o: OutcomeSpec, frame: pd.DataFrame | None = None, key: str = "outcome"
) -> dict[str, Any]:
    """Per-respondent numerator ``y``, denominator ``d`` and weight ``w`` of a survey outcome.

    Raises :class:`DataError` for missing columns, unknown labels or bad weights.
    """
    ctx = survey_context(design, o, frame)
    resp: pd.DataFrame = ctx["frame"]
    label = f"survey {ctx['label']}" if ctx["separate"] else "data"
    needed = {ctx["unit"]: "unit"}
    if ctx["wave"]:
        needed[ctx["wave"]] = "wave"
    if ctx["weights"]:
        needed[ctx["weights"]] = "weights"
    item_cols = o.fear.columns if o.fear is not None else [o.victimisation.column]  # type: ignore[union-attr]
    for c in item_cols:
        needed[c] = "fear item" if o.fear is not None else "victimisation.column"
    present = [str(c) for c in resp.columns]
    problems = [
        Problem(ProblemCode.MISSING_COLUMN, c,
                f"{key}: the {what} column is not in the {label}{did_you_mean(c, present)}")
        for c, what in needed.items() if c not in resp.columns
    ]
    if problems:
        raise DataError(label, problems)
    n = len(resp)
    w = np.ones(n) if not ctx["weights"] else pd.to_numeric(resp[ctx["weights"]], errors="coerce").to_numpy(float)
    if ctx["weights"] and bool((~(w > 0)).any()):
        bad = int((~(w > 0)).sum())
        raise DataError(label, [Problem(ProblemCode.NON_POSITIVE, ctx["weights"],
                                        f"{bad} respondents have a missing, zero or negative survey weight")])
    extra: dict[str, Any] = {}
    try:
        if o.fear is not None:
            positions = np.column_stack([code_item(resp[c], o.fear, c) for c in o.fear.columns])
            if o.fear.item is not None:
                y = fearful_share(positions[:, 0], o.fear) if o.fear.fearful else positions[:, 0]
            else:
                ref = _reference_rows(resp, ctx["wave"])
                y = standardised_index(positions, w, ref)
                extra["items"] = positions
                extra["reference"] = "first wave" if ctx["wave"] else "all respondents"
            d = np.where(np.isnan(y), np.nan, 1.0)
        else:
            times = pd.to_numeric(resp[o.victimisation.column], errors="coerce").to_numpy(float)  # type: ignore[union-attr]
            if bool((times < 0).any()):
                raise DataError(label, [Problem(ProblemCode.NEGATIVE_VALUES, o.victimisation.column,  # type: ignore[union-attr]
                                                "times victimised cannot be negative")])
            y, d = victimisation_values(times, o.victimisation.measure)  # type: ignore[union-attr]
            extra["times"] = times
    except LabelError as exc:
        raise DataError(label, [Problem(ProblemCode.UNKNOWN_LABEL, exc.column, f"{key}: {exc}")]) from None
    except ConstantItemError as exc:
        column = o.fear.columns[exc.index]  # type: ignore[union-attr]
        raise DataError(label, [Problem(
            ProblemCode.CONSTANT_OUTCOME, column,
            f"{key}: every respondent in the {'first wave' if ctx['wave'] else 'survey'} gave the same answer to this "
            "item, so it cannot be standardised; remove it from fear.items (or use fear.item for one question)",
        )]) from None
    if o.per is not None:
        y = y * o.per
    return {**ctx, "y": y, "d": d, "w": w, **extra}


def _reference_rows(resp: pd.DataFrame, wave: str | None) -> np.ndarray:
    if not wave:
        return np.ones(len(resp), dtype=bool)
    waves = resp[wave]
    return (waves == waves.min()).to_numpy()


def _key(s: pd.Series) -> pd.Series:
    """Comparable join keys: numbers as floats, everything else as stripped text."""
    if pd.api.types.is_numeric_dtype(s):
        return s.astype(float)
    num = pd.to_numeric(s, errors="coerce")
    if bool(num.notna().all()):
        return num.astype(float)
    return s.astype(str).str.strip()


def _derive_survey(
    frame: pd.DataFrame, design: DesignBase, o: OutcomeSpec, key: str, problems: list[Problem],
    found: dict[str, Any],
) -> dict[str, Any]:
    try:
        rv = respondent_values(design, o, frame, key)
    except DataError as exc:
        problems.extend(p for p in exc.problems if p not in problems)  # a shared source's failure once
        raise _Skip from None
    if "items" in rv:
        found["cronbach_alpha"], found["alpha_complete_cases"] = cronbach_alpha(rv["items"])
        found["index_reference"] = rv.get("reference")
    if "times" in rv:
        found["victimisation"] = repeat_victimisation(rv["times"], rv["w"])
    found.update(rv["provenance"])
    y, d, w = rv["y"], rv["d"], rv["w"]
    ok = ~np.isnan(y) & ~np.isnan(d)
    col = o.column
    if not rv["separate"]:  # respondent rows are the design's own rows
        wy = np.where(ok, w * y, np.nan)
        wd = np.where(ok, w * d, np.nan)
        value = np.where(ok & (wd > 0), wy / np.where(wd > 0, wd, 1.0), np.nan)
        return _finish(o, {col: value, f"{col}__wy": wy, f"{col}__wsum": wd, f"{col}__n": ok.astype(float)},
                       frame.index, problems, found)
    resp = rv["frame"]
    unit, wave = rv["unit"], rv["wave"]
    by = [unit] + ([wave] if design.data.time else [])
    agg = pd.DataFrame({"wy": np.where(ok, w * y, 0.0), "wd": np.where(ok, w * d, 0.0), "n": ok.astype(float)})
    for c in by:
        agg[c] = _key(resp[c]).to_numpy()
    agg = agg.groupby(by, sort=True, dropna=False)[["wy", "wd", "n"]].sum()
    agg["value"] = (agg["wy"] / agg["wd"]).where(agg["wd"] > 0)
    if any(c not in frame.columns for c in [design.data.unit, design.data.time] if c):
        raise _Skip  # validation reports the missing identifier columns
    frame_keys = [_key(frame[design.data.unit])] + ([_key(frame[design.data.time])] if design.data.time else [])
    idx = pd.MultiIndex.from_arrays(frame_keys) if len(by) > 1 else pd.Index(frame_keys[0])
    if design.data.time:
        waves = set(agg.index.get_level_values(1))
        periods = set(frame_keys[1])
        if not waves & periods:
            problems.append(Problem(
                ProblemCode.BAD_TIME, wave,
                f"{key}: the survey's waves ({sorted(map(str, waves))[:6]}) match no period of data.time "
                f"{design.data.time!r} (e.g. {sorted(map(str, periods))[:6]}); waves must be periods of the panel",
            ))
            raise _Skip
    joined = agg.reindex(idx)
    if o.survey is not None and o.survey.empty_cells == "error" and design.data.time:
        _empty_cells(joined, agg, frame, design, o, key, rv["unit"], problems)
    cols = {
        col: joined["value"].to_numpy(),
        f"{col}__wy": joined["wy"].to_numpy(),
        f"{col}__wsum": joined["wd"].to_numpy(),
        f"{col}__n": joined["n"].to_numpy(),
    }
    return _finish(o, cols, frame.index, problems, found)


def _empty_cells(joined: pd.DataFrame, agg: pd.DataFrame, frame: pd.DataFrame, design: DesignBase, o: OutcomeSpec,
                 key: str, unit: str, problems: list[Problem]) -> None:
    """Every area of the panel needs respondents answering in every wave the survey has (a missing area-wave
    would silently drop out of the outcome); list the ones without."""
    answered = agg.index[agg["n"] > 0]
    empty = ~(joined["n"].to_numpy() > 0)  # no row, or no respondent with an answer
    in_wave = joined.index.get_level_values(1).isin(answered.get_level_values(1).unique())
    rows = np.flatnonzero(empty & in_wave)
    if not len(rows):
        return
    time = design.data.time
    cells = frame.iloc[rows][[design.data.unit, time]].drop_duplicates()
    shown = ", ".join(f"{u} in {_period_text(t)}" for u, t in cells.head(5).itertuples(index=False))
    more = f" and {len(cells) - 5} more" if len(cells) > 5 else ""
    problems.append(Problem(ProblemCode.MISSING_VALUES, unit, (
        f"{key}: {len(cells)} area-wave(s) of the panel have no survey respondents answering ({shown}{more}); "
        f"every area needs respondents in every wave the survey has: add them, correct the area ids in the survey's "
        f"{unit!r} column, or set {key}.survey.empty_cells: missing to leave those area-waves out of this outcome")))
    raise _Skip


def _period_text(value: Any) -> str:
    return str(value.date()) if isinstance(value, pd.Timestamp) else str(value)


def _finish(o: OutcomeSpec, cols: dict[str, Any], index: pd.Index, problems: list[Problem],
            found: dict[str, Any]) -> dict[str, Any]:
    out = {c: pd.Series(np.asarray(v, float), index=index) for c, v in cols.items()}
    if o.take_log:
        try:
            out[o.column], found["zero_rows"] = log_with_zero_rule(out[o.column], o.zeros)
        except ValueError as exc:
            problems.append(Problem(ProblemCode.NEGATIVE_VALUES, None, f"outcome {o.name!r}: {exc}"))
            raise _Skip from None
    return out
