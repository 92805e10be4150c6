"""Checkers of notebook 07: peaks (NMS), the line integral (Eq. 10-11), greedy matching (Sec. 2.4)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from .. import assembly
from ..skeleton import LIMBS, N_PARTS
from .checker import LIMB, Exercise, Result, run


def _peaks_cases() -> Iterator[dict[str, Any]]:
    rng = np.random.default_rng(8)
    yield {"heatmap": np.zeros((4, 4), np.float32), "threshold": 0.1}
    m = np.zeros((4, 5), np.float32)
    m[0, 0], m[2, 4], m[3, 2] = 0.9, 0.5, 0.5  # on the border
    yield {"heatmap": m, "threshold": 0.1}
    m = np.zeros((4, 5), np.float32)
    m[1, 1] = m[1, 2] = 0.7  # a plateau
    yield {"heatmap": m, "threshold": 0.1}
    for _ in range(20):
        h, w = (int(v) for v in rng.integers(4, 8, size=2))
        m = (np.round(rng.random((h, w)) * 5) / 5).astype(np.float32)  # ties happen
        yield {"heatmap": m, "threshold": float(rng.choice([0.1, 0.3]))}


def _peaks_ref(heatmap: np.ndarray, threshold: float) -> np.ndarray:
    S = np.zeros((N_PARTS, *heatmap.shape), np.float32)
    S[0] = heatmap
    params = assembly.ParsingParams(peak_threshold=threshold, smooth_sigma=None, peak_neighbours=4)
    return assembly.find_peaks(S, params).xy.astype(np.int64).reshape(-1, 2)


def _peaks_variant(heatmap, threshold, strict=False, diag=False, swap=False, border=True):  # noqa: ANN001, ANN202
    p = np.pad(heatmap, 1)
    c = p[1:-1, 1:-1]
    steps = [(0, 1), (0, -1), (1, 0), (-1, 0)] + ([(1, 1), (1, -1), (-1, 1), (-1, -1)] if diag else [])
    keep = c > threshold
    for dy, dx in steps:
        n = p[1 + dy : p.shape[0] - 1 + dy, 1 + dx : p.shape[1] - 1 + dx]
        keep &= (c > n) if strict else (c >= n)
    if not border:
        keep[0, :] = keep[-1, :] = keep[:, 0] = keep[:, -1] = False
    y, x = np.nonzero(keep)
    return (np.column_stack([y, x]) if swap else np.column_stack([x, y])).astype(np.int64).reshape(-1, 2)


PEAKS = Exercise(
    "peaks",
    _peaks_cases,
    _peaks_ref,
    [
        (
            "a pixel is a peak when it is >= its neighbours (a plateau keeps its pixels), not strictly >",
            lambda **c: _peaks_variant(**c, strict=True),
        ),
        ("x and y are swapped: return [x, y] = [column, row]", lambda **c: _peaks_variant(**c, swap=True)),
        (
            "you skip the border: outside the map counts as 0, so a border pixel can be a peak",
            lambda **c: _peaks_variant(**c, border=False),
        ),
        (
            "you compare with 8 neighbours; this exercise (the demo) uses 4: left, right, up, down",
            lambda **c: _peaks_variant(**c, diag=True),
        ),
    ],
    (
        "keep pixels > threshold and >= their 4 neighbours (outside = 0); "
        "return (K, 2) [x, y] sorted by row, then column"
    ),
    atol=0,
)


def check_peaks(fn: Callable[..., Any], verbose: bool = True) -> Result:
    """NMS: ``fn(heatmap (H, W), threshold) -> (K, 2) int [x, y]``, sorted by row then column."""
    return run(PEAKS, fn, verbose)


def _integral_cases() -> Iterator[dict[str, Any]]:
    rng = np.random.default_rng(9)
    f = rng.normal(0, 1, size=(2, 12, 12))
    yield {"paf": f, "a": np.array([3, 3]), "b": np.array([3, 3]), "n_samples": 10}  # zero length
    yield {"paf": f, "a": np.array([0, 0]), "b": np.array([11, 11]), "n_samples": 10}  # corners
    for _ in range(20):
        H, W = (int(v) for v in rng.integers(6, 14, size=2))
        yield {
            "paf": rng.normal(0, 1, size=(2, H, W)),
            "a": np.array([rng.integers(0, W), rng.integers(0, H)]),
            "b": np.array([rng.integers(0, W), rng.integers(0, H)]),
            "n_samples": int(rng.choice([5, 10])),
        }


def _integral_ref(paf: np.ndarray, a: np.ndarray, b: np.ndarray, n_samples: int) -> float:
    H, W = paf.shape[1:]
    L = np.zeros((2 * len(LIMBS), H, W))
    L[LIMB.paf_x], L[LIMB.paf_y] = paf
    peaks = assembly.Peaks(
        xy=np.array([a, b], np.float32), score=np.ones(2, np.float32), part=np.array([LIMB.a, LIMB.b])
    )
    params = assembly.ParsingParams(n_samples=n_samples, distance_prior=0)
    return float(assembly.score_limbs(peaks, L, LIMB, params).mean[0, 0])


def _integral_variant(paf, a, b, n_samples, ends=True, normalise=True, swap=False):  # noqa: ANN001, ANN202
    a, b = np.asarray(a, float), np.asarray(b, float)
    d = b - a
    n = np.hypot(*d)
    if n == 0:
        return 0.0
    u = d / n if normalise else d
    t = np.linspace(0, 1, n_samples) if ends else np.linspace(0, 1, n_samples + 2)[1:-1]
    pts = np.rint(a + t[:, None] * d).astype(int)
    x, y = pts[:, 0], pts[:, 1]
    if swap:
        x, y = y, x
    return float(np.mean(paf[0, y, x] * u[0] + paf[1, y, x] * u[1]))


LINE_INTEGRAL = Exercise(
    "line_integral",
    _integral_cases,
    _integral_ref,
    [
        (
            (
                "your samples leave out the end points: np.linspace(a, b, n) "
                "includes both candidates (Eq. 11, u = 0 and 1)"
            ),
            lambda **c: _integral_variant(**c, ends=False),
        ),
        (
            "the direction is not normalised: Eq. 10 projects L on (d_b - d_a) / ||d_b - d_a||",
            lambda **c: _integral_variant(**c, normalise=False),
        ),
        (
            "x and y are swapped: index the field as paf[:, y, x]",
            lambda **c: _integral_variant(**c, swap=True),
        ),
    ],
    (
        "sample n points p(u) = a + u (b - a), u in linspace(0, 1, n), round to the "
        "nearest pixel, average L(p).unit(b - a); a == b gives 0"
    ),
)


def check_line_integral(fn: Callable[..., Any], verbose: bool = True) -> Result:
    """Eq. 10-11: ``fn(paf (2, H, W), a (2,) [x, y], b (2,), n_samples) -> float``, the mean of L.v."""
    return run(LINE_INTEGRAL, fn, verbose)


def _matching_cases() -> Iterator[dict[str, Any]]:
    rng = np.random.default_rng(10)
    yield {"score": np.zeros((0, 3)), "valid": np.zeros((0, 3), bool)}  # empty candidate list
    yield {"score": np.array([[0.9, 0.8], [0.85, 0.1]]), "valid": np.ones((2, 2), bool)}
    yield {"score": np.array([[0.9, 0.2], [0.3, 0.95]]), "valid": np.array([[True, True], [True, False]])}
    for _ in range(20):
        nA, nB = (int(v) for v in rng.integers(1, 5, size=2))
        yield {"score": np.round(rng.random((nA, nB)), 3), "valid": rng.random((nA, nB)) < 0.7}


def _matching_ref(score: np.ndarray, valid: np.ndarray) -> list[tuple[int, int]]:
    nA, nB = score.shape
    ids = np.arange(nA), np.arange(nB)
    s = assembly.LimbScores.from_score(LIMB, score, valid, *ids, samples=np.zeros((nA, nB, 1, 2)))
    c = assembly.match_limbs(s)
    return [tuple(int(v) for v in ij) for ij in c.ranked[c.accepted]]


def _matching_variant(score, valid, use_valid=True, mark_b=True, rows=False):  # noqa: ANN001, ANN202
    out, used_a, used_b = [], set(), set()
    if rows:
        for i in range(score.shape[0]):
            js = [j for j in np.argsort(-score[i], kind="stable") if valid[i, j] and j not in used_b]
            if js:
                out.append((i, int(js[0])))
                used_b.add(int(js[0]))
        return out
    pairs = [
        (score[i, j], i, j)
        for i in range(score.shape[0])
        for j in range(score.shape[1])
        if valid[i, j] or not use_valid
    ]
    for _, i, j in sorted(pairs, key=lambda p: -p[0]):
        if i in used_a or (mark_b and j in used_b):
            continue
        out.append((i, j))
        used_a.add(i)
        used_b.add(j)
    return out


GREEDY_MATCHING = Exercise(
    "greedy_matching",
    _matching_cases,
    _matching_ref,
    [
        (
            "you also take pairs that are not valid: skip every (i, j) with valid[i, j] False",
            lambda **c: _matching_variant(**c, use_valid=False),
        ),
        (
            "a candidate b was used twice: mark both ends of a chosen pair as taken",
            lambda **c: _matching_variant(**c, mark_b=False),
        ),
        (
            (
                "you go row by row; greedy matching takes the best pair of the "
                "whole table first (sort all pairs by score)"
            ),
            lambda **c: _matching_variant(**c, rows=True),
        ),
    ],
    (
        "sort the valid pairs by decreasing score; take a pair when neither "
        "end is taken yet; return [(i, j), ...] in that order"
    ),
    atol=0,
)


def check_greedy_matching(fn: Callable[..., Any], verbose: bool = True) -> Result:
    """Sec. 2.4: ``fn(score (nA, nB), valid (nA, nB) bool) -> [(i, j), ...]`` in the order chosen."""
    return run(GREEDY_MATCHING, fn, verbose)
