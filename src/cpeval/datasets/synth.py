"""A factor-model panel with a known synthetic control effect (``simulate_synth``).

y_it(0) = delta_t + lambda_i' f_t + e_it, with the treated units' loadings inside the donors' convex hull
(each is a convex combination of a few donors' loadings), so that a synthetic control is approximately
unbiased; y_it(1) = y_it(0) + tau_t for treated units from ``start`` on. ``x`` is a covariate carrying the
loadings (x_i = lambda_i1 + noise), constant over time.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def simulate_synth(
    n_donors: int = 30, n_pre: int = 20, n_post: int = 10, n_factors: int = 2, effect: float = -5.0,
    noise: float = 1.0, n_treated: int = 1, ramp: bool = False, seed: int = 0,
) -> pd.DataFrame:
    """Columns ``unit`` ('d00'.. donors, 't0'.. treated), ``time`` (1..T), ``y``, ``y0`` (untreated potential
    outcome), ``x`` and ``treated_unit`` (0/1). The true per-period effect is ``effect`` (ramping up linearly
    to it over the post-periods if ``ramp``); ``frame.attrs`` holds ``start``, ``true_effects`` and
    ``true_att``."""
    rng = np.random.default_rng(seed)
    big_t = n_pre + n_post
    times = np.arange(1, big_t + 1)
    f = np.cumsum(rng.normal(0, 1, size=(big_t, n_factors)), axis=0) / np.sqrt(np.arange(1, big_t + 1))[:, None]
    f += np.sin(np.linspace(0, 3 * np.pi, big_t))[:, None] * np.arange(1, n_factors + 1)
    delta = np.linspace(0, 5, big_t)
    lam_d = rng.uniform(0.5, 3.0, size=(n_donors, n_factors))
    mix = np.zeros((n_treated, n_donors))
    for i in range(n_treated):
        pick = rng.choice(n_donors, size=min(4, n_donors), replace=False)
        mix[i, pick] = rng.dirichlet(np.ones(len(pick)))
    lam_t = mix @ lam_d
    lam = np.vstack([lam_d, lam_t])
    n = n_donors + n_treated
    y0 = delta[:, None] + f @ lam.T + rng.normal(0, noise, size=(big_t, n))
    tau = np.zeros(big_t)
    tau[n_pre:] = effect * (np.arange(1, n_post + 1) / n_post if ramp else 1.0)
    treated = np.r_[np.zeros(n_donors), np.ones(n_treated)].astype(bool)
    y = y0 + np.outer(tau, treated)
    x = lam[:, 0] + rng.normal(0, 0.1, size=n)
    units = [f"d{i:02d}" for i in range(n_donors)] + [f"t{i}" for i in range(n_treated)]
    frame = pd.DataFrame({
        "unit": np.tile(units, big_t), "time": np.repeat(times, n), "y": y.ravel(), "y0": y0.ravel(),
        "x": np.tile(x, big_t), "treated_unit": np.tile(treated.astype(int), big_t),
    })
    frame.attrs.update(start=int(n_pre + 1), true_effects=tau[n_pre:].tolist(), true_att=float(tau[n_pre:].mean()))
    return frame
