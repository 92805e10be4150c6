"""Checked exercises: the learner writes one idea of the paper, the package checks it at once.

Each ``check_*`` calls the learner's function on many seeded random cases (edge cases first: a
part on the border, an unlabelled part, two people at one spot, a zero-length limb, an empty
candidate list) and compares it with the library's own implementation (groundtruth, assembly,
loss, torch's layers). It prints a verdict and returns a ``Result``:

* "passed on N cases";
* "not implemented yet: ..." when the function raises NotImplementedError (never raises, so a
  notebook with the stubs runs top to bottom);
* the first failing case (inputs, expected, got) and one hint: the checker also runs known-wrong
  variants (exp(-d^2 / 2 sigma^2), sum instead of max, an unnormalised limb vector, x/y swapped,
  the line integral without its end points, ...) and names the one the learner's output matches.

Exercises by notebook (CVPR 2017 numbering):
02 ``check_conv_parameters``; 03 ``check_gaussian`` (Eq. 6), ``check_max_over_people`` (Eq. 7),
``check_background``; 04 ``check_limb_field`` (Eq. 8), ``check_paf_average`` (Eq. 9),
``check_paf_channels``; 05 ``check_receptive_field``; 06 ``check_masked_l2`` (Eq. 3),
``check_loss_over_stages`` (Eq. 5); 07 ``check_peaks`` (NMS), ``check_line_integral``
(Eq. 10-11), ``check_greedy_matching`` (Sec. 2.4). Reference solutions: ``solutions/``.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch

from . import assembly, groundtruth, loss
from .skeleton import LIMBS, N_PARTS

STRIDE = 8


@dataclass
class Result:
    """What a checker found. ``status``: "passed", "failed" or "not implemented"."""

    name: str
    passed: bool
    n_cases: int
    status: str
    hint: str | None = None
    message: str = ""
    case: dict[str, Any] | None = field(default=None, repr=False)

    def __bool__(self) -> bool:
        return self.passed


@dataclass
class Exercise:
    """One exercise: cases, the library's answer, and the typical mistakes with their hints."""

    name: str
    cases: Callable[[], Iterator[dict[str, Any]]]
    reference: Callable[..., Any]
    mistakes: list[tuple[str, Callable[..., Any]]]
    generic_hint: str
    atol: float = 1e-4


