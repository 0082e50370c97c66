"""The nested search's inner solver (``NestedInner``) against the general simplex QP (``simplex_ls``), and its
implicit gradient of the outer loss against central finite differences."""

from __future__ import annotations

import numpy as np
import pytest

from cpeval.estimation.synth._qp import NestedInner, simplex_ls
from cpeval.estimation.synth.core import _Inner, _loss_and_grad


def _problem(seed: int, k: int = 7, j: int = 38, t: int = 19):
    rng = np.random.default_rng(seed)
    x0 = rng.standard_normal((k, j))
    x1 = x0[:, :4] @ rng.dirichlet(np.ones(4)) + 1.5 * rng.standard_normal(k)
    z0 = rng.standard_normal((t, j)).cumsum(axis=0)
    z1 = z0[:, :4] @ rng.dirichlet(np.ones(4)) + 0.2 * rng.standard_normal(t)
    return rng, x0, x1, z0, z1


@pytest.mark.parametrize("seed", range(6))
def test_warm_started_sequence_equals_cold_general_qp(seed):
    """A sequence of V (as an outer search makes them: small steps and jumps), each solved warm from the
    last, reaches the optimum the general active-set QP finds cold for that V: the same objective, and the
    same weights where they are unique (the treated predictors outside the donors' hull, support <= k)."""
    rng, x0, x1, _, _ = _problem(seed)
    inner = NestedInner(x1, x0)
    v = rng.dirichlet(np.ones(len(x1)))
    unique = 0
    for step in range(60):
        v = rng.dirichlet(np.ones(len(x1))) if step % 10 == 0 else np.abs(v + 0.02 * rng.standard_normal(len(v)))
        v = v / v.sum()
        w = inner.weights(v)
        s = np.sqrt(v)
        ref = simplex_ls(s[:, None] * x0, s * x1)
        assert w.min() >= 0 and abs(w.sum() - 1) < 1e-12

        def data_term(u, v=v):
            r = x1 - x0 @ u
            return r @ (v * r)

        assert data_term(w) == pytest.approx(data_term(ref), rel=1e-7, abs=1e-9 * (v @ x1**2))
        if np.count_nonzero(ref > 1e-9) <= len(x1) and data_term(ref) > 1e-6 * (v @ x1**2):
            unique += 1
            np.testing.assert_allclose(w, ref, atol=1e-7)
    assert unique >= 5  # the weights themselves were compared in a fair share of the steps


def test_single_donor_support_and_zero_predictor_weight():
    """A treated unit equal to one donor: that donor alone; a V on one predictor whose treated value lies above
    every donor's: the donor with the largest value alone."""
    _, x0, _, _, _ = _problem(11)
    x1 = x0[:, 5].copy()
    inner = NestedInner(x1, x0)
    np.testing.assert_allclose(inner.weights(np.full(len(x1), 1 / len(x1)))[5], 1.0, atol=1e-6)
    x1[2] = x0[2].max() + 1.0
    v = np.zeros(len(x1))
    v[2] = 1.0
    w = NestedInner(x1, x0).weights(v)
    assert w[int(np.argmax(x0[2]))] == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize("seed", range(4))
def test_outer_gradient_matches_finite_differences(seed):
    """dL/dV from the implicit derivative of the KKT system equals central differences of the fit-window
    MSPE where the support does not change (and the predictors are not fitted exactly, where W(V) is flat)."""
    rng, x0, x1, z0, z1 = _problem(seed)
    v = rng.dirichlet(np.ones(len(x1)))
    inner = _Inner(x1, x0)
    loss, grad = _loss_and_grad(v, inner, z1, z0)
    support = set(inner.p.tolist())
    assert len(support) <= len(v)
    h = 1e-6
    compared = 0
    for i in range(len(v)):
        e = np.zeros(len(v))
        e[i] = h
        up, _ = _loss_and_grad(v + e, inner, z1, z0)
        same = set(inner.p.tolist()) == support
        down, _ = _loss_and_grad(v - e, inner, z1, z0)
        same = same and set(inner.p.tolist()) == support
        if same:
            compared += 1
            assert grad[i] == pytest.approx((up - down) / (2 * h), rel=1e-4, abs=1e-7 * max(loss, 1.0))
    assert compared >= len(v) - 1
