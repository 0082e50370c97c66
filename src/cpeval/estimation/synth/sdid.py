"""Synthetic difference-in-differences (Arkhangelsky, Athey, Hirshberg, Imbens & Wager 2021, AER).

Unit weights (simplex, with an intercept and a ridge penalty zeta^2 T0 ||w||^2, zeta = (N1 T1)^(1/4) times
the standard deviation of the donors' pre-period first differences) make the donors' pre-trend parallel to
the treated units'; time weights (simplex, intercept, a vanishing ridge) make the pre-periods resemble the
post-period average. The estimate is the weighted double difference. Both weight problems are solved
exactly by the simplex QP (R synthdid uses Frank-Wolfe with early stopping, so weights can differ slightly).
The variance is the placebo variance of Algorithm 4 (R synthdid ``vcov(method = "placebo")``): donors play the
treated units, each placebo fitted with the original fit's regularisation (zeta), as synthdid passes its
``opts`` to every replication; the standard error is the placebo estimates' standard deviation with divisor r
(synthdid's ``sqrt((r-1)/r) * sd``). synthdid draws ``replications`` random assignments; when they would be at
least the number of distinct ones (C(N0, N1): N0 with one treated unit) every distinct assignment is fitted once
instead, which gives the variance synthdid's Monte Carlo estimates, exactly and without a seed.
Per-period conformal intervals (Chernozhukov, Wuthrich & Zhu 2021) refit the unit-weight model (simplex,
intercept, the same ridge) on the pre-periods plus each post-period.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from cpeval.errors import EstimationError
from cpeval.estimation.synth._qp import simplex_ls
from cpeval.estimation.synth.common import conformal_summary, path_rows, weights_dict
from cpeval.estimation.synth.core import rmspe
from cpeval.estimation.synth.prep import prepare
from cpeval.payloads import SynthFit
from cpeval.results import Effect, jsonable

if TYPE_CHECKING:
    from collections.abc import Callable

    from cpeval.data.panel import Panel
    from cpeval.designs.outcomes import OutcomeSpec
    from cpeval.designs.synth import SynthDesign
    from cpeval.estimation.synth.conformal import Predict
    from cpeval.estimation.synth.prep import SynthData


@dataclass(frozen=True)
class SdidFit:
    tau: float
    omega: np.ndarray  # (J,)
    lam: np.ndarray  # (T0,)
    zeta: float
    gap: np.ndarray  # (T,) treated minus (weighted donors + intercept)
    synthetic: np.ndarray  # (T,)


def noise_level(pre0: np.ndarray) -> float:
    """synthdid's ``noise.level``: the standard deviation of the donors' pre-period first differences."""
    diffs = np.diff(pre0, axis=0)
    return float(np.std(diffs, ddof=1)) if diffs.size > 1 else 0.0


def sdid_fit(
    y1: np.ndarray, y0: np.ndarray, n_pre: int, n_treated: int = 1, sigma: float | None = None
) -> SdidFit:
    """SDID for the mean treated series ``y1`` (T,) against donors ``y0`` (T, J). ``sigma``: the noise level
    setting both ridge penalties (default: ``noise_level`` of these donors)."""
    pre0, post0 = y0[:n_pre], y0[n_pre:]
    n_post = len(y1) - n_pre
    if sigma is None:
        sigma = noise_level(pre0)
    zeta = (n_treated * n_post) ** 0.25 * sigma
    a = pre0 - pre0.mean(axis=0)
    b = y1[:n_pre] - y1[:n_pre].mean()
    omega = simplex_ls(a, b, ridge=zeta**2 * n_pre)
    at = pre0.T - pre0.T.mean(axis=0)
    bt = post0.mean(axis=0) - post0.mean()
    lam = simplex_ls(at, bt, ridge=(1e-6 * sigma) ** 2 * y0.shape[1])
    tau = float((y1[n_pre:].mean() - lam @ y1[:n_pre]) - (post0.mean(axis=0) - lam @ pre0) @ omega)
    base = y0 @ omega
    intercept = float(lam @ (y1[:n_pre] - base[:n_pre]))
    synthetic = base + intercept
    return SdidFit(tau, omega, lam, zeta, y1 - synthetic, synthetic)


def sdid_gap(data: SynthData, treated: tuple[int, ...], donors: tuple[int, ...]) -> np.ndarray:
    y1 = data.y[:, treated].mean(axis=1)
    return sdid_fit(y1, data.y[:, donors], data.n_pre, len(treated)).gap


def placebo_assignments(n: int, n_treated: int, reps: int, seed: int) -> tuple[np.ndarray, bool]:
    """(assignments, exact): rows of donor indices playing the treated units. Every distinct set, once each,
    when ``reps`` is at least their number C(n, n_treated); otherwise ``reps`` sets drawn at random (each a
    uniform draw, independent of the others, as synthdid's ``sample(1:N0)``)."""
    if math.comb(n, n_treated) <= reps:
        return np.array(list(itertools.combinations(range(n), n_treated)), dtype=int).reshape(-1, n_treated), True
    rng = np.random.default_rng(seed)
    return np.argsort(rng.random((reps, n)), axis=1)[:, :n_treated], False


def placebo_se(
    y0: np.ndarray, n_pre: int, n_treated: int, reps: int, seed: int, sigma: float | None = None
) -> tuple[float, np.ndarray, bool]:
    """Algorithm 4 on the donors alone: (standard error, placebo estimates, exact). ``sigma``: the original
    fit's noise level, reused by every placebo (synthdid's ``opts``)."""
    n = y0.shape[1]
    if n - n_treated < 2:
        raise EstimationError(
            f"synthetic_did: the placebo variance needs at least {n_treated + 2} donors ({n_treated} placebo "
            f"treated plus 2 controls), but there are {n}; add donors to estimator.donors or use method abadie "
            "with the placebo_space check"
        )
    if sigma is None:
        sigma = noise_level(y0[:n_pre])
    sets, exact = placebo_assignments(n, n_treated, reps, seed)
    keep = np.ones((len(sets), n), dtype=bool)
    np.put_along_axis(keep, sets, False, axis=1)
    taus = np.array([
        sdid_fit(y0[:, tr].mean(axis=1), y0[:, co], n_pre, n_treated, sigma).tau
        for tr, co in zip(sets, (np.flatnonzero(k) for k in keep), strict=True)
    ])
    return float(np.sqrt(np.mean((taus - taus.mean()) ** 2))), taus, exact


def intercept_sc_predictor(zeta: float) -> Callable[[], Predict]:
    """Counterfactual model for conformal intervals: SDID's unit weights (simplex, intercept, ridge) refitted
    on the periods given."""

    def make() -> Predict:
        def predict(yy: np.ndarray, xx: np.ndarray) -> np.ndarray:
            om = simplex_ls(xx - xx.mean(axis=0), yy - yy.mean(), ridge=zeta**2 * len(yy))
            base = xx @ om
            return base + float(np.mean(yy - base))

        return predict

    return make


class SyntheticDiD:
    """``estimator.method: synthetic_did``: the SDID ATT with the placebo standard error."""

    method = "synthetic_did"

    def __init__(self, design: SynthDesign):
        self.design = design

    @staticmethod
    def placebo_gap(design: SynthDesign, data: SynthData, treated: tuple[int, ...], donors: tuple[int, ...]
                    ) -> np.ndarray:
        """The gap path refitted with other treated units and donors (placebos, leave-one-out)."""
        return sdid_gap(data, treated, donors)

    def fit(self, panel: Panel, outcome: OutcomeSpec) -> Effect:
        from cpeval.estimation.inference import make_effect

        design = self.design
        data = prepare(panel, design, outcome.column)
        y0 = data.y[:, data.donors]
        n1 = len(data.treated)
        y1 = data.y[:, data.treated].mean(axis=1)
        sigma = noise_level(y0[: data.n_pre])
        fit = sdid_fit(y1, y0, data.n_pre, n1, sigma)
        se, taus, exact = placebo_se(y0, data.n_pre, n1, design.estimator.placebo_reps, design.inference.seed, sigma)
        level = design.inference.level
        conf = None
        if design.estimator.conformal:
            from cpeval.estimation.synth.conformal import conformal

            conf = conformal(y1, y0, data.n_pre, fit.gap, level, intercept_sc_predictor(fit.zeta))
        notes = []
        if len(data.donors) < 2 * n1 + 5:
            notes.append(
                f"only {len(data.donors)} donors for {n1} treated units: the placebo variance rests on few "
                "distinct placebo assignments"
            )
        names = data.names
        donors = [names[i] for i in data.donors]
        pre_times = data.times[: data.n_pre]
        diagnostics: dict[str, Any] = {
            "treated_units": [names[i] for i in data.treated], "donors": donors,
            "start": jsonable(design.treatment.start), "n_pre": data.n_pre, "n_post": len(data.times) - data.n_pre,
            "weights": weights_dict(fit.omega, donors),
            "time_weights": {str(jsonable(t)): float(w) for t, w in zip(pre_times, fit.lam, strict=True) if w > 1e-6},
            "zeta": fit.zeta, "placebo_reps": len(taus), "placebo_exact": exact, "placebo_mean": float(taus.mean()),
            "pre_rmspe": rmspe(fit.gap, 0, data.n_pre), "post_rmspe": rmspe(fit.gap, data.n_pre),
            "conformal": conformal_summary(conf, level),
        }
        fitted, diagnostics = SynthFit.split(jsonable(diagnostics))
        return make_effect(
            outcome, method=self.method, estimand="att", estimate=fit.tau, std_error=se, level=level, df=None,
            n_obs=int(data.y.shape[0] * (len(data.donors) + n1)), n_units=len(data.donors) + n1, n_clusters=None,
            variance_type=(
                "placebo variance (Arkhangelsky et al. 2021, Algorithm 4; "
                + (f"exact: all {len(taus)} distinct placebo assignments" if exact
                   else f"{len(taus)} random placebo assignments, seed {design.inference.seed}")
                + "); normal"
            ),
            path=path_rows(data, y1, fit.synthetic, fit.gap, conf), diagnostics=diagnostics,
            warnings=notes, payloads=(fitted,),
        )
