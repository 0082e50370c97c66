"""Data validation: every problem is collected and reported at once, each with a code and a fix."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from cpeval.data.covariates import absorbed_covariates
from cpeval.data.panel import COHORT, TREATED, Panel, absorbing_required_by, not_absorbing_message, switching_units
from cpeval.data.periods import PeriodMap, coerce_periods, cohort_periods
from cpeval.errors import DataError, Problem, ProblemCode, did_you_mean, echo

if TYPE_CHECKING:
    from cpeval.designs.base import DesignBase
    from cpeval.designs.did import DidDesign
    from cpeval.designs.rct import RctDesign
    from cpeval.designs.synth import SynthDesign

MIN_SYNTH_PRE_PERIODS = 2


def _show(v: Any) -> str:
    """repr of a value as a user wrote it: numpy scalars shown as plain Python values."""
    if isinstance(v, pd.Timestamp):
        return str(v.date()) if v == v.normalize() else str(v)
    return echo(v.item() if hasattr(v, "item") else v)


def _fmt(values: Any, limit: int = 5) -> str:
    values = list(values)
    shown = ", ".join(_show(v) for v in values[:limit])
    return shown + (f", ... ({len(values)} in all)" if len(values) > limit else "")


class _Collector:
    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.warnings: list[str] = []
        self.periods: PeriodMap | None = None  # set when a date column is mapped to integer periods
        self.ordered = False  # rows already in (unit, time) order: no sort, duplicates found on adjacent rows

    def add(self, code: ProblemCode, column: str | None, message: str) -> None:
        self.problems.append(Problem(code, column, message))


def required_columns(design: DesignBase) -> dict[str, str]:
    """Every column the design names, mapped to the design key that names it."""
    cols: dict[str, str] = {}
    d = design.data
    cols[d.unit] = "data.unit"
    for key in ("time", "weights", "population"):
        if getattr(d, key) is not None:  # an empty name is a missing column, not "no column"
            cols[getattr(d, key)] = f"data.{key}"
    for i, o in enumerate(design.outcomes):
        cols.setdefault(o.column, f"outcomes[{i}].column" if not o.derived else f"outcomes[{i}] (derived)")
        for aux in o.auxiliary_columns:  # harm components, survey totals (added by cpeval.outcomes.derive)
            cols.setdefault(aux, f"outcomes[{i}] (derived)")
    treatment = design.treatment  # type: ignore[attr-defined]
    for key in ("indicator", "first_treated", "assignment", "block", "cluster", "received"):
        col = getattr(treatment, key, None)
        if col is not None:
            cols.setdefault(col, f"treatment.{key}")
    est = design.estimator  # type: ignore[attr-defined]
    if getattr(est, "cluster", None) is not None:
        cols.setdefault(est.cluster, "estimator.cluster")
    for i, c in enumerate(getattr(est, "covariates", []) or []):
        cols.setdefault(c, f"estimator.covariates[{i}]")
    for i, p in enumerate(getattr(est, "predictors", []) or []):
        cols.setdefault(p.column, f"estimator.predictors[{i}].column")
    attrition = getattr(design, "attrition", None)
    if attrition is not None:
        cols.setdefault(attrition.observed, "attrition.observed")
    if design.cost_benefit is not None:
        for col, key in design.cost_benefit.data_columns().items():
            cols.setdefault(col, key)
    return cols


def validate_panel(frame: pd.DataFrame, design: DesignBase, source: str = "<data>", sha256: str = "") -> Panel:
    """Check ``frame`` against ``design`` and return a :class:`Panel` (a copy; ``frame`` is not touched).

    Raises :class:`DataError` listing every problem found.
    """
    c = _Collector()
    needed = required_columns(design)
    present = [str(x) for x in frame.columns]
    missing = [col for col in needed if col not in frame.columns]
    for col in missing:
        c.add(
            ProblemCode.MISSING_COLUMN,
            col,
            f"named by {needed[col]} but not in the data{did_you_mean(col, present)}",
        )
    if missing:  # nothing else can be checked reliably without the columns
        raise DataError(source, c.problems)

    # copy-on-write: the selection shares the caller's arrays until a column is replaced, and replacing one
    # here never writes into ``frame``
    df = frame.loc[:, list(needed)]
    df.index = pd.RangeIndex(len(df))  # the caller's labels (unit and time levels, say) would make groupings ambiguous
    unit, time = design.data.unit, design.data.time

    # identifiers
    for col in [x for x in (unit, time) if x]:
        n_na = int(df[col].isna().sum())
        if n_na:
            c.add(ProblemCode.MISSING_VALUES, col, f"{n_na} rows have no {needed[col]} value; drop or fill them")
    if time:
        df[time] = _coerce_time(df[time], time, c, design)
        c.ordered = _in_order(df[unit], df[time])

    # outcomes (in a trial, rows lost to follow-up -- attrition.observed == 0 -- may lack the outcome)
    attrition = getattr(design, "attrition", None)
    lost = (df[attrition.observed] == 0).to_numpy() if attrition is not None else None
    for i, o in enumerate(design.outcomes):
        col = o.column
        if not _numeric(df, col, f"outcomes[{i}]", c) or not _finite(df, col, f"outcome {o.name!r}", c):
            continue
        missing = df[col].isna().to_numpy()
        n_na = int(np.count_nonzero(missing if lost is None else missing & ~lost))
        if n_na and o.allows_missing:  # survey waves, zeros dropped from a log, areas without victims
            c.warnings.append(f"outcome {o.name!r}: observed in {len(df) - n_na} of {len(df)} rows")
        elif n_na:
            if design.data.missing_outcomes == "drop":
                c.warnings.append(f"outcome {o.name!r}: {n_na} rows with a missing {col!r} were dropped")
            else:
                c.add(
                    ProblemCode.MISSING_VALUES,
                    col,
                    f"{n_na} of {len(df)} rows are missing; fill them, or set data.missing_outcomes: drop "
                    "to drop those rows for this outcome",
                )
        estimator = getattr(design, "estimator", None)
        counts = estimator is not None and estimator.capabilities.counts
        if (o.measure in ("count", "rate") or counts) and bool((df[col] < 0).any()):
            neg = df.loc[df[col] < 0, col]
            why = (
                f"estimator.method {estimator.method} models non-negative counts: correct those rows, or use a "
                "linear method" if counts
                else "counts and rates cannot be negative: correct those rows, or declare measure: level"
            )
            c.add(
                ProblemCode.NEGATIVE_VALUES, col,
                f"outcome {o.name!r} is a {o.measure} but {len(neg)} rows have negative values (e.g. "
                f"{_fmt(neg.unique(), 3)}); {why}",
            )
        if o.measure == "proportion" and bool(((df[col] < 0) | (df[col] > 1)).any()):
            c.add(ProblemCode.OUT_OF_RANGE, col, f"outcome {o.name!r} is a proportion but has values outside [0, 1]")
        if not bool(df[col].min() < df[col].max()):  # min/max: O(n), no hashing of every value
            c.add(ProblemCode.CONSTANT_OUTCOME, col, f"outcome {o.name!r} takes a single value; nothing to estimate")

    for key in ("weights", "population"):
        col = getattr(design.data, key)
        if col and _numeric(df, col, f"data.{key}", c) and _finite(df, col, f"data.{key}", c):
            bad = int((~(df[col] > 0)).sum())
            if bad:
                c.add(ProblemCode.NON_POSITIVE, col, f"{bad} rows have a missing, zero or negative {key} value")
    for col, key in needed.items():
        if key.startswith("estimator.predictors"):  # synth: missing values inside a window are skipped
            _numeric(df, col, key, c)
            continue
        is_covariate = key.startswith("estimator.covariates")
        if is_covariate and _numeric(df, col, key, c) and _finite(df, col, key, c) and bool(df[col].isna().any()):
            c.add(ProblemCode.MISSING_VALUES, col, f"{int(df[col].isna().sum())} rows are missing ({key})")
    if design.cost_benefit is not None:
        c.warnings += design.cost_benefit.discount_warnings()

    if design.kind == "did":  # type: ignore[attr-defined]
        _did(df, design, c)  # type: ignore[arg-type]
    elif design.kind == "synthetic_control":  # type: ignore[attr-defined]
        _synth(df, design, c)  # type: ignore[arg-type]
    else:
        _rct(df, design, c)  # type: ignore[arg-type]

    if c.problems:
        raise DataError(source, c.problems)

    if time:
        if not c.ordered:  # dropping always-treated units (_treated_from_start) keeps an order that was there
            df = df.sort_values([unit, time], kind="mergesort")
        df = df.reset_index(drop=True)  # shares the columns (copy-on-write)
    treated = df[TREATED].to_numpy(dtype=np.int64) if TREATED in df else None
    if time and len(df):  # rows in unit order now: each unit's rows are one run
        starts = _unit_starts(df[unit])
        n_units = len(starts)
        per_unit = np.add.reduceat(treated, starts) if treated is not None else None
    else:
        unit_codes, unit_ids = pd.factorize(df[unit])
        n_units = len(unit_ids)
        per_unit = np.bincount(unit_codes, weights=treated, minlength=n_units) if treated is not None else None
    summary = {
        "rows": len(df),
        "units": n_units,
        "periods": len(pd.unique(df[time])) if time else None,
        "first_period": _period_shown(df[time].min(), c) if time else None,
        "last_period": _period_shown(df[time].max(), c) if time else None,
        "treated_units": int(np.count_nonzero(per_unit)) if per_unit is not None else None,
    }
    return Panel(
        frame=df, design=design, source=source, sha256=sha256, unit=unit, time=time,
        warnings=tuple(c.warnings), summary=summary, periods=c.periods,
    )


def _period_shown(value: Any, c: _Collector) -> Any:
    return c.periods.label(value) if c.periods is not None else value


def _finite(df: pd.DataFrame, col: str, key: str, c: _Collector) -> bool:
    """False (with a problem naming the column and the rows) if a numeric column holds +/-inf."""
    s = df[col]
    integers = isinstance(s.dtype, np.dtype) and s.dtype.kind in "iub"  # cannot hold inf
    n_inf = 0 if integers else int(np.count_nonzero(np.isinf(_floats(s))))
    if n_inf:
        c.add(ProblemCode.NON_FINITE, col, f"{n_inf} of {len(df)} rows of {key} are infinite; replace them with "
              "finite values (an infinite log comes from log(0): see the outcome's zeros rule) or drop those rows")
    return not n_inf


def _numeric(df: pd.DataFrame, col: str, key: str, c: _Collector) -> bool:
    s = df[col]
    if pd.api.types.is_bool_dtype(s):
        df[col] = s.astype(float)
        return True
    if pd.api.types.is_numeric_dtype(s):
        return True
    converted = pd.to_numeric(s, errors="coerce")
    bad = s[converted.isna() & s.notna()]
    c.add(
        ProblemCode.NON_NUMERIC,
        col,
        f"{key} must be numeric; {len(bad)} values are not numbers, e.g. {_fmt(bad.unique(), 3)}",
    )
    return False


def _coerce_time(s: pd.Series, col: str, c: _Collector, design: DesignBase) -> pd.Series:
    keep_dates = design.kind == "synthetic_control"  # type: ignore[attr-defined]  # its estimator reads dates
    out, c.periods, problem = coerce_periods(s, design.data.frequency, keep_dates=keep_dates)
    if problem:
        c.add(ProblemCode.BAD_TIME, col, problem)
    return out


def _floats(s: pd.Series) -> np.ndarray:
    """A numeric column as floats, missing as NaN: the column's own array when it holds floats already."""
    if isinstance(s.dtype, np.dtype) and s.dtype.kind == "f":
        return s.to_numpy()
    return s.to_numpy(dtype=float, na_value=np.nan)


