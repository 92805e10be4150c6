"""The alternative PAFs replaced: limb *midpoint* confidence maps (CVPR 2017 Fig. 5b, Sec. 2.3).

Before PAFs, a bottom-up parser could score a candidate pair (d_a, d_b) by a confidence map of
the limb's midpoint: high where the midpoint of a true limb lies. The paper's Fig. 5b shows why
that fails when people crowd together: the midpoint of a *wrong* pair (one part of each person)
can lie on or near a true midpoint, and a single position carries no direction. PAFs (Fig. 5c)
store the limb's direction along its whole support, so a wrong pair is read against the field.

Here the two representations are fed to the *same* parser (``assembly.find_peaks``,
``assembly.match_limbs``, ``assembly.group_people``); only the limb score differs:

    midpoint_maps(keypoints, grid_size)       -> (C, h, w)   M*_c: a Gaussian at each true limb's midpoint
    score_limbs_midpoint(peaks, M, limb, thr) -> LimbScores  score = M_c at the pair's midpoint
    parse_midpoints(S, M, params, thr)        -> People      the parser with midpoint scores
    limb_accuracy(people, keypoints, radius)  -> LimbAccuracy  chosen limbs joining one person's parts

and the synthetic scenes that tell them apart (``crossing_arms``, ``row_of_people``) with
``compare`` (both parsers on the same maps). Shown in notebook 12.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from . import assembly, groundtruth
from .assembly import LimbScores, ParsingParams, Peaks, People
from .skeleton import COCO18, Limb, Skeleton

MIDPOINT_THRESHOLD = 0.1  # a pair is a candidate limb when M_c at its midpoint exceeds this


def limb_midpoints(keypoints: np.ndarray, skeleton: Skeleton = COCO18) -> np.ndarray:
    """(P, C, 3) [x, y, v] midpoints of every limb of every person; v = 0 unless both ends are labelled.

    keypoints: (P, J, 3) [x, y, v] (J = skeleton.n_parts). One row per limb type c, in
    ``skeleton.limbs`` order.
    """
    kp = np.asarray(keypoints, dtype=np.float64).reshape(-1, skeleton.n_parts, 3)
    a = np.array([limb.a for limb in skeleton.limbs])
    b = np.array([limb.b for limb in skeleton.limbs])
    both = (kp[:, a, 2] > 0) & (kp[:, b, 2] > 0)  # (P, C)
    mid = 0.5 * (kp[:, a, :2] + kp[:, b, :2])
    return np.concatenate([mid * both[..., None], both[..., None].astype(np.float64)], axis=-1)


def midpoint_maps(
    keypoints: np.ndarray,
    grid_size: tuple[int, int],
    stride: int = 1,
    sigma: float = 4.0,
    skeleton: Skeleton = COCO18,
) -> np.ndarray:
    """Ground-truth midpoint confidence maps M*: one channel per limb type (CVPR 2017 Fig. 5b).

    Eq. 6-7 applied to limb midpoints instead of parts: exp(-||p - m_{c,k}||^2 / sigma^2),
    the max over people k. keypoints (P, J, 3) in input pixels; grid_size (h, w) cells at
    ``stride`` (cell g at input pixel stride / 2 - 0.5 + stride g, as for S*).
    Returns (C, h, w) float32.
    """
    h, w = grid_size
    mid = torch.as_tensor(limb_midpoints(keypoints, skeleton))  # (P, C, 3)
    xs = groundtruth.grid_points(w, stride).double()
    ys = groundtruth.grid_points(h, stride).double()
    d2 = (xs[None, None, None, :] - mid[..., 0, None, None]) ** 2 + (
        ys[None, None, :, None] - mid[..., 1, None, None]
    ) ** 2  # (P, C, h, w)
    g = torch.exp(-d2 / sigma**2) * (mid[..., 2, None, None] > 0)
    if g.shape[0] == 0:
        return np.zeros((len(skeleton.limbs), h, w), dtype=np.float32)
    return g.amax(dim=0).float().numpy()


def score_limbs_midpoint(
    peaks: Peaks,
    M: np.ndarray,
    limb: Limb,
    threshold: float = MIDPOINT_THRESHOLD,
) -> LimbScores:
    """Every candidate pair of one limb type scored by the midpoint map M_c at (d_a + d_b) / 2.

    The counterpart of ``assembly.score_limbs`` (Eq. 10-11) with one sample, the midpoint
    rounded to the nearest pixel, and no direction. M: (C, H, W) at the peaks' resolution.
    A pair is valid when its score exceeds ``threshold``. Returns ``LimbScores`` (nA x nB) so
    that ``assembly.match_limbs`` can match it unchanged.
    """
    ia, ib = peaks.of_part(limb.a), peaks.of_part(limb.b)
    H, W = M.shape[1:]
    mid = 0.5 * (peaks.xy[ia][:, None, :].astype(np.float64) + peaks.xy[ib][None, :, :])  # (nA, nB, 2)
    x = np.clip(np.rint(mid[..., 0]).astype(np.int64), 0, W - 1)
    y = np.clip(np.rint(mid[..., 1]).astype(np.int64), 0, H - 1)
    score = M[limb.index, y, x].astype(np.float64)  # (nA, nB)
    return LimbScores.from_score(limb, score, score > threshold, ia, ib, samples=mid[:, :, None, :])


def parse_midpoints(
    S: np.ndarray,
    M: np.ndarray,
    params: ParsingParams | None = None,
    threshold: float = MIDPOINT_THRESHOLD,
    skeleton: Skeleton = COCO18,
) -> People:
    """``assembly.parse`` with midpoint scores instead of PAF line integrals.

    S: (19, H, W) confidence maps, M: (C, H, W) midpoint maps, both at image resolution.
    Peaks, greedy matching and grouping are the parser's own; ``.steps`` holds them.
    """
    params = params or ParsingParams()
    peaks = assembly.find_peaks(np.asarray(S), params, skeleton=skeleton)
    limbs = [score_limbs_midpoint(peaks, np.asarray(M), limb, threshold) for limb in skeleton.limbs]
    connections = [assembly.match_limbs(s) for s in limbs]
    people = assembly.group_people(peaks, connections, params, skeleton=skeleton)
    people.steps = assembly.ParseSteps(peaks=peaks, limbs=limbs, connections=connections)
    return people


@dataclass(frozen=True)
class LimbAccuracy:
    """How many chosen limbs join two parts of one true person (``limb_accuracy``)."""

    n_true: int  # limbs with both ends labelled in the ground truth
    n_chosen: int  # connections the parser chose
    n_correct: int  # chosen connections whose two ends are the same true person's parts

    @property
    def recall(self) -> float:
        return self.n_correct / max(self.n_true, 1)

    @property
    def precision(self) -> float:
        return self.n_correct / max(self.n_chosen, 1)


def _owner(xy: np.ndarray, part: int, keypoints: np.ndarray, radius: float) -> np.ndarray:
    """(n,) index of the true person whose part ``part`` lies within ``radius`` of each point, else -1."""
    truth = keypoints[:, part]  # (P, 3)
    d = np.hypot(xy[:, None, 0] - truth[None, :, 0], xy[:, None, 1] - truth[None, :, 1])  # (n, P)
    d = np.where(truth[None, :, 2] > 0, d, np.inf)
    best = d.argmin(axis=1) if d.shape[1] else np.zeros(len(xy), dtype=np.int64)
    ok = d[np.arange(len(xy)), best] <= radius if d.shape[1] else np.zeros(len(xy), dtype=bool)
    return np.where(ok, best, -1)


def limb_accuracy(people: People, keypoints: np.ndarray, radius: float = 3.0) -> LimbAccuracy:
    """Count the parser's chosen limbs (``people.steps.connections``) that join one person.

    A connection a -> b is correct when a lies within ``radius`` pixels of true person k's part
    limb.a and b within ``radius`` of the same person's part limb.b. keypoints: (P, 18, 3)
    ground truth in the maps' pixels.
    """
    kp = np.asarray(keypoints, dtype=np.float64)
    peaks = people.steps.peaks
    n_true = n_chosen = n_correct = 0
    for conn in people.steps.connections:
        limb = conn.limb
        n_true += int(((kp[:, limb.a, 2] > 0) & (kp[:, limb.b, 2] > 0)).sum())
        n_chosen += len(conn.a)
        if len(conn.a):
            ka = _owner(peaks.xy[conn.a].astype(np.float64), limb.a, kp, radius)
            kb = _owner(peaks.xy[conn.b].astype(np.float64), limb.b, kp, radius)
            n_correct += int(((ka >= 0) & (ka == kb)).sum())
    return LimbAccuracy(n_true=n_true, n_chosen=n_chosen, n_correct=n_correct)


# A standing person, 18 parts [x, y] in pixels around (0, 0) = the neck, about 100 px tall, the
# right arm held out sideways and down, the left one sideways and up (so that neighbours standing
# closer than the arm span, 80 px, cross forearms); used by the scenes below.
_PERSON = np.array(
    [
        [0, -14],  # Nose
        [0, 0],  # Neck
        [-12, 0],  # RShoulder
        [-26, 6],  # RElbow
        [-40, 12],  # RWrist
        [12, 0],  # LShoulder
        [26, -6],  # LElbow
        [40, -12],  # LWrist
        [-8, 36],  # RHip
        [-9, 58],  # RKnee
        [-10, 80],  # RAnkle
        [8, 36],  # LHip
        [9, 58],  # LKnee
        [10, 80],  # LAnkle
        [-4, -17],  # REye
        [4, -17],  # LEye
        [-8, -15],  # REar
        [8, -15],  # LEar
    ],
    dtype=np.float64,
)


def row_of_people(n: int, spacing: float, size: tuple[int, int] = (128, 256)) -> np.ndarray:
    """(n, 18, 3) keypoints: n copies of one person side by side, ``spacing`` px between necks.

    Spacing below the arm span (80 px) interleaves the arms of neighbours: the crowded scene.
    The row is centred in an image of ``size`` (h, w); every part labelled (v = 2).
    """
    h, w = size
    x0 = w / 2 - spacing * (n - 1) / 2
    kp = np.zeros((n, 18, 3))
    for k in range(n):
        kp[k, :, :2] = _PERSON + [x0 + spacing * k, h / 2 - 33]
    kp[..., 2] = 2
    return kp


def crossing_arms(size: tuple[int, int] = (128, 224)) -> np.ndarray:
    """(3, 18, 3) keypoints: three people 56 px apart whose forearms cross their neighbours'.

    Each left forearm rises to the right and each right forearm falls to the left, so person
    k's left forearm crosses person k + 1's right forearm. In a row of equal people the wrong
    pair (elbow of person k, wrist of person k + 2) has its midpoint exactly on person k + 1's
    limb midpoint: the situation of CVPR 2017 Fig. 5b.
    """
    return row_of_people(3, 56.0, size)


def perfect_maps(
    keypoints: np.ndarray, size: tuple[int, int], sigma: float = 3.0, limb_width: float = 4.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(S, L, M) ground-truth maps at image resolution (stride 1) for the comparison.

    S (19, h, w) Eq. 6-7, L (38, h, w) the released code's PAFs, M (C, h, w) midpoint maps with
    the same spread as S. The parser sees exactly what a perfect network would give it.
    """
    kw = dict(grid_size=size, stride=1)
    S = groundtruth.confidence_maps(keypoints, sigma=sigma, **kw)[0].numpy()
    L = groundtruth.part_affinity_fields(keypoints, limb_width=limb_width, variant="released", **kw)[
        0
    ].numpy()
    M = midpoint_maps(keypoints, size, stride=1, sigma=sigma)
    return S, L, M


