"""Checkers of notebook 02's building exercises: the stage-t forward pass (CVPR 2017 Eq. 1-2 as
the released network concatenates its input), the 2019 PAF-first forward pass (TPAMI 2019
Sec. 3.1: PAF stages first, then confidence-map stages), and grid cells to image pixels."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch

from .. import groundtruth
from .checker import Exercise, Result, run

C_L, C_S, C_F = 4, 3, 5  # small channel counts: the cases stay printable


def _conv(c_in: int, c_out: int, seed: int) -> torch.nn.Conv2d:
    with torch.random.fork_rng(devices=[]):  # seeded weights; the notebook's own random state untouched
        torch.manual_seed(seed)
        conv = torch.nn.Conv2d(c_in, c_out, 3, padding=1)
    conv.requires_grad_(False)
    return conv


def _stage_cases() -> Iterator[dict[str, Any]]:
    for seed, (n, h, w) in enumerate([(1, 3, 4), (2, 5, 5), (1, 6, 3)]):
        g = torch.Generator().manual_seed(seed)
        yield {
            "L_prev": torch.rand(n, C_L, h, w, generator=g),
            "S_prev": torch.rand(n, C_S, h, w, generator=g),
            "F": torch.rand(n, C_F, h, w, generator=g),
            "phi": _conv(C_L + C_S + C_F, C_L, 10 + seed),
            "rho": _conv(C_L + C_S + C_F, C_S, 20 + seed),
        }


def _stage(L_prev, S_prev, F, phi, rho, order="LSF", swap=False):  # noqa: ANN001, ANN202
    parts = {"L": L_prev, "S": S_prev, "F": F}
    x = torch.cat([parts[k] for k in order], dim=1)
    return (rho(x), phi(x)) if swap else (phi(x), rho(x))


STAGE_FORWARD = Exercise(
    "stage_forward",
    _stage_cases,
    _stage,
    [
        (
            "Eq. 1-2 write rho^t(F, S^{t-1}, L^{t-1}), but the released network concatenates "
            "[L^{t-1}, S^{t-1}, F] (concat_stage{t} in the prototxt): the order of the channels matters",
            lambda **c: _stage(**c, order="FSL"),
        ),
        (
            "the released network stacks the PAFs first: [L^{t-1}, S^{t-1}, F], not [S, L, F]",
            lambda **c: _stage(**c, order="SLF"),
        ),
        (
            "phi makes the PAFs L^t, rho the confidence maps S^t: return (L_t, S_t)",
            lambda **c: _stage(**c, swap=True),
        ),
    ],
    "x = torch.cat([L_prev, S_prev, F], dim=1); return phi(x), rho(x)",
)


def check_stage_forward(fn: Callable[..., Any], verbose: bool = True) -> Result:
    """``fn(L_prev, S_prev, F, phi, rho) -> (L_t, S_t)``: one refinement stage t >= 2 (Eq. 1-2)."""
    return run(STAGE_FORWARD, fn, verbose)


C = 3  # the PAF-first cases: every block has 3 channels, so a wrong order still runs


def _paf_first_cases() -> Iterator[dict[str, Any]]:
    for seed, (n_paf, n_heat, h, w) in enumerate([(2, 1, 3, 4), (3, 2, 4, 4), (1, 2, 3, 3), (4, 2, 2, 5)]):
        g = torch.Generator().manual_seed(seed)
        phis = [_conv(C if t == 0 else 2 * C, C, 100 * seed + t) for t in range(n_paf)]
        rhos = [_conv(2 * C if t == 0 else 3 * C, C, 100 * seed + 50 + t) for t in range(n_heat)]
        yield {"F": torch.rand(1, C, h, w, generator=g), "phis": phis, "rhos": rhos}


def _paf_first(F, phis, rhos, paf_order="FL", heat_order="FSL", first_paf=False):  # noqa: ANN001, ANN202
    L: list[torch.Tensor] = []
    for phi in phis:
        parts = {"F": F, "L": L[-1] if L else None}
        L.append(phi(F if not L else torch.cat([parts[k] for k in paf_order], dim=1)))
    paf = L[0] if first_paf else L[-1]
    S: list[torch.Tensor] = []
    for rho in rhos:
        parts = {"F": F, "S": S[-1] if S else None, "L": paf}
        order = [k for k in heat_order if S or k != "S"]
        S.append(rho(torch.cat([parts[k] for k in order], dim=1)))
    return L, S


PAF_FIRST_FORWARD = Exercise(
    "paf_first_forward",
    _paf_first_cases,
    _paf_first,
    [
        (
            "a PAF stage reads [F, L^{t-1}] (F first), as the confidence-map stages do",
            lambda **c: _paf_first(**c, paf_order="LF"),
        ),
        (
            "every confidence-map stage reads the LAST PAF stage's output L^{T_P}, not the first",
            lambda **c: _paf_first(**c, first_paf=True),
        ),
        (
            "a later confidence-map stage reads [F, S^{t-1}, L^{T_P}] in this order",
            lambda **c: _paf_first(**c, heat_order="FLS"),
        ),
    ],
    "L^1 = phi_1(F); L^t = phi_t([F, L^{t-1}]); S^1 = rho_1([F, L^last]); "
    "S^t = rho_t([F, S^{t-1}, L^last]); return (list of L, list of S)",
)


def check_paf_first_forward(fn: Callable[..., Any], verbose: bool = True) -> Result:
    """``fn(F, phis, rhos) -> (Ls, Ss)``: the 2019 network's stages (TPAMI 2019 Sec. 3.1, BODY_25)."""
    return run(PAF_FIRST_FORWARD, fn, verbose)


def _grid_cases() -> Iterator[dict[str, Any]]:
    yield {"g": np.array([0]), "stride": 8}
    yield {"g": np.arange(5), "stride": 8}
    yield {"g": np.array([3, 0, 45]), "stride": 8}
    yield {"g": np.arange(4), "stride": 4}
    yield {"g": np.array([[0, 1], [2, 3]]), "stride": 2}


def _grid_ref(g: np.ndarray, stride: int) -> np.ndarray:
    g = np.asarray(g)
    return groundtruth.grid_points(int(g.max()) + 1, stride).double().numpy()[g]


GRID_TO_PIXELS = Exercise(
    "grid_to_pixels",
    _grid_cases,
    _grid_ref,
    [
        (
            "stride * g is the top-left corner of the cell; its centre is half a cell further, "
            "less half a pixel (pixel centres are at integers): stride / 2 - 0.5 + stride * g",
            lambda g, stride: stride * np.asarray(g, float),
        ),
        (
            "almost: pixel i covers [i - 0.5, i + 0.5], so the centre of pixels 0..stride-1 is "
            "(stride - 1) / 2, not stride / 2: stride / 2 - 0.5 + stride * g",
            lambda g, stride: stride * np.asarray(g, float) + stride / 2,
        ),
    ],
    "cell g covers pixels stride * g .. stride * g + stride - 1; its centre is stride / 2 - 0.5 + stride * g",
    atol=1e-9,
)


def check_grid_to_pixels(fn: Callable[..., Any], verbose: bool = True) -> Result:
    """``fn(g, stride) -> x``: the image pixel at the centre of grid cell g (3.5 + 8 g at stride 8)."""
    return run(GRID_TO_PIXELS, fn, verbose)
