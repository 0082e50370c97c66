"""Outcome measures for the three things para 23(c) of the UN Guidelines asks to assess.

- crime and victimisation: counts, totals, rates per 1,000 / 100,000, logs with an explicit zero rule,
  victimisation prevalence, incidence and concentration (:mod:`cpeval.outcomes.transforms`,
  :mod:`cpeval.outcomes.survey`);
- seriousness: harm indices from weight tables with provenance (:mod:`cpeval.outcomes.harm`);
- fear of crime: survey items and standardised indices with Cronbach's alpha, weighted proportions with
  design-based SEs clustered by area (:mod:`cpeval.outcomes.survey`).

:func:`derive` adds every derived outcome column before validation; :func:`annotate_effect` adds the
outcome-specific figures (baseline, % of baseline, harm contributions, survey tables) to each Effect.
"""

from __future__ import annotations

from cpeval.outcomes.annotate import annotate_effect
from cpeval.outcomes.derive import derive
from cpeval.outcomes.harm import WeightTable, available_tables, harm_components, harm_index, load_weight_table
from cpeval.outcomes.survey import (
    cronbach_alpha,
    standardised_index,
    victimisation_from_incidents,
    weighted_mean_se,
)
from cpeval.outcomes.transforms import log_with_zero_rule, rate, total

__all__ = [
    "WeightTable",
    "annotate_effect",
    "available_tables",
    "cronbach_alpha",
    "derive",
    "harm_components",
    "harm_index",
    "load_weight_table",
    "log_with_zero_rule",
    "rate",
    "standardised_index",
    "total",
    "victimisation_from_incidents",
    "weighted_mean_se",
]