def _sort_key(s: pd.Series) -> np.ndarray:
    """The values ``sort_values`` orders ``s`` by: a categorical's codes, else the values themselves."""
    return s.cat.codes.to_numpy() if isinstance(s.dtype, pd.CategoricalDtype) else s.to_numpy()


def _in_order(unit: pd.Series, time: pd.Series) -> bool:
    """True if the rows are already sorted by unit, then time (what ``sort_values([unit, time])`` gives):
    one comparison of each row with the next, O(n). Missing or mutually incomparable values give False (the
    sort then runs, and reports what it reports)."""
    if unit.hasnans or time.hasnans:
        return False
    u, t = _sort_key(unit), _sort_key(time)
    if len(u) < 2:
        return True
    try:
        with np.errstate(invalid="ignore"):
            same = u[1:] == u[:-1]
            return bool(np.all((u[1:] > u[:-1]) | (same & (t[1:] >= t[:-1]))))
    except (TypeError, ValueError):  # mixed types; pd.NA in an object column
        return False


def _unit_starts(units: pd.Series) -> np.ndarray:
    """The first row of each unit, for rows in unit order (``_in_order``) and at least one row."""
    u = _sort_key(units)
    return np.flatnonzero(np.r_[True, u[1:] != u[:-1]])


def _unit_cohorts(df: pd.DataFrame, unit: str, ordered: bool) -> pd.Series:
    """Each unit's cohort (constant within a unit), indexed by unit in sorted order."""
    if ordered and len(df):  # rows in unit order: the cohort of each unit's first row, no grouping
        starts = _unit_starts(df[unit])
        return pd.Series(df[COHORT].to_numpy()[starts], index=pd.Index(df[unit].iloc[starts], name=unit), name=COHORT)
    return df.groupby(unit, observed=True)[COHORT].first()


