"""Pictures as numpy arrays: skeletons drawn with OpenCV, maps S and fields L as images.

* ``draw_people`` draws skeletons into a copy of a uint8 image (the command line and the
  workshop app use it; no matplotlib needed).
* a map S (Sec. 2.2, Fig. 2b) or a field L (Sec. 2.3, Fig. 2c) -> an RGB picture on input
  pixels, over the photo or alone, on the fixed scales every picture uses (``S_RANGE``,
  ``L_MAX_NORM``); ``Display``, the size a picture is rendered for.

Colors and limbs come from skeleton.py. A map cell (i, j) at stride s covers pixels
[j s, (j+1) s) x [i s, (i+1) s). Reached through ``viz`` in the notebooks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from .io import check_image
from .skeleton import BACKGROUND, COCO18, LIMBS, SKELETONS, Limb, Skeleton
from .upsample import GridField

ArrayLike = np.ndarray | torch.Tensor


def as_numpy(x: ArrayLike) -> np.ndarray:
    """A float32 numpy copy of a tensor or array (detached, on the CPU)."""
    if isinstance(x, torch.Tensor):
        return x.detach().to("cpu", torch.float32).numpy()
    return np.asarray(x, dtype=np.float32)


def check_keypoints(keypoints: ArrayLike, skeleton: Skeleton = COCO18) -> np.ndarray:
    """Keypoints (P, J, 3) or one person's (J, 3) [x, y, score] -> float32 (P, J, 3); J = skeleton.n_parts."""
    kp = as_numpy(keypoints)
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
    kp = check_keypoints(keypoints, skeleton)
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
    a = as_numpy(m)
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
    """One confidence map S_j, or all parts at once (max over the parts, background excluded).

    Sec. 2.2. ``S``: (J + 1, h, w) or (1, J + 1, h, w) of any skeleton whose background is
    the last channel (19 for COCO-18, 26 for BODY_25); ``part``: 0..J-1, J (background) or
    None for all parts. Returns float32 (h, w).
    """
    s = as_numpy(S)
    if s.ndim == 4:
        s = s[0]
    if s.ndim != 3 or s.shape[0] <= BACKGROUND:
        raise ValueError(f"expected S of shape (19, h, w) or (1, 19, h, w), got {s.shape}")
    background = s.shape[0] - 1
    if part is None:
        return s[:background].max(axis=0)
    if not 0 <= part <= background:
        raise ValueError(f"part must be in 0..{background} ({background} = background) or None, got {part}")
    return s[part]


def _limbs_of(paf: np.ndarray) -> tuple[Limb, ...]:
    """The limbs of the skeleton with as many PAF channels as ``paf`` (COCO-18's if none has)."""
    n = paf.shape[0] if paf.ndim == 3 else 0
    return next((s.limbs for s in SKELETONS.values() if s.n_pafs == n), LIMBS)


def limb_field(L: ArrayLike, limb: int | Limb | None) -> np.ndarray:
    """The two channels (x, y) of limb c's PAF L_c (Sec. 2.3): float32 (2, h, w) from L (2C, h, w).

    ``limb`` None: all limbs at once, at each cell the limb with the longest vector. The
    skeleton is the one with 2C PAF channels (38: COCO-18, 52: BODY_25); an int is its limb c.
    L may be a ``upsample.GridField`` (``Maps.L_grid``): one limb resizes only its two channels.
    """
    paf = L if isinstance(L, GridField) and limb is not None else as_numpy(L)
    if paf.ndim == 4:
        paf = paf[0]
    limbs = _limbs_of(paf)
    if limb is None:
        if paf.ndim != 3 or paf.shape[0] < 2 * len(limbs):
            raise ValueError(f"expected L of shape (38, h, w) or (1, 38, h, w), got {paf.shape}")
        return _longest_field(paf, limbs)
    if isinstance(limb, int) and not 0 <= limb < len(limbs):
        raise ValueError(
            f"limb must be in 0..{len(limbs) - 1} for L with {paf.shape[0]} channels, got {limb}"
        )
    lb = limbs[limb] if isinstance(limb, int) else limb
    if paf.ndim != 3 or paf.shape[0] <= lb.paf_y:
        raise ValueError(f"expected L of shape (38, h, w) or (1, 38, h, w), got {paf.shape}")
    return paf[[lb.paf_x, lb.paf_y]]


def _longest_field(paf: np.ndarray, limbs: tuple[Limb, ...] = LIMBS) -> np.ndarray:
    """At each cell the (x, y) of the limb with the longest vector (the first limb on ties).

    paf (2C, h, w) -> float32 (2, h, w). A running maximum over the C limbs, one plane at a
    time: the same numbers as stacking the C fields and taking the argmax of their squared
    lengths, without the (C, 2, h, w) copy (a quarter faster on a camera frame's grid).
    """
    h, w = paf.shape[1:]
    best = np.full((h, w), -1.0, np.float32)  # squared lengths are >= 0: the first limb always wins
    vec = np.zeros((2, h, w), np.float32)
    n2, y2 = np.empty((h, w), np.float32), np.empty((h, w), np.float32)
    longer = np.empty((h, w), bool)
    for lb in limbs:
        x, y = paf[lb.paf_x], paf[lb.paf_y]
        np.multiply(x, x, out=n2)
        n2 += np.multiply(y, y, out=y2)  # x^2 + y^2, as (fields**2).sum(axis=1) adds them
        np.greater(n2, best, out=longer)
        np.copyto(best, n2, where=longer)
        np.copyto(vec[0], x, where=longer)
        np.copyto(vec[1], y, where=longer)
    return vec


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
    from matplotlib import colormaps  # lazy: the command line draws without matplotlib

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


CHANGE_GREW, CHANGE_SHRANK = (0.85, 0.1, 0.1), (0.1, 0.3, 1.0)  # overlay_change's red and blue, RGB 0..1


def overlay_change(
    image: np.ndarray, change: ArrayLike, stride: int | None = None, vmax: float = 0.5, alpha: float = 0.85
) -> np.ndarray:
    """The photo with a signed change on top (the stage explorer's "change from stage t-1").

    Red where the map grew, blue where it shrank, opacity ``alpha * |change| / vmax`` (clipped):
    no change leaves the photo unchanged. ``change``: (h, w). Returns uint8 (H, W, 3).
    """
    d = map_to_image(change, image.shape, stride)
    rgb = np.where((d >= 0)[..., None], np.float32(CHANGE_GREW), np.float32(CHANGE_SHRANK))
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