def moved_parts(keypoints: np.ndarray, jitter: float, seed: int = 0) -> np.ndarray:
    """(P, 18, 3) the labelled parts moved by Gaussian noise of ``jitter`` px (seeded): where a
    network that localises parts to within a pixel or two would put its peaks."""
    rng = np.random.default_rng(seed)
    moved = np.asarray(keypoints, dtype=np.float64).copy()
    moved[..., :2] += rng.normal(0.0, jitter, moved[..., :2].shape) * (moved[..., 2:] > 0)
    return moved


def compare(
    keypoints: np.ndarray,
    size: tuple[int, int],
    jitter: float = 2.0,
    seed: int = 0,
    params: ParsingParams | None = None,
) -> dict[str, LimbAccuracy]:
    """Parse one scene with PAFs and with midpoint maps; count the correct limbs of each.

    A network finds parts only to within a few pixels: S is drawn at the keypoints moved by
    Gaussian noise of ``jitter`` px (seeded), while L and M keep the true limbs. Both parsers
    get the same S and the same ``params``. keypoints (P, 18, 3); size (h, w).
    Returns {"PAF": LimbAccuracy, "midpoint": LimbAccuracy}, scored against the moved parts.
    """
    moved = moved_parts(keypoints, jitter, seed)
    _, L, M = perfect_maps(keypoints, size)
    S = groundtruth.confidence_maps(moved, grid_size=size, stride=1, sigma=3.0)[0].numpy()
    return {
        "PAF": limb_accuracy(assembly.parse(S, L, params), moved),
        "midpoint": limb_accuracy(parse_midpoints(S, M, params), moved),
    }
