"""matplotlib helpers that draw on an ``Axes``: a heatmap overlay (one part or all parts, paper
Sec. 2.2, Fig. 2b), a PAF as arrows and as a colour wheel (Sec. 2.3, Fig. 2c), the skeleton
(Fig. 2e), what changed between two stages, and the grid of all stages side by side (Eq. 1-2,
Fig. 4). The pictures themselves come from ``drawing``. Reached through ``viz`` in notebooks 01-05.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
import torch

from .drawing import (
    CHANGE_GREW,
    CHANGE_SHRANK,
    L_MAX_NORM,
    S_CMAP,
    ArrayLike,
    as_numpy,
    check_keypoints,
    color_wheel,
    draw_people,
    limb_field,
    overlay_change,
    overlay_heatmap,
    overlay_paf,
    paf_to_rgb,
    part_map,
)
from .skeleton import COCO18, N_PARTS, PART_NAMES, Limb, Skeleton

if TYPE_CHECKING:  # matplotlib is imported where it is used, so the command line stays light
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


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


def part_label(part: int | None, skeleton: Skeleton = COCO18) -> str:
    """'all parts', 'background' or the part's name in ``skeleton``."""
    if part is None:
        return "all parts"
    return "background" if part == skeleton.background else skeleton.parts[part]


def limb_label(limb: int | Limb | None, skeleton: Skeleton = COCO18) -> str:
    """'all limbs' or the limb's name in ``skeleton`` (e.g. 'RShoulder-RElbow')."""
    if limb is None:
        return "all limbs"
    return skeleton.limb_name(skeleton.limbs[limb] if isinstance(limb, int) else limb)


def add_colorbar(ax: Axes, cmap: str = S_CMAP, label: str = "$S$", vmin: float = 0.0, vmax: float = 1.0):
    """A colorbar beside ``ax`` for the fixed scale ``vmin..vmax`` of ``cmap`` (S: 0..1)."""
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    sm = ScalarMappable(Normalize(vmin, vmax), cmap)
    cb = ax.figure.colorbar(sm, ax=ax, fraction=0.04, pad=0.02, ticks=[vmin, (vmin + vmax) / 2, vmax])
    cb.ax.tick_params(labelsize=7)
    cb.set_label(label, fontsize=8)
    return cb


def change_colormap():
    """The diverging colours of ``overlay_change``: blue (shrank) through the faded photo's grey
    (no change) to red (grew), for a colorbar of a change view."""
    from matplotlib.colors import LinearSegmentedColormap

    return LinearSegmentedColormap.from_list("change", [CHANGE_SHRANK, (0.55, 0.55, 0.55), CHANGE_GREW])


def add_change_colorbar(
    ax: Axes,
    label: str = "change",
    vmax: float = 0.5,
    cax: Axes | None = None,
    orientation: str = "vertical",
    fontsize: float = 7,
):
    """A diverging colorbar -vmax..+vmax for ``overlay_change`` pictures (red grew, blue shrank).

    Beside ``ax``, or in ``cax`` (e.g. an inset) when given. Returns the Colorbar.
    """
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    sm = ScalarMappable(Normalize(-vmax, vmax), change_colormap())
    kw = dict(cax=cax) if cax is not None else dict(ax=ax, fraction=0.04, pad=0.02)
    cb = ax.figure.colorbar(sm, orientation=orientation, ticks=[-vmax, 0.0, vmax], **kw)
    cb.ax.tick_params(labelsize=fontsize)
    cb.set_label(label, fontsize=fontsize + 1)
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
    kp = check_keypoints(keypoints, skeleton)
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
    kp = as_numpy(keypoints) if isinstance(keypoints, torch.Tensor) else np.asarray(keypoints, np.float32)
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
        [50, 12], [50, 26], [36, 27], [30, 42], [22, 62], [64, 27], [70, 42], [78, 62], [42, 56],
        [41, 74], [40, 92], [58, 56], [59, 74], [60, 92], [46, 9], [54, 9], [41, 11], [59, 11],
    ],
    np.float32,
)  # fmt: skip


# BODY_25's extra points, placed from the COCO-18 legend pose: MidHip between the hips, and
# under each ankle (x offset outward, y down) the big toe, small toe and heel.
_LEGEND_FEET = {"BigToe": (3.0, 5.0), "SmallToe": (7.0, 4.0), "Heel": (-2.0, 4.0)}


def _legend_pose(skeleton: Skeleton) -> np.ndarray:
    """The legend person's (J, 2) points for ``skeleton``: COCO-18's by name, the rest derived."""
    coco = {name: _LEGEND_POSE[j] for j, name in enumerate(PART_NAMES)}
    pose = []
    for name in skeleton.parts:
        if name in coco:
            pose.append(coco[name])
        elif name == "MidHip":
            pose.append((coco["RHip"] + coco["LHip"]) / 2)
        else:  # LBigToe, ..., RHeel: below the ankle of its side, toes outward
            side, kind = name[0], name[1:]
            dx, dy = _LEGEND_FEET[kind]
            ankle = coco[f"{side}Ankle"]
            pose.append(ankle + np.array([dx if side == "L" else -dx, dy], np.float32))
    return np.array(pose, np.float32)


