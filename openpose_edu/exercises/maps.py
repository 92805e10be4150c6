"""Checkers of notebooks 03 and 04: confidence maps S* (Eq. 6-7), the background channel,
part affinity fields L* (Eq. 8-9) and their channels.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from .. import groundtruth
from ..skeleton import LIMBS, N_PARTS, PART_INDEX, PART_NAMES, TRAINING_ORDER
from .checker import LIMB, LIMB_WIDTH, SIGMA, Exercise, Result, grid_xy, run


def _one_part_people(points: np.ndarray, labelled: np.ndarray) -> np.ndarray:
    kp = np.zeros((len(points), 18, 3))
    kp[:, 0, :2] = points
    kp[:, 0, 2] = np.where(labelled, 2, 0)
    return kp


def _gaussian_cases() -> Iterator[dict[str, Any]]:
    rng = np.random.default_rng(3)
    yield {"x": 0.0, "y": 0.0, "grid_size": (4, 5), "sigma": SIGMA}  # on the border
    yield {"x": 3.5, "y": 11.5, "grid_size": (4, 4), "sigma": SIGMA}  # on a cell centre
    yield {"x": 39.0, "y": 31.0, "grid_size": (4, 5), "sigma": 4.0}  # far corner
    for _ in range(20):
        h, w = (int(v) for v in rng.integers(3, 8, size=2))
        yield {
            "x": float(rng.uniform(0, 8 * w)),
            "y": float(rng.uniform(0, 8 * h)),
            "grid_size": (h, w),
            "sigma": float(rng.choice([4.0, 7.0, 10.0])),
        }


def _gaussian_ref(x: float, y: float, grid_size: tuple[int, int], sigma: float) -> np.ndarray:
    kp = _one_part_people(np.array([[x, y]]), np.array([True]))
    return groundtruth.confidence_maps(kp, grid_size, sigma=sigma)[0, 0].numpy()


def _gauss(
    x: float, y: float, grid_size: tuple[int, int], sigma: float, spread: float, swap: bool = False
) -> np.ndarray:
    xs, ys = grid_xy(*grid_size)
    if swap:
        x, y = y, x
    return np.exp(-((xs[None, :] - x) ** 2 + (ys[:, None] - y) ** 2) / spread)


GAUSSIAN = Exercise(
    "gaussian",
    _gaussian_cases,
    _gaussian_ref,
    [
        (
            "you divide by 2 sigma^2, the released code's Gaussian; the paper's Eq. 6 is exp(-d^2 / sigma^2)",
            lambda x, y, grid_size, sigma: _gauss(x, y, grid_size, sigma, 2 * sigma**2),
        ),
        (
            "you divide by sigma, not sigma^2: Eq. 6 is exp(-||p - x||^2 / sigma^2)",
            lambda x, y, grid_size, sigma: _gauss(x, y, grid_size, sigma, sigma),
        ),
        (
            "x and y are swapped: the map is indexed [row = y, column = x]",
            lambda x, y, grid_size, sigma: _gauss(x, y, grid_size, sigma, sigma**2, swap=True),
        ),
        (
            "the grid cells sit at input pixel 3.5 + 8 g (the centre of their 8 x 8 block), not at 8 g",
            lambda x, y, grid_size, sigma: np.exp(
                -(
                    (8.0 * np.arange(grid_size[1])[None, :] - x) ** 2
                    + (8.0 * np.arange(grid_size[0])[:, None] - y) ** 2
                )
                / sigma**2
            ),
        ),
    ],
    "compute d^2 = (x_cell - x)^2 + (y_cell - y)^2 with x_cell = 3.5 + 8 * column, then exp(-d^2 / sigma^2)",
)


def check_gaussian(fn: Callable[..., Any], verbose: bool = True) -> Result:
    """Eq. 6: ``fn(x, y, grid_size, sigma) -> (h, w)``, the Gaussian of one part at (x, y) input pixels."""
    return run(GAUSSIAN, fn, verbose)


def _people_cases() -> Iterator[dict[str, Any]]:
    rng = np.random.default_rng(4)
    yield {"points": np.zeros((0, 2)), "labelled": np.zeros(0, bool), "grid_size": (3, 4), "sigma": SIGMA}
    yield {
        "points": np.array([[12.0, 12.0], [12.0, 12.0]]),
        "labelled": np.array([True, True]),
        "grid_size": (4, 4),
        "sigma": SIGMA,
    }
    yield {
        "points": np.array([[5.0, 9.0], [20.0, 9.0]]),
        "labelled": np.array([True, False]),
        "grid_size": (4, 4),
        "sigma": SIGMA,
    }
    for _ in range(20):
        h, w = (int(v) for v in rng.integers(3, 7, size=2))
        p = int(rng.integers(1, 4))
        pts = rng.uniform(0, 8 * min(h, w), size=(p, 2))
        pts[1:] = pts[:1] + rng.normal(0, 5, size=(p - 1, 2))  # close together: overlaps
        yield {"points": pts, "labelled": rng.random(p) < 0.8, "grid_size": (h, w), "sigma": SIGMA}


def _people_ref(
    points: np.ndarray, labelled: np.ndarray, grid_size: tuple[int, int], sigma: float
) -> np.ndarray:
    if len(points) == 0:
        return np.zeros(grid_size)
    return groundtruth.confidence_maps(_one_part_people(points, labelled), grid_size, sigma=sigma)[
        0, 0
    ].numpy()


def _people_stack(points, labelled, grid_size, sigma, spread=None):  # noqa: ANN001, ANN202
    maps = [_gauss(x, y, grid_size, sigma, spread or sigma**2) for (x, y), ok in zip(points, labelled) if ok]
    return np.stack(maps) if maps else np.zeros((0, *grid_size))


def _over_people(how: str, unlabelled_too: bool = False) -> Callable[..., np.ndarray]:
    """A wrong Eq. 7: the people's Gaussians combined by ``how`` ("sum", "mean", "max"), with
    the unlabelled parts drawn too if ``unlabelled_too``; nobody drawn -> zeros (h, w)."""

    def variant(
        points: np.ndarray, labelled: np.ndarray, grid_size: tuple[int, int], sigma: float
    ) -> np.ndarray:
        drawn = np.ones_like(labelled) if unlabelled_too else labelled
        if not drawn.any():
            return np.zeros(grid_size)
        return getattr(_people_stack(points, drawn, grid_size, sigma), how)(0)

    return variant


MAX_OVER_PEOPLE = Exercise(
    "max_over_people",
    _people_cases,
    _people_ref,
    [
        (
            "you sum the people; Eq. 7 takes the max, so two people close together keep two peaks",
            _over_people("sum"),
        ),
        (
            "you also draw the unlabelled parts (v = 0): skip a person whose part is not labelled",
            _over_people("max", unlabelled_too=True),
        ),
        ("you average the people; Eq. 7 takes the max", _over_people("mean")),
    ],
    "draw one Gaussian (your Eq. 6) per labelled person and take the max over people; nobody -> zeros (h, w)",
)


def check_max_over_people(fn: Callable[..., Any], verbose: bool = True) -> Result:
    """Eq. 7: ``fn(points (P, 2), labelled (P,) bool, grid_size, sigma) -> (h, w)``."""
    return run(MAX_OVER_PEOPLE, fn, verbose)


def _background_cases() -> Iterator[dict[str, Any]]:
    rng = np.random.default_rng(5)
    yield {"parts": np.zeros((N_PARTS, 3, 3), np.float32)}
    for _ in range(12):
        h, w = (int(v) for v in rng.integers(3, 7, size=2))
        kp = np.zeros((2, 18, 3))
        kp[..., 0] = rng.uniform(0, 8 * w, size=(2, 18))
        kp[..., 1] = rng.uniform(0, 8 * h, size=(2, 18))
        kp[..., 2] = rng.random((2, 18)) < 0.5
        yield {"parts": groundtruth.confidence_maps(kp, (h, w))[0, :N_PARTS].numpy()}


BACKGROUND = Exercise(
    "background",
    _background_cases,
    lambda parts: np.clip(1 - parts.max(0), 0, None),
    [
        (
            "you sum the parts; the background is 1 - the max over parts",
            lambda parts: np.clip(1 - parts.sum(0), 0, None),
        ),
        ("you return the max over parts itself; the background is 1 minus it", lambda parts: parts.max(0)),
        ("you average the parts; the background is 1 - the max over parts", lambda parts: 1 - parts.mean(0)),
    ],
    "background(p) = max(1 - max_j S*_j(p), 0), one (h, w) map",
)


def check_background(fn: Callable[..., Any], verbose: bool = True) -> Result:
    """Channel 18: ``fn(parts (18, h, w)) -> (h, w)``, compared with confidence_maps' background."""
    return run(BACKGROUND, fn, verbose)


