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
from typing import TYPE_CHECKING

import cv2
import numpy as np
import torch
from torch import nn

from .io import check_image
from .skeleton import BACKGROUND, COLORS, DRAWN_LIMBS, LIMBS, N_PARTS, PART_NAMES, Limb

if TYPE_CHECKING:  # matplotlib is imported lazily so the command line stays light
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

ArrayLike = np.ndarray | torch.Tensor


def _numpy(x: ArrayLike) -> np.ndarray:
    """A float32 numpy copy of a tensor or array (detached, on the CPU)."""
    if isinstance(x, torch.Tensor):
        return x.detach().to("cpu", torch.float32).numpy()
    return np.asarray(x, dtype=np.float32)


def _check_keypoints(keypoints: ArrayLike) -> np.ndarray:
    kp = _numpy(keypoints)
    if kp.ndim == 2:
        kp = kp[None]  # one person (18, 3)
    if kp.ndim != 3 or kp.shape[1:] != (N_PARTS, 3):
        raise ValueError(f"expected keypoints of shape (P, {N_PARTS}, 3) [x, y, score], got {kp.shape}")
    return kp


# --------------------------------------------------------------------------------------------
# OpenCV: skeletons into an image
# --------------------------------------------------------------------------------------------


def draw_people(
    image: np.ndarray,
    keypoints: ArrayLike,
    limbs: Sequence[Limb] = DRAWN_LIMBS,
    min_score: float = 0.0,
    radius: int = 4,
    thickness: int = 3,
    color: str = "RGB",
) -> np.ndarray:
    """A copy of ``image`` with every person's skeleton drawn in the skeleton's colors.

    The output picture of the paper (Fig. 2e). ``image``: uint8 (H, W, 3), ``color`` says
    whether it is RGB or BGR (cv2.imread). ``keypoints``: (P, 18, 3) or (18, 3) [x, y, score]
    in image pixels; a part is drawn when its score > ``min_score`` (missing parts have 0), a
    limb when both its parts are. Limb k gets ``COLORS[k]``, part j ``COLORS[j]``.
    Returns a new uint8 (H, W, 3) image; the input is never modified.
    """
    image = check_image(image)
    kp = _check_keypoints(keypoints)
    if color not in ("RGB", "BGR"):
        raise ValueError(f"color must be 'RGB' or 'BGR', got {color!r}")
    palette = [c if color == "RGB" else c[::-1] for c in COLORS]
    out = np.ascontiguousarray(image.copy())
    present = kp[..., 2] > min_score  # (P, 18)
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


def limb_field(L: ArrayLike, limb: int | Limb) -> np.ndarray:
    """The two channels (x, y) of limb c's PAF L_c (Sec. 2.3): float32 (2, h, w) from L (38, h, w)."""
    paf = _numpy(L)
    if paf.ndim == 4:
        paf = paf[0]
    lb = LIMBS[limb] if isinstance(limb, int) else limb
    if paf.ndim != 3 or paf.shape[0] <= lb.paf_y:
        raise ValueError(f"expected L of shape (38, h, w) or (1, 38, h, w), got {paf.shape}")
    return paf[[lb.paf_x, lb.paf_y]]


def paf_to_rgb(L: ArrayLike, limb: int | Limb | None = None, max_norm: float | None = None) -> np.ndarray:
    """A PAF as a color wheel picture: hue = direction of the vector, value = its length.

    Sec. 2.3, Fig. 2c. ``L``: (38, h, w). ``limb``: one limb, or None for all limbs (at
    each pixel the limb with the longest vector wins). Lengths are divided by ``max_norm``
    (default: the largest length, so a unit-vector ground truth shows at full brightness) and
    clipped to 1. Returns float32 RGB (h, w, 3) in 0..1.
    """
    from matplotlib.colors import hsv_to_rgb

    if limb is None:
        paf = _numpy(L)
        paf = paf[0] if paf.ndim == 4 else paf
        fields = np.stack([limb_field(paf, lb) for lb in LIMBS])  # (19, 2, h, w)
        norms = np.linalg.norm(fields, axis=1)  # (19, h, w)
        best = norms.argmax(axis=0)[None, None]  # (1, 1, h, w)
        vec = np.take_along_axis(fields, np.broadcast_to(best, (1, 2, *best.shape[2:])), axis=0)[0]
    else:
        vec = limb_field(L, limb)  # (2, h, w)
    norm = np.hypot(vec[0], vec[1])
    scale = float(norm.max()) if max_norm is None else float(max_norm)
    # Image y points down, so atan2(y, x) turns clockwise on screen; the legend wheel does too.
    hue = (np.arctan2(vec[1], vec[0]) / (2 * np.pi)) % 1.0
    value = np.clip(norm / scale, 0.0, 1.0) if scale > 0 else np.zeros_like(norm)
    hsv = np.stack([hue, np.ones_like(hue), value], axis=-1)
    return hsv_to_rgb(hsv).astype(np.float32)