def _cohort_or_missing(first_treated: pd.Series) -> pd.Series:
    """The first treated period, missing for a never-treated row (0 or empty)."""
    if isinstance(first_treated.dtype, np.dtype):  # numpy numbers: one float copy, masked in place
        values = first_treated.to_numpy(dtype=float, copy=True)
        values[~(values > 0)] = np.nan
        return pd.Series(values, index=first_treated.index, name=first_treated.name, copy=False)
    return first_treated.where(first_treated > 0)


def _treated_rows(cohort: pd.Series, time: pd.Series) -> Any:
    """1 in the rows at or after the unit's first treated period, else 0 (never treated: cohort missing)."""
    if isinstance(cohort.dtype, np.dtype) and isinstance(time.dtype, np.dtype) and time.dtype.kind in "iuf":
        return (time.to_numpy() >= cohort.to_numpy()).astype(np.int8)  # NaN compares False
    return (cohort.notna() & (time >= cohort)).astype("int8")


def _cohort_ranges(g: pd.Series, units: pd.Series, ordered: bool) -> pd.DataFrame:
    """Per unit (in order of appearance): the smallest and largest first treated period, how many rows give
    one and how many rows there are."""
    if ordered and len(g):  # rows in unit order: reductions over each unit's run of rows
        starts = _unit_starts(units)
        values = _floats(g)
        return pd.DataFrame({"lo": np.fmin.reduceat(values, starts), "hi": np.fmax.reduceat(values, starts),
                             "n": np.add.reduceat(~np.isnan(values), starts, dtype=np.int64),
                             "size": np.diff(np.r_[starts, len(values)])}, index=pd.Index(units.iloc[starts]))
    by_unit = g.groupby(units, sort=False, observed=True)
    return pd.DataFrame({"lo": by_unit.min(), "hi": by_unit.max(), "n": by_unit.count(), "size": by_unit.size()})