def _limb_people(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    kp = np.zeros((len(A), 18, 3))
    kp[:, LIMB.a, :2] = A
    kp[:, LIMB.b, :2] = B
    kp[:, [LIMB.a, LIMB.b], 2] = 2
    return kp


def _paf_ref(A: np.ndarray, B: np.ndarray, grid_size: tuple[int, int], limb_width: float) -> np.ndarray:
    if len(A) == 0:
        return np.zeros((2, *grid_size))
    L = groundtruth.part_affinity_fields(_limb_people(A, B), grid_size, limb_width=limb_width)[0]
    return L[[LIMB.paf_x, LIMB.paf_y]].numpy()


def _field(a, b, grid_size, limb_width, normalise=True, swap=False, ends=True, grid=None):  # noqa: ANN001, ANN202
    xs, ys = grid if grid is not None else grid_xy(*grid_size)
    a, b = np.asarray(a, float), np.asarray(b, float)
    d = b - a
    length = np.hypot(*d)
    if length == 0:
        return np.zeros((2, *grid_size)), np.zeros(grid_size, bool)
    u = d / length
    rx, ry = xs[None, :] - a[0], ys[:, None] - a[1]
    along = rx * u[0] + ry * u[1]
    on = np.abs(rx * u[1] - ry * u[0]) <= limb_width
    if ends:
        on &= (along >= 0) & (along <= length)
    v = d if not normalise else u
    out = np.stack([on * v[0], on * v[1]])
    return (out[::-1] if swap else out), on


def _limb_cases() -> Iterator[dict[str, Any]]:
    rng = np.random.default_rng(6)
    yield {
        "a": np.array([20.0, 20.0]),
        "b": np.array([20.0, 20.0]),
        "grid_size": (5, 5),
        "limb_width": LIMB_WIDTH,
    }
    yield {
        "a": np.array([3.5, 3.5]),
        "b": np.array([35.5, 3.5]),
        "grid_size": (4, 6),
        "limb_width": LIMB_WIDTH,
    }
    yield {"a": np.array([0.0, 0.0]), "b": np.array([40.0, 24.0]), "grid_size": (5, 6), "limb_width": 6.0}
    for _ in range(16):
        h, w = (int(v) for v in rng.integers(4, 8, size=2))
        a = rng.uniform(0, 8 * min(h, w), size=2)
        b = rng.uniform(0, 8 * min(h, w), size=2)
        yield {"a": a, "b": b, "grid_size": (h, w), "limb_width": float(rng.choice([5.0, 8.0]))}


LIMB_FIELD = Exercise(
    "limb_field",
    _limb_cases,
    lambda a, b, grid_size, limb_width: _paf_ref(a[None], b[None], grid_size, limb_width),
    [
        (
            "the vector is not normalised: Eq. 8 writes the unit vector (x_b - x_a) / ||x_b - x_a||",
            lambda a, b, grid_size, limb_width: _field(a, b, grid_size, limb_width, normalise=False)[0],
        ),
        (
            "x and y are swapped: channel 0 holds the x component, channel 1 the y component",
            lambda a, b, grid_size, limb_width: _field(a, b, grid_size, limb_width, swap=True)[0],
        ),
        (
            "your field runs past the end points: a cell is on the limb only when 0 <= v.(p - x_a) <= l",
            lambda a, b, grid_size, limb_width: _field(a, b, grid_size, limb_width, ends=False)[0],
        ),
        (
            "the grid cells sit at input pixel 3.5 + 8 g, not at 8 g",
            lambda a, b, grid_size, limb_width: _field(
                a,
                b,
                grid_size,
                limb_width,
                grid=(8.0 * np.arange(grid_size[1]), 8.0 * np.arange(grid_size[0])),
            )[0],
        ),
    ],
    (
        "on = (0 <= v.(p - a) <= l) & (|v_perp.(p - a)| <= limb_width), v the "
        "unit vector a -> b; a zero-length limb gives zeros"
    ),
)


def check_limb_field(fn: Callable[..., Any], verbose: bool = True) -> Result:
    """Eq. 8: ``fn(a (2,), b (2,), grid_size, limb_width) -> (2, h, w)``, [x, y] components."""
    return run(LIMB_FIELD, fn, verbose)


def _avg_cases() -> Iterator[dict[str, Any]]:
    rng = np.random.default_rng(7)
    yield {"A": np.zeros((0, 2)), "B": np.zeros((0, 2)), "grid_size": (4, 4), "limb_width": LIMB_WIDTH}
    yield {
        "A": np.array([[4.0, 4.0], [4.0, 4.0]]),
        "B": np.array([[36.0, 4.0], [4.0, 36.0]]),
        "grid_size": (5, 5),
        "limb_width": LIMB_WIDTH,
    }
    for _ in range(14):
        h, w = (int(v) for v in rng.integers(4, 8, size=2))
        p = int(rng.integers(1, 4))
        A = rng.uniform(0, 8 * min(h, w), size=(p, 2))
        B = A + rng.normal(0, 15, size=(p, 2))
        yield {"A": A, "B": B, "grid_size": (h, w), "limb_width": LIMB_WIDTH}


def _avg_variant(A, B, grid_size, limb_width, how):  # noqa: ANN001, ANN202
    fields = [_field(a, b, grid_size, limb_width) for a, b in zip(A, B)]
    if not fields:
        return np.zeros((2, *grid_size))
    v = np.stack([f for f, _ in fields])
    if how == "sum":
        return v.sum(0)
    if how == "last":
        out = np.zeros((2, *grid_size))
        for f, o in fields:
            out = np.where(o, f, out)
        return out
    return v.sum(0) / len(fields)  # divides by P, not by n_c(p)


PAF_AVERAGE = Exercise(
    "paf_average",
    _avg_cases,
    _paf_ref,
    [
        (
            "you sum the people's vectors; Eq. 9 divides the sum by n_c(p), the number of people covering p",
            lambda **c: _avg_variant(**c, how="sum"),
        ),
        (
            "the later person overwrites the earlier one (the released code); Eq. 9 averages them",
            lambda **c: _avg_variant(**c, how="last"),
        ),
        (
            "you divide by the number of people P; Eq. 9 divides by n_c(p), the people whose limb covers p",
            lambda **c: _avg_variant(**c, how="mean"),
        ),
    ],
    "L*_c(p) = sum_k L*_{c,k}(p) / n_c(p), with n_c(p) counted per cell (and 0 where nobody covers p)",
)


def check_paf_average(fn: Callable[..., Any], verbose: bool = True) -> Result:
    """Eq. 9: ``fn(A (P, 2), B (P, 2), grid_size, limb_width) -> (2, h, w)``, average over people."""
    return run(PAF_AVERAGE, fn, verbose)


def _names(limb: Any) -> tuple[str, str]:
    return (PART_NAMES[limb.a], PART_NAMES[limb.b])


# The list the learner is given: the limbs of skeleton.py in CMU's training order (caffe_train
# writes training limb i into channels 2 i, 2 i + 1), as (part a, part b) name pairs.
_COCO_TRAINING = [_names(limb) for limb in TRAINING_ORDER]


def _paf_channel_cases() -> Iterator[dict[str, Any]]:
    # A limb in the middle of the COCO order first, then every limb of it (in the inference order),
    # then shorter and reversed lists: the rule must hold for any order, not only the table's.
    yield {"training_order": _COCO_TRAINING, "limb": _names(LIMBS[13])}
    for limb in LIMBS:
        yield {"training_order": _COCO_TRAINING, "limb": _names(limb)}
    yield {"training_order": _COCO_TRAINING[:5], "limb": _COCO_TRAINING[3]}
    for i in (0, 6, 18):
        yield {"training_order": _COCO_TRAINING[::-1], "limb": _COCO_TRAINING[::-1][i]}


def _position(training_order: list[tuple[str, str]], limb: tuple[str, str]) -> int:
    return [tuple(pair) for pair in training_order].index(tuple(limb))


def _paf_channels_ref(training_order: list[tuple[str, str]], limb: tuple[str, str]) -> tuple[int, int]:
    """Training limb i fills channels 2 i (x) and 2 i + 1 (y) of L."""
    i = _position(training_order, limb)
    return (2 * i, 2 * i + 1)


def _inference_position(limb: tuple[str, str]) -> int:
    return [_names(lb) for lb in LIMBS].index(tuple(limb))


PAF_CHANNELS = Exercise(
    "paf_channels",
    _paf_channel_cases,
    _paf_channels_ref,
    [
        (
            "x and y are swapped: x comes first, limb i owns channel 2 i (x) and 2 i + 1 (y)",
            lambda training_order, limb: _paf_channels_ref(training_order, limb)[::-1],
        ),
        (
            "you count from 1; the first limb of training_order owns channels 0 and 1",
            lambda training_order, limb: tuple(c + 2 for c in _paf_channels_ref(training_order, limb)),
        ),
        (
            "each limb owns two channels (x and y): limb i starts at channel 2 i, not i",
            lambda training_order, limb: (
                _position(training_order, limb),
                _position(training_order, limb) + 1,
            ),
        ),
        (
            "channels are counted per limb, not per part: use the limb's position i in training_order, "
            "not the index of its first part",
            lambda training_order, limb: (2 * PART_INDEX[limb[0]], 2 * PART_INDEX[limb[0]] + 1),
        ),
        (
            "that is the limb's position in the inference order (skeleton.LIMBS, the order the parser "
            "visits limbs); L's channels follow the training order you were given",
            lambda training_order, limb: (2 * _inference_position(limb), 2 * _inference_position(limb) + 1),
        ),
    ],
    "find the limb's position i in training_order (counting from 0); its channels are 2 i (x), 2 i + 1 (y)",
    atol=0,
)


def check_paf_channels(fn: Callable[..., Any], verbose: bool = True) -> Result:
    """``fn(training_order: list of (part a, part b) names, limb: (a, b)) -> (x channel, y channel)`` in L.

    The rule of CMU's training code (caffe_train): the i-th limb of the training order fills
    channels 2 i (x) and 2 i + 1 (y); ``skeleton.TRAINING_ORDER`` is that order for COCO-18.
    """
    return run(PAF_CHANNELS, fn, verbose)
