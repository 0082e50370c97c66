"""Helpers for the Callaway & Sant'Anna tests."""

from __future__ import annotations

import warnings
from typing import Any

import pandas as pd

from _support import CASE_DATA
from cpeval.data import validate_panel
from cpeval.designs import design_from_dict
from cpeval.estimation.did.callaway_santanna import CallawaySantAnna
from cpeval.payloads import GroupTimeFit, GroupTimeSummary
from cpeval.results import Effect


def mpdta() -> pd.DataFrame:
    return pd.read_csv(CASE_DATA / "mpdta.csv")


def cs_design(data: dict[str, Any], treatment: dict[str, Any], outcome: str, **estimator: Any) -> Any:
    inference = estimator.pop("inference", {})
    return design_from_dict(
        {
            "name": "cs test",
            "kind": "did",
            "data": {"path": "x.csv", **data},
            "treatment": treatment,
            "outcomes": [{"name": outcome, "column": outcome, "measure": "level"}],
            "estimator": {"method": "callaway_santanna", **estimator},
            "inference": inference,
        }
    )


def fit(frame: pd.DataFrame, design: Any) -> Effect:
    panel = validate_panel(frame, design)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return CallawaySantAnna(design).fit(panel, design.outcomes[0])


def fit_mpdta(frame: pd.DataFrame | None = None, **estimator: Any) -> Effect:
    design = cs_design(
        {"unit": "countyreal", "time": "year"}, {"first_treated": "first.treat"}, "lemp", **estimator
    )
    return fit(mpdta() if frame is None else frame, design)


def fit_sim(frame: pd.DataFrame, **estimator: Any) -> Effect:
    design = cs_design({"unit": "unit", "time": "period"}, {"first_treated": "first_treated"}, "y", **estimator)
    return fit(frame, design)


def rows(effect: Effect, kind: str) -> pd.DataFrame:
    table = effect.path_table()
    return table[table["kind"] == kind].reset_index(drop=True)


def overall(effect: Effect, name: str) -> GroupTimeSummary:
    return effect.payload(GroupTimeFit).aggregations[name]