def _duplicates(df: pd.DataFrame, unit: str, time: str, c: _Collector) -> None:
    if c.ordered:  # sorted rows: a repeated unit-period pair sits on adjacent rows
        u, t = _sort_key(df[unit]), _sort_key(df[time])
        repeat = (u[1:] == u[:-1]) & (t[1:] == t[:-1])
        flags = np.zeros(len(df), dtype=bool)
        flags[1:] |= repeat
        flags[:-1] |= repeat
    else:  # one integer key per unit-period from two factorisations: much faster than DataFrame.duplicated
        codes, _ = pd.factorize(df[unit])
        periods, labels = pd.factorize(df[time])
        key = codes.astype(np.int64) * len(labels) + periods
        flags = np.bincount(key)[key] > 1
    dup = pd.Series(flags, index=df.index)
    if bool(dup.any()):
        pairs = df.loc[dup, [unit, time]].drop_duplicates().head(3).itertuples(index=False)
        c.add(
            ProblemCode.DUPLICATE_ROWS,
            f"{unit}, {time}",
            f"{int(dup.sum())} rows share a unit-period pair, e.g. {', '.join(map(str, map(tuple, pairs)))}; "
            "a panel needs one row per unit and period (aggregate or deduplicate first)",
        )


def _binary(df: pd.DataFrame, col: str, key: str, c: _Collector) -> bool:
    if not _numeric(df, col, key, c):
        return False
    n_na = int(df[col].isna().sum())
    if n_na:
        c.add(ProblemCode.MISSING_VALUES, col, f"{n_na} rows have no {key} value")
        return False
    values = set(np.unique(df[col].to_numpy()))
    if not values <= {0, 1}:
        c.add(ProblemCode.NOT_BINARY, col, f"{key} must be 0/1; found {_fmt(sorted(values - {0, 1}))}")
        return False
    return True


