"""dowhy refuters of a covariate-adjusted treatment contrast; imported only when a design asks for them.

The estimate refuted is dowhy's backdoor linear regression of the outcome on the treatment and the design's
covariates (for a trial: the assignment, with the design's covariates), the same contrast the design
estimates. Every refuter draws from ``random_seed`` (the design's seed).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

REFUTERS: dict[str, tuple[str, dict[str, Any]]] = {
    "placebo_treatment": ("placebo_treatment_refuter", {"placebo_type": "permute"}),
    "random_common_cause": ("random_common_cause", {}),
    "data_subset": ("data_subset_refuter", {"subset_fraction": 0.8}),
}


@dataclass(frozen=True)
class Refutation:
    refuter: str
    estimate: float
    new_effect: float
    p_value: float | None


def refute(frame: Any, *, treatment: str, outcome: str, common_causes: list[str], refuters: list[str],
           simulations: int, seed: int) -> list[Refutation]:
    import logging
    import warnings

    logging.getLogger("dowhy").setLevel(logging.ERROR)
    from dowhy import CausalModel

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # dowhy's deprecation and pandas chatter; results are checked by cpeval
        model = CausalModel(data=frame, treatment=treatment, outcome=outcome, common_causes=common_causes or None)
        estimand = model.identify_effect(proceed_when_unidentifiable=True)
        estimate = model.estimate_effect(estimand, method_name="backdoor.linear_regression")
        out = []
        for name in refuters:
            method, kwargs = REFUTERS[name]
            r = model.refute_estimate(estimand, estimate, method_name=method, num_simulations=simulations,
                                      random_seed=seed, **kwargs)
            p = (r.refutation_result or {}).get("p_value") if isinstance(r.refutation_result, dict) else None
            out.append(Refutation(name, float(estimate.value), float(r.new_effect),
                                  None if p is None else float(p)))
    return out