def paf_to_rgba(
    L: ArrayLike, limb: int | Limb | None = None, max_norm: float | None = None, alpha: float = 0.7
) -> np.ndarray:
    """``paf_to_rgb`` plus opacity: ``alpha`` where the field is visible, 0 (transparent) where it is ~0.

    So a photo shows through where there is no limb. Returns float32 RGBA (h, w, 4) in 0..1.
    """
    rgb = paf_to_rgb(L, limb, max_norm)
    return np.concatenate([rgb, (rgb.max(axis=-1, keepdims=True) > 0.02) * np.float32(alpha)], axis=-1)


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


def _fading(cmap: str, alpha: float):
    """``cmap`` whose opacity grows with the value: low confidence lets the photo show through."""
    from matplotlib import colormaps
    from matplotlib.colors import ListedColormap

    colors = colormaps[cmap](np.linspace(0, 1, 256))
    colors[:, 3] = alpha * np.sqrt(np.linspace(0, 1, 256))
    return ListedColormap(colors)


def plot_heatmap(
    ax: Axes,
    S: ArrayLike,
    part: int | None = None,
    image: np.ndarray | None = None,
    stride: int = 8,
    alpha: float = 0.6,
    cmap: str = "jet",
    vmax: float | None = 1.0,
    title: str | None = None,
):
    """Confidence map S_j of one part (or all parts) over the image (Sec. 2.2, Fig. 2b).

    ``S``: (19, h, w); the map is placed on input pixels through ``stride``. Returns the AxesImage
    of the map (``.set_data`` it to redraw without re-plotting).
    """
    m = part_map(S, part)
    if image is not None:
        ax.imshow(image)
    handle = ax.imshow(
        m,
        cmap=_fading(cmap, alpha) if image is not None else cmap,
        vmin=0.0,
        vmax=vmax,
        extent=_extent(m.shape, stride),
        interpolation="bilinear",
    )
    ax.set_axis_off()
    name = "all parts" if part is None else ("background" if part == BACKGROUND else PART_NAMES[part])
    ax.set_title(title if title is not None else f"S: {name}", fontsize=9)
    return handle


def plot_paf_rgb(
    ax: Axes,
    L: ArrayLike,
    limb: int | Limb | None = None,
    image: np.ndarray | None = None,
    stride: int = 8,
    alpha: float = 0.7,
    max_norm: float | None = None,
    title: str | None = None,
):
    """A PAF as a color wheel over the image (hue = direction, brightness = length). Sec. 2.3.

    Returns the AxesImage of the field.
    """
    rgba = paf_to_rgba(L, limb, max_norm, alpha)
    if image is not None:
        ax.imshow(image)
    handle = ax.imshow(rgba, extent=_extent(rgba.shape[:2], stride), interpolation="nearest")
    ax.set_axis_off()
    name = "all limbs" if limb is None else (LIMBS[limb] if isinstance(limb, int) else limb).name
    ax.set_title(title if title is not None else f"L: {name}", fontsize=9)
    return handle