def _did(df: pd.DataFrame, design: DidDesign, c: _Collector) -> None:
    unit, time = design.data.unit, design.data.time
    assert time is not None
    tr = design.treatment
    ids_ok = not bool(df[[unit, time]].isna().any().any())
    if ids_ok:
        _duplicates(df, unit, time, c)
    if tr.indicator is not None and not _binary(df, tr.indicator, "treatment.indicator", c):
        return
    if not ids_ok:
        return  # already reported; the checks below need every row placed in the panel
    periods = np.sort(df[time].unique())
    if tr.indicator is not None:
        df[TREATED] = df[tr.indicator].astype("int8")
        first = df.loc[df[TREATED] == 1].groupby(unit, observed=True)[time].min()
        df[COHORT] = df[unit].map(first)
        switching = switching_units(df, unit, time)
        needs = absorbing_required_by(design)
        if switching and needs:
            c.add(ProblemCode.NOT_ABSORBING, tr.indicator, not_absorbing_message(switching, needs))
        elif switching:
            c.warnings.append(f"treatment switches off after it started in {len(switching)} units; twfe compares "
                              "treated with untreated unit-periods, which assumes the effect ends when treatment does")
    else:
        col = tr.first_treated
        assert col is not None
        if c.periods is not None and not pd.api.types.is_numeric_dtype(df[col]):
            df[col], problem = cohort_periods(df[col], c.periods)
            if problem:
                c.add(ProblemCode.BAD_TIME, col, problem)
                return
        if not _numeric(df, col, "treatment.first_treated", c):
            return
        g = _cohort_or_missing(df[col])
        stats = _cohort_ranges(g, df[unit], c.ordered)
        varies = (stats["lo"] != stats["hi"]) & stats["lo"].notna() | (stats["n"] > 0) & (stats["n"] < stats["size"])
        if bool(varies.any()):
            c.add(
                ProblemCode.COHORT_NOT_CONSTANT,
                col,
                f"the first treated period must be the same in every row of a unit; it varies in units "
                f"{_fmt(stats.index[varies], 3)}",
            )
            return
        late = g > periods[-1]
        if bool(late.any()):  # first treated after the data end: untreated throughout, as R `did` treats them
            n_late = df.loc[late, unit].nunique()
            c.warnings.append(
                f"{n_late} units are first treated after the last period {_show(periods[-1])}; they are "
                "untreated throughout the data and count as never treated"
            )
            g = g.where(~late)
        df[COHORT] = g
        df[TREATED] = _treated_rows(g, df[time])

    for col, message in absorbed_covariates(df, design):
        c.add(ProblemCode.ABSORBED_COVARIATE, col, message)
    cohorts = _unit_cohorts(df, unit, c.ordered)
    if _treated_from_start(df, design, cohorts, periods[0], c):
        cohorts = _unit_cohorts(df, unit, c.ordered)
    treated_units = cohorts.dropna()
    if treated_units.empty:
        c.add(ProblemCode.NO_TREATED_UNITS, None, "no unit is ever treated; check the treatment column")
        return
    never = int(cohorts.isna().sum())
    if getattr(design.estimator, "control_group", None) == "never_treated" and never == 0:
        c.add(
            ProblemCode.NO_COMPARISON_UNITS,
            None,
            "no never-treated units; set estimator.control_group: not_yet_treated or add comparison units",
        )
    if never == 0 and treated_units.nunique() < 2:
        c.add(
            ProblemCode.NO_COMPARISON_UNITS,
            None,
            "every unit is treated at the same time, so there is no comparison group; a DiD needs "
            "never-treated units or units treated at different times",
        )


