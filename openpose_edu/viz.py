"""Pictures of every intermediate result: skeletons, confidence maps S, PAFs L, all stages.

Two kinds of helpers:

* ``draw_people`` draws skeletons into a copy of a uint8 image with OpenCV (the command line
  and the workshop app use it; no matplotlib needed).
* matplotlib helpers that draw on an ``Axes``: a heatmap overlay (one part or all parts, paper
  Sec. 2.2, Fig. 2b), a PAF as arrows and as a color wheel (Sec. 2.3, Fig. 2c), the
  skeleton (Fig. 2e), and the grid of all stages side by side (Eq. 1-2, Fig. 4).

Plus ``conv_macs``, which counts multiply-accumulates per part of a network (notebook 02).
Colors and limbs come from skeleton.py. Maps are shown in input pixels: a map cell (i, j) at
stride s covers pixels [j s, (j+1) s) x [i s, (i+1) s). Explained in notebooks 01-05.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np
import torch
from torch import nn

from .io import check_image
from .skeleton import BACKGROUND, COCO18, COLORS, DRAWN_LIMBS, LIMBS, N_PARTS, PART_NAMES, Limb, Skeleton

if TYPE_CHECKING:  # matplotlib is imported lazily so the command line stays light
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

ArrayLike = np.ndarray | torch.Tensor


def _numpy(x: ArrayLike) -> np.ndarray:
    """A float32 numpy copy of a tensor or array (detached, on the CPU)."""
    if isinstance(x, torch.Tensor):
        return x.detach().to("cpu", torch.float32).numpy()
    return np.asarray(x, dtype=np.float32)


def _check_keypoints(keypoints: ArrayLike, skeleton: Skeleton = COCO18) -> np.ndarray:
    kp = _numpy(keypoints)
    J = skeleton.n_parts
    if kp.ndim == 2:
        kp = kp[None]  # one person (J, 3)
    if kp.ndim != 3 or kp.shape[1:] != (J, 3):
        hint = (
            "; pass skeleton=skeleton.BODY25 for BODY_25 people"
            if kp.shape[-2:] == (25, 3) and J != 25
            else ""
        )
        raise ValueError(
            f"expected {skeleton.name} keypoints of shape (P, {J}, 3) [x, y, score], got {kp.shape}{hint}"
        )
    return kp


# --------------------------------------------------------------------------------------------
# OpenCV: skeletons into an image
# --------------------------------------------------------------------------------------------


def draw_people(
    image: np.ndarray,
    keypoints: ArrayLike,
    limbs: Sequence[Limb] | None = None,
    min_score: float = 0.0,
    radius: int = 4,
    thickness: int = 3,
    color: str = "RGB",
    skeleton: Skeleton = COCO18,
) -> np.ndarray:
    """A copy of ``image`` with every person's skeleton drawn in the skeleton's colors.

    The output picture of the paper (Fig. 2e). ``image``: uint8 (H, W, 3), ``color`` says
    whether it is RGB or BGR (cv2.imread). ``keypoints``: (P, 18, 3) or (18, 3) [x, y, score]
    in image pixels; a part is drawn when its score > ``min_score`` (missing parts have 0), a
    limb when both its parts are. Limb k gets ``skeleton.colors[k]``, part j ``skeleton.colors[j]``.
    ``skeleton``: what the parts are (``skeleton.BODY25``: keypoints (P, 25, 3)); ``limbs``
    default to its drawn limbs (all but the redundant ear-shoulder ones, as OpenPose draws).
    Returns a new uint8 (H, W, 3) image; the input is never modified.
    """
    image = check_image(image)
    kp = _check_keypoints(keypoints, skeleton)
    limbs = skeleton.drawn_limbs if limbs is None else limbs
    if color not in ("RGB", "BGR"):
        raise ValueError(f"color must be 'RGB' or 'BGR', got {color!r}")
    palette = [c if color == "RGB" else c[::-1] for c in skeleton.colors]
    out = np.ascontiguousarray(image.copy())
    present = kp[..., 2] > min_score  # (P, J)
    xy = np.round(kp[..., :2]).astype(np.int64)  # OpenCV draws at integer pixels
    # Limbs first, then parts on top, as the OpenPose renderer does.
    for limb in limbs:
        for p in np.flatnonzero(present[:, limb.a] & present[:, limb.b]):
            a, b = (int(v) for v in xy[p, limb.a]), (int(v) for v in xy[p, limb.b])
            cv2.line(out, tuple(a), tuple(b), palette[limb.index], thickness, cv2.LINE_AA)
    for p, j in zip(*np.nonzero(present)):
        cv2.circle(out, (int(xy[p, j, 0]), int(xy[p, j, 1])), radius, palette[j], -1, cv2.LINE_AA)
    return out


# --------------------------------------------------------------------------------------------
# Map -> picture (pure numpy)
# --------------------------------------------------------------------------------------------

# The fixed scales every picture uses, so that brightness can be compared between stages,
# images and models: S (a probability-like confidence) on 0..1, |L| (unit vectors on a limb) on 0..1.
S_RANGE = (0.0, 1.0)
L_MAX_NORM = 1.0
S_CMAP = "jet"


@dataclass(frozen=True)
class Display:
    """The size a picture is shown at: ``width_px`` CSS pixels wide on a screen with device pixel
    ratio ``dpr`` (2 on most laptops and phones). A figure of ``width_px / 100`` inches at
    ``100 * dpr`` dpi has ``width_px * dpr`` pixels, which the browser shows ``width_px`` wide:
    no stretching (blur), and a 9 pt title is 12.5 CSS pixels high whatever the screen.
    """

    width_px: int = 960
    dpr: float = 2.0

    def __post_init__(self) -> None:
        if self.width_px < 50 or not 0.5 <= self.dpr <= 4:
            raise ValueError(
                f"Display needs width_px >= 50 CSS pixels and dpr in 0.5..4, got {self.width_px}, {self.dpr}"
            )

    @property
    def dpi(self) -> float:
        return 100.0 * self.dpr

    def figsize(self, aspect: float) -> tuple[float, float]:
        """(width, height) in inches of a figure ``aspect`` = height / width."""
        return self.width_px / 100.0, self.width_px * aspect / 100.0

    @property
    def pixels(self) -> int:
        """The rendered PNG's width in device pixels."""
        return round(self.width_px * self.dpr)