def plot_paf_arrows(
    ax: Axes,
    L: ArrayLike,
    limb: int | Limb,
    image: np.ndarray | None = None,
    stride: int = 8,
    step: int = 2,
    min_norm: float = 0.05,
    color: str | None = None,
    title: str | None = None,
):
    """Limb c's PAF as arrows (quiver) at every ``step``-th map cell whose vector is longer
    than ``min_norm`` (Sec. 2.3, Fig. 2c). Arrows point from part a to part b.

    ``color`` defaults to white over an image, black otherwise. Returns the Quiver.
    """
    vec = limb_field(L, limb)[:, ::step, ::step]  # (2, h', w')
    h, w = vec.shape[1:]
    ys, xs = np.mgrid[0:h, 0:w] * step * stride + (stride - 1) / 2  # cell centres in pixels
    keep = np.hypot(vec[0], vec[1]) > min_norm
    if image is not None:
        ax.imshow(image)
    # Image y points down: angles="xy" with an inverted y axis draws the vector as stored.
    color = color or ("white" if image is not None else "black")
    q = ax.quiver(
        xs[keep], ys[keep], vec[0][keep], vec[1][keep], color=color, angles="xy", scale_units="xy",
        scale=1.0 / (step * stride * 0.9), width=0.004,
    )  # fmt: skip
    if image is None:
        ax.set_xlim(-0.5, L.shape[-1] * stride - 0.5)
        ax.set_ylim(L.shape[-2] * stride - 0.5, -0.5)
        ax.set_aspect("equal")
    ax.set_axis_off()
    lb = LIMBS[limb] if isinstance(limb, int) else limb
    ax.set_title(title if title is not None else f"L: {lb.name}", fontsize=9)
    return q


def plot_skeleton(
    ax: Axes,
    keypoints: ArrayLike,
    limbs: Sequence[Limb] = DRAWN_LIMBS,
    min_score: float = 0.0,
    linewidth: float = 2.5,
    markersize: float = 4.0,
    labels: bool = False,
) -> list:
    """Every person's skeleton as lines and dots on ``ax`` in the skeleton's colors (Fig. 2e).

    ``keypoints``: (P, 18, 3) [x, y, score] in image pixels. Returns the artists drawn.
    """
    kp = _check_keypoints(keypoints)
    present = kp[..., 2] > min_score
    artists = []
    for limb in limbs:
        rgb = np.array(COLORS[limb.index]) / 255
        for p in np.flatnonzero(present[:, limb.a] & present[:, limb.b]):
            ends = kp[p, [limb.a, limb.b]]  # (2, 3)
            (line,) = ax.plot(ends[:, 0], ends[:, 1], "-", color=rgb, lw=linewidth)
            artists.append(line)
    for p in range(kp.shape[0]):
        js = np.flatnonzero(present[p])
        if len(js):
            colors = np.array([COLORS[j] for j in js]) / 255
            artists.append(ax.scatter(kp[p, js, 0], kp[p, js, 1], s=markersize**2, c=colors, zorder=3))
            if labels:
                x0, y0 = kp[p, js, :2].min(axis=0)
                artists.append(ax.text(x0, y0 - 4, f"person {p}", color="white", fontsize=8))
    return artists


def stage_grid(
    S: Sequence[ArrayLike],
    L: Sequence[ArrayLike],
    part: int | None = None,
    limb: int | Limb | None = None,
    image: np.ndarray | None = None,
    stride: int = 8,
    panel_size: float = 1.8,
    dpi: int = 80,
) -> Figure:
    """All stages side by side: row 1 S^t (one part or all), row 2 L^t (one limb or all).

    Stage 1 (Sec. 2.1) and the refinement of Eq. 1-2 over t = 2..T (paper Fig. 4). ``S``, ``L``:
    lists of T maps (19, h, w) / (38, h, w) (or (1, C, h, w)), e.g. ``NetworkOutput.S``. Returns a new Figure.
    """
    from matplotlib.figure import Figure

    T = len(S)
    if T == 0 or len(L) != T:
        raise ValueError(f"expected the same number (>= 1) of S and L stages, got {len(S)} and {len(L)}")
    fig = Figure(figsize=(panel_size * T, panel_size * 2.1), dpi=dpi, layout="constrained")
    axes = fig.subplots(2, T, squeeze=False)
    for t in range(T):
        plot_heatmap(axes[0, t], S[t], part, image=image, stride=stride, title=f"S^{t + 1}")
        plot_paf_rgb(axes[1, t], L[t], limb, image=image, stride=stride, title=f"L^{t + 1}")
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
