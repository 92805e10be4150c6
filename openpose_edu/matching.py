"""Greedy against optimal matching on a score matrix you write by hand (CVPR 2017 Sec. 2.4).

    limb_scores(score, valid)  -> LimbScores     a hand-made (nA, nB) score matrix as the parser's input
    totals(scores)             -> (float, float) the summed score of the greedy and the optimal matching

The paper relaxes each limb type's matching to a bipartite problem (Eq. 12-14) and solves it
greedily; the Hungarian algorithm would maximise the total exactly. On real PAFs they rarely
differ (notebook 07); on a matrix like [[.9, .8], [.85, .1]] they do: greedy takes the best
pair (0.9) and is left with 0.1, total 1.0; the optimum pairs 0.8 + 0.85 = 1.65. Notebook 12.
"""

from __future__ import annotations

import numpy as np

from .assembly import LimbScores, match_limbs, match_limbs_optimal
from .skeleton import LIMBS, Limb


def limb_scores(score: np.ndarray, valid: np.ndarray | None = None, limb: Limb = LIMBS[0]) -> LimbScores:
    """A ``LimbScores`` with the given (nA, nB) scores (every pair valid unless ``valid`` says not).

    Candidate ids are 0..nA-1 and nA..nA+nB-1; the per-sample fields hold the score itself.
    """
    s = np.asarray(score, dtype=np.float64)
    if s.ndim != 2:
        raise ValueError(f"score must be a 2-d (nA, nB) matrix, got shape {s.shape}")
    ok = np.ones(s.shape, dtype=bool) if valid is None else np.asarray(valid, dtype=bool)
    if ok.shape != s.shape:
        raise ValueError(f"valid has shape {ok.shape}, score {s.shape}")
    nA, nB = s.shape
    a, b = np.arange(nA, dtype=np.int64), np.arange(nA, nA + nB, dtype=np.int64)
    return LimbScores.from_score(limb, s, ok, a, b, samples=np.zeros((nA, nB, 1, 2)))


def totals(scores: LimbScores) -> tuple[float, float]:
    """(greedy total, optimal total): the summed scores of ``match_limbs`` and ``match_limbs_optimal``."""
    return float(match_limbs(scores).score.sum()), float(match_limbs_optimal(scores).score.sum())
