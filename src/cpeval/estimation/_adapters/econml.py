"""Conditional (heterogeneous) effects by econml's double machine learning; imported only when a design asks.

The nuisance models are named in the design (``consequences.subgroups.conditional``) and built here with the
design's seed, which also seeds econml's cross-fitting split, so the same design gives the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


def _outcome_model(name: str, seed: int) -> Any:
    from sklearn.ensemble import GradientBoostingRegressor, RandomForestRegressor
    from sklearn.linear_model import LassoCV, LinearRegression

    return {
        "linear": lambda: LinearRegression(),
        "lasso": lambda: LassoCV(cv=3, random_state=seed),
        "random_forest": lambda: RandomForestRegressor(n_estimators=100, min_samples_leaf=10, random_state=seed),
        "gradient_boosting": lambda: GradientBoostingRegressor(random_state=seed),
    }[name]()


def _treatment_model(name: str, seed: int) -> Any:
    from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression

    return {
        "logistic": lambda: LogisticRegression(max_iter=1000),
        "random_forest": lambda: RandomForestClassifier(n_estimators=100, min_samples_leaf=10, random_state=seed),
        "gradient_boosting": lambda: GradientBoostingClassifier(random_state=seed),
    }[name]()


@dataclass(frozen=True)
class SubgroupEffect:
    estimate: float
    std_error: float
    conf_int: tuple[float, float]
    n: int


def conditional_effects(y: np.ndarray, t: np.ndarray, x: np.ndarray, w: np.ndarray | None,
                        groups: np.ndarray | None, masks: dict[str, np.ndarray], *, model: str,
                        outcome_model: str, treatment_model: str, folds: int, seed: int,
                        level: float) -> dict[str, SubgroupEffect]:
    """Fit LinearDML or CausalForestDML of ``y`` on binary ``t`` with moderators ``x`` (effect modifiers) and
    controls ``w``, cross-fitted in ``folds`` folds (whole ``groups`` kept together when given), and return the
    average conditional effect with its interval in each subgroup ``masks[name]`` (rows of ``x``)."""
    import warnings

    from econml.dml import CausalForestDML, LinearDML

    kwargs = dict(model_y=_outcome_model(outcome_model, seed), model_t=_treatment_model(treatment_model, seed),
                  discrete_treatment=True, cv=folds, random_state=seed)
    est = (LinearDML(**kwargs) if model == "linear_dml"
           else CausalForestDML(**kwargs, n_estimators=400, min_samples_leaf=10))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", (UserWarning, FutureWarning))  # sklearn/econml chatter on column names
        est.fit(y, t, X=x, W=w, groups=groups)
        out = {}
        for name, m in masks.items():
            s = est.ate_inference(X=x[m])
            lo, hi = s.conf_int_mean(alpha=1 - level)
            out[name] = SubgroupEffect(float(np.ravel(s.mean_point)[0]), float(np.ravel(s.stderr_mean)[0]),
                                       (float(np.ravel(lo)[0]), float(np.ravel(hi)[0])), int(m.sum()))
    return out