def _close(a: Any, b: Any, atol: float) -> bool:
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        if len(a) != len(b):
            return False
        return all(_close(x, y, atol) for x, y in zip(a, b))
    try:
        x = np.asarray(a.detach().cpu() if isinstance(a, torch.Tensor) else a, dtype=np.float64)
        y = np.asarray(b.detach().cpu() if isinstance(b, torch.Tensor) else b, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    if x.shape != y.shape:
        return False
    return bool(np.allclose(x, y, atol=atol, rtol=1e-4, equal_nan=False))


def _show(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        with np.printoptions(precision=3, suppress=True, linewidth=100, threshold=200):
            return f"array of shape {value.shape}:\n{value}"
    return repr(value)


def run(exercise: Exercise, fn: Callable[..., Any], verbose: bool = True) -> Result:
    """Run ``fn`` on every case of ``exercise``; print and return the verdict."""
    n = 0
    for case in exercise.cases():
        expected = exercise.reference(**case)
        try:
            got = fn(**case)
        except NotImplementedError as err:
            todo = str(err) or "replace the raise NotImplementedError with your code"
            msg = f"{exercise.name}: not implemented yet: {todo}"
            if verbose:
                print(msg)
            return Result(exercise.name, False, 0, "not implemented", message=msg)
        except Exception as err:  # the learner's bug: show it, do not stop the notebook
            tb = traceback.format_exception_only(type(err), err)[-1].strip()
            msg = f"{exercise.name}: your function raised {tb} on case {n + 1}:\n" + _inputs(case)
            if verbose:
                print(msg)
            return Result(exercise.name, False, n, "failed", hint=None, message=msg, case=case)
        if not _close(got, expected, exercise.atol):
            hint = exercise.generic_hint
            for text, wrong in exercise.mistakes:
                try:
                    if _close(got, wrong(**case), exercise.atol):
                        hint = text
                        break
                except Exception:  # a wrong variant may not apply to this case
                    continue
            msg = (
                f"{exercise.name}: failed on case {n + 1}\n{_inputs(case)}\nexpected: {_show(expected)}\n"
                f"got: {_show(got)}\nhint: {hint}"
            )
            if verbose:
                print(msg)
            return Result(exercise.name, False, n, "failed", hint=hint, message=msg, case=case)
        n += 1
    msg = f"{exercise.name}: passed on {n} cases"
    if verbose:
        print(msg)
    return Result(exercise.name, True, n, "passed", message=msg)


def _inputs(case: dict[str, Any]) -> str:
    return "inputs:\n" + "\n".join(f"  {k} = {_show(v)}" for k, v in case.items())


# --------------------------------------------------------------------------------------------
# Notebook 03: confidence maps S* (Eq. 6-7) and the background channel
# --------------------------------------------------------------------------------------------


def _grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    return groundtruth.grid_points(w, STRIDE).numpy(), groundtruth.grid_points(h, STRIDE).numpy()


def _one_part_people(points: np.ndarray, labelled: np.ndarray) -> np.ndarray:
    kp = np.zeros((len(points), 18, 3))
    kp[:, 0, :2] = points
    kp[:, 0, 2] = np.where(labelled, 2, 0)
    return kp


def _gaussian_cases() -> Iterator[dict[str, Any]]:
    rng = np.random.default_rng(3)
    yield {"x": 0.0, "y": 0.0, "grid_size": (4, 5), "sigma": 7.0}  # on the border
    yield {"x": 3.5, "y": 11.5, "grid_size": (4, 4), "sigma": 7.0}  # on a cell centre
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
    xs, ys = _grid(*grid_size)
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
    yield {"points": np.zeros((0, 2)), "labelled": np.zeros(0, bool), "grid_size": (3, 4), "sigma": 7.0}
    yield {
        "points": np.array([[12.0, 12.0], [12.0, 12.0]]),
        "labelled": np.array([True, True]),
        "grid_size": (4, 4),
        "sigma": 7.0,
    }
    yield {
        "points": np.array([[5.0, 9.0], [20.0, 9.0]]),
        "labelled": np.array([True, False]),
        "grid_size": (4, 4),
        "sigma": 7.0,
    }
    for _ in range(20):
        h, w = (int(v) for v in rng.integers(3, 7, size=2))
        p = int(rng.integers(1, 4))
        pts = rng.uniform(0, 8 * min(h, w), size=(p, 2))
        pts[1:] = pts[:1] + rng.normal(0, 5, size=(p - 1, 2))  # close together: overlaps
        yield {"points": pts, "labelled": rng.random(p) < 0.8, "grid_size": (h, w), "sigma": 7.0}


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


MAX_OVER_PEOPLE = Exercise(
    "max_over_people",
    _people_cases,
    _people_ref,
    [
        (
            "you sum the people; Eq. 7 takes the max, so two people close together keep two peaks",
            lambda points, labelled, grid_size, sigma: (
                _people_stack(points, labelled, grid_size, sigma).sum(0)
                if labelled.any()
                else np.zeros(grid_size)
            ),
        ),
        (
            "you also draw the unlabelled parts (v = 0): skip a person whose part is not labelled",
            lambda points, labelled, grid_size, sigma: (
                _people_stack(points, np.ones_like(labelled), grid_size, sigma).max(0)
                if len(points)
                else np.zeros(grid_size)
            ),
        ),
        (
            "you average the people; Eq. 7 takes the max",
            lambda points, labelled, grid_size, sigma: (
                _people_stack(points, labelled, grid_size, sigma).mean(0)
                if labelled.any()
                else np.zeros(grid_size)
            ),
        ),
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


# --------------------------------------------------------------------------------------------
# Notebook 04: part affinity fields L* (Eq. 8-9)
# --------------------------------------------------------------------------------------------

_LIMB = LIMBS[0]  # Neck -> RShoulder; any limb would do


def _limb_people(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    kp = np.zeros((len(A), 18, 3))
    kp[:, _LIMB.a, :2] = A
    kp[:, _LIMB.b, :2] = B
    kp[:, [_LIMB.a, _LIMB.b], 2] = 2
    return kp


def _paf_ref(A: np.ndarray, B: np.ndarray, grid_size: tuple[int, int], limb_width: float) -> np.ndarray:
    if len(A) == 0:
        return np.zeros((2, *grid_size))
    L = groundtruth.part_affinity_fields(_limb_people(A, B), grid_size, limb_width=limb_width)[0]
    return L[[_LIMB.paf_x, _LIMB.paf_y]].numpy()


def _field(a, b, grid_size, limb_width, normalise=True, swap=False, ends=True, grid=None):  # noqa: ANN001, ANN202
    xs, ys = grid if grid is not None else _grid(*grid_size)
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
    yield {"a": np.array([20.0, 20.0]), "b": np.array([20.0, 20.0]), "grid_size": (5, 5), "limb_width": 8.0}
    yield {"a": np.array([3.5, 3.5]), "b": np.array([35.5, 3.5]), "grid_size": (4, 6), "limb_width": 8.0}
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
    yield {"A": np.zeros((0, 2)), "B": np.zeros((0, 2)), "grid_size": (4, 4), "limb_width": 8.0}
    yield {
        "A": np.array([[4.0, 4.0], [4.0, 4.0]]),
        "B": np.array([[36.0, 4.0], [4.0, 36.0]]),
        "grid_size": (5, 5),
        "limb_width": 8.0,
    }
    for _ in range(14):
        h, w = (int(v) for v in rng.integers(4, 8, size=2))
        p = int(rng.integers(1, 4))
        A = rng.uniform(0, 8 * min(h, w), size=(p, 2))
        B = A + rng.normal(0, 15, size=(p, 2))
        yield {"A": A, "B": B, "grid_size": (h, w), "limb_width": 8.0}


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


PAF_CHANNELS = Exercise(
    "paf_channels",
    lambda: iter([{"limb": k} for k in range(len(LIMBS))]),
    lambda limb: (LIMBS[limb].paf_x, LIMBS[limb].paf_y),
    [
        (
            "channels are not 2 k, 2 k + 1: look the limb up in skeleton.LIMBS (paf_x, paf_y)",
            lambda limb: (2 * limb, 2 * limb + 1),
        ),
        ("x and y are swapped: paf_y = paf_x + 1", lambda limb: (LIMBS[limb].paf_y, LIMBS[limb].paf_x)),
    ],
    "return (paf_x, paf_y) of skeleton.LIMBS[limb]",
    atol=0,
)


def check_paf_channels(fn: Callable[..., Any], verbose: bool = True) -> Result:
    """``fn(limb index) -> (x channel, y channel)`` of that limb in L (38 channels)."""
    return run(PAF_CHANNELS, fn, verbose)


# --------------------------------------------------------------------------------------------
# Notebook 07: peaks (NMS), line integral (Eq. 10-11), greedy matching (Sec. 2.4)
# --------------------------------------------------------------------------------------------


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
    L[_LIMB.paf_x], L[_LIMB.paf_y] = paf
    peaks = assembly.Peaks(
        xy=np.array([a, b], np.float32), score=np.ones(2, np.float32), part=np.array([_LIMB.a, _LIMB.b])
    )
    params = assembly.ParsingParams(n_samples=n_samples, distance_prior=0)
    return float(assembly.score_limbs(peaks, L, _LIMB, params).mean[0, 0])


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
    s = assembly.LimbScores(
        limb=_LIMB, a=np.arange(nA), b=np.arange(nB), samples=np.zeros((nA, nB, 0, 2)),
        paf=np.zeros((nA, nB, 0)), mean=score, prior=np.zeros_like(score), score=score,
        fraction=np.ones_like(score), valid=valid,
    )  # fmt: skip
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


# --------------------------------------------------------------------------------------------
# Notebook 06: the loss (Eq. 3-5)
# --------------------------------------------------------------------------------------------


def _l2_cases() -> Iterator[dict[str, Any]]:
    g = torch.Generator().manual_seed(11)
    for k in range(12):
        N, C, h, w = 1 + k % 2, 2 + k % 3, 3, 4
        W = (torch.rand(N, 1, h, w, generator=g) < 0.7).float()
        if k == 0:
            W = torch.zeros(N, 1, h, w)  # everything masked
        yield {
            "prediction": torch.rand(N, C, h, w, generator=g),
            "target": torch.rand(N, C, h, w, generator=g),
            "W": W,
        }


MASKED_L2 = Exercise(
    "masked_l2",
    _l2_cases,
    lambda prediction, target, W: float(loss.masked_l2(prediction, target, W, reduction="sum")),
    [
        (
            "you forgot the mask: multiply each squared error by W(p) (0 where a person is not labelled)",
            lambda prediction, target, W: float(((prediction - target) ** 2).sum()),
        ),
        (
            "the error is not squared: Eq. 3 sums W(p) ||S - S*||^2",
            lambda prediction, target, W: float((W * (prediction - target).abs()).sum()),
        ),
        (
            "you take the mean; Eq. 3 is a plain sum over p (and channels, and images)",
            lambda prediction, target, W: float((W * (prediction - target) ** 2).mean()),
        ),
    ],
    "f = sum over images, channels and cells of W(p) * (prediction - target)^2 (W broadcasts over channels)",
)


def check_masked_l2(fn: Callable[..., Any], verbose: bool = True) -> Result:
    """Eq. 3: ``fn(prediction (N, C, h, w), target, W (N, 1, h, w)) -> float``, the paper's plain sum."""
    return run(MASKED_L2, fn, verbose)


def _stages_cases() -> Iterator[dict[str, Any]]:
    g = torch.Generator().manual_seed(12)
    for k in range(8):
        T, h, w = 1 + k % 3, 3, 3
        S_star, L_star = torch.rand(1, 19, h, w, generator=g), torch.rand(1, 38, h, w, generator=g)
        yield {
            "S_stages": [torch.rand(1, 19, h, w, generator=g) for _ in range(T)],
            "L_stages": [torch.rand(1, 38, h, w, generator=g) for _ in range(T)],
            "S_star": S_star,
            "L_star": L_star,
            "W": (torch.rand(1, 1, h, w, generator=g) < 0.7).float(),
        }


def _stages_ref(S_stages, L_stages, S_star, L_star, W) -> float:  # noqa: ANN001
    out = SimpleNamespace(S=S_stages, L=L_stages)
    return float(loss.openpose_loss(out, S_star, L_star, W, reduction="sum").total)


def _l2(p, t, W):  # noqa: ANN001, ANN202
    return float((W * (p - t) ** 2).sum())


LOSS_OVER_STAGES = Exercise(
    "loss_over_stages",
    _stages_cases,
    _stages_ref,
    [
        (
            (
                "you score only the last stage: Eq. 5 sums f_S^t + f_L^t "
                "over every stage t (intermediate supervision)"
            ),
            lambda S_stages, L_stages, S_star, L_star, W: (
                _l2(S_stages[-1], S_star, W) + _l2(L_stages[-1], L_star, W)
            ),
        ),
        (
            "you left out the PAF branch: each stage adds f_S^t (Eq. 3) and f_L^t (Eq. 4)",
            lambda S_stages, L_stages, S_star, L_star, W: sum(_l2(s, S_star, W) for s in S_stages),
        ),
        (
            "you average over stages; Eq. 5 sums them",
            lambda S_stages, L_stages, S_star, L_star, W: (
                sum(_l2(s, S_star, W) + _l2(l, L_star, W) for s, l in zip(S_stages, L_stages)) / len(S_stages)
            ),
        ),
    ],
    "f = sum over t of masked_l2(S^t, S*, W) + masked_l2(L^t, L*, W)",
)


def check_loss_over_stages(fn: Callable[..., Any], verbose: bool = True) -> Result:
    """Eq. 5: ``fn(S_stages [T x (N,19,h,w)], L_stages [T x (N,38,h,w)], S_star, L_star, W) -> float``."""
    return run(LOSS_OVER_STAGES, fn, verbose)


# --------------------------------------------------------------------------------------------
# Notebooks 02 and 05: counting parameters, the receptive field of a stage
# --------------------------------------------------------------------------------------------


def _conv_cases() -> Iterator[dict[str, Any]]:
    for c_in, c_out, k in [(3, 64, 3), (128, 128, 7), (128, 19, 1), (185, 128, 7), (1, 1, 1), (64, 32, 5)]:
        yield {"c_in": c_in, "c_out": c_out, "k": k}


CONV_PARAMETERS = Exercise(
    "conv_parameters",
    _conv_cases,
    lambda c_in, c_out, k: sum(p.numel() for p in torch.nn.Conv2d(c_in, c_out, k).parameters()),
    [
        (
            "you forgot the bias: one more number per output channel",
            lambda c_in, c_out, k: c_in * c_out * k * k,
        ),
        (
            "a k x k kernel has k * k weights per (input, output) pair, not k",
            lambda c_in, c_out, k: c_in * c_out * k + c_out,
        ),
    ],
    "weights c_in * c_out * k * k, plus one bias per output channel",
    atol=0,
)


def check_conv_parameters(fn: Callable[..., Any], verbose: bool = True) -> Result:
    """``fn(c_in, c_out, k) -> int``: the parameters of one k x k convolution (what the model counts)."""
    return run(CONV_PARAMETERS, fn, verbose)


def measured_receptive_field(kernels: list[int]) -> int:
    """The receptive field of a stack of stride-1 k x k convolutions, measured by a gradient.

    One output cell's gradient w.r.t. the input is non-zero on exactly the input cells it sees.
    """
    layers = [torch.nn.Conv2d(1, 1, k, padding=k // 2, bias=False) for k in kernels]
    for layer in layers:
        torch.nn.init.constant_(layer.weight, 1.0)
    size = 2 * sum(kernels) + 3
    x = torch.zeros(1, 1, size, size, requires_grad=True)
    y = x
    for layer in layers:
        y = layer(y)
    y[0, 0, size // 2, size // 2].backward()
    return int((x.grad[0, 0, size // 2] != 0).sum())


RECEPTIVE_FIELD = Exercise(
    "receptive_field",
    lambda: iter(
        [{"kernels": k} for k in ([3], [3, 3], [7, 7, 7, 7, 7, 1, 1], [5, 5, 5, 5, 5, 1, 1], [1], [3, 5, 7])]
    ),
    measured_receptive_field,
    [
        (
            "you add the kernel sizes; each k x k layer adds k - 1 cells: 1 + sum (k - 1)",
            lambda kernels: sum(kernels),
        ),
        (
            "you multiply the kernel sizes; stride-1 layers add their reach: 1 + sum (k - 1)",
            lambda kernels: int(np.prod(kernels)),
        ),
        (
            "that is the largest kernel alone; the layers add up: 1 + sum (k - 1)",
            lambda kernels: max(kernels),
        ),
    ],
    "stride-1 layers: receptive field = 1 + sum over layers of (k - 1), in grid cells",
    atol=0,
)


def check_receptive_field(fn: Callable[..., Any], verbose: bool = True) -> Result:
    """``fn(kernels: list[int]) -> int``: cells seen by a stack of stride-1 convolutions (Fig. 3 stages)."""
    return run(RECEPTIVE_FIELD, fn, verbose)


EXERCISES: dict[str, Exercise] = {
    e.name: e
    for e in (
        CONV_PARAMETERS, GAUSSIAN, MAX_OVER_PEOPLE, BACKGROUND, LIMB_FIELD, PAF_AVERAGE, PAF_CHANNELS,
        RECEPTIVE_FIELD, MASKED_L2, LOSS_OVER_STAGES, PEAKS, LINE_INTEGRAL, GREEDY_MATCHING,
    )
}  # fmt: skip
