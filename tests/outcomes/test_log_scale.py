"""Log outcomes say who takes the log (``take_log``), and a declared log column that looks like counts warns.

``measure: log`` alone used to mean "the column is already a log", so a raw count declared ``measure: log``
was analysed in levels and its effect read as log points (-94% for a 30% fall). Now the design must say
``take_log: true`` (cpeval takes the log, with a zeros rule) or ``take_log: false`` (the column is a log).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest

import cpeval
from _support import DESIGNS
from cpeval.designs import design_from_dict
from cpeval.errors import CpevalWarning, DesignError
from cpeval.outcomes.transforms import LOG_CEILING, counts_declared_as_log
from cpeval.payloads import OutcomeInfo

RATE_RATIO = 0.7  # the simulated programme cuts burglary by 30%


def _burglary(seed: int = 2002) -> pd.DataFrame:
    """60 areas x 8 years of burglary counts (mean about 9); half the areas treated from year 5.

    burglary ~ Poisson(9 exp(a_i + 0.03 t) x 0.7^post): the true proportional effect is -30%.
    """
    rng = np.random.default_rng(seed)
    area = np.repeat(np.arange(60), 8)
    year = np.tile(np.arange(2010, 2018), 60)
    post = ((area < 30) & (year >= 2014)).astype(int)
    mu = 9 * np.exp(rng.normal(0, 0.3, 60)[area] + 0.03 * (year - 2010)) * RATE_RATIO ** post
    return pd.DataFrame({"area": area, "year": year, "post": post, "burglary": rng.poisson(mu),
                         "population": 5000.0})


def _design(outcome: dict, method: str = "twfe", **estimator) -> dict:
    return {"name": "burglary", "kind": "did",
            "data": {"path": "x.csv", "unit": "area", "time": "year", "population": "population"},
            "treatment": {"indicator": "post"}, "outcomes": [{"name": "burglary", "column": "burglary", **outcome}],
            "estimator": {"method": method, "cluster": "area", **estimator}, "inference": {"seed": 2002}}


def _evaluate(outcome: dict, method: str = "twfe", **estimator):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CpevalWarning)
        result = cpeval.evaluate(_design(outcome, method, **estimator), data=_burglary())
    return result, [str(w.message) for w in caught if issubclass(w.category, CpevalWarning)]


def _percent(result) -> float:
    return result.effects[0].payload(OutcomeInfo).baseline.percent_of_baseline


# ------------------------------------------------------------------------------------------ the spelling
@pytest.mark.parametrize(
    ("outcome", "fix"),
    [
        # a plain column: the message offers both meanings, each spelt out
        ({"measure": "log"},
         "If 'burglary' already holds natural logs, add take_log: false; if it holds counts or rates, add "
         "take_log: true and a rule for zeros (zeros: add_one | drop | error)"),
        # the old spelling of "cpeval takes the log": the zeros rule already says which meaning was meant
        ({"measure": "log", "zeros": "add_one"}, "zeros: add_one is the rule for cpeval taking the log; add "
         "take_log: true"),
    ],
)
def test_old_spelling_says_exactly_what_to_write(outcome, fix):
    with pytest.raises(DesignError) as err:
        design_from_dict(_design(outcome), source="d.yaml")
    text = str(err.value)
    assert text.startswith("d.yaml: 1 problem in the design:")
    assert "outcomes[0]: outcome 'burglary': measure: log needs take_log" in text
    assert fix in text


@pytest.mark.parametrize(
    ("outcome", "message"),
    [
        ({"measure": "log", "take_log": True}, "take_log: true needs the rule for zeros"),
        ({"measure": "log", "take_log": False, "zeros": "add_one"},
         "'zeros' is the rule for cpeval taking the log; with take_log: false the column is already a log"),
        ({"measure": "log", "take_log": False, "per": 1000},
         "take_log: false says the column is already a log, but cpeval derives this outcome (a rate from 'per')"),
        ({"measure": "count", "take_log": True}, "take_log applies to measure: log, not 'count'"),
        ({"measure": "count", "take_log": False}, "take_log applies to measure: log, not 'count'"),
    ],
)
def test_take_log_rules(outcome, message):
    with pytest.raises(DesignError, match="outcomes\\[0\\]") as err:
        design_from_dict(_design(outcome))
    assert message in str(err.value)


def test_take_log_false_reads_the_column_and_true_derives_the_log():
    logged = design_from_dict(_design({"measure": "log", "take_log": False})).outcomes[0]
    assert (logged.take_log, logged.derived, logged.column) == (False, False, "burglary")
    taken = design_from_dict(_design({"measure": "log", "take_log": True, "zeros": "add_one"})).outcomes[0]
    assert taken.take_log and taken.derived and taken.column != "burglary"


def test_schema_documents_take_log():
    props = cpeval.designs.design_schema()["$defs"]["OutcomeSpec"]["properties"]
    assert "already holds natural logs" in props["take_log"]["description"]
    assert "take_log" in props["measure"]["description"]
    assert "take_log: true" in props["zeros"]["description"]


# ------------------------------------------------------------------------------------------ the rule
@pytest.mark.parametrize(
    ("values", "reason"),
    [
        (np.array([0, 3, 9, 12, 7, 11.0]), "every value is a whole number >= 0 (mean 7.00)"),
        (np.array([0, 1, 0, 2, 1.0]), "every value is a whole number >= 0 (mean 0.80)"),
        (np.array([1.5, 2.25, 30.5]), f"its largest value is 30.5, above {LOG_CEILING:g}"),
        (np.array([np.nan, 2.0, 5.0, 8.0]), "every value is a whole number >= 0 (mean 5.00)"),
    ],
)
def test_counts_declared_as_log_rule(values, reason):
    assert reason in counts_declared_as_log(values)


@pytest.mark.parametrize(
    "values",
    [np.array([0.69, 1.1, 2.2, 1.79]), np.array([-0.4, 0.0, 1.0, 2.0]), np.array([np.nan, np.nan]),
     np.array([24.9, 3.0, 12.5])],
)
def test_logs_are_not_flagged(values):
    assert counts_declared_as_log(values) is None


def test_castle_logs_are_not_flagged_and_its_counts_are(castle):
    # l_homicide etc. are natural logs of rates per 100,000 (Cheng & Hoekstra 2013): mean 1.41, max 2.68
    for col in ("l_homicide", "l_larceny", "l_motor"):
        assert counts_declared_as_log(castle[col].to_numpy()) is None, col
    # burglary is a rate per 100,000 (mean 710): far above any natural log of a crime rate
    assert "largest value is 1284.5" in counts_declared_as_log(castle["burglary"].to_numpy())


# ------------------------------------------------------------------------------------------ the headline
def test_count_column_declared_as_log_warns_and_is_recorded():
    result, caught = _evaluate({"measure": "log", "take_log": False})
    (msg,) = [w for w in caught if "take_log: false" in w]
    assert "column 'burglary' is declared a natural log (take_log: false)" in msg
    assert "every value is a whole number >= 0" in msg and "set take_log: true" in msg
    assert msg in result.effects[0].warnings
    assert f"burglary: {msg}" in result.warnings
    # the figure the warning protects: a 30% fall read as log points of a level change
    assert _percent(result) < -85


def test_count_models_recover_the_true_fall():
    """Known truth -30%: log(y+1) is attenuated towards zero at these counts, Poisson recovers it."""
    logged, caught = _evaluate({"measure": "log", "take_log": True, "zeros": "add_one"})
    assert not [w for w in caught if "take_log: false" in w]
    assert -33 < _percent(logged) < -23
    counts, caught = _evaluate({"measure": "count"}, "poisson")
    assert abs(_percent(counts) - 100 * (RATE_RATIO - 1)) < 3


def test_castle_already_logged_results_are_unchanged(castle):
    """castle_doctrine.yaml (take_log: false on l_homicide, l_larceny, l_motor) reads the columns as they are:
    each estimate equals the population-weighted two-way FE regression of the column on post with state and
    year dummies (statsmodels WLS, state-clustered), as test_twfe checks for homicide, to 1e-8."""
    import statsmodels.api as sm

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CpevalWarning)
        result = cpeval.evaluate(DESIGNS / "castle_doctrine.yaml")
    assert not [w for w in caught if "take_log" in str(w.message)]
    x = pd.concat([castle[["post"]].astype(float),
                   pd.get_dummies(castle["sid"], prefix="s", drop_first=True, dtype=float),
                   pd.get_dummies(castle["year"], prefix="t", drop_first=True, dtype=float)], axis=1)
    x = sm.add_constant(x)
    for effect, col in zip(result.effects, ("l_homicide", "l_larceny", "l_motor"), strict=True):
        fit = sm.WLS(castle[col], x, weights=castle["popwt"]).fit()
        assert effect.estimate == pytest.approx(fit.params["post"], abs=1e-8), col
        assert effect.payload(OutcomeInfo).definition.take_log is False
        assert math.isclose(effect.payload(OutcomeInfo).baseline.percent_of_baseline,
                            100 * math.expm1(fit.params["post"]), abs_tol=1e-6)
