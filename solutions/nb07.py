"""Notebook 07: peaks (NMS), the PAF line integral (Eq. 10-11), greedy matching (Sec. 2.4)."""

import numpy as np


def peaks(heatmap: np.ndarray, threshold: float) -> np.ndarray:
    """Pixels > threshold and >= their 4 neighbours (outside the map = 0). (K, 2) [x, y]."""
    p = np.pad(heatmap, 1)
    c = p[1:-1, 1:-1]
    keep = (
        (c > threshold) & (c >= p[:-2, 1:-1]) & (c >= p[2:, 1:-1]) & (c >= p[1:-1, :-2]) & (c >= p[1:-1, 2:])
    )
    y, x = np.nonzero(keep)
    return np.column_stack([x, y])


def line_integral(paf: np.ndarray, a: np.ndarray, b: np.ndarray, n_samples: int) -> float:
    """Eq. 10-11 as a sum: mean of L(p(u)) . unit(b - a) at n points, both ends included."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    d = b - a
    length = np.hypot(*d)
    if length == 0:
        return 0.0
    pts = np.rint(a + np.linspace(0, 1, n_samples)[:, None] * d).astype(int)
    x, y = pts[:, 0], pts[:, 1]
    return float(np.mean(paf[0, y, x] * d[0] / length + paf[1, y, x] * d[1] / length))


def greedy_matching(score: np.ndarray, valid: np.ndarray) -> list[tuple[int, int]]:
    """Best valid pairs first, each candidate used once."""
    i, j = np.nonzero(valid)
    order = np.argsort(-score[i, j], kind="stable")
    used_a, used_b, out = set(), set(), []
    for k in order:
        if i[k] not in used_a and j[k] not in used_b:
            out.append((int(i[k]), int(j[k])))
            used_a.add(i[k])
            used_b.add(j[k])
    return out


def limb_validity(
    along: np.ndarray,
    length: float,
    image_height: int,
    paf_threshold: float,
    min_above_fraction: float,
    distance_prior: float,
) -> bool:
    """The demo's two tests: enough samples above the threshold, and mean + distance prior > 0."""
    along = np.asarray(along, dtype=float)
    enough = (along > paf_threshold).sum() > min_above_fraction * len(along)
    prior = min(distance_prior * image_height / length - 1.0, 0.0) if distance_prior else 0.0
    return bool(enough and along.mean() + prior > 0)


def group_limbs(connections: list[tuple[int, int]], n_candidates: int) -> np.ndarray:
    """Limbs sharing a candidate are one person: merge labels; number people by first appearance."""
    person = np.full(n_candidates, -1, dtype=np.int64)
    n = 0
    for a, b in connections:
        pa, pb = person[a], person[b]
        if pa < 0 and pb < 0:
            person[a] = person[b] = n
            n += 1
        elif pa < 0:
            person[a] = pb
        elif pb < 0:
            person[b] = pa
        elif pa != pb:  # two people joined by this limb: one person
            keep, gone = min(pa, pb), max(pa, pb)
            person[person == gone] = keep
            person[person > gone] -= 1
    return person