def map_to_image(m: ArrayLike, image_shape: tuple[int, ...], stride: int | None = None) -> np.ndarray:
    """A map of any size resized to the image's (H, W) for display (bilinear, cv2.resize).

    ``m``: (h, w) or (C, h, w). If ``stride`` is given and the map is the stride grid of the image
    (h = ceil(H / stride), w = ceil(W / stride), as a network fed the whole image gives), cell
    (i, j) is centred on pixel (j s + (s - 1) / 2, i s + (s - 1) / 2) and the rounding-up is cropped;
    otherwise the map is taken to cover the image exactly. Returns float32 (H, W) or (C, H, W).
    """
    a = _numpy(m)
    if a.ndim == 4 and a.shape[0] == 1:
        a = a[0]
    if a.ndim not in (2, 3):
        raise ValueError(f"expected a map (h, w) or (C, h, w), got shape {a.shape}")
    H, W = int(image_shape[0]), int(image_shape[1])
    h, w = a.shape[-2:]
    if (h, w) == (H, W):
        return a
    chw = a if a.ndim == 3 else a[None]
    hwc = np.ascontiguousarray(chw.transpose(1, 2, 0))
    s = stride
    if s and -(-H // s) == h and -(-W // s) == w:
        out = cv2.resize(hwc, (w * s, h * s), interpolation=cv2.INTER_LINEAR)
        out = out.reshape(h * s, w * s, -1)[:H, :W]
    else:
        out = cv2.resize(hwc, (W, H), interpolation=cv2.INTER_LINEAR).reshape(H, W, -1)
    out = out.transpose(2, 0, 1)
    return np.ascontiguousarray(out if a.ndim == 3 else out[0])


def part_map(S: ArrayLike, part: int | None = None) -> np.ndarray:
    """One confidence map S_j, or all parts at once (max over j = 0..17, background excluded).

    Sec. 2.2. ``S``: (19, h, w) or (1, 19, h, w); ``part``: 0..17, 18 (background) or None
    for all parts. Returns float32 (h, w).
    """
    s = _numpy(S)
    if s.ndim == 4:
        s = s[0]
    if s.ndim != 3 or s.shape[0] <= BACKGROUND:
        raise ValueError(f"expected S of shape (19, h, w) or (1, 19, h, w), got {s.shape}")
    if part is None:
        return s[:N_PARTS].max(axis=0)
    if not 0 <= part <= BACKGROUND:
        raise ValueError(f"part must be in 0..{BACKGROUND} (18 = background) or None, got {part}")
    return s[part]


def limb_field(L: ArrayLike, limb: int | Limb | None) -> np.ndarray:
    """The two channels (x, y) of limb c's PAF L_c (Sec. 2.3): float32 (2, h, w) from L (38, h, w).

    ``limb`` None: all limbs at once, at each cell the limb with the longest vector.
    """
    paf = _numpy(L)
    if paf.ndim == 4:
        paf = paf[0]
    if limb is None:
        if paf.ndim != 3 or paf.shape[0] < 2 * len(LIMBS):
            raise ValueError(f"expected L of shape (38, h, w) or (1, 38, h, w), got {paf.shape}")
        fields = np.stack([paf[[lb.paf_x, lb.paf_y]] for lb in LIMBS])  # (19, 2, h, w)
        best = (fields**2).sum(axis=1).argmax(axis=0)[None, None]  # (1, 1, h, w)
        return np.take_along_axis(fields, np.broadcast_to(best, (1, 2, *best.shape[2:])), axis=0)[0]
    lb = LIMBS[limb] if isinstance(limb, int) else limb
    if paf.ndim != 3 or paf.shape[0] <= lb.paf_y:
        raise ValueError(f"expected L of shape (38, h, w) or (1, 38, h, w), got {paf.shape}")
    return paf[[lb.paf_x, lb.paf_y]]


def _hue_rgb(vec: np.ndarray, value: np.ndarray) -> np.ndarray:
    """HSV -> RGB with hue = direction of ``vec`` (2, h, w), full saturation: float32 (h, w, 3)."""
    # Image y points down, so atan2(y, x) turns clockwise on screen; the legend wheel does too.
    hue = np.degrees(np.arctan2(vec[1], vec[0])).astype(np.float32) % 360.0  # OpenCV: H in 0..360
    hsv = np.stack([hue, np.ones_like(hue), np.asarray(value, np.float32)], axis=-1)
    return np.clip(cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB), 0.0, 1.0)


