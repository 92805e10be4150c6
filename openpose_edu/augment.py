"""CMU's training augmentation for COCO, as one affine matrix per sample (docs/openpose_facts.md Sec. 8).

The paper says nothing about augmentation; its released training code (caffe_train's
``cpm_data_transformer.cpp``, reproduced by tensorboy's and lightweight-openpose's PyTorch
training) makes one training sample per annotated person and moves the image, the mask of
unannotated people (the W = 0 regions of Eq. 3-4) and every person's keypoints through four
steps, in this order:

    scale      s = target_dist * crop / person_height * m,   m ~ U(scale_min, scale_max)
    rotate     by a ~ U(-max_rotate, max_rotate) degrees
    crop       crop x crop pixels centred on the person's centre + U(-40, 40) px (of 368), pad 128
    flip       x -> crop - 1 - x with probability 1/2, and left/right parts swapped

caffe_train resizes, rotates, crops and flips the image one after the other (four
resamplings). Each step is a 3 x 3 matrix here (``scale_matrix``, ``rotation_matrix``,
``translation_matrix``, ``flip_matrix``); ``sample_matrix`` multiplies them into one, and the
pixels are resampled once (``warp_image``, ``warp_mask``: one ``cv2.warpAffine`` each) while
the keypoints go through the same matrix (``warp_keypoints``). A flip also renames the parts
(``flip_parts``: RWrist becomes LWrist, ``skeleton.flip``), and parts that leave the crop are
no longer labelled (``drop_outside``, as caffe_train marks them). ``augment`` does all of it.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .skeleton import COCO18, Skeleton


@dataclass(frozen=True)
class AugmentSpec:
    """caffe_train's COCO augmentation settings (ZC's pose_train_test.prototxt; LW's defaults).

    crop: output size in pixels (CMU 368); target_dist: the person's height as a fraction of
    the crop before the random multiplier (0.6); scale_min, scale_max: range of that multiplier;
    max_rotate: degrees either way; center_perturb: how far the crop centre moves either way, as
    a fraction of the crop (caffe_train: 40 pixels of 368, kept in proportion for other crops);
    flip_prob: chance of a horizontal flip; pad: the image's border value (the input pad 128);
    min_keypoints, min_area: which annotated people become samples (ZC's genJSON: >= 5 labelled
    keypoints, area >= 32 x 32).
    """

    crop: int = 368
    target_dist: float = 0.6
    scale_min: float = 0.5
    scale_max: float = 1.1
    max_rotate: float = 40.0
    center_perturb: float = 40.0 / 368.0
    flip_prob: float = 0.5
    pad: int = 128
    min_keypoints: int = 5
    min_area: float = 32.0 * 32.0

    def __post_init__(self) -> None:
        if self.crop < 8 or not 0 < self.scale_min <= self.scale_max or self.target_dist <= 0:
            raise ValueError(
                f"AugmentSpec needs crop >= 8, 0 < scale_min <= scale_max and target_dist > 0, got {self}"
            )
        if not 0 <= self.flip_prob <= 1 or self.max_rotate < 0 or self.center_perturb < 0:
            raise ValueError(
                f"AugmentSpec needs 0 <= flip_prob <= 1 and max_rotate, center_perturb >= 0: {self}"
            )


DEFAULT_AUGMENT = AugmentSpec()


@dataclass(frozen=True)
class Draw:
    """One sample's random choices: scale multiplier m, rotation (degrees), crop-centre shift, flip."""

    scale: float = 1.0
    degrees: float = 0.0
    shift: tuple[float, float] = (0.0, 0.0)
    flip: bool = False


def draw(rng: np.random.Generator, spec: AugmentSpec) -> Draw:
    """caffe_train's dice: each choice uniform in its range ((dice - 0.5) * 2 * max), flip by flip_prob."""
    u = rng.random(5)
    reach = spec.center_perturb * spec.crop  # pixels
    return Draw(
        scale=spec.scale_min + (spec.scale_max - spec.scale_min) * float(u[0]),
        degrees=(float(u[1]) - 0.5) * 2 * spec.max_rotate,
        shift=((float(u[2]) - 0.5) * 2 * reach, (float(u[3]) - 0.5) * 2 * reach),
        flip=bool(u[4] < spec.flip_prob),
    )


# ------------------------------------------------------------------ the steps, as 3 x 3 matrices


def scale_matrix(s: float) -> np.ndarray:
    """(3, 3): x -> s x (about the origin)."""
    return np.diag([s, s, 1.0])


def rotation_matrix(degrees: float) -> np.ndarray:
    """(3, 3): rotation about the origin, cv2.getRotationMatrix2D's sense (positive: anticlockwise)."""
    return np.vstack([cv2.getRotationMatrix2D((0.0, 0.0), degrees, 1.0), [0.0, 0.0, 1.0]])


def translation_matrix(dx: float, dy: float) -> np.ndarray:
    """(3, 3): x -> x + (dx, dy)."""
    return np.array([[1.0, 0.0, dx], [0.0, 1.0, dy], [0.0, 0.0, 1.0]])