def _treated_from_start(df: pd.DataFrame, design: DidDesign, cohorts: pd.Series, first: Any, c: _Collector) -> bool:
    """Units treated from the first period have no pre-treatment period. The method's capabilities say what
    becomes of them: kept (two-way fixed effects, as R fixest and linearmodels do: the unit effect absorbs
    their indicator), dropped (Callaway & Sant'Anna, as R did does; returns True, the rows are removed from
    ``df``), or refused."""
    no_pre = cohorts[cohorts <= first].index
    if not len(no_pre):
        return False
    n, where = len(no_pre), f"the first period {_show(first)} (e.g. {_fmt(no_pre, 3)})"
    from cpeval.designs.methods import methods

    method = design.estimator.method
    rule = design.estimator.capabilities.always_treated
    if rule == "keep":
        c.warnings.append(
            f"{n} units are treated from {where} and are kept: their treatment indicator is constant, so the unit "
            "effect absorbs it and they serve only as comparisons for the period effects (biased if their effect "
            "changes over time); drop them to compare only with untreated units"
        )
        return False
    if rule == "drop":
        df.drop(index=df.index[df[design.data.unit].isin(no_pre)], inplace=True)
        c.warnings.append(f"dropped {n} units treated from {where}: they have no pre-treatment period, so no "
                          "ATT(g,t) can use them (R did drops them too)")
        return True
    c.add(ProblemCode.TOO_FEW_PRE_PERIODS, None,
          f"{n} units are treated from {where}, so they have no pre-treatment period; drop them or extend the "
          f"data back (method {method!r} cannot use them{_others_that_do(methods('did'))})")
    return False


def _others_that_do(models: dict[str, Any]) -> str:
    """'; twfe keeps them, callaway_santanna drops them': the methods whose capabilities accept them."""
    verbs = {"keep": "keeps", "drop": "drops"}
    said = [f"{name} {verbs[m.capabilities.always_treated]} them" for name, m in models.items()
            if m.capabilities.always_treated in verbs]
    return f"; {', '.join(said)}" if said else ""