def paf_to_rgb(
    L: ArrayLike, limb: int | Limb | None = None, max_norm: float | None = L_MAX_NORM
) -> np.ndarray:
    """A PAF as a color wheel picture: hue = direction of the vector, value = its length.

    Sec. 2.3, Fig. 2c. ``L``: (38, h, w). ``limb``: one limb, or None for all limbs (at
    each pixel the limb with the longest vector wins). Lengths are divided by ``max_norm``
    (default 1: a fixed scale, a unit vector of the ground truth at full brightness, the same
    for every stage and image; None: this frame's largest length) and clipped to 1.
    Returns float32 RGB (h, w, 3) in 0..1.
    """
    vec = limb_field(L, limb)  # (2, h, w)
    norm = np.hypot(vec[0], vec[1])
    scale = float(norm.max()) if max_norm is None else float(max_norm)
    value = np.clip(norm / scale, 0.0, 1.0) if scale > 0 else np.zeros_like(norm)
    return _hue_rgb(vec, value)


def paf_to_rgba(
    L: ArrayLike, limb: int | Limb | None = None, max_norm: float | None = L_MAX_NORM, alpha: float = 0.8
) -> np.ndarray:
    """A PAF as an overlay: hue = direction at full brightness, opacity ``alpha * |L| / max_norm``.

    The opacity grows with the length (no cut-off): a zero field is fully transparent, a weak
    one faint, a unit vector ``alpha`` opaque. Returns float32 RGBA (h, w, 4) in 0..1.
    """
    vec = limb_field(L, limb)
    norm = np.hypot(vec[0], vec[1])
    scale = float(norm.max()) if max_norm is None else float(max_norm)
    strength = np.clip(norm / scale, 0.0, 1.0) if scale > 0 else np.zeros_like(norm)
    rgb = _hue_rgb(vec, np.ones_like(norm))
    return np.concatenate([rgb, (alpha * strength)[..., None].astype(np.float32)], axis=-1)


def _blend(image: np.ndarray, rgb: np.ndarray, opacity: np.ndarray) -> np.ndarray:
    """image * (1 - a) + rgb * a in uint8; where a = 0 the pixel is exactly the image's."""
    base = check_image(image).astype(np.float32)
    if base.ndim == 2:
        base = np.repeat(base[..., None], 3, axis=-1)
    a = opacity[..., None].astype(np.float32)
    out = base + a * (255.0 * rgb - base)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def overlay_heatmap(
    image: np.ndarray, S: ArrayLike, part: int | None = None, stride: int | None = None,
    alpha: float = 0.7, cmap: str = S_CMAP,
) -> np.ndarray:  # fmt: skip
    """The photo with S_j (or all parts) on top, on the fixed scale 0..1 (Sec. 2.2, Fig. 2b).

    Colour = ``cmap`` at the value (0..1, clipped), opacity = ``alpha * sqrt(value)``: S = 0
    leaves the photo's pixels unchanged, and the same value has the same colour in every frame.
    ``S``: (19, h, w) of any size (resized to the image, ``map_to_image``). Returns uint8 (H, W, 3).
    """
    from matplotlib import colormaps

    m = np.clip(map_to_image(part_map(S, part), image.shape, stride), *S_RANGE)
    rgb = colormaps[cmap](m)[..., :3]
    return _blend(image, rgb, alpha * np.sqrt(m))


