"""Crime counts, totals, rates and logs with an explicit rule for zeros; and a check that a column declared to
hold natural logs does not hold counts."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

ZERO_RULES = {
    "add_one": "log(y + 1): zeros kept; the effect is approximately a proportional change only when counts "
    "are large",
    "drop": "log(y): rows with y = 0 are left out of this outcome (the estimand then excludes zero-crime "
    "cells, which can bias the effect if the programme moves cells to or from zero)",
    "error": "log(y): zeros are an error",
}

# A natural log above 25 is a quantity above e^25 (about 7 x 10^10): no crime count or rate per head is that large.
LOG_CEILING = 25.0


def rate(counts: pd.Series, population: pd.Series, per: int) -> pd.Series:
    """Counts per ``per`` residents: counts / population * per."""
    return counts.astype(float) / population.astype(float) * per


def total(frame: pd.DataFrame, columns: list[str]) -> pd.Series:
    """Row sum of several count columns (NaN if any is missing)."""
    return frame[columns].astype(float).sum(axis=1, min_count=len(columns))


def log_with_zero_rule(values: pd.Series, rule: str) -> tuple[pd.Series, int]:
    """The natural log of ``values`` under ``rule`` (add_one | drop | error); returns (series, n_zeros).

    Raises ``ValueError`` for negative values, and for zeros under ``rule='error'``.
    """
    v = values.astype(float)
    n_neg = int((v < 0).sum())
    if n_neg:
        raise ValueError(f"{n_neg} values are negative; a log needs values >= 0")
    n_zero = int((v == 0).sum())
    if rule == "add_one":
        return np.log1p(v), n_zero
    if rule == "drop":
        return np.log(v.where(v > 0)), n_zero
    if rule == "error":
        if n_zero:
            raise ValueError(
                f"{n_zero} values are zero, so their log is undefined; set zeros: add_one or zeros: drop "
                "(or model the counts with a Poisson estimator)"
            )
        return np.log(v), 0
    raise ValueError(f"unknown zero rule {rule!r}; expected one of {', '.join(ZERO_RULES)}")


def counts_declared_as_log(values: np.ndarray | pd.Series) -> str | None:
    """Why a column declared to hold natural logs (``take_log: false``) looks like counts, or None if it does not.

    The rule, on the non-missing values:

    - every value is a whole number >= 0: a natural log of measured data is a whole number only where the
      quantity is exactly a power of e (1, e, e^2, ...), so a column of whole numbers holds counts, whatever
      its mean; or
    - some value exceeds ``LOG_CEILING`` (25): a log that large is a quantity above e^25, about 7 x 10^10.
    """
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if not v.size:
        return None
    if bool((v >= 0).all() and (v == np.round(v)).all()):
        return f"every value is a whole number >= 0 (mean {v.mean():.2f}), as counts are"
    top = float(v.max())
    if top > LOG_CEILING:
        return (f"its largest value is {top:.1f}, above {LOG_CEILING:g} (a natural log above {LOG_CEILING:g} is a "
                f"quantity above {math.exp(LOG_CEILING):.0e}), as counts and rates are")
    return None
