"""Multi-person parsing: from confidence maps S and part affinity fields L to people.

The right half of the paper's Figure 2 (b-e), Section 2.4 (arXiv 1611.08050), one step per
function, each returning plain data a notebook can print or plot:

    find_peaks(S)                  -> Peaks        candidate parts d_j^m (NMS on S, Sec. 2.4)
    score_limbs(peaks, L, limb)    -> LimbScores   PAF line integral E of every candidate pair (Eq. 10-11)
                                                   (score_all_limbs: the 19 limb types at once)
    match_limbs(limb_scores)       -> Connections  greedy bipartite matching of one limb type (Eq. 12-14),
                                                   the paper's own relaxation (Sec. 2.4)
                                                   (match_limbs_optimal: the Hungarian algorithm, to compare)
    group_people(peaks, conns)     -> People       connections sharing parts merged into people
    parse(S, L, params)            -> People       the four steps chained

All thresholds live in ``ParsingParams`` (defaults: the reference Python demo). The maps are
at image resolution (``inference.infer_maps`` upsamples the network output), so every
coordinate here is in image pixels: x = column, y = row, pixel centres at integers.
Explained in notebook 07 (assembly).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import cv2
import numpy as np
from scipy.optimize import linear_sum_assignment

from .skeleton import COCO18, N_PARTS, Limb, Skeleton
from .upsample import GridField

# Bounds that keep the line integrals' memory small whatever the settings: the samples of every
# candidate pair are allocated at once (max_peaks^2 pairs x n_samples x 2 floats per limb).
MAX_N_SAMPLES = 100  # OpenPose samples 10 points; 100 is already a sample every few pixels
MAX_PEAKS_BOUND = 1024


@dataclass(frozen=True)
class ParsingParams:
    """Every threshold of the parsing, with the reference Python demo's defaults.

    Defaults follow ZheC's ``testing/python/demo.ipynb`` as ported by Hzzone's ``body.py``
    (docs/openpose_facts.md sections 5-6). Other versions use other values:

    ======================  ===========  ===========  ===========  ==============  ===========
    field                   demo (dflt)  ZC MATLAB    OP 1.0 C++   OP current C++  tf-pose
    ======================  ===========  ===========  ===========  ==============  ===========
    peak_threshold          0.1          0.1          0.05         0.05            0.05
    smooth_sigma            3.0          None         None         None            ~5 (see below)
    peak_neighbours         4 (>=)       4 (>)        8            8               8 (3x3 pool)
    n_samples               10           10           10           5..25 (length)  10 (see below)
    paf_threshold           0.05         0.05         0.05         0.05            0.05
    min_above_fraction      0.8          0.8          0.9 (all)    0.95            0.6 (6/10)
    distance_prior          0.5          0.5 (H/2)    none (0)     none (0)        0.5
    min_parts               4            3            3            3               4
    min_mean_score          0.4          0.2          0.4          0.4             0.3
    ======================  ===========  ===========  ===========  ==============  ===========

    The MATLAB code and OpenPose average only the samples above ``paf_threshold``; the demo
    (and we) average all of them. OpenPose refines each peak to a sub-pixel centroid.

    tf-pose (ildoonet/tf-pose-estimation): its code calls ``Smoother(..., 25, 3.0)``, but
    ``tensblur/smoother.gauss_kernel`` spreads +-3.5 standard deviations over 25 taps and takes
    the square root of the outer product, a Gaussian of sigma about 5 px, applied to the maps
    upsampled x4 (``run.py --resize-out-ratio 4``; its default ``--resize 0x0`` does not resize
    the photo). Its PAF samples (``pafprocess.cpp``) are a + i (b - a) / 10 for i = 0..9 (never
    b itself), rounded as ``(int)(v + .5)``, and all 10 enter the mean.

    Where the smoothing acts: the demo resizes the maps to the photo and smooths there; this
    package parses on the network-input grid (height at most 368, ``inference.network_grid``),
    so the same sigma 3 is 1080 / 368 = 2.9x wider in photo pixels on a 1080-px photo.
    Current OpenPose also gives a limb that fails the sample test a small fallback score
    when its two parts lie very close (docs/openpose_facts.md, Sec. 6).

    The thresholds suit the maps of one network: a model file may name its own
    (``meta["parsing"]``, read into ``model.parsing_params``; ``inference.parsing_params_of``),
    as the bundled model does, chosen by ``evaluate.tune_parsing``.
    """

    # thre1: a peak is a local maximum of the (smoothed) map above this value.
    peak_threshold: float = 0.1
    # The demo smooths each part map with a Gaussian (sigma in pixels of the maps parsed: the
    # photo's for the demo, the network-input grid's here; see above) before NMS, which
    # removes the ripples that bicubic upsampling adds; None or 0 turns it off (OpenPose).
    smooth_sigma: float | None = 3.0
    # 4: >= the left/right/up/down neighbours (demo); 8: also the diagonals (OpenPose's NMS).
    peak_neighbours: int = 4
    # mid_num: points sampled on the segment between two candidates (Eq. 10's integral as a sum).
    n_samples: int = 10
    # thre2: a sample "supports" the limb when L . unit(d2 - d1) exceeds this.
    paf_threshold: float = 0.05
    # criterion1: more than this fraction of the samples must support the limb (> 0.8 * 10).
    min_above_fraction: float = 0.8
    # Distance prior added to the mean: min(distance_prior * image_height / |d2 - d1| - 1, 0),
    # penalising limbs longer than this fraction of the image height. 0 turns it off.
    distance_prior: float = 0.5
    # A person needs at least this many parts ...
    min_parts: int = 4
    # ... and a total score (parts + connections) per part of at least this.
    min_mean_score: float = 0.4
    # At most this many candidates per part, the highest first: OpenPose's C++ keeps at most
    # POSE_MAX_PEOPLE = 127 peaks per body part (the Python demo keeps all). Without a cap the
    # maps of an untrained network (a peak at every other pixel) make nA x nB pairs of millions
    # per limb and the line integrals take gigabytes.
    max_peaks: int = 127

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None and f.name == "smooth_sigma":
                continue
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
                raise ValueError(f"ParsingParams.{f.name} must be a finite number, got {value!r}")
        if self.peak_threshold < 0:
            raise ValueError(f"peak_threshold must be >= 0, got {self.peak_threshold}")
        if self.smooth_sigma is not None and self.smooth_sigma < 0:
            raise ValueError(f"smooth_sigma must be None or >= 0, got {self.smooth_sigma}")
        if self.peak_neighbours not in (4, 8):
            raise ValueError(f"peak_neighbours must be 4 or 8, got {self.peak_neighbours}")
        if not 2 <= self.n_samples <= MAX_N_SAMPLES or self.n_samples != int(self.n_samples):
            raise ValueError(
                f"n_samples must be an integer in 2..{MAX_N_SAMPLES} (both ends of the limb; OpenPose "
                f"uses 10), got {self.n_samples}"
            )
        if not 0 <= self.min_above_fraction < 1:
            raise ValueError(f"min_above_fraction must be in [0, 1), got {self.min_above_fraction}")
        if self.distance_prior < 0:
            raise ValueError(f"distance_prior must be >= 0, got {self.distance_prior}")
        if self.min_parts < 1:
            raise ValueError(f"min_parts must be >= 1, got {self.min_parts}")
        if not 1 <= self.max_peaks <= MAX_PEAKS_BOUND or self.max_peaks != int(self.max_peaks):
            raise ValueError(f"max_peaks must be an integer in 1..{MAX_PEAKS_BOUND}, got {self.max_peaks}")

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> ParsingParams:
        """ParsingParams from a plain dict (a model file's ``meta["parsing"]``); unknown names are refused."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ValueError(f"unknown parsing parameters {unknown}; known: {sorted(names)}")
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """The fields as a plain dict (what a model file stores; ``from_dict`` reads it back)."""
        return asdict(self)


def _as_maps(x: object, n_channels: int, name: str) -> np.ndarray:
    """A (C, H, W) float32 numpy view of a numpy array or torch tensor, C >= n_channels.

    A ``upsample.GridField`` (the lazy PAF of ``inference.Maps``) is kept as it is: the line
    integral reads it only at its samples.
    """
    if isinstance(x, GridField):
        if x.shape[0] < n_channels:
            raise ValueError(f"{name} must have {n_channels} channels, got a field of shape {x.shape}")
        return x  # type: ignore[return-value]
    if hasattr(x, "detach"):  # a torch tensor, on any device
        x = x.detach().cpu().numpy()  # type: ignore[union-attr]
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a numpy array or torch tensor, got {type(x).__name__}")
    if x.ndim != 3 or x.shape[0] < n_channels:
        raise ValueError(
            f"{name} must have shape ({n_channels}, H, W) at image resolution, got {x.shape}; "
            "pass one image's maps, e.g. maps.S or output.S[-1][0] upsampled by inference.resize_maps"
        )
    return np.asarray(x, dtype=np.float32)


# --------------------------------------------------------------------------------------------
# Step 1: candidate parts
# --------------------------------------------------------------------------------------------


@dataclass
class Peaks:
    """Candidate body parts: every local maximum of every part map (paper Fig. 2b / 5a).

    Candidate ``i`` (its id) is part ``part[i]`` at ``xy[i]`` (image pixels) with confidence
    ``score[i]`` = S_j at the peak. Candidates are sorted by part, then row, then column.
    """

    xy: np.ndarray  # (K, 2) float32 [x, y] in image pixels
    score: np.ndarray  # (K,) float32, the unsmoothed S_j at the peak
    part: np.ndarray  # (K,) int64, 0..17

    def __len__(self) -> int:
        return len(self.score)

    def of_part(self, j: int) -> np.ndarray:
        """Ids (K_j,) int64 of the candidates of part j."""
        lo, hi = np.searchsorted(self.part, [j, j + 1])
        return np.arange(lo, hi)

    @property
    def per_part(self) -> list[np.ndarray]:
        """The demo's ``all_peaks``: 18 arrays (K_j, 4) of [x, y, score, id]."""
        ids = np.arange(len(self), dtype=np.float32)
        table = np.column_stack([self.xy, self.score, ids]).astype(np.float32)
        return [table[self.of_part(j)] for j in range(N_PARTS)]


def smooth_maps(S: object, sigma: float, n_channels: int = N_PARTS) -> np.ndarray:
    """Gaussian blur of each part map, as the demo does before NMS (scipy's gaussian_filter).

    S: (>=18, H, W) -> (18, H, W) float32 (the first ``n_channels`` maps); sigma in image
    pixels. Same kernel radius (4 sigma) and borders (reflect) as scipy's gaussian_filter,
    computed by OpenCV.
    """
    maps = _as_maps(S, n_channels, "S")[:n_channels]
    if not sigma:
        return maps.copy()
    k = 2 * int(4.0 * sigma + 0.5) + 1
    return np.stack(
        [cv2.GaussianBlur(m, (k, k), sigma, sigmaY=sigma, borderType=cv2.BORDER_REFLECT) for m in maps]
    )


def _runs(mask: np.ndarray, gap: int) -> list[tuple[int, int]]:
    """[start, end) of the runs of True in a 1-D mask, joining runs less than ``gap`` apart."""
    idx = np.flatnonzero(mask)
    if not len(idx):
        return []
    cut = np.flatnonzero(idx[1:] - idx[:-1] > gap).tolist()
    idx = idx.tolist()
    starts = [idx[0]] + [idx[c + 1] for c in cut]
    ends = [idx[c] + 1 for c in cut] + [idx[-1] + 1]
    return list(zip(starts, ends))


def _boxes(active: np.ndarray, gap: int, rows: np.ndarray | None = None) -> list[tuple[int, int, int, int]]:
    """Boxes (y0, y1, x0, x1) around the True pixels of an (H, W) mask: an XY cut.

    The rows are cut wherever at least ``gap`` empty rows run right across the map, each band's
    columns likewise, and each piece's rows once more, so that people far apart get separate
    small boxes instead of one box over the whole map. Every True pixel is in some box, and
    boxes are at least ``gap`` rows or columns apart. rows: ``active.any(axis=1)`` if known.
    """
    boxes = []
    for r0, r1 in _runs(active.any(axis=1) if rows is None else rows, gap):
        band = active[r0:r1]
        cols = _runs(band.any(axis=0), gap)
        if len(cols) == 1:  # one piece: its rows are the band's
            boxes.append((r0, r1, *cols[0]))
            continue
        for c0, c1 in cols:
            for q0, q1 in _runs(band[:, c0:c1].any(axis=1), gap):
                boxes.append((r0 + q0, r0 + q1, c0, c1))
    return boxes


def _smooth_near_parts(
    raw: np.ndarray, sigma: float, threshold: float, neighbours: int = 4, gap: int = 48
) -> np.ndarray:
    """The peaks of ``smooth_maps(raw)``, smoothing only near the parts: flat indices, sorted.

    Same peaks as smoothing everything, at a fraction of the cost. A smoothed value is a
    weighted mean of the raw values within r = 4 sigma, so it can exceed the threshold only
    within r of a raw value above it (an "active" pixel). ``_boxes`` puts the active pixels
    of each map into boxes at least 2 r + 2 apart; each box grown by r ("E") holds every
    pixel near it that can be a peak, and is smoothed exactly from the raw values up to
    2 r out. Any neighbour of E outside E is more than r from every active pixel, so its
    smoothed value is <= threshold and any candidate beats it: comparing each pixel of E
    with its neighbours inside E alone (a 3 x 3 max filter) finds exactly the peaks.
    gap: boxes nearer than this (and 2 r + 2) are merged; 48 px, because one more small blur
    call costs about as much as smoothing the pixels between two boxes.
    """
    r = int(4.0 * sigma + 0.5)  # the kernel radius of smooth_maps
    k = 2 * r + 1
    C, H, W = raw.shape
    # A 3 x 3 max filter: a peak equals the maximum of its neighbourhood (cross: 4 neighbours).
    near = cv2.getStructuringElement(cv2.MORPH_RECT if neighbours == 8 else cv2.MORPH_CROSS, (3, 3))
    active = raw > threshold  # (C, H, W)
    rows = active.any(axis=2)  # (C, H)
    local, origin = [np.zeros(0, np.int64)], [(0, 0, 1, 0)]  # per box: peaks in E, (j, ey0, E width, ex0)
    for j in range(C):
        for y0, y1, x0, x1 in _boxes(active[j], max(gap, 2 * r + 2), rows[j]):
            ey0, ey1, ex0, ex1 = max(y0 - r, 0), min(y1 + r, H), max(x0 - r, 0), min(x1 + r, W)  # E
            cy0, cy1 = max(y0 - 2 * r, 0), min(y1 + 2 * r, H)  # what E's exact values read
            cx0, cx1 = max(x0 - 2 * r, 0), min(x1 + 2 * r, W)
            e = cv2.GaussianBlur(
                raw[j, cy0:cy1, cx0:cx1], (k, k), sigma, sigmaY=sigma, borderType=cv2.BORDER_REFLECT
            )[ey0 - cy0 : ey1 - cy0, ex0 - cx0 : ex1 - cx0]
            local.append(np.flatnonzero((e > threshold) & (e >= cv2.dilate(e, near))))
            origin.append((j, ey0, ex1 - ex0, ex0))
    # Box-local flat indices -> flat indices into (C, H, W), all boxes at once.
    j, ey0, ew, ex0 = np.repeat(np.array(origin, np.int64), [len(f) for f in local], axis=0).T
    f = np.concatenate(local)
    return np.sort((j * H + ey0 + f // ew) * W + ex0 + f % ew)


def _local_maxima(m: np.ndarray, idx: np.ndarray, neighbours: int) -> np.ndarray:
    """The flat indices ``idx`` into m (C, H, W) whose value is >= their 4 (or 8) neighbours.

    Outside the map counts as 0, which a candidate (> threshold >= 0) beats, as in the demo's
    zero-filled shifted copies. Only the candidates are compared, not every pixel: those
    inside the map by flat offsets, the few on its border one neighbour at a time.
    Returns the maxima's indices sorted (part, then row, then column), each once.
    """
    C, H, W = m.shape
    flat = m.reshape(-1)
    steps = [(0, 1), (0, -1), (1, 0), (-1, 0)]  # right/left/down/up; then the diagonals
    if neighbours == 8:
        steps += [(1, 1), (1, -1), (-1, 1), (-1, -1)]
    rest = idx % (H * W)
    y = rest // W
    x = rest - y * W
    border = (x == 0) | (x == W - 1) | (y == 0) | (y == H - 1)
    inner = idx[~border]
    keep = np.ones(len(inner), dtype=bool)
    value = flat[inner]
    for dy, dx in steps:
        keep &= value >= flat[inner + (dy * W + dx)]
    edge, y, x = idx[border], y[border], x[border]
    keep_edge = np.ones(len(edge), dtype=bool)
    for dy, dx in steps:
        inside = (y + dy >= 0) & (y + dy < H) & (x + dx >= 0) & (x + dx < W)
        keep_edge &= ~inside | (flat[edge] >= flat[np.where(inside, edge + (dy * W + dx), edge)])
    return np.unique(np.concatenate([inner[keep], edge[keep_edge]]))


def _highest_per_part(idx: np.ndarray, score: np.ndarray, part: np.ndarray, k: int) -> np.ndarray:
    """The flat indices ``idx`` (sorted) keeping at most the k highest-scoring ones of each part.

    Stable: equal scores keep the earlier index; the result stays sorted. (n,) arrays in, (m,) out.
    """
    if len(idx) == 0 or np.bincount(part).max() <= k:
        return idx
    order = np.lexsort((-score, part))  # by part, then score from the highest
    by_part = part[order]
    rank = np.arange(len(idx)) - np.searchsorted(by_part, by_part)  # position within its part
    return idx[np.sort(order[rank < k])]


def find_peaks(S: object, params: ParsingParams | None = None, skeleton: Skeleton = COCO18) -> Peaks:
    """Candidate parts: local maxima of each confidence map above ``peak_threshold``.

    Paper Sec. 2.4 / Fig. 2b ("non-maximum suppression" on S). S: (19 or 18, H, W) float at
    image resolution, numpy or torch (the background channel is ignored). A pixel is a peak
    when it is >= its 4 (or 8) neighbours and > the threshold, on the map smoothed with
    ``smooth_sigma``; its score is read from the unsmoothed map. Array operations over the
    above-threshold pixels only, no loops over pixels. Returns ``Peaks`` in image pixels.
    """
    params = params or ParsingParams()
    raw = _as_maps(S, skeleton.n_parts, "S")[: skeleton.n_parts]  # (18, H, W) for COCO18
    if params.smooth_sigma:
        idx = _smooth_near_parts(raw, params.smooth_sigma, params.peak_threshold, params.peak_neighbours)
    else:
        m = np.ascontiguousarray(raw)
        idx = _local_maxima(m, np.flatnonzero(m > params.peak_threshold), params.peak_neighbours)
    C, H, W = raw.shape
    idx = _highest_per_part(idx, raw.reshape(-1)[idx], idx // (H * W), int(params.max_peaks))
    part, rest = np.divmod(idx, H * W)
    y, x = np.divmod(rest, W)
    return Peaks(
        xy=np.column_stack([x, y]).astype(np.float32),
        score=raw[part, y, x],
        part=part.astype(np.int64),
    )


# --------------------------------------------------------------------------------------------
# Step 2: limb scores
# --------------------------------------------------------------------------------------------


@dataclass
class LimbScores:
    """Every candidate pair (a_i, b_j) of one limb type, scored by the PAF line integral.

    ``a``/``b`` are candidate ids (of parts ``limb.a``/``limb.b``); every other array is
    indexed [i, j] by position in ``a`` and ``b``.
    """

    limb: Limb
    a: np.ndarray  # (nA,) int64 candidate ids of part limb.a
    b: np.ndarray  # (nB,) int64 candidate ids of part limb.b
    samples: np.ndarray  # (nA, nB, N, 2) float64 sample points p(u) [x, y], image pixels (Eq. 11)
    along: np.ndarray  # (nA, nB, N) float64 L_c(p(u)) . unit(d_b - d_a): the field along the limb (Eq. 10)
    mean: np.ndarray  # (nA, nB) float64 mean of ``along``: Eq. 10's integral as a sum
    prior: np.ndarray  # (nA, nB) float64 distance prior min(r * H / |d_b - d_a| - 1, 0) <= 0
    score: np.ndarray  # (nA, nB) float64 mean + prior: the demo's score_with_dist_prior
    fraction: np.ndarray  # (nA, nB) float64 share of samples with along > paf_threshold
    valid: np.ndarray  # (nA, nB) bool: fraction > min_above_fraction and score > 0

    @classmethod
    def from_score(
        cls,
        limb: Limb,
        score: np.ndarray,
        valid: np.ndarray,
        a: np.ndarray,
        b: np.ndarray,
        samples: np.ndarray,
    ) -> LimbScores:
        """Pairs scored otherwise than by the line integral (a matrix given directly, a midpoint
        read): score (nA, nB) float64 is its own one sample, mean and score; no prior; the share of
        supporting samples is 1 where ``valid`` (nA, nB) bool, else 0. samples (nA, nB, 1, 2)."""
        return cls(
            limb=limb,
            a=a,
            b=b,
            samples=samples,
            along=score[..., None],
            mean=score,
            prior=np.zeros_like(score),
            score=score,
            fraction=valid.astype(np.float64),
            valid=valid,
        )


def score_limbs(peaks: Peaks, L: object, limb: Limb | int, params: ParsingParams | None = None) -> LimbScores:
    """The PAF line integral E (Eq. 10, path Eq. 11) for every candidate pair of one limb type.

    E = mean over N points p(u) on the segment d_a -> d_b (both ends included, rounded to the
    nearest pixel) of L_c(p(u)) . (d_b - d_a) / |d_b - d_a|, plus the demo's distance prior.
    L: (38, H, W) PAFs at image resolution (numpy or torch); ``limb`` a skeleton.Limb or its
    index. Vectorized over all nA x nB pairs and N samples at once. Returns ``LimbScores``.
    """
    return score_all_limbs(peaks, L, params, limbs=[limb])[0]


def _segment_samples(A: np.ndarray, B: np.ndarray, N: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The path p(u) of Eq. 11 for P segments A -> B ((P, 2) each): N points, both ends included.

    Returns samples (P, N, 2) float64 (the points of np.linspace(A, B, N), the end exactly B),
    the unit vectors (P, 2) and the lengths (P,), at least the demo's 0.001.
    """
    A, B = A.astype(np.float64), B.astype(np.float64)
    d = B - A  # (P, 2)
    norm = np.maximum(np.hypot(d[:, 0], d[:, 1]), 1e-3)  # (P,); the demo's max(0.001, .)
    unit = d / norm[:, None]  # (P, 2)
    k = np.arange(N, dtype=np.float64)[:, None]  # (N, 1)
    samples = A[:, None, :] + k * (d / (N - 1))[:, None, :]  # (P, N, 2)
    samples[:, -1, :] = B
    return samples, unit, norm


def _field_along(
    paf: np.ndarray, samples: np.ndarray, unit: np.ndarray, ch_x: np.ndarray, ch_y: np.ndarray
) -> np.ndarray:
    """Eq. 10's integrand L_c(p(u)) . unit(d_b - d_a) at every sample: (P, N).

    paf (C, H, W), an array or a ``GridField`` (then only these pixels are computed); samples
    (P, N, 2) read at the nearest pixel, halves rounded to even like Python's round() in the
    demo; ch_x, ch_y (P, 1): the limb's two channels for each pair.
    """
    xi = np.rint(samples[..., 0]).astype(np.intp)  # (P, N)
    yi = np.rint(samples[..., 1]).astype(np.intp)
    if isinstance(paf, GridField):
        return paf.at(ch_x, yi, xi) * unit[:, :1] + paf.at(ch_y, yi, xi) * unit[:, 1:]
    flat = np.ascontiguousarray(paf).reshape(-1)  # one flat gather is faster than paf[c, y, x]
    pixel = yi * paf.shape[2] + xi  # (P, N)
    plane = paf.shape[1] * paf.shape[2]
    return flat[ch_x * plane + pixel] * unit[:, :1] + flat[ch_y * plane + pixel] * unit[:, 1:]


def score_all_limbs(
    peaks: Peaks,
    L: object,
    params: ParsingParams | None = None,
    limbs: Sequence[Limb | int] | None = None,
    skeleton: Skeleton = COCO18,
) -> list[LimbScores]:
    """``score_limbs`` for several limb types in one vectorized pass (what ``parse`` uses).

    The pairs of every limb type are stacked into one list of P pairs, so the numpy work is
    done once for all 19 limbs; the result is cut back into one ``LimbScores`` per limb.
    """
    params = params or ParsingParams()
    limbs = skeleton.limbs if limbs is None else limbs  # default: every limb type of the skeleton
    limbs = [skeleton.limbs[k] if isinstance(k, (int, np.integer)) else k for k in limbs]
    paf = _as_maps(L, skeleton.n_pafs, "L")
    ids = [(peaks.of_part(limb.a), peaks.of_part(limb.b)) for limb in limbs]
    # Pair p is (limb k, a_i, b_j), i-major within each limb: the demo's loop order.
    ia = np.concatenate([np.repeat(a, len(b)) for a, b in ids] + [np.zeros(0, np.int64)])  # (P,)
    ib = np.concatenate([np.tile(b, len(a)) for a, b in ids] + [np.zeros(0, np.int64)])  # (P,)
    sizes = [len(a) * len(b) for a, b in ids]
    ch_x = np.repeat([limb.paf_x for limb in limbs], sizes)[:, None]  # (P, 1)
    ch_y = np.repeat([limb.paf_y for limb in limbs], sizes)[:, None]
    N = params.n_samples
    samples, unit, norm = _segment_samples(peaks.xy[ia], peaks.xy[ib], N)
    along = _field_along(paf, samples, unit, ch_x, ch_y)  # (P, N)
    mean = along.mean(axis=-1)  # (P,)
    prior = np.minimum(params.distance_prior * paf.shape[1] / norm - 1.0, 0.0)  # (P,) <= 0
    if not params.distance_prior:
        prior = np.zeros_like(norm)
    score = mean + prior
    above = along > params.paf_threshold  # (P, N)
    # The demo's count > 0.8 * N, written on counts so that 9/10 > 0.8 is exact.
    valid = (above.sum(axis=-1) > params.min_above_fraction * N) & (score > 0)
    fraction = above.mean(axis=-1)
    out = []
    start = 0
    for limb, (a, b), n in zip(limbs, ids, sizes):
        cut = slice(start, start + n)
        start += n

        def grid(x: np.ndarray, cut: slice = cut, shape: tuple[int, int] = (len(a), len(b))) -> np.ndarray:
            return x[cut].reshape(shape + x.shape[1:])  # (nA, nB, ...)

        out.append(
            LimbScores(
                limb=limb,
                a=a,
                b=b,
                samples=grid(samples),
                along=grid(along),
                mean=grid(mean),
                prior=grid(prior),
                score=grid(score),
                fraction=grid(fraction),
                valid=grid(valid),
            )
        )
    return out


# --------------------------------------------------------------------------------------------
# Step 3: greedy matching per limb type
# --------------------------------------------------------------------------------------------


@dataclass
class Connections:
    """The chosen limbs of one type, in the order the greedy matching chose them.

    ``a[m] -> b[m]`` (candidate ids) with score ``score[m]``. ``ranked`` lists every valid
    pair in decreasing score as (i, j) positions into ``LimbScores.a``/``.b``, and
    ``accepted`` says what the greedy matching decided for each: a notebook can replay it.
    """

    limb: Limb
    a: np.ndarray  # (M,) int64 candidate ids of part limb.a
    b: np.ndarray  # (M,) int64 candidate ids of part limb.b
    score: np.ndarray  # (M,) float64 the pair's score (E plus distance prior)
    ranked: np.ndarray  # (R, 2) int64 (i, j) of every valid pair, best first
    accepted: np.ndarray  # (R,) bool: chosen; False if a or b was already used (or matching had ended)

    def __len__(self) -> int:
        return len(self.a)


def match_limbs(scores: LimbScores) -> Connections:
    """Greedy bipartite matching of one limb type: best pairs first, each candidate used once.

    The paper relaxes the full graph to a spanning tree and then to one bipartite problem per
    limb type (CVPR 2017 Fig. 6c-d; Eq. 12-14: max E_c, each candidate in at most one
    connection; Eq. 15 sums them). It notes that the Hungarian algorithm *could* solve each
    optimally but adopts a greedy relaxation (CVPR 2017 abstract and Sec. 2.4; Table 2 credits
    its results to "the greedy algorithm presented in this paper"; TPAMI 2019 Sec. 3.5 spells
    the greedy rule out). Taking valid pairs in decreasing score while neither end is taken,
    stopping after min(nA, nB) connections, is that rule, and the released code's (CMU's Python
    demo and C++, tf-pose); ``match_limbs_optimal`` solves Eq. 12-14 exactly, for comparison.
    Input ``LimbScores`` (nA x nB); output ``Connections`` in decision order.
    """
    i_valid, j_valid = np.nonzero(scores.valid)  # row-major, as the demo lists its candidates
    s = scores.score[i_valid, j_valid]
    order = np.argsort(-s, kind="stable")  # stable: ties keep the demo's order
    ranked = np.column_stack([i_valid[order], j_valid[order]]).astype(np.int64)
    accepted = np.zeros(len(ranked), dtype=bool)
    used_a = np.zeros(len(scores.a), dtype=bool)
    used_b = np.zeros(len(scores.b), dtype=bool)
    limit = min(len(scores.a), len(scores.b))
    n = 0
    # Sequential by nature (each decision depends on the earlier ones); O(1) per pair.
    for r, (i, j) in enumerate(ranked.tolist()):
        if n >= limit:
            break
        if used_a[i] or used_b[j]:
            continue
        used_a[i] = used_b[j] = True
        accepted[r] = True
        n += 1
    chosen = ranked[accepted]
    return Connections(
        limb=scores.limb,
        a=scores.a[chosen[:, 0]],
        b=scores.b[chosen[:, 1]],
        score=scores.score[chosen[:, 0], chosen[:, 1]],
        ranked=ranked,
        accepted=accepted,
    )


def match_limbs_optimal(scores: LimbScores) -> Connections:
    """The optimal matching of one limb type: Eq. 12-14 solved exactly (Hungarian algorithm).

    Paper Sec. 2.4: the maximum-weight matching of the bipartite graph between the candidates
    of parts limb.a and limb.b, each candidate in at most one connection, over the valid pairs
    of ``scores`` (nA x nB), solved with ``scipy.optimize.linear_sum_assignment``. Pairs that are
    not valid, or whose score is <= 0, never enter it (they could only lower the total).
    Returns ``Connections`` like ``match_limbs`` (``ranked`` the same list of valid pairs,
    ``accepted`` the pairs of the optimal matching), chosen pairs in decreasing score.
    """
    weight = np.where(scores.valid & (scores.score > 0), scores.score, 0.0)  # (nA, nB)
    greedy = match_limbs(scores)  # for ``ranked``: the same valid pairs in the same order
    chosen = np.zeros(weight.shape, dtype=bool)
    if weight.size:
        rows, cols = linear_sum_assignment(weight, maximize=True)
        chosen[rows, cols] = weight[rows, cols] > 0
    ranked = greedy.ranked
    accepted = chosen[ranked[:, 0], ranked[:, 1]] if len(ranked) else np.zeros(0, dtype=bool)
    pairs = ranked[accepted]
    return Connections(
        limb=scores.limb,
        a=scores.a[pairs[:, 0]],
        b=scores.b[pairs[:, 1]],
        score=scores.score[pairs[:, 0], pairs[:, 1]],
        ranked=ranked,
        accepted=accepted,
    )


@dataclass
class MatchingComparison:
    """Greedy against optimal matching, one row per limb type (``compare_matchings``)."""

    limbs: list[Limb]
    greedy_total: np.ndarray  # (C,) float64 sum of the greedy connections' scores per limb type
    optimal_total: np.ndarray  # (C,) float64 the same for the optimal matching (>= greedy_total)
    n_greedy: np.ndarray  # (C,) int64 connections chosen greedily
    n_optimal: np.ndarray  # (C,) int64 connections of the optimal matching
    n_different: np.ndarray  # (C,) int64 connections in one matching but not in the other

    @property
    def gap(self) -> np.ndarray:
        """(C,) float64 optimal_total - greedy_total: what the greedy choice loses per limb type."""
        return self.optimal_total - self.greedy_total


def compare_matchings(limbs: Sequence[LimbScores]) -> MatchingComparison:
    """Run ``match_limbs`` (greedy: the paper's relaxation and the released code's) and
    ``match_limbs_optimal`` (the Hungarian algorithm CVPR 2017 Sec. 2.4 says could be used
    instead) on every limb type's scores and compare.

    ``limbs``: one ``LimbScores`` per limb type, e.g. ``parse(S, L).steps.limbs``.
    """
    rows = []
    for s in limbs:
        g, o = match_limbs(s), match_limbs_optimal(s)
        pg = set(zip(g.a.tolist(), g.b.tolist()))
        po = set(zip(o.a.tolist(), o.b.tolist()))
        rows.append((g.score.sum(), o.score.sum(), len(g), len(o), len(pg ^ po)))
    arr = np.array(rows, dtype=np.float64).reshape(-1, 5)
    return MatchingComparison(
        limbs=[s.limb for s in limbs],
        greedy_total=arr[:, 0],
        optimal_total=arr[:, 1],
        n_greedy=arr[:, 2].astype(np.int64),
        n_optimal=arr[:, 3].astype(np.int64),
        n_different=arr[:, 4].astype(np.int64),
    )


# --------------------------------------------------------------------------------------------
# Step 4: grouping into people
# --------------------------------------------------------------------------------------------


@dataclass
class ParseSteps:
    """The intermediate results of ``parse``, for notebooks: one entry per limb type in LIMBS order."""

    peaks: Peaks
    limbs: list[LimbScores]
    connections: list[Connections]


@dataclass
class People:
    """The parser's answer for one pair of maps (paper Fig. 2e): people in OpenPose's [x, y, score] layout.

    What ``parse(S, L)`` returns, in the pixels of the maps it was given, with how each person
    was assembled (``part_ids``, and every step in ``steps``). ``inference.Poses`` is the
    answer for an *image*: it holds one People (``Poses.people``, on the network's grid), the
    Maps parsed, and the same keypoints and scores mapped back to the image's pixels.
    """

    keypoints: np.ndarray  # (P, 18, 3) float32 [x, y, score] image pixels; 0, 0, 0 for missing parts
    scores: np.ndarray  # (P,) float32 total score: sum of part scores + connection scores
    n_parts: np.ndarray  # (P,) int64 number of parts found
    part_ids: np.ndarray  # (P, 18) int64 candidate id of each part, -1 if missing
    steps: ParseSteps | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.scores)

    @classmethod
    def from_part_ids(cls, peaks: Peaks, part_ids: np.ndarray, scores: Any) -> People:
        """People from each part's candidate id (P, J) int64 (-1 missing) and each total score (P,).

        The last step of both parsers (``group_people``, ``assembly2019.parse_2019``): the ids
        are looked up in ``peaks`` for [x, y, score]; a missing part is 0, 0, 0.
        """
        present = part_ids >= 0
        keypoints = np.zeros((*part_ids.shape, 3), dtype=np.float32)
        if len(peaks):
            safe = np.where(present, part_ids, 0)
            keypoints[..., :2] = np.where(present[..., None], peaks.xy[safe], 0)
            keypoints[..., 2] = np.where(present, peaks.score[safe], 0)
        return cls(
            keypoints=keypoints,
            scores=np.asarray(scores, dtype=np.float32),
            n_parts=present.sum(axis=1).astype(np.int64),
            part_ids=part_ids,
        )


def group_people(
    peaks: Peaks,
    connections: Sequence[Connections],
    params: ParsingParams | None = None,
    skeleton: Skeleton = COCO18,
) -> People:
    """Merge connections that share a candidate into people; drop weak or tiny ones.

    Paper Sec. 2.4 (Fig. 6d, Eq. 15: max E = sum over limb types c of
    max E_c, independent limb matchings whose shared parts assemble people). Connections are
    visited in limb order; for a connection a -> b:

    * neither a nor b belongs to anybody: a new person {a, b} (not for the redundant
      ear-shoulder limbs, skeleton.REDUNDANT_LIMBS, which only complete people);
    * one person has one end: the other end joins that person if its slot is free;
    * two people have one end each: they merge if they have no part type in common.

    Then people with fewer than ``min_parts`` parts or a mean score (total / parts) below
    ``min_mean_score`` are dropped. The total score adds each part's S value and each
    connection's score. Same rules as the demo, with three fixes: a candidate never goes to
    two people (the demo gives b to both when two people that cannot merge have an end
    each), a filled slot is never overwritten, and the part count only counts parts. A
    lookup table candidate -> person makes each step O(1) (the demo scans all people).

    peaks: ``Peaks`` (K candidates); connections: one ``Connections`` per limb type, in
    LIMBS order. Returns ``People`` sorted by creation.
    """
    params = params or ParsingParams()
    groups = _Groups(peaks.score.astype(np.float64), skeleton.n_parts)
    for conns in connections:
        redundant = conns.limb.index in skeleton.redundant
        for a, b, s in zip(conns.a.tolist(), conns.b.tolist(), conns.score.tolist()):
            groups.connect(conns.limb, a, b, s, redundant)
    keep_rows = [
        r
        for r in range(len(groups.rows))
        if groups.alive[r]
        and groups.counts[r] >= params.min_parts
        and groups.totals[r] / groups.counts[r] >= params.min_mean_score
    ]
    ids = np.array([groups.rows[r] for r in keep_rows], dtype=np.int64).reshape(
        -1, skeleton.n_parts
    )  # (P, 18)
    return People.from_part_ids(peaks, ids, [groups.totals[r] for r in keep_rows])


class _Groups:
    """``group_people``'s people while connections arrive: a row of candidate ids per person.

    ``owner`` (candidate id -> person row, or -1) makes each connection O(1).
    """

    def __init__(self, part_score: np.ndarray, n_parts: int) -> None:
        self.part_score, self.n_parts = part_score, n_parts
        self.owner = np.full(len(part_score), -1, dtype=np.int64)
        self.rows: list[np.ndarray] = []  # (n_parts,) candidate ids per person, -1 where none
        self.totals: list[float] = []  # parts' S values + connections' scores
        self.counts: list[int] = []  # parts per person
        self.alive: list[bool] = []  # False once merged into another person

    def connect(self, limb: Limb, a: int, b: int, s: float, redundant: bool) -> None:
        """One connection a -> b of ``limb`` with score ``s``: a new person, a join or a merge."""
        ra, rb = int(self.owner[a]), int(self.owner[b])
        if ra < 0 and rb < 0:
            if not redundant:  # the redundant limbs only complete people
                self._new(limb, a, b, s)
        elif ra >= 0 and rb >= 0:
            if ra != rb:  # else: already one person
                self._merge(min(ra, rb), max(ra, rb), s)
        else:
            r, new, slot = (ra, b, limb.b) if ra >= 0 else (rb, a, limb.a)
            if self.rows[r][slot] < 0:  # else: slot taken by an earlier, better connection
                self.rows[r][slot] = new
                self.owner[new] = r
                self.totals[r] += self.part_score[new] + s
                self.counts[r] += 1

    def _new(self, limb: Limb, a: int, b: int, s: float) -> None:
        row = np.full(self.n_parts, -1, dtype=np.int64)
        row[limb.a], row[limb.b] = a, b
        self.owner[a] = self.owner[b] = len(self.rows)
        self.rows.append(row)
        self.totals.append(self.part_score[a] + self.part_score[b] + s)
        self.counts.append(2)
        self.alive.append(True)

    def _merge(self, keep: int, gone: int, s: float) -> None:
        if np.any((self.rows[keep] >= 0) & (self.rows[gone] >= 0)):
            return  # two people: merging would give someone two parts of one type
        taken = self.rows[gone] >= 0
        self.rows[keep][taken] = self.rows[gone][taken]
        self.owner[self.rows[gone][taken]] = keep
        self.totals[keep] += self.totals[gone] + s
        self.counts[keep] += self.counts[gone]
        self.alive[gone] = False


def candidates_and_scores(
    S: object, L: object, params: ParsingParams, skeleton: Skeleton = COCO18
) -> tuple[Peaks, list[LimbScores]]:
    """The two steps both parsers share: part candidates (NMS on S) and every candidate pair's
    PAF line integral (Eq. 10-11 of CVPR 2017). S: (J+1, H, W), L: (2C, H, W), numpy or torch."""
    S_np = _as_maps(S, skeleton.n_parts, "S")
    L_np = _as_maps(L, skeleton.n_pafs, "L")
    if S_np.shape[1:] != L_np.shape[1:]:
        raise ValueError(f"S and L must have the same H, W; got S {S_np.shape} and L {L_np.shape}")
    peaks = find_peaks(S_np, params, skeleton=skeleton)
    return peaks, score_all_limbs(peaks, L_np, params, skeleton=skeleton)


def parse(S: object, L: object, params: ParsingParams | None = None, skeleton: Skeleton = COCO18) -> People:
    """Maps to people: find_peaks -> score_limbs -> match_limbs -> group_people (Sec. 2.4).

    S: (19, H, W), L: (38, H, W) for one image at image resolution (numpy or torch).
    Returns ``People`` whose ``.steps`` holds every intermediate result. ``skeleton``: what the
    maps' channels mean (skeleton.COCO18, or skeleton.BODY25: S (26, H, W), L (52, H, W)).
    """
    params = params or ParsingParams()
    peaks, limbs = candidates_and_scores(S, L, params, skeleton)
    connections = [match_limbs(s) for s in limbs]
    people = group_people(peaks, connections, params, skeleton=skeleton)
    people.steps = ParseSteps(peaks=peaks, limbs=limbs, connections=connections)
    return people