def overlay_paf(
    image: np.ndarray, L: ArrayLike, limb: int | Limb | None = None, stride: int | None = None,
    alpha: float = 0.8,
) -> np.ndarray:  # fmt: skip
    """The photo with a PAF on top (Sec. 2.3, Fig. 2c): hue = direction, opacity = ``alpha * |L|``.

    Fixed scale (|L| in 0..1, clipped): a zero field leaves the photo's pixels unchanged, a
    uniform weak field of length e changes no pixel by more than ``alpha * e * 255`` grey
    levels (+0.5 rounding). ``L``: (38, h, w) of any size. Returns uint8 (H, W, 3).
    """
    vec = map_to_image(limb_field(L, limb), image.shape, stride)  # (2, H, W)
    strength = np.clip(np.hypot(vec[0], vec[1]) / L_MAX_NORM, 0.0, 1.0)
    return _blend(image, _hue_rgb(vec, np.ones_like(strength)), alpha * strength)


def overlay_change(
    image: np.ndarray, change: ArrayLike, stride: int | None = None, vmax: float = 0.5, alpha: float = 0.85
) -> np.ndarray:
    """The photo with a signed change on top (the stage explorer's "change from stage t-1").

    Red where the map grew, blue where it shrank, opacity ``alpha * |change| / vmax`` (clipped):
    no change leaves the photo unchanged. ``change``: (h, w). Returns uint8 (H, W, 3).
    """
    d = map_to_image(change, image.shape, stride)
    rgb = np.where((d >= 0)[..., None], np.float32([0.85, 0.1, 0.1]), np.float32([0.1, 0.3, 1.0]))
    gray = check_image(image).astype(np.float32)
    gray = gray.mean(axis=-1, keepdims=True) if gray.ndim == 3 else gray[..., None]
    muted = np.repeat(0.4 * gray + 0.6 * 128, 3, axis=-1).astype(np.uint8)  # the photo, faded
    return _blend(muted, rgb, alpha * np.clip(np.abs(d) / vmax, 0.0, 1.0))


def color_wheel(size: int = 64) -> np.ndarray:
    """The legend of ``paf_to_rgb``: the unit disc, each point colored as the vector to it."""
    r = np.linspace(-1, 1, size, dtype=np.float32)
    x, y = np.meshgrid(r, r)
    inside = np.hypot(x, y) <= 1
    L = np.zeros((2 * len(LIMBS), size, size), np.float32)
    L[LIMBS[0].paf_x], L[LIMBS[0].paf_y] = x * inside, y * inside
    return paf_to_rgb(L, 0, max_norm=1.0)


def _extent(shape: tuple[int, int], stride: int) -> tuple[float, float, float, float]:
    """imshow extent placing an (h, w) map of a stride-``stride`` network on input pixels."""
    h, w = shape
    return (-0.5, w * stride - 0.5, h * stride - 0.5, -0.5)


# --------------------------------------------------------------------------------------------
# matplotlib: draw on an Axes
# --------------------------------------------------------------------------------------------


def show_image(ax: Axes, image: np.ndarray, title: str | None = None) -> Axes:
    """The image, axes off, optional title."""
    ax.imshow(image)
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=9)
    return ax


def part_label(part: int | None) -> str:
    """'all parts', 'background' or the part's name."""
    return "all parts" if part is None else ("background" if part == BACKGROUND else PART_NAMES[part])


def limb_label(limb: int | Limb | None) -> str:
    """'all limbs' or the limb's name (e.g. 'RShoulder-RElbow')."""
    return "all limbs" if limb is None else (LIMBS[limb] if isinstance(limb, int) else limb).name


def add_colorbar(ax: Axes, cmap: str = S_CMAP, label: str = "$S$", vmin: float = 0.0, vmax: float = 1.0):
    """A colorbar beside ``ax`` for the fixed scale ``vmin..vmax`` of ``cmap`` (S: 0..1)."""
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    sm = ScalarMappable(Normalize(vmin, vmax), cmap)
    cb = ax.figure.colorbar(sm, ax=ax, fraction=0.04, pad=0.02, ticks=[vmin, (vmin + vmax) / 2, vmax])
    cb.ax.tick_params(labelsize=7)
    cb.set_label(label, fontsize=8)
    return cb