def flip_matrix(width: int) -> np.ndarray:
    """(3, 3): x -> width - 1 - x (caffe_train's flip of a ``width``-pixel crop; centres at integers)."""
    return np.array([[-1.0, 0.0, width - 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])


def sample_matrix(center: tuple[float, float], height: float, d: Draw, spec: AugmentSpec) -> np.ndarray:
    """(2, 3) image -> crop matrix of one sample: scale, rotate about the person, crop, flip.

    center: the person's centre (x, y) in image pixels (its box centre, caffe_train's objpos);
    height: its height in pixels (box height: caffe_train's scale_self = height / 368), so that
    after scaling it is ``target_dist * crop * d.scale`` pixels tall. caffe_train rotates about
    the image centre and then crops around the rotated person: the same as rotating about the
    person. The person's centre lands at crop / 2 - shift (caffe_train crops at objpos + shift).
    """
    s = spec.target_dist * spec.crop / max(float(height), 1.0) * d.scale
    half = spec.crop / 2.0
    M = (
        translation_matrix(half - d.shift[0], half - d.shift[1])
        @ rotation_matrix(d.degrees)
        @ scale_matrix(s)
        @ translation_matrix(-center[0], -center[1])
    )
    if d.flip:
        M = flip_matrix(spec.crop) @ M
    return M[:2]


# --------------------------------------------------------------- applying one matrix to everything


def warp_image(image: np.ndarray, M: np.ndarray, crop: int, pad: int = 128) -> np.ndarray:
    """(H, W, 3) uint8 -> (crop, crop, 3): one bicubic resampling (caffe_train's INTER_CUBIC), border pad."""
    return cv2.warpAffine(
        image, M, (crop, crop), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_CONSTANT, borderValue=(pad,) * 3
    )


def warp_mask(ignore: np.ndarray, M: np.ndarray, crop: int) -> np.ndarray:
    """(H, W) bool, True = unannotated person -> (crop, crop) bool (nearest; outside the image: annotated).

    caffe_train pads mask_miss with 255, "annotated": the padding is background the network
    must learn, not a region it may ignore.
    """
    out = cv2.warpAffine(
        ignore.astype(np.uint8),
        M,
        (crop, crop),
        flags=cv2.INTER_NEAREST,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )
    return out > 0


def warp_keypoints(keypoints: np.ndarray, M: np.ndarray) -> np.ndarray:
    """(P, J, 3) [x, y, v] -> (P, J, 3): x, y through the (2, 3) M; v and unlabelled parts unchanged."""
    kp = np.array(keypoints, dtype=np.float32, copy=True)
    moved = kp[..., :2] @ M[:, :2].T.astype(np.float32) + M[:, 2].astype(np.float32)
    kp[..., :2] = np.where(kp[..., 2:] > 0, moved, kp[..., :2])
    return kp


def flip_parts(keypoints: np.ndarray, skeleton: Skeleton = COCO18) -> np.ndarray:
    """(P, J, 3) -> (P, J, 3) with left and right swapped (``skeleton.flip``): after a mirror, the
    point that was the right wrist is where a left wrist is seen (caffe_train's swapLeftRight)."""
    return np.asarray(keypoints)[..., list(skeleton.flip), :]


def drop_outside(keypoints: np.ndarray, crop: int) -> np.ndarray:
    """(P, J, 3) -> (P, J, 3) with v = 0 for parts outside the crop (caffe_train marks them
    isVisible = 2: no confidence peak, no PAF for their limbs)."""
    kp = np.array(keypoints, dtype=np.float32, copy=True)
    xy = kp[..., :2]
    inside = (xy >= 0).all(-1) & (xy <= crop - 1).all(-1)
    kp[..., 2] = np.where(inside, kp[..., 2], 0)
    kp[..., :2] = np.where(kp[..., 2:] > 0, kp[..., :2], 0)
    return kp


def augment(
    image: np.ndarray,
    ignore: np.ndarray,
    keypoints: np.ndarray,
    center: tuple[float, float],
    height: float,
    d: Draw,
    spec: AugmentSpec,
    skeleton: Skeleton = COCO18,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One training sample: (image (crop, crop, 3) uint8, ignore (crop, crop) bool, keypoints (P, J, 3)).

    image (H, W, 3) uint8, ignore (H, W) bool, keypoints (P, J, 3) of everyone labelled in the
    image (the centred person and the others, all kept in the targets), center / height: the
    person this sample is centred on. One matrix (``sample_matrix``) moves all three.
    """
    M = sample_matrix(center, height, d, spec)
    kp = warp_keypoints(keypoints, M)
    if d.flip:
        kp = flip_parts(kp, skeleton)
    return (
        warp_image(image, M, spec.crop, spec.pad),
        warp_mask(ignore, M, spec.crop),
        drop_outside(kp, spec.crop),
    )
