"""WDD (Wheeler & Ratcliffe 2018, as R ptools computes it) and WDQ (Bowers & Johnson 2003) against references."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from _support import REFERENCE
from cpeval.consequences.wdd import wdd, wdd_periods
from cpeval.consequences.wdq import wdq
from cpeval.errors import EstimationError

WDD_REF = json.loads((REFERENCE / "consequences" / "ptools_wdd.json").read_text())
WDQ_REF = json.loads((REFERENCE / "consequences" / "wdq_hand.json").read_text())
WDD_CASES = {c["name"]: c for c in WDD_REF["cases"]}


def test_wdd_matches_the_paper_example_exactly():
    case = WDD_CASES["paper"]
    r = wdd(**case["args"])
    exp = case["expected"]
    assert r.total == exp["total"]
    assert r.total_se**2 == pytest.approx(exp["total_se_squared"], rel=1e-12)
    assert r.total_se == pytest.approx(math.sqrt(1568), rel=1e-12)
    assert round(r.z, 2) == exp["z_round2"]
    assert (round(r.conf_int[0]), round(r.conf_int[1])) == (exp["low_round0"], exp["high_round0"])
    assert r.local == -107 and r.displacement == -11  # (110-207)-(318-308) and (157-178)-(140-150)


def test_wdd_time_weights():
    case = WDD_CASES["time_weights"]
    r = wdd(**case["args"])
    assert r.local == pytest.approx(case["expected"]["local"], rel=1e-12)
    assert r.local_se**2 == pytest.approx(case["expected"]["local_se_squared"], rel=1e-12)


def test_wdd_area_weights():
    case = WDD_CASES["area_weights"]
    r = wdd(**case["args"])
    exp = case["expected"]
    got = {"total": r.total, "total_se": r.total_se, "z": r.z, "low": r.conf_int[0], "high": r.conf_int[1]}
    for key, value in exp.items():
        assert got[key] == pytest.approx(value, rel=1e-8), key


def test_wdd_readme_example_at_90_percent():
    case = WDD_CASES["readme_local_only"]
    r = wdd(**case["args"])
    exp = case["expected"]
    got = {"local": r.local, "local_se": r.local_se, "displacement": r.displacement,
           "displacement_se": r.displacement_se, "total": r.total, "z": r.z, "low": r.conf_int[0],
           "high": r.conf_int[1]}
    for key, value in exp.items():
        assert got[key] == pytest.approx(value, rel=1e-6, abs=1e-12), key


def test_wdd_periods_equals_the_summed_pairs_with_time_weights():
    rng = np.random.default_rng(1)
    counts = rng.poisson(30, (4, 7))
    post = np.array([0, 0, 0, 0, 1, 1, 1], dtype=bool)
    r = wdd_periods(counts, post, area_weights=(1, 2, 1, 0.5))
    pre, after = counts[:, :4].sum(axis=1), counts[:, 4:].sum(axis=1)
    by_hand_local = ((after[1] / 3 - pre[1] / 4) / 2) - (after[0] / 3 - pre[0] / 4)
    by_hand_disp = ((after[3] / 3 - pre[3] / 4) / 0.5) - (after[2] / 3 - pre[2] / 4)
    assert r.local == pytest.approx(by_hand_local, rel=1e-12)
    assert r.displacement == pytest.approx(by_hand_disp, rel=1e-12)
    var = (pre[1] / 16 + after[1] / 9) / 4 + pre[0] / 16 + after[0] / 9
    assert r.local_se == pytest.approx(math.sqrt(var), rel=1e-12)
    # the periods' order does not matter, only which are post
    perm = rng.permutation(7)
    assert wdd_periods(counts[:, perm], post[perm], area_weights=(1, 2, 1, 0.5)).total == pytest.approx(r.total)


def test_wdd_all_zero_counts_have_no_test():
    r = wdd((0, 0), (0, 0))
    assert r.total_se == 0 and r.z is None and r.conf_int is None and r.p_value is None
    assert "nothing to test" in r.sentence()


@pytest.mark.parametrize("bad", [dict(control=(1, 2, 3), treated=(1, 2)), dict(control=(-1, 2), treated=(1, 2)),
                                 dict(control=(1, 2), treated=(1, 2), area_weights=(1, 0, 1, 1)),
                                 dict(control=(1, 2), treated=(1, 2), level=1.5)])
def test_wdd_bad_input_is_a_clear_error(bad):
    with pytest.raises(EstimationError, match="WDD"):
        wdd(**bad)


def test_wdd_periods_needs_pre_and_post():
    with pytest.raises(EstimationError, match="at least one pre and one post"):
        wdd_periods(np.ones((4, 3)), [True, True, True])


@pytest.mark.parametrize("case", WDQ_REF["cases"], ids=lambda c: c["name"])
def test_wdq_hand_cases(case):
    r = wdq(case["treated"], case["buffer"], case["control"])
    exp = case["expected"]
    assert r.reading == exp["reading"]
    for key in ("success_measure", "buffer_displacement_measure", "quotient", "total_net_effect"):
        if exp[key] is None:
            assert getattr(r, key) is None, key
        else:
            assert getattr(r, key) == pytest.approx(exp[key], abs=1e-12), key
    assert r.sentence  # every reading has its plain sentence


def test_wdq_readings_cover_every_case_and_net_effect_identity():
    readings = {c["expected"]["reading"] for c in WDQ_REF["cases"]}
    from typing import get_args

    from cpeval.consequences.wdq import WdqReading

    assert readings == set(get_args(WdqReading))
    rng = np.random.default_rng(0)
    for _ in range(200):  # TNE = -C1 * SM * (1 + WDQ) whenever the quotient exists
        r = wdq(rng.integers(1, 200, 2), rng.integers(0, 200, 2), rng.integers(1, 200, 2))
        if r.quotient is not None:
            assert r.total_net_effect == pytest.approx(-r.control[1] * r.success_measure * (1 + r.quotient))
            assert (r.total_net_effect > 1e-9) == (r.quotient > -1 + 1e-12) or abs(r.quotient + 1) < 1e-9


def test_wdq_bad_counts():
    with pytest.raises(EstimationError, match="buffer"):
        wdq((1, 2), (-1, 3), (4, 5))
    with pytest.raises(EstimationError, match="two counts"):
        wdq((1, 2), (1, 2, 3), (4, 5))


def test_wdd_with_one_control_group_counts_its_variance_once_with_coefficient_two():
    """Hand calculation: treated (100, 60), buffer (50, 70), control (200, 220), area weights 1, 2, 4.
    Per unit of area: dT = 60 - 100 = -40, dB = 35 - 25 = 10, dC = 55 - 50 = 5; local = -45, displacement = 5,
    total = dT + dB - 2 dC = -40. Variances: local 100 + 60 + 420/16 = 186.25; displacement 120/4 + 420/16 =
    56.25; total 160 + 120/4 + 2^2 * 420/16 = 295 (not 186.25 + 56.25 = 242.5: the shared control's term is in
    both)."""
    from cpeval.consequences.wdd import wdd_shared_control

    r = wdd_shared_control((100, 60), (50, 70), (200, 220), area_weights=(1, 2, 4))
    assert (r.local, r.displacement, r.total) == (-45.0, 5.0, -40.0)
    assert r.local_se**2 == pytest.approx(186.25) and r.displacement_se**2 == pytest.approx(56.25)
    assert r.total_se**2 == pytest.approx(295.0)