def plot_color_wheel(ax: Axes, size: int = 96, labels: bool = True, fontsize: float = 7) -> Axes:
    """The legend of a PAF picture: the colour of each direction, labelled (image y points down).

    Drawn on ``ax`` (e.g. ``ax.inset_axes([0.74, 0.74, 0.25, 0.25])`` for a corner legend).
    """
    wheel = color_wheel(size)
    r = np.linspace(-1, 1, size)
    inside = (np.hypot(*np.meshgrid(r, r)) <= 1)[..., None]
    # Brightness from the centre out: the length of the vector, as in the overlay's opacity.
    ax.imshow(np.concatenate([wheel, inside.astype(np.float32)], axis=-1), extent=(-1, 1, 1, -1))
    if labels:
        style = dict(fontsize=fontsize, ha="center", va="center", color="black",
                     bbox=dict(boxstyle="round,pad=0.1", fc="white", ec="none", alpha=0.8))  # fmt: skip
        for (x, y), text in (((1.0, 0), "→"), ((0, 1.0), "↓"), ((-1.0, 0), "←"), ((0, -1.0), "↑")):
            ax.text(x, y, text, **style)
    ax.set_xlim(-1.25, 1.25)
    ax.set_ylim(1.25, -1.25)
    ax.set_axis_off()
    return ax


def plot_heatmap(
    ax: Axes,
    S: ArrayLike,
    part: int | None = None,
    image: np.ndarray | None = None,
    stride: int | None = 8,
    alpha: float = 0.7,
    cmap: str = S_CMAP,
    vmax: float | None = 1.0,
    title: str | None = None,
    colorbar: bool = False,
):
    """Confidence map S_j of one part (or all parts) over the image (Sec. 2.2, Fig. 2b).

    Always on the fixed scale 0..1 (``overlay_heatmap``; ``vmax`` only for a map without an
    image). ``S``: (19, h, w) of any size, resized to the image (``map_to_image``, ``stride``
    for a stride grid). ``colorbar``: add the 0..1 colorbar. Returns the AxesImage (``.set_data``
    it with a new ``overlay_heatmap`` to redraw without re-plotting).
    """
    if image is not None:
        handle = ax.imshow(overlay_heatmap(image, S, part, stride, alpha, cmap))
    else:
        m = part_map(S, part)
        handle = ax.imshow(m, cmap=cmap, vmin=0.0, vmax=vmax, extent=_extent(m.shape, stride or 1),
                           interpolation="bilinear")  # fmt: skip
    ax.set_axis_off()
    ax.set_title(title if title is not None else f"$S$: {part_label(part)}", fontsize=9)
    if colorbar:
        add_colorbar(ax, cmap)
    return handle


def plot_paf_rgb(
    ax: Axes,
    L: ArrayLike,
    limb: int | Limb | None = None,
    image: np.ndarray | None = None,
    stride: int | None = 8,
    alpha: float = 0.8,
    max_norm: float | None = L_MAX_NORM,
    title: str | None = None,
    legend: bool = False,
):
    """A PAF as a color wheel over the image (hue = direction, opacity or brightness = |L|). Sec. 2.3.

    Over an image: ``overlay_paf`` (fixed scale, a zero field leaves the photo unchanged);
    alone: ``paf_to_rgb``. ``legend``: a labelled colour wheel in the top right corner.
    Returns the AxesImage of the field.
    """
    if image is not None:
        handle = ax.imshow(overlay_paf(image, L, limb, stride, alpha))
    else:
        rgb = paf_to_rgb(L, limb, max_norm)
        handle = ax.imshow(rgb, extent=_extent(rgb.shape[:2], stride or 1), interpolation="bilinear")
    ax.set_axis_off()
    ax.set_title(title if title is not None else f"$L$: {limb_label(limb)}", fontsize=9)
    if legend:
        plot_color_wheel(ax.inset_axes([0.79, 0.79, 0.2, 0.2]))
    return handle