def _synth(df: pd.DataFrame, design: SynthDesign, c: _Collector) -> None:
    unit, time = design.data.unit, design.data.time
    assert time is not None
    if df[[unit, time]].isna().any().any():
        return
    _duplicates(df, unit, time, c)
    ids = {str(u): u for u in df[unit].unique()}
    treated = []
    for u in design.treatment.units:
        if str(u) not in ids:
            c.add(
                ProblemCode.UNKNOWN_TREATED_UNIT,
                unit,
                f"treatment.units names {u!r}, which is not a unit in the data{did_you_mean(str(u), ids)}",
            )
        else:
            treated.append(ids[str(u)])
    start = _start_like(design.treatment.start, df[time], time, c)
    if start is None:
        return
    periods = np.sort(df[time].unique())
    n_pre = int((periods < start).sum())
    if n_pre < MIN_SYNTH_PRE_PERIODS:
        c.add(
            ProblemCode.TOO_FEW_PRE_PERIODS,
            time,
            f"only {n_pre} periods before treatment.start {design.treatment.start!r}; the synthetic control "
            f"needs at least {MIN_SYNTH_PRE_PERIODS} (and many more to be credible)",
        )
    if not bool((periods >= start).any()):
        c.add(ProblemCode.TOO_FEW_POST_PERIODS, time, f"no periods at or after treatment.start {_show(start)}")
    counts = df.groupby(unit, observed=True)[time].nunique()
    short = counts[counts < len(periods)]
    if len(short):
        c.add(
            ProblemCode.UNBALANCED_PANEL,
            f"{unit}, {time}",
            f"{len(short)} units lack some periods (e.g. {_fmt(short.index, 3)}); the synthetic control needs "
            "every unit observed in every period",
        )
    donors = design.estimator.donors
    pool = [u for u in ids.values() if u not in treated]
    if donors is not None:
        for d in donors:
            if str(d) not in ids:
                c.add(ProblemCode.UNKNOWN_DONOR, unit,
                      f"estimator.donors names {d!r}, not a unit in the data{did_you_mean(str(d), ids)}")
        pool = [ids[str(d)] for d in donors if str(d) in ids and ids[str(d)] not in treated]
    if not pool:
        c.add(ProblemCode.NO_COMPARISON_UNITS, unit,
              "the donor pool is empty; list untreated units in estimator.donors, or remove the key to use "
              "every untreated unit")
    df[TREATED] = (df[unit].isin(treated) & (df[time] >= start)).astype("int8")
    if not isinstance(start, pd.Timestamp):
        df[COHORT] = np.where(df[unit].isin(treated), float(start), np.nan)


def _start_like(start: Any, periods: pd.Series, column: str, c: _Collector) -> Any:
    """treatment.start as a value comparable with the period column, or None (with a problem) if it is not."""
    if pd.api.types.is_datetime64_any_dtype(periods):
        try:
            return pd.Timestamp(start)
        except (ValueError, TypeError):
            pass
    elif isinstance(start, (int, float)) and not isinstance(start, bool):
        return start
    c.add(ProblemCode.BAD_TIME, column,
          f"treatment.start {start!r} is not a period of {column!r} (periods are "
          f"{'dates' if pd.api.types.is_datetime64_any_dtype(periods) else 'numbers'}, e.g. {_show(periods.iloc[0])})")
    return None


def _rct(df: pd.DataFrame, design: RctDesign, c: _Collector) -> None:
    tr = design.treatment
    unit, time = design.data.unit, design.data.time
    if time:
        _duplicates(df, unit, time, c)
    elif bool(df[unit].duplicated().any()):
        dup = df.loc[df[unit].duplicated(keep=False), unit]
        c.add(ProblemCode.DUPLICATE_ROWS, unit,
              f"{len(dup)} rows share a unit id, e.g. {_fmt(dup.unique(), 3)}; a trial without data.time needs one "
              "row per unit (set data.time for repeated measures, or deduplicate)")
    if not _binary(df, tr.assignment, "treatment.assignment", c):
        return
    df[TREATED] = df[tr.assignment].astype("int8")
    if tr.received is not None:
        _binary(df, tr.received, "treatment.received", c)
    if design.attrition is not None:
        _binary(df, design.attrition.observed, "attrition.observed", c)
    n1 = int(df[TREATED].sum())
    if n1 == 0:
        c.add(ProblemCode.NO_TREATED_UNITS, tr.assignment, "no one is assigned to treatment")
    if n1 == len(df):
        c.add(ProblemCode.NO_COMPARISON_UNITS, tr.assignment, "no one is assigned to control")
    for key in ("block", "cluster"):
        col = getattr(tr, key)
        if col and bool(df[col].isna().any()):
            c.add(ProblemCode.MISSING_VALUES, col, f"{int(df[col].isna().sum())} rows have no treatment.{key}")
    if tr.cluster:
        varies = df.groupby(tr.cluster, observed=True)[TREATED].nunique()
        if bool((varies > 1).any()):
            c.add(
                ProblemCode.ASSIGNMENT_VARIES_IN_CLUSTER,
                tr.assignment,
                f"assignment varies within {int((varies > 1).sum())} clusters of treatment.cluster "
                f"{tr.cluster!r}; in a cluster-randomised trial everyone in a cluster shares one arm",
            )
