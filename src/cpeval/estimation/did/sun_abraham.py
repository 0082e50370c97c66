"""Sun & Abraham (2021) interaction-weighted event study, through linearmodels PanelOLS.

Step 1: y_it = a_i + l_t + sum_g sum_{e != -1} d_{g,e} 1{G_i = g} 1{t - g = e} + e_it, every treated cohort g
interacted with every event time e (a saturated model, so no cohort's effect leaks into another's). The
control cohort is the never-treated units or, when there are none, the last cohort to adopt (periods from its
adoption on are then dropped). Step 2: each event time's effect is the average of the cohort-specific
d_{g,e}, weighted by each cohort's share of the observations at that event time (binned end points pool
their cells the same way). The covariance follows by the delta method with the shares held fixed, as in
R ``fixest::sunab``. The headline ATT averages every post-treatment cell, weighted by its size.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from cpeval.data.panel import COHORT
from cpeval.estimation.did.event_study import event_effect, event_times, fit_indicators, last_cohort_as_control

if TYPE_CHECKING:
    from cpeval.data.panel import Panel
    from cpeval.designs.did import DidDesign
    from cpeval.designs.outcomes import OutcomeSpec
    from cpeval.results import Effect


class SunAbraham:
    """Interaction-weighted event-study estimator (heterogeneity-robust under staggered adoption)."""

    method = "sun_abraham"

    def __init__(self, design: DidDesign):
        self.design = design

    def fit(self, panel: Panel, outcome: OutcomeSpec) -> Effect:
        import pandas as pd

        design = self.design
        frame, note = last_cohort_as_control(panel.outcome_rows(outcome.column), panel, outcome)
        control = "never-treated units" if note is None else "the last cohort to adopt (before its adoption)"
        cohort = frame[COHORT].to_numpy(dtype=float)
        et = event_times(panel, frame, design)
        treated = ~np.isnan(cohort)
        in_cell = treated & (et.rel != et.ref)
        cell_g = cohort[in_cell]
        cell_e = et.rel[in_cell].astype(int)
        cells = pd.DataFrame({"g": cell_g, "e": cell_e}).drop_duplicates().sort_values(["g", "e"])
        cells = cells.reset_index(drop=True)
        code = pd.MultiIndex.from_frame(cells).get_indexer(pd.MultiIndex.from_arrays([cell_g, cell_e]))
        from scipy import sparse

        rows = np.flatnonzero(in_cell)
        x = sparse.csc_matrix((np.ones(len(rows)), (rows, code)), shape=(len(frame), len(cells)))
        fit, delta, v_delta, infl_delta, lev_delta = fit_indicators(frame, x, panel=panel, outcome=outcome,
                                                                    design=design, what="Sun & Abraham")
        w_obs = frame[design.data.weights].to_numpy(dtype=float) if design.data.weights else np.ones(len(frame))
        size = np.bincount(code, weights=w_obs[rows], minlength=len(cells))
        counts = np.bincount(code, minlength=len(cells))
        e_cell = cells["e"].to_numpy()
        bin_cell = np.clip(e_cell, et.lo, et.hi) if et.binned_ends else e_cell
        keys = [k for k in et.shown if (bin_cell == k).any()]
        agg = (bin_cell[None, :] == np.asarray(keys)[:, None]) * size[None, :]
        key_size = agg.sum(axis=1)
        agg = agg / key_size[:, None]
        beta = agg @ delta
        vcov = agg @ v_delta @ agg.T
        n_by_key = {k: int(counts[bin_cell == k].sum()) for k in keys}
        n_by_key[et.ref] = int(((et.rel == et.ref) & treated).sum())
        cohort_table = [
            {"cohort": float(g), "event_time": int(e), "estimate": float(d), "std_error": float(s),
             "n_obs": int(n)}
            for g, e, d, s, n in zip(cells["g"], e_cell, delta, np.sqrt(np.diag(v_delta)), counts, strict=True)
        ]
        return event_effect(
            method=self.method, design=design, outcome=outcome, et=et, keys=keys, beta=beta, vcov=vcov,
            n_by_key=n_by_key, n_obs=fit.nobs, n_units=int(frame[panel.unit].nunique()),
            n_clusters=fit.n_clusters, cluster=design.cluster_column, headline_weights=key_size,
            diagnostics={"comparison": control, "cohort_event_effects": cohort_table,
                         "rsquared_within": fit.rsquared_within},
            notes=[note] if note else [], influence=(fit.influence.index.to_numpy(), infl_delta @ agg.T),
            frame=frame, leverage=lev_delta @ agg.T,
        )
