"""Randomised-trial estimators: ``difference_in_means`` and ``lin``, for the ITT or (by IV) the CACE.

Each Effect also carries the re-randomisation (``inference.permutations``) and multiplicity-adjusted
(``inference.multiple_testing``) p-values, which need every outcome of the design at once. The estimator is
stateless: :meth:`RctEstimatorBase.fit_outcomes` builds one :class:`PanelFits` for a call and fits every
outcome from it, each shared step once; ``fit`` is ``fit_outcomes`` for one outcome (it still computes the
family's p-values). Results do not depend on the order of the outcomes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from cpeval.data.panel import TREATED
from cpeval.errors import DesignError, EstimationError
from cpeval.estimation.inference import (
    FEW_TREATED_CLUSTERS,
    ClusterCounts,
    cluster_warnings,
    code_labels,
    count_clusters,
    few_clusters_warning,
    make_effect,
    wald_interval,
)
from cpeval.estimation.rct.core import MAX_DENSE_CELLS, Estimate, Trial, estimate_itt, refused_cluster_blocks
from cpeval.payloads import FirstStage, LeeBounds, OtherEstimand, Payload, TrialTests
from cpeval.results import Effect, Sampling, p_value

if TYPE_CHECKING:
    from collections.abc import Sequence

    from cpeval.data.panel import Panel
    from cpeval.designs.outcomes import OutcomeSpec
    from cpeval.designs.rct import RctDesign

FEW_CLUSTERS_RCT = 40
RW_DEFAULT_DRAWS = 2000


@dataclass(frozen=True)
class TrialFrame:
    """The validated frame sorted by unit, with block and cluster codes, shared by all outcomes."""

    frame: pd.DataFrame
    z: np.ndarray
    block: np.ndarray | None
    cluster: np.ndarray | None
    observed: np.ndarray  # 1 if the outcome was not lost to attrition

    def rows(self, column: str) -> np.ndarray:
        return self.observed & self.frame[column].notna().to_numpy()

    def trial(self, column: str, covariates: list[str], received: str | None) -> Trial:
        keep = self.rows(column)
        f = self.frame.loc[keep]
        X = f[covariates].to_numpy(float) if covariates else np.empty((int(keep.sum()), 0))
        return Trial(
            y=f[column].to_numpy(float),
            z=self.z[keep],
            block=_recode(self.block[keep]) if self.block is not None else None,
            cluster=_recode(self.cluster[keep]) if self.cluster is not None else None,
            X=X,
            d=f[received].to_numpy(float) if received else None,
        )


def _recode(codes: np.ndarray) -> np.ndarray:
    return np.unique(codes, return_inverse=True)[1]


def trial_frame(panel: Panel, design: RctDesign) -> TrialFrame:
    """Sort by unit (so results do not depend on row order) and code blocks and clusters as 0..B-1."""
    if design.data.weights:
        raise DesignError(
            "data.weights is not supported for kind 'rct' (design-based trial estimators weight people "
            "equally); remove data.weights"
        )
    frame = panel.frame.sort_values(panel.unit, kind="mergesort").reset_index(drop=True)
    tr = design.treatment
    block = pd.factorize(frame[tr.block], sort=True)[0] if tr.block else None
    cluster = pd.factorize(frame[tr.cluster], sort=True)[0] if tr.cluster else None
    if block is not None and cluster is not None:
        per = pd.Series(block).groupby(cluster).nunique()
        if bool((per > 1).any()):
            raise EstimationError(
                f"{int((per > 1).sum())} clusters of {tr.cluster!r} span several blocks of {tr.block!r}; "
                "clusters must be nested in blocks (each cluster is randomised within one block)"
            )
    if design.attrition is not None:
        observed = frame[design.attrition.observed].to_numpy() == 1
    else:
        observed = np.ones(len(frame), dtype=bool)
    z = frame[TREATED].to_numpy(float)
    return TrialFrame(frame, z, block, cluster, observed)


@dataclass(frozen=True)
class FamilyInference:
    """Randomisation-inference and multiplicity-adjusted p-values for every outcome of the design."""

    ri_p: dict[str, float]
    ri_draws: int  # draws used (all possible assignments if exact)
    ri_exact: bool
    adjusted: dict[str, float]
    method: str
    raw: dict[str, float]


def _ri_matrix(tf: TrialFrame, design: RctDesign) -> np.ndarray:
    """Outcomes as columns (NaN outside each outcome's analysis sample); ``lin`` uses covariate residuals."""
    cols = []
    covs = design.estimator.covariates
    for o in design.outcomes:
        keep = tf.rows(o.column)
        y = np.full(len(tf.frame), np.nan)
        yk = tf.frame.loc[keep, o.column].to_numpy(float)
        if design.estimator.capabilities.covariate_adjusted and covs:
            X = tf.frame.loc[keep, covs].to_numpy(float)
            X1 = np.column_stack([np.ones(len(yk)), X - X.mean(axis=0)])
            yk = yk - X1[:, 1:] @ np.linalg.lstsq(X1, yk, rcond=None)[0][1:]
        y[keep] = yk
        cols.append(y)
    return np.column_stack(cols)


def family_inference(tf: TrialFrame, design: RctDesign, raw_p: dict[str, float]) -> FamilyInference:
    from cpeval.estimation.rct.multiple import adjust
    from cpeval.estimation.rct.randomization import enumerable, p_values, statistics

    adjustment = design.inference.multiple_testing
    n_draws = design.inference.permutations
    if adjustment == "romano_wolf" and n_draws == 0:
        n_draws = RW_DEFAULT_DRAWS
    names = [o.name for o in design.outcomes]
    ri_p: dict[str, float] = {}
    t_obs = t_null = None
    exact = False
    if n_draws:
        rng = np.random.default_rng(design.inference.seed)
        exact = enumerable(tf.z, tf.block, tf.cluster, n_draws)
        observed, null = statistics(
            _ri_matrix(tf, design), tf.z, tf.block, tf.cluster, design.estimator.blocked, n_draws, rng, exact=exact
        )
        if design.inference.permutations:
            ri_p = dict(zip(names, p_values(observed, null, n_draws, exact=exact).tolist(), strict=True))
        sd = null.std(axis=0)
        sd[sd == 0] = 1.0
        t_obs, t_null = observed / sd, null / sd
    p = np.array([raw_p[n] for n in names])
    adj = adjust(adjustment, p, t_obs, t_null, exact) if len(names) > 1 or adjustment == "romano_wolf" else p
    used = len(t_null) if t_null is not None else 0
    return FamilyInference(ri_p, used, exact, dict(zip(names, adj.tolist(), strict=True)), adjustment, raw_p)


@dataclass
class PanelFits:
    """One call's trial frame and fits, each computed once: the family p-values need every outcome's ITT
    (or CACE), which the outcomes' own fits then reuse. Lives only for one ``fit_outcomes`` call."""

    tf: TrialFrame
    itt: dict[str, tuple[Trial, Estimate]] = field(default_factory=dict)  # by outcome column
    cace: dict[str, tuple] = field(default_factory=dict)
    family: FamilyInference | None = None


class RctEstimatorBase:
    """Shared ``fit`` of the randomised-trial estimators."""

    method = "difference_in_means"

    def __init__(self, design: RctDesign):
        self.design = design
        self.adjusted = design.estimator.capabilities.covariate_adjusted  # Lin: covariates interacted

    def fit(self, panel: Panel, outcome: OutcomeSpec) -> Effect:
        """One outcome's Effect (its family p-values are still computed across the design's outcomes)."""
        return self.fit_outcomes(panel, [outcome])[0]

    def fit_outcomes(self, panel: Panel, outcomes: Sequence[OutcomeSpec]) -> list[Effect]:
        """Every outcome's Effect from one trial frame, with the family inference computed once."""
        fits = PanelFits(trial_frame(panel, self.design))
        return [self._fit_one(panel, fits, outcome) for outcome in outcomes]

    def _outcome_p(self, fits: PanelFits, outcome: OutcomeSpec) -> float:
        """The p-value of the design's estimand (ITT, or CACE by IV) for ``outcome``."""
        _, itt = self._itt(fits, outcome)
        if self.design.estimand == "cace":
            est, se, df, *_ = self._cace(fits, outcome)
            return p_value(est / se, df)
        return p_value(itt.estimate / itt.std_error, itt.df)

    def _family(self, fits: PanelFits) -> FamilyInference:
        """Raw, randomisation and adjusted p-values of every outcome."""
        if fits.family is None:
            raw = {o.name: self._outcome_p(fits, o) for o in self.design.outcomes}
            fits.family = family_inference(fits.tf, self.design, raw)
        return fits.family

    def _itt(self, fits: PanelFits, outcome: OutcomeSpec) -> tuple[Trial, Estimate]:
        """The analysis sample and ITT fit of ``outcome``."""
        if outcome.column not in fits.itt:  # keyed by column: a refit of another column may reuse the name
            fits.itt[outcome.column] = self._fit_itt(fits.tf, outcome)
        return fits.itt[outcome.column]

    def _fit_itt(self, tf: TrialFrame, outcome: OutcomeSpec) -> tuple[Trial, Estimate]:
        est = self.design.estimator
        trial = tf.trial(outcome.column, est.covariates, self.design.treatment.received)
        n1 = int(trial.z.sum())
        if n1 < 1 or n1 == len(trial.z):
            raise EstimationError(
                f"outcome {outcome.name!r}: after attrition one arm has no observed units "
                f"({n1} treated of {len(trial.z)}); the effect cannot be estimated"
            )
        block = self.design.treatment.block

        def blocks(codes: np.ndarray) -> tuple[str, str]:
            """``n block(s) of 'col'`` and the first few labels of the block ``codes`` of this analysis sample."""
            labels = np.unique(tf.frame.loc[tf.rows(outcome.column), block])[codes[:5]]
            shown = ", ".join(repr(v.item() if hasattr(v, "item") else v) for v in labels)
            return f"{len(codes)} block(s) of {block!r} have", shown

        if trial.block is not None:
            n1_b = np.bincount(trial.block, weights=trial.z)
            n_b = np.bincount(trial.block)
            one_arm = np.flatnonzero((n1_b == 0) | (n1_b == n_b))
            if len(one_arm):
                which, shown = blocks(one_arm)
                raise EstimationError(
                    f"outcome {outcome.name!r}: {which} observed units in only one arm ({shown}); a within-block "
                    "comparison is impossible there. Merge those blocks with neighbours or drop them"
                )
        refused = refused_cluster_blocks(trial, self.adjusted, est.blocked)
        if len(refused):
            which, shown = blocks(refused)
            raise EstimationError(
                f"outcome {outcome.name!r}: {which} a single treated or control cluster ({shown}) and no block is a "
                "pair of clusters, so the within-block variance cannot be estimated there (a lone cluster adds "
                "nothing to it; R estimatr's difference_in_means refuses this design too). Merge those blocks with "
                "neighbours so that each arm of a block has at least two clusters, or set estimator.blocked: "
                "fixed_effects (block dummies with CR2 errors)"
            )
        try:
            return trial, estimate_itt(trial, self.adjusted, est.blocked)
        except EstimationError as exc:  # the numerical core does not know the outcome's name
            raise EstimationError(f"outcome {outcome.name!r}: {exc}") from exc

    def _fit_one(self, panel: Panel, fits: PanelFits, outcome: OutcomeSpec) -> Effect:
        design = self.design
        tf = fits.tf
        trial, itt = self._itt(fits, outcome)
        estimable = not itt.extra.get("no_variance")
        has_se = math.isfinite(itt.std_error) and itt.std_error > 0
        if not (math.isfinite(itt.estimate) and (has_se or not estimable)):
            raise EstimationError(
                f"outcome {outcome.name!r}: the effect is not identified (estimate {itt.estimate}, "
                f"SE {itt.std_error}); check that both arms have variation in the outcome"
            )
        level = design.inference.level
        notes = list(itt.notes)
        counts = _cluster_counts(trial, design.treatment.cluster)
        if counts is not None and itt.influence_by == "cluster":  # the CR2 paths (matched pairs are by block)
            few_arm = min(counts.treated, counts.untreated) < FEW_TREATED_CLUSTERS
            few = few_clusters_warning(
                itt.n_clusters, design.treatment.cluster, FEW_CLUSTERS_RCT,
                "cpeval uses CR2 with Bell-McCaffrey degrees of freedom, but read the randomisation-inference "
                "p-value (set inference.permutations) alongside it",
            )
            notes += cluster_warnings(counts) if few_arm else [few] if few else []
        diagnostics: dict = {
            "arms": _arms(trial),
            "blocks": int(trial.block.max()) + 1 if trial.block is not None else None,
            "blocked": design.estimator.blocked if trial.block is not None else None,
            "covariates": list(design.estimator.covariates) if self.adjusted else [],
        }
        estimate, se, df, vtype = itt.estimate, itt.std_error, itt.df, itt.variance_type
        estimand = design.estimand
        found: list[Payload] = [] if counts is None else [counts]
        headline = itt  # the Estimate whose influence the Effect carries
        if estimand == "cace":
            estimate, se, df, vtype, iv_diag, iv_notes, cace_influence = self._cace(fits, outcome)
            headline = replace(itt, influence=cace_influence,
                               influence_by="unit" if trial.cluster is None else "cluster")
            found += [OtherEstimand("itt", itt.estimate, itt.std_error, itt.df, itt.variance_type,
                                    p_value(itt.estimate / itt.std_error, itt.df)), FirstStage(**iv_diag)]
            notes += iv_notes
        elif design.treatment.received is not None:  # report the CACE beside the ITT
            try:
                c_est, c_se, c_df, c_vtype, iv_diag, iv_notes, _ = self._cace(fits, outcome)
            except EstimationError as exc:  # the ITT stands on its own; say why the CACE is missing
                notes.append(f"the CACE beside the ITT could not be estimated: {exc}")
            else:
                c_ci = wald_interval(c_est, c_se, design.inference.level, c_df)
                found += [OtherEstimand("cace", c_est, c_se, c_df, c_vtype, c_ci.p_value, c_ci.lower, c_ci.upper),
                          FirstStage(**iv_diag)]
                notes += iv_notes
        fam = self._family(fits)
        found.append(TrialTests(
            p_value_raw=fam.raw[outcome.name], p_value_adjusted=fam.adjusted[outcome.name],
            multiple_testing=fam.method, family_size=len(design.outcomes), ri_p_value=fam.ri_p.get(outcome.name),
            ri_draws=fam.ri_draws if fam.ri_p else 0, ri_exact=fam.ri_exact if fam.ri_p else None,
            ri_statistic=(
                _block_label(tf.block is not None, design.estimator.blocked) + "difference in means"
                + (" of covariate residuals" if self.adjusted else "")
                + (", re-randomised by cluster" if tf.cluster is not None else "")
                + (" within blocks" if tf.block is not None else "")
            ) if fam.ri_p else None,
        ))
        units = tf.frame.loc[tf.rows(outcome.column), panel.unit].nunique()
        effect = make_effect(
            outcome,
            method=self.method,
            estimand=estimand,
            estimate=estimate,
            std_error=se,
            level=level,
            df=df,
            n_obs=len(trial.y),
            n_units=int(units),
            n_clusters=itt.n_clusters,
            variance_type=vtype,
            diagnostics=diagnostics,
            warnings=notes,
            sampling=self._sampling(tf, trial, headline, outcome, panel.unit),
            payloads=tuple(found),
        )
        if design.attrition is not None:
            effect = replace(effect, payloads=(*effect.payloads, self._lee(tf, outcome)))
        return effect

    def _sampling(self, tf: TrialFrame, trial: Trial, itt: Estimate, outcome: OutcomeSpec, unit: str
                  ) -> Sampling | None:
        """The estimate's influence labelled by unit, cluster or block (to combine outcomes' uncertainty)."""
        if itt.influence is None:
            return None
        tr = self.design.treatment
        by = {"unit": unit, "cluster": tr.cluster, "block": tr.block}[itt.influence_by]
        raw = tf.frame.loc[tf.rows(outcome.column), by].to_numpy()
        codes = {"unit": None, "cluster": trial.cluster, "block": trial.block}[itt.influence_by]
        labels = raw if codes is None else code_labels(codes, raw)
        return Sampling(by=by, labels=labels, influence=itt.influence)

    def _cace(self, fits: PanelFits, outcome: OutcomeSpec):
        """The CACE fit of ``outcome`` by IV (the family p-values need it too)."""
        if outcome.column not in fits.cace:
            trial, itt = self._itt(fits, outcome)
            fit = self._fit_cace(trial, outcome)
            if itt.extra.get("no_variance"):  # the IV sandwich would be as degenerate as the ITT's
                est, _, _, _, diag, notes, _ = fit
                fit = (est, float("nan"), None, "not estimable (IV; no standard error)", diag, notes, None)
            fits.cace[outcome.column] = fit
        return fits.cace[outcome.column]

    def _fit_cace(self, trial: Trial, outcome: OutcomeSpec):
        from cpeval.estimation._adapters.linearmodels import iv_2sls
        from cpeval.estimation.rct.core import dummies

        exog = [np.ones((len(trial.y), 1))]
        if self.adjusted and trial.X.shape[1]:
            exog.append(trial.X - trial.X.mean(axis=0))
        if trial.block is not None and int(trial.block.max()) > 0:
            if len(trial.y) * int(trial.block.max()) > MAX_DENSE_CELLS:
                raise EstimationError(
                    f"outcome {outcome.name!r}: the CACE regression would need {int(trial.block.max())} block "
                    f"dummies for {len(trial.y)} rows; merge small blocks or estimate the ITT (estimand: itt)"
                )
            exog.append(dummies(trial.block))
        assert trial.d is not None
        if np.all(trial.d == trial.z):
            raise EstimationError(
                f"outcome {outcome.name!r}: take-up equals assignment for everyone, so the CACE equals the "
                "ITT; use estimand: itt"
            )
        fit = iv_2sls(trial.y, trial.d, trial.z, np.hstack(exog), trial.cluster)
        notes = []
        if fit.first_stage_f < 10:
            notes.append(
                f"weak first stage: assignment moves take-up by {fit.first_stage_coef:.3f} (F = "
                f"{fit.first_stage_f:.1f} < 10); the CACE and its interval are unreliable"
            )
        df = (fit_clusters(trial) - 1) if trial.cluster is not None else None
        diag = {"coefficient": fit.first_stage_coef, "f_statistic": fit.first_stage_f,
                "partial_r2": fit.first_stage_partial_r2,
                "take_up_treated": float(trial.d[trial.z == 1].mean()),
                "take_up_control": float(trial.d[trial.z == 0].mean())}
        vtype = f"{fit.cov_type}; " + ("t with G-1 df" if df else "normal reference")
        return fit.estimate, fit.std_error, df, vtype, diag, notes, fit.influence

    def _lee(self, tf: TrialFrame, outcome: OutcomeSpec) -> LeeBounds:
        from cpeval.estimation.rct.lee import lee_bounds, lee_bounds_ci

        y = tf.frame[outcome.column].to_numpy(float)
        obs = tf.observed & ~np.isnan(y)
        bounds = lee_bounds(y, tf.z, obs)
        reps = self.design.inference.bootstrap or 200
        rng = np.random.default_rng(self.design.inference.seed)
        lo, hi = lee_bounds_ci(y, tf.z, obs, self.design.inference.level, reps, rng, tf.cluster)
        unit = "clusters" if tf.cluster is not None else "people"
        return LeeBounds(**bounds, ci_lower=lo, ci_upper=hi, bootstrap=reps,
                         note=f"bounds pool the blocks; the interval resamples {unit}")


def _block_label(blocked: bool, weighting: str) -> str:
    if not blocked:
        return ""
    return "block-size-weighted " if weighting == "weighted" else "precision-weighted (fixed-effects) "


def fit_clusters(trial: Trial) -> int:
    return int(trial.cluster.max()) + 1 if trial.cluster is not None else 0


def _arms(trial: Trial) -> dict:
    z = trial.z.astype(bool)
    out = {"n_treated": int(z.sum()), "n_control": int((~z).sum()),
           "mean_treated": float(trial.y[z].mean()), "mean_control": float(trial.y[~z].mean())}
    if trial.cluster is not None:
        out["clusters_treated"] = int(np.unique(trial.cluster[z]).size)
        out["clusters_control"] = int(np.unique(trial.cluster[~z]).size)
    return out


class DifferenceInMeans(RctEstimatorBase):
    """Difference in means with the Neyman/HC2 variance (block-weighted if blocked; CR2 if clustered)."""

    method = "difference_in_means"


class Lin(RctEstimatorBase):
    """Lin (2013): baseline covariates centred and fully interacted with assignment; HC2 or CR2 errors."""

    method = "lin"


def _cluster_counts(trial: Trial, column: str | None) -> ClusterCounts | None:
    """Clusters in all, assigned to treatment and to control, and G* for the difference in means (each
    person's error enters it with weight 1/n_treated or -1/n_control; Carter, Schnepel & Steigerwald 2017)."""
    if trial.cluster is None or column is None:
        return None
    treated = trial.z > 0
    n1 = int(treated.sum())
    leverage = np.where(treated, 1.0 / max(n1, 1), -1.0 / max(len(treated) - n1, 1))
    return count_clusters(trial.cluster, treated, column, leverage)