def _cell_centres(shape: tuple[int, int], image_shape: tuple[int, ...] | None, stride: int | None):
    """Pixel coordinates (x of columns, y of rows) of the cells of an (h, w) map (see map_to_image)."""
    h, w = shape
    if image_shape is None or (
        stride and -(-image_shape[0] // stride) == h and -(-image_shape[1] // stride) == w
    ):
        s = stride or 1
        return np.arange(w) * s + (s - 1) / 2, np.arange(h) * s + (s - 1) / 2, float(s)
    H, W = image_shape[:2]
    return (np.arange(w) + 0.5) * W / w - 0.5, (np.arange(h) + 0.5) * H / h - 0.5, W / w


def plot_paf_arrows(
    ax: Axes,
    L: ArrayLike,
    limb: int | Limb | None,
    image: np.ndarray | None = None,
    stride: int | None = 8,
    step: int = 2,
    min_norm: float = 0.0,
    color: str | None = None,
    title: str | None = None,
):
    """Limb c's PAF (or all limbs, the longest vector per cell) as arrows (quiver), Sec. 2.3.

    One arrow every ``step``-th map cell, its length |L| times the arrow spacing (fixed
    scale: a unit vector spans 0.9 of the spacing, a zero vector draws nothing); cells with
    |L| <= ``min_norm`` are left out. Arrows point from part a to part b. ``color``
    defaults to white over an image, black otherwise. Returns the Quiver (``set_UVC`` redraws).
    """
    vec = limb_field(L, limb)
    xs, ys, cell = _cell_centres(vec.shape[1:], None if image is None else image.shape, stride)
    vec = vec[:, ::step, ::step]
    X, Y = np.meshgrid(xs[::step], ys[::step])
    keep = np.hypot(vec[0], vec[1]) > min_norm
    if image is not None:
        ax.imshow(image)
    # Image y points down: angles="xy" with an inverted y axis draws the vector as stored.
    color = color or ("white" if image is not None else "black")
    q = ax.quiver(
        X[keep], Y[keep], vec[0][keep], vec[1][keep], color=color, angles="xy", scale_units="xy",
        scale=1.0 / (step * cell * 0.9), width=0.004, minlength=0,
        edgecolor="black" if image is not None else None, linewidth=0.3 if image is not None else 0,
    )  # fmt: skip
    if image is None:
        ax.set_xlim(xs[0] - cell / 2, xs[-1] + cell / 2)
        ax.set_ylim(ys[-1] + cell / 2, ys[0] - cell / 2)
        ax.set_aspect("equal")
    ax.set_axis_off()
    ax.set_title(title if title is not None else f"$L$: {limb_label(limb)}", fontsize=9)
    return q


def plot_skeleton(
    ax: Axes,
    keypoints: ArrayLike,
    limbs: Sequence[Limb] | None = None,
    min_score: float = 0.0,
    linewidth: float = 2.5,
    markersize: float = 4.0,
    labels: bool = False,
    skeleton: Skeleton = COCO18,
) -> list:
    """Every person's skeleton as lines and dots on ``ax`` in the skeleton's colors (Fig. 2e).

    ``keypoints``: (P, 18, 3) [x, y, score] in image pixels ((P, 25, 3) with
    ``skeleton=skeleton.BODY25``; ``limbs`` default to the skeleton's drawn limbs, colours
    ``skeleton.colors``). ``labels``: write "person p" on a dark box above each person.
    Returns the artists drawn.
    """
    kp = _check_keypoints(keypoints, skeleton)
    limbs = skeleton.drawn_limbs if limbs is None else limbs
    present = kp[..., 2] > min_score
    artists = []
    for limb in limbs:
        rgb = np.array(skeleton.colors[limb.index]) / 255
        for p in np.flatnonzero(present[:, limb.a] & present[:, limb.b]):
            ends = kp[p, [limb.a, limb.b]]  # (2, 3)
            (line,) = ax.plot(ends[:, 0], ends[:, 1], "-", color=rgb, lw=linewidth)
            artists.append(line)
    for p in range(kp.shape[0]):
        js = np.flatnonzero(present[p])
        if len(js):
            colors = np.array([skeleton.colors[j] for j in js]) / 255
            artists.append(ax.scatter(kp[p, js, 0], kp[p, js, 1], s=markersize**2, c=colors, zorder=3))
            if labels:
                x0, y0 = kp[p, js, :2].min(axis=0)
                box = dict(boxstyle="round,pad=0.15", fc="black", ec="none", alpha=0.6)
                artists.append(ax.text(x0, y0 - 4, f"person {p}", color="white", fontsize=8, bbox=box))
    return artists


@dataclass(frozen=True)
class PartChanges:
    """Parts found in one parse and not in another (e.g. stage 1 against stage T).

    Each array is (n, 3) [x, y, part] in image pixels: ``added`` found only in ``after``,
    ``removed`` found only in ``before`` (no part of the same type within ``radius``).
    """

    added: np.ndarray
    removed: np.ndarray

    def __len__(self) -> int:
        return len(self.added) + len(self.removed)


def _found_parts(keypoints: ArrayLike) -> np.ndarray:
    """(P, J, 3) keypoints -> (n, 3) [x, y, part] of every part found (score > 0)."""
    kp = _numpy(keypoints) if isinstance(keypoints, torch.Tensor) else np.asarray(keypoints, np.float32)
    if kp.size == 0:
        return np.zeros((0, 3), np.float32)
    kp = kp.reshape(-1, kp.shape[-2], 3)
    p, j = np.nonzero(kp[..., 2] > 0)
    return np.column_stack([kp[p, j, 0], kp[p, j, 1], j]).astype(np.float32)


def part_changes(before: ArrayLike, after: ArrayLike, radius: float = 4.0) -> PartChanges:
    """Which parts appear or vanish between two parses of the same image (the refinement, Fig. 4).

    before, after: (P, J, 3) [x, y, score] keypoints in image pixels (any number of people;
    J = 18 or 25). A part of ``after`` is *added* when ``before`` has no part of the same type
    within ``radius`` pixels, and the other way round for *removed*. All pairs at once.
    """
    a, b = _found_parts(before), _found_parts(after)

    def unmatched(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        d = np.hypot(x[:, None, 0] - y[None, :, 0], x[:, None, 1] - y[None, :, 1])  # (n, m)
        d[x[:, None, 2] != y[None, :, 2]] = np.inf  # only parts of the same type match
        return x[(d > radius).all(axis=1)]

    return PartChanges(added=unmatched(b, a), removed=unmatched(a, b))


def part_names(points: np.ndarray) -> list[str]:
    """The part names of (n, 3) [x, y, part] rows (``PartChanges.added`` / ``.removed``)."""
    return [PART_NAMES[int(j)] if int(j) < N_PARTS else f"part {int(j)}" for j in points[:, 2]]


def mark_part_changes(ax: Axes, changes: PartChanges, size: float = 14.0, names: bool = False) -> list:
    """Ring the parts of ``part_changes`` on ``ax``: green added, red removed, with a legend.

    ``names``: also write each part's name beside its ring (readable when few parts changed).
    """
    artists = []
    for points, color, word in ((changes.added, "lime", "added"), (changes.removed, "red", "removed")):
        if not len(points):
            continue
        artists.append(
            ax.scatter(
                points[:, 0],
                points[:, 1],
                s=size**2,
                facecolors="none",
                edgecolors=color,
                linewidths=2.0,
                zorder=4,
                label=f"{word}: {len(points)} parts",
            )  # fmt: skip
        )
        if names:
            box = dict(boxstyle="round,pad=0.15", fc="black", ec=color, alpha=0.7)
            for (x, y, _), name in zip(points, part_names(points)):
                artists.append(ax.text(x + size / 2 + 2, y, name, color="white", fontsize=7, bbox=box))
    if artists:
        ax.legend(loc="lower left", fontsize=8, framealpha=0.85)
    return artists


# A standing person facing the viewer (so its right side is on the picture's left), in a
# 100 x 100 box: the legend of part and limb colours.
_LEGEND_POSE = np.array(
    [
        [50, 12], [50, 26], [36, 27], [30, 42], [26, 56], [64, 27], [70, 42], [74, 56], [42, 56],
        [41, 74], [40, 92], [58, 56], [59, 74], [60, 92], [46, 9], [54, 9], [41, 11], [59, 11],
    ],
    np.float32,
)  # fmt: skip


def skeleton_legend(ax: Axes, fontsize: float = 6.5, limbs: Sequence[Limb] = DRAWN_LIMBS) -> Axes:
    """The legend of skeleton pictures: one person with every part named in its colour and every
    limb in its colour (skeleton.COLORS; the image's left is the person's right)."""
    kp = np.concatenate([_LEGEND_POSE, np.ones((N_PARTS, 1), np.float32)], axis=1)
    plot_skeleton(ax, kp[None], limbs=limbs, linewidth=2.0, markersize=4.0)
    for j, (x, y) in enumerate(_LEGEND_POSE):
        if j >= 14:  # eyes and ears sit close together: their names fan out above the head
            side = -1 if j % 2 == 0 else 1
            x, y = x + side * (4 if j < 16 else 8), y - (4 if j < 16 else 10)
            ha = "right" if side < 0 else "left"
        elif j in (0, 1):
            x, ha = x + 4, "left"
        else:
            x, ha = (x - 3, "right") if x < 50 else (x + 3, "left")
        color = np.array(COLORS[j]) / 255 * 0.75  # darker, readable on white
        ax.text(x, y, PART_NAMES[j], fontsize=fontsize, color=color, ha=ha, va="center")
    ax.set_xlim(5, 95)
    ax.set_ylim(98, -8)
    ax.set_aspect("equal")
    ax.set_axis_off()
    ax.set_title("parts and limbs", fontsize=8)
    return ax


def stage_grid(
    S: Sequence[ArrayLike],
    L: Sequence[ArrayLike],
    part: int | None = None,
    limb: int | Limb | None = None,
    image: np.ndarray | None = None,
    stride: int | None = 8,
    panel_size: float = 1.8,
    dpi: int = 80,
    differences: bool = False,
) -> Figure:
    """All stages side by side: row 1 S^t (one part or all), row 2 L^t (one limb or all).

    The refinement of Eq. 2 over t = 1..T (paper Fig. 4). ``S``, ``L``: lists of T maps
    (19, h, w) / (38, h, w) (or (1, C, h, w)), e.g. ``NetworkOutput.S``. ``differences``: a
    third row, S^t - S^{t-1} (red: grew, blue: shrank; ``overlay_change``). Fixed colour
    scales, a colorbar for S and a labelled colour wheel for L. Returns a new Figure.
    """
    from matplotlib.figure import Figure

    T = len(S)
    if T == 0 or len(L) != T:
        raise ValueError(f"expected the same number (>= 1) of S and L stages, got {len(S)} and {len(L)}")
    rows = 3 if differences and image is not None else 2
    aspect = 1.0 if image is None else image.shape[0] / image.shape[1]
    fig = Figure(figsize=(panel_size * T, panel_size * aspect * rows * 1.12), dpi=dpi, layout="constrained")
    axes = fig.subplots(rows, T, squeeze=False)
    for t in range(T):
        plot_heatmap(axes[0, t], S[t], part, image=image, stride=stride, title=f"$S^{{{t + 1}}}$",
                     colorbar=t == T - 1)  # fmt: skip
        plot_paf_rgb(axes[1, t], L[t], limb, image=image, stride=stride, title=f"$L^{{{t + 1}}}$",
                     legend=t == T - 1)  # fmt: skip
        if rows == 3:
            ax = axes[2, t]
            if t == 0:
                ax.imshow(image)
                ax.set_title("$S^1$ (no previous stage)", fontsize=8)
            else:
                change = part_map(S[t], part) - part_map(S[t - 1], part)
                ax.imshow(overlay_change(image, change, stride))
                ax.set_title(f"$S^{{{t + 1}}} - S^{{{t}}}$", fontsize=9)
            ax.set_axis_off()
    return fig


def figure_to_png(fig: Figure, compression: int = 1) -> bytes:
    """Render a figure to PNG bytes (what a widget's Image shows after every redraw).

    Agg renders the pixels; OpenCV encodes them with light compression (``compression`` 0..9),
    several times faster than ``savefig``'s encoder, which keeps a slider move under 100 ms.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    canvas.draw()
    rgba = np.asarray(canvas.buffer_rgba())  # (H, W, 4) uint8
    ok, buf = cv2.imencode(".png", rgba[..., 2::-1], [cv2.IMWRITE_PNG_COMPRESSION, compression])  # BGR
    if not ok:
        raise RuntimeError("OpenCV could not encode the figure as PNG")
    return buf.tobytes()


# --------------------------------------------------------------------------------------------
# Cost of a network: multiply-accumulates per part (notebook 02)
# --------------------------------------------------------------------------------------------


def conv_macs(net: nn.Module, input_size: tuple[int, int] = (368, 368)) -> dict[str, int]:
    """Multiply-accumulates of every convolution of ``net`` for one (3, H, W) input, by layer name.

    One output value of a k x k convolution with C_in inputs costs C_in k^2 / groups MACs, so a
    layer costs (output values) * C_in k^2 / groups. Measured with forward hooks on a zero
    input (shapes only matter). Returns {qualified module name: MACs} in execution order.
    """
    macs: dict[str, int] = {}
    names = {m: n for n, m in net.named_modules()}

    def hook(module: nn.Conv2d, _inp, out: torch.Tensor) -> None:
        k = module.kernel_size[0] * module.kernel_size[1]
        macs[names[module]] = int(out[0].numel() * module.in_channels * k // module.groups)

    handles = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, nn.Conv2d)]
    try:
        param = next(net.parameters(), None)
        device = param.device if param is not None else torch.device("cpu")
        with torch.no_grad():
            net(torch.zeros(1, 3, *input_size, device=device))
    finally:
        for h in handles:
            h.remove()
    return macs


def macs_per_part(net: nn.Module, input_size: tuple[int, int] = (368, 368)) -> dict[str, int]:
    """``conv_macs`` summed per top-level part: 'backbone', 'cpm', 'stage1', ..., 'stageT'.

    For an OpenPoseNet the stage modules ``stages.0`` .. become ``stage1`` ...
    """
    totals: dict[str, int] = {}
    for name, m in conv_macs(net, input_size).items():
        head, _, rest = name.partition(".")
        if head == "stages":
            head = f"stage{int(rest.split('.')[0]) + 1}"
        totals[head] = totals.get(head, 0) + m
    return totals
