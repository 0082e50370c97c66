"""Randomisation inference: re-randomise as the design did (within blocks, by cluster), vectorised.

Assignments are drawn in chunks as a boolean matrix (draws x randomisation units). Units are grouped by
block "shape" (block size, number treated): for each shape one ``np.partition`` over random keys picks the
treated units of every block of that shape in every draw at once, so matched pairs, a few large strata and
everything in between cost the same. The test statistics are then matrix products of the draws with
per-unit weights, so 10,000 draws of a 10,000-person blocked trial take well under a second.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

CHUNK_CELLS = 10_000_000  # draws x units per chunk (about 40 MB of keys)
DENSE_COLUMNS = 128  # block-by-outcome sums up to this many are accumulated densely, beyond it sparsely


@dataclass(frozen=True)
class Scheme:
    """How assignment was randomised over the randomisation units (people or clusters), in a fixed order."""

    order: np.ndarray  # positions of the units in the draw matrix's column order
    shapes: tuple[tuple[int, int, int], ...]  # (number of blocks, block size, number treated) per shape
    z: np.ndarray  # observed assignment of the units, in column order

    @property
    def n_units(self) -> int:
        return len(self.order)

    def n_assignments(self) -> int:
        """Number of distinct assignments the design could have produced, as an exact integer.

        The count grows like 2^n (C(1200, 600) has 360 digits), so use :meth:`enumerable` to compare it with a
        budget: that never builds the big number.
        """
        from math import comb

        total = 1
        for n_blocks, size, treated in self.shapes:
            total *= comb(size, treated) ** n_blocks
        return total

    def enumerable(self, limit: int) -> bool:
        """Whether the design has at most ``limit`` possible assignments (decided on the log scale first)."""
        from math import lgamma, log

        log_count = sum(g * (lgamma(s + 1) - lgamma(t + 1) - lgamma(s - t + 1)) for g, s, t in self.shapes)
        if log_count > log(max(limit, 1)) + 1e-6:  # lgamma's rounding is far below this margin
            return False
        return self.n_assignments() <= limit


def scheme(z_units: np.ndarray, block_units: np.ndarray | None) -> Scheme:
    """The randomisation scheme for units with assignment ``z_units`` and block codes ``block_units``."""
    n = len(z_units)
    blocks = np.zeros(n, dtype=np.int64) if block_units is None else np.asarray(block_units)
    _, bcode = np.unique(blocks, return_inverse=True)
    size = np.bincount(bcode)
    treated = np.bincount(bcode, weights=z_units).astype(np.int64)
    key = size[bcode] * (n + 1) + treated[bcode]
    order = np.lexsort((np.arange(n), bcode, key))
    shapes = []
    for s, t in sorted({(int(a), int(b)) for a, b in zip(size, treated, strict=True)}):
        shapes.append((int(np.sum((size == s) & (treated == t))), s, t))
    return Scheme(order=order, shapes=tuple(shapes), z=np.asarray(z_units)[order].astype(bool))


def draws(sch: Scheme, n_draws: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Yield boolean chunks (m x units, columns in ``sch.order``) of re-randomised assignments."""
    per_chunk = max(1, CHUNK_CELLS // max(sch.n_units, 1))
    done = 0
    while done < n_draws:
        m = min(per_chunk, n_draws - done)
        parts = [_shape_draw(m, g, s, t, rng) for g, s, t in sch.shapes]
        yield np.concatenate(parts, axis=1) if len(parts) > 1 else parts[0]
        done += m


def enumerate_assignments(sch: Scheme) -> np.ndarray:
    """Every assignment the design could have produced (rows), columns in ``sch.order``.

    Only for small designs: the caller checks ``sch.enumerable(limit)`` first. Blocks whose assignment is
    fixed (all or none treated) are constant columns; the others are crossed one block at a time, so the work
    is proportional to the number of assignments (at most ``limit``), whatever the number of blocks.
    """
    from itertools import combinations

    out = np.ones((1, 0), dtype=bool)
    for n_blocks, size, treated in sch.shapes:
        combos = np.array([np.isin(np.arange(size), c) for c in combinations(range(size), treated)])
        for _ in range(n_blocks):
            out = np.concatenate([np.repeat(out, len(combos), axis=0), np.tile(combos, (len(out), 1))], axis=1)
    return out


def _shape_draw(m: int, n_blocks: int, size: int, treated: int, rng: np.random.Generator) -> np.ndarray:
    if treated == 0 or treated == size:
        return np.full((m, n_blocks * size), treated == size)
    if size == 2:  # matched pairs: a coin per pair
        first = rng.random((m, n_blocks), dtype=np.float32) < 0.5
        return np.stack([first, ~first], axis=2).reshape(m, -1)
    # 16-bit random keys; a block's treated units are those with the ``treated`` smallest keys. A tie across
    # the cut (the treated-th and next key equal) is rare and that block is redrawn with float64 keys.
    keys = rng.integers(0, 65536, size=(m, n_blocks, size), dtype=np.uint16)
    part = np.partition(keys, treated - 1, axis=2)
    thresh = part[:, :, treated - 1 : treated]
    z = keys <= thresh
    rows, blks = np.nonzero(part[:, :, treated:].min(axis=2) == part[:, :, treated - 1])
    if len(rows):
        k64 = rng.random((len(rows), size))
        th = np.partition(k64, treated - 1, axis=1)[:, treated - 1 : treated]
        z[rows, blks] = k64 <= th
    return z.reshape(m, -1)


def p_values(observed: np.ndarray, null: np.ndarray, n_draws: int, exact: bool = False) -> np.ndarray:
    """Two-sided p-values, with a tolerance for ties.

    Monte Carlo: (1 + #{|T*| >= |T|}) / (1 + draws), valid at any number of draws. Exact (``null`` holds
    every possible assignment, the observed one included): #{|T*| >= |T|} / #assignments.
    """
    tol = 1e-9 * np.maximum(1.0, np.abs(observed))
    hits = np.sum(np.abs(null) >= np.abs(observed) - tol, axis=0)
    if exact:
        return hits / len(null)
    return (1.0 + hits) / (1.0 + n_draws)


def _product(Z: np.ndarray, A: np.ndarray, const: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """Z @ A - const in float32 (fast), recomputed in float64 for draws near +-observed (exact tie counting)."""
    out = (Z.astype(np.float32) @ A.astype(np.float32)).astype(np.float64) - const
    scale = np.abs(A).sum(axis=0) + np.abs(const) + 1e-300
    near = np.any(np.abs(np.abs(out) - np.abs(observed)) <= 1e-5 * scale, axis=1)
    if near.any():
        out[near] = Z[near].astype(np.float64) @ A - const
    return out


def block_weights(n_b: np.ndarray, n1_b: np.ndarray, weighting: str) -> np.ndarray:
    """Weights of the block contrasts: block shares (``weighted``) or n_b p_b (1 - p_b) (``fixed_effects``)."""
    w = n_b.astype(float) if weighting == "weighted" else n_b * (n1_b / n_b) * (1 - n1_b / n_b)
    return w / w.sum()


def unit_scheme(
    z: np.ndarray, block: np.ndarray | None, cluster: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, Scheme]:
    """The randomisation units (clusters, else people): each person's unit, each unit's block, the scheme."""
    unit = np.arange(len(z)) if cluster is None else cluster
    n_units = int(unit.max()) + 1
    z_unit = np.zeros(n_units)
    z_unit[unit] = z
    blk_unit = np.zeros(n_units, dtype=np.int64)
    if block is not None:
        blk_unit[unit] = block
    return unit, blk_unit, scheme(z_unit, blk_unit)


def enumerable(z: np.ndarray, block: np.ndarray | None, cluster: np.ndarray | None, limit: int) -> bool:
    """Whether the design (blocks, clusters, numbers treated) could have produced at most ``limit`` assignments."""
    return unit_scheme(z, block, cluster)[2].enumerable(limit)


def statistics(
    Y: np.ndarray,
    z: np.ndarray,
    block: np.ndarray | None,
    cluster: np.ndarray | None,
    weighting: str,
    n_draws: int,
    rng: np.random.Generator,
    exact: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Observed and re-randomised block-weighted differences in means for every column of ``Y``.

    ``Y`` is n x K (NaN where an outcome is not observed); ``z``, ``block``, ``cluster`` are per person.
    Assignment is re-drawn over clusters if ``cluster`` is given (else people), within blocks. Returns
    ``(observed (K,), null (n_draws x K))``; with ``exact`` and at most ``n_draws`` possible assignments,
    ``null`` holds the statistic under every assignment instead (use ``p_values(..., exact=True)``).
    With every outcome observed and no clusters the statistic is linear in the draw (one matrix
    product); otherwise block sums and counts are accumulated per draw.
    """
    n, K = Y.shape
    blk = np.zeros(n, dtype=np.int64) if block is None else block
    unit, blk_unit, sch = unit_scheme(z, block, cluster)
    n_units = len(blk_unit)
    chunks = [enumerate_assignments(sch)] if exact and sch.enumerable(n_draws) else draws(sch, n_draws, rng)
    B = int(blk.max()) + 1
    obs = ~np.isnan(Y)
    Y0 = np.where(obs, Y, 0.0)
    if cluster is None and bool(obs.all()):
        n_b = np.bincount(blk, minlength=B)
        n1_b = np.bincount(blk, weights=z, minlength=B)
        w = block_weights(n_b, n1_b, weighting)
        coef = (w / n1_b + w / (n_b - n1_b))[blk]  # per person
        A = (Y0 * coef[:, None])[sch.order]
        T_b = np.stack([np.bincount(blk, weights=Y0[:, k], minlength=B) for k in range(K)], axis=1)
        const = (w[:, None] * T_b / (n_b - n1_b)[:, None]).sum(axis=0)
        observed = sch.z.astype(float) @ A - const
        null = np.concatenate([_product(zz, A, const, observed) for zz in chunks])
        return observed, null
    # general path: per unit and block, sums of y and counts of observed people for every outcome. Each
    # unit belongs to one block, so the (units x 2KB) weight matrix is sparse: column k*B + b holds the
    # outcome-k sums of block b's units (and K*B + k*B + b their counts).
    from scipy import sparse

    S_unit = np.stack([np.bincount(unit, weights=Y0[:, k], minlength=n_units) for k in range(K)], axis=1)
    C_unit = np.stack([np.bincount(unit, weights=obs[:, k], minlength=n_units) for k in range(K)], axis=1)
    rows = np.tile(np.arange(n_units)[:, None], (1, 2 * K)).ravel()
    cols = (np.arange(2 * K)[None, :] * B + blk_unit[:, None]).ravel()
    vals = np.concatenate([S_unit, C_unit], axis=1).ravel()
    pos = np.empty(n_units, dtype=np.int64)
    pos[sch.order] = np.arange(n_units)  # column of each unit in the draw matrix
    At = sparse.csr_matrix((vals, (cols, pos[rows])), shape=(2 * K * B, n_units))  # transposed weights
    tot = np.asarray(At.sum(axis=1)).ravel()
    KB = K * B
    if 2 * KB <= DENSE_COLUMNS:  # few blocks: a dense BLAS product is faster than the sparse one
        At = At.toarray()

    def stat(Zf: np.ndarray) -> np.ndarray:
        M = np.asarray(At @ Zf.T).T  # (draws x 2KB): treated sums and counts per outcome and block
        S1, N1 = M[:, :KB], M[:, KB:]
        S, N = tot[:KB], tot[KB:]
        with np.errstate(divide="ignore", invalid="ignore"):
            diff = S1 / N1 - (S - S1) / (N - N1)
            w = N if weighting == "weighted" else N1 * (N - N1) / np.maximum(N, 1)
            w = np.broadcast_to(w, diff.shape).reshape(-1, K, B)
            diff = diff.reshape(-1, K, B)
            ok = np.isfinite(diff) & (w > 0)
            return np.where(ok, diff * w, 0.0).sum(axis=2) / np.where(ok, w, 0.0).sum(axis=2)

    observed = stat(sch.z.astype(float)[None, :])[0]
    null = np.concatenate([stat(zz.astype(np.float64)) for zz in chunks])
    return observed, null
