"""Greedy (the paper's relaxation, Sec. 2.4) against optimal (Hungarian algorithm) matching."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from openpose_edu import assembly
from openpose_edu.skeleton import LIMBS


def _scores(score: np.ndarray, valid: np.ndarray) -> assembly.LimbScores:
    nA, nB = score.shape
    z = np.zeros((nA, nB))
    return assembly.LimbScores(
        limb=LIMBS[0],
        a=np.arange(nA, dtype=np.int64),
        b=np.arange(100, 100 + nB, dtype=np.int64),
        samples=np.zeros((nA, nB, 1, 2)),
        along=np.zeros((nA, nB, 1)),
        mean=score,
        prior=z,
        score=score,
        fraction=np.ones((nA, nB)),
        valid=valid,
    )


def _brute_force(score: np.ndarray, valid: np.ndarray) -> float:
    """The best total over every matching of valid, positive pairs (small sizes only)."""
    nA, nB = score.shape
    best = 0.0
    for k in range(min(nA, nB) + 1):
        for rows in itertools.combinations(range(nA), k):
            for cols in itertools.permutations(range(nB), k):
                if all(valid[i, j] and score[i, j] > 0 for i, j in zip(rows, cols)):
                    best = max(best, sum(score[i, j] for i, j in zip(rows, cols)))
    return best


def test_greedy_is_not_optimal_on_the_classic_case() -> None:
    # Greedy takes the best pair (0.9) and is left with 0.1; optimal takes 0.8 + 0.8.
    score = np.array([[0.9, 0.8], [0.8, 0.1]])
    s = _scores(score, np.ones_like(score, bool))
    greedy, optimal = assembly.match_limbs(s), assembly.match_limbs_optimal(s)
    assert np.isclose(greedy.score.sum(), 1.0)
    assert np.isclose(optimal.score.sum(), 1.6)
    assert sorted(zip(optimal.a.tolist(), optimal.b.tolist())) == [(0, 101), (1, 100)]
    cmp = assembly.compare_matchings([s])
    assert np.isclose(cmp.gap[0], 0.6) and cmp.n_different[0] == 4


@settings(max_examples=60, deadline=None)
@given(
    st.integers(0, 4).flatmap(
        lambda nA: st.integers(0, 4).flatmap(
            lambda nB: st.tuples(
                st.lists(st.floats(-0.5, 1.0), min_size=nA * nB, max_size=nA * nB),
                st.lists(st.booleans(), min_size=nA * nB, max_size=nA * nB),
                st.just((nA, nB)),
            )
        )
    )
)
def test_optimal_matches_brute_force_and_beats_greedy(data) -> None:
    values, flags, shape = data
    score = np.array(values, dtype=np.float64).reshape(shape)
    valid = np.array(flags, dtype=bool).reshape(shape)
    s = _scores(score, valid)
    optimal = assembly.match_limbs_optimal(s)
    greedy = assembly.match_limbs(s)
    assert np.isclose(optimal.score.sum(), _brute_force(score, valid))
    assert optimal.score.sum() >= greedy.score.sum() - 1e-12 or greedy.score.min(initial=0) <= 0
    assert len(set(optimal.a.tolist())) == len(optimal) and len(set(optimal.b.tolist())) == len(optimal)
    assert bool(np.all(valid[optimal.a, optimal.b - 100]))
