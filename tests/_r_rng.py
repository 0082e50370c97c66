"""R's random numbers, to reproduce simulated critical values R packages print.

R's ``set.seed(seed)`` (Mersenne-Twister, default "Rejection"-free Inversion normal generator) and
``mvtnorm::rmvnorm(n, sigma = S)`` with its default eigen-decomposition root. Written from R's documented
algorithms: set.seed scrambles the seed with the LCG x <- 69069 x + 1 (50 times, then once per state word),
unif_rand scales a 32-bit draw by 2^-32 (fixing up 0 and 1), and norm_rand (Inversion) combines two uniforms
into u = (floor(2^27 u1) + u2) / 2^27 and returns qnorm(u). Check: set.seed(0); rnorm(5) in R prints
1.2629543 -0.3262334 1.3297993 1.2724293 0.4146414 (tests/did_es/test_did_checks.py checks this).
"""

from __future__ import annotations

import numpy as np


def _mersenne_twister(seed: int) -> np.random.MT19937:
    s = seed & 0xFFFFFFFF
    for _ in range(50):
        s = (69069 * s + 1) & 0xFFFFFFFF
    words = []
    for _ in range(625):
        s = (69069 * s + 1) & 0xFFFFFFFF
        words.append(s)
    bg = np.random.MT19937()
    bg.state = {"bit_generator": "MT19937", "state": {"key": np.array(words[1:], dtype=np.uint32), "pos": 624}}
    return bg


def r_rnorm(seed: int, n: int) -> np.ndarray:
    """set.seed(seed); rnorm(n)."""
    from scipy.special import ndtri

    u = _mersenne_twister(seed).random_raw(2 * n).astype(np.float64) * 2.3283064365386963e-10
    tiny = 0.5 * 2.328306437080797e-10
    u = np.clip(u, tiny, 1 - tiny).reshape(n, 2)
    big = 134217728.0  # 2^27
    return ndtri((np.floor(big * u[:, 0]) + u[:, 1]) / big)


def r_rmvnorm(seed: int, n: int, sigma: np.ndarray) -> np.ndarray:
    """set.seed(seed); mvtnorm::rmvnorm(n, sigma = sigma): rows of N(0, sigma), filled by row."""
    vals, vecs = np.linalg.eigh(sigma)
    root = (vecs * np.sqrt(np.clip(vals, 0.0, None))) @ vecs.T  # symmetric root: independent of eigen signs
    return r_rnorm(seed, n * len(sigma)).reshape(n, len(sigma)) @ root
