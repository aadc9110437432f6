"""Pairwise MLS: the blocked numpy matrix against a plain per-pair Python loop (same numbers)."""

import time

import numpy as np

from facedash.pfe.mls import pairwise_mls


def loop(mu: np.ndarray, s2: np.ndarray) -> np.ndarray:
    n = len(mu)
    out = np.empty((n, n))
    for a in range(n):
        for b in range(n):
            s = s2[a] + s2[b]
            out[a, b] = -0.5 * np.sum((mu[a] - mu[b]) ** 2 / s + np.log(s))
    return out


def main() -> None:
    rng = np.random.default_rng(0)
    mu = rng.normal(size=(300, 128))
    mu /= np.linalg.norm(mu, axis=1, keepdims=True)
    s2 = rng.uniform(0.002, 0.02, size=(300, 128))
    t = time.perf_counter()
    ours = pairwise_mls(mu, s2)
    t_ours = time.perf_counter() - t
    t = time.perf_counter()
    plain = loop(mu, s2)
    t_plain = time.perf_counter() - t
    assert np.allclose(ours, plain)
    print(
        f"300 x 300 pairs: vectorised {t_ours * 1e3:.1f} ms, loop {t_plain * 1e3:.1f} ms, "
        f"ratio {t_plain / t_ours:.1f}x"
    )


if __name__ == "__main__":
    main()