def skeleton_legend(
    ax: Axes, fontsize: float = 6.5, limbs: Sequence[Limb] | None = None, skeleton: Skeleton = COCO18
) -> Axes:
    """The legend of skeleton pictures: one person with every part named in its colour and every
    limb in its colour (``skeleton.colors``; the image's left is the person's right). With
    ``skeleton=BODY25`` the MidHip sits between the hips and the six foot points under the
    ankles; their names are left out (only "feet" is written, once per foot)."""
    pose = _legend_pose(skeleton)
    limbs = skeleton.drawn_limbs if limbs is None else limbs
    kp = np.concatenate([pose, np.ones((len(pose), 1), np.float32)], axis=1)
    plot_skeleton(ax, kp[None], limbs=limbs, linewidth=2.0, markersize=4.0, skeleton=skeleton)
    for j, (x, y) in enumerate(pose):
        name = skeleton.parts[j]
        color = np.array(skeleton.colors[j % len(skeleton.colors)]) / 255 * 0.75  # darker, on white
        if name not in PART_NAMES:
            if name == "MidHip":
                ax.text(x, y - 4, name, fontsize=fontsize, color=color, ha="center", va="center")
            elif name[1:] == "Heel":
                ax.text(x + (6 if name[0] == "L" else -6), y + 4, f"{name[0]} foot", fontsize=fontsize,
                        color=color, ha="left" if name[0] == "L" else "right", va="center")  # fmt: skip
            continue
        j = PART_NAMES.index(name)  # the COCO-18 label layout, by name
        if j >= 14:  # eyes and ears sit close together: their names fan out above the head
            side = -1 if j % 2 == 0 else 1
            x, y = x + side * (4 if j < 16 else 8), y - (4 if j < 16 else 10)
            ha = "right" if side < 0 else "left"
        elif j in (0, 1):  # Nose below-right of the eyes, Neck above the shoulder line
            x, y, ha = x + 4, y + (4 if j == 0 else -4), "left"
        else:
            x, ha = (x - 3, "right") if x < 50 else (x + 3, "left")
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

    The refinement of Eq. 1-2 over t = 1..T (CVPR 2017 Fig. 4). ``S``, ``L``: lists of T maps
    (19, h, w) / (38, h, w) (or (1, C, h, w)), e.g. ``NetworkOutput.S``. ``differences``: a
    third row, S^t - S^{t-1} (red: grew, blue: shrank; ``overlay_change``) with its diverging
    colorbar. Fixed colour scales, a colorbar for S and a labelled colour wheel for L. Returns a
    new Figure.
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
                if t == T - 1:  # the legend of the row: red grew, blue shrank
                    add_change_colorbar(ax, "red: grew\nblue: shrank")
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


def pipeline_figure(
    image: np.ndarray, poses: Any, width: float = 10.5, dpi: int = 80, fontsize: float = 11
) -> Figure:
    """The paper's pipeline figure (CVPR 2017 Fig. 2 a-e) for one image, in two rows of three panels.

    (a) the input, (b) all confidence maps S, (c) all PAFs L (colour = direction), (d) the
    matched limbs (Eq. 12-14), (e) the people, and the legend of part and limb colours.
    image: uint8 (H, W, 3) RGB; poses: ``inference.Poses`` of that image (maps at any grid).
    ``width`` inches at ``dpi``: 10.5 in at 80 dpi is 840 pixels, about the width JupyterLab
    gives a notebook with its file browser open, so ``fontsize`` 11 titles stay about 12 px high.
    """
    from matplotlib.figure import Figure

    H, W = image.shape[:2]
    panel = width / 3
    fig = Figure(figsize=(width, 2 * panel * H / W + 0.7), dpi=dpi, layout="constrained")
    axes = fig.subplots(2, 3)
    show_image(axes[0, 0], image, "(a) input")
    plot_heatmap(
        axes[0, 1], poses.maps.S, None, image=image, stride=None, title="(b) $S$: all parts", colorbar=True
    )
    plot_paf_rgb(
        axes[0, 2], poses.maps.L, None, image=image, stride=None, title="(c) $L$: all limbs", legend=True
    )
    show_image(axes[1, 0], (image * 0.4 + 153).astype(np.uint8), "(d) matched limbs (Eq. 12-14)")
    plot_skeleton(axes[1, 0], poses.keypoints, markersize=0, skeleton=poses.skeleton)
    n = len(poses.keypoints)
    show_image(axes[1, 1], draw_people(image, poses.keypoints, skeleton=poses.skeleton), f"(e) people: {n}")
    skeleton_legend(axes[1, 2], fontsize=fontsize * 0.7, skeleton=poses.skeleton)
    for ax in axes.flat:
        ax.title.set_fontsize(fontsize)
    return fig
