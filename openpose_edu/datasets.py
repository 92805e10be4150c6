"""The data sets training and evaluation read: synthetic scenes, a COCO keypoint file, the validation set.

Every training item is a dict ``image`` (3, H, W) uint8 RGB, ``S`` (19, h, w), ``L`` (38, h, w)
and ``W`` (1, h, w) float32: the raw image and its targets S* (Eq. 6-7), L* (Eq. 8-9) and loss
mask W(p) (Eq. 3-4) from ``groundtruth.targets``, h = H / stride; ``collate`` stacks items into
the batch of ``train``'s step.

* ``SyntheticPoseDataset``: scene i of a data seed (``synthetic.make_scene``), rendered on the fly.
* ``CocoKeypointDataset``: a COCO person_keypoints JSON + image folder, letterboxed (``letterbox``).
* The one held-out validation set: ``N_VAL`` scenes of ``synthetic.VALIDATION_SEED`` at
  ``VAL_SIZE`` (``validation_set`` with targets, ``validation_scenes`` the scenes alone).
  Training refuses that seed, so no validation scene is ever trained on.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from torch import Tensor
from torch.utils.data import Dataset

from .groundtruth import DEFAULT_TARGETS, TargetSpec, coco_to_openpose
from .skeleton import N_PARTS
from .synthetic import VALIDATION_SEED, Scene, SceneConfig, check_size, make_scene

N_VAL = 200  # scenes in the validation set
VAL_SIZE = (256, 256)  # (H, W) of the validation scenes: the bundled model's input box


# ------------------------------------------------------------------------------ synthetic scenes


class SyntheticPoseDataset(Dataset):
    """A torch Dataset of synthetic scenes with the training targets S*, L*, W drawn under ``spec``.

    Item i is ``make_scene(seed, i, size, max_people)`` and a dict:
    ``image`` uint8 (3, H, W) RGB; ``keypoints`` float32 (max_people, 18, 3), padded with v = 0;
    ``n_people`` int; ``S`` float32 (19, h, w) (Eq. 6-7), ``L`` float32 (38, h, w) (Eq. 8-9) and
    ``W`` float32 (1, h, w) (the mask of Eq. 3-4) from openpose_edu.groundtruth, h = H / stride.
    Scenes are made on the fly (a few ms each), deterministic per (seed, index), so the set can
    be as long as training needs and works with DataLoader workers.
    """

    def __init__(
        self,
        length: int,
        seed: int = 0,
        size: tuple[int, int] = (256, 256),
        max_people: int = 6,
        spec: TargetSpec = DEFAULT_TARGETS,
        config: SceneConfig | None = None,
        targets: bool = True,
    ) -> None:
        H, W = check_size(size)
        stride = spec.stride
        if H % stride or W % stride:
            raise ValueError(
                f"size {size} must be a multiple of stride {stride} (e.g. {(H // stride) * stride})"
            )
        if length < 0:
            raise ValueError(f"length must be >= 0, got {length}")
        if not 0 <= seed <= VALIDATION_SEED:
            raise ValueError(f"seed must be in [0, {VALIDATION_SEED}], got {seed}")
        self.length, self.seed, self.size = int(length), int(seed), (H, W)
        self.max_people, self.spec = int(max_people), spec
        self.config = config or SceneConfig()
        self.targets = targets

    @property
    def stride(self) -> int:
        return self.spec.stride

    @property
    def grid_size(self) -> tuple[int, int]:
        return self.size[0] // self.stride, self.size[1] // self.stride

    def __len__(self) -> int:
        return self.length

    def scene(self, index: int) -> Scene:
        """The Scene behind item ``index``."""
        if not 0 <= index < self.length:
            raise IndexError(f"index {index} out of range for a dataset of length {self.length}")
        return make_scene(self.seed, index, self.size, self.max_people, self.config)

    def __getitem__(self, index: int) -> dict[str, Tensor | int]:
        scene = self.scene(index)
        P = scene.keypoints.shape[0]
        if P > self.max_people:  # cannot happen with make_scene, but guards the padding below
            raise ValueError(f"scene has {P} people, more than max_people={self.max_people}")
        kps = np.zeros((self.max_people, N_PARTS, 3), dtype=np.float32)
        kps[:P] = scene.keypoints
        item: dict[str, Tensor | int] = {
            "image": torch.from_numpy(np.ascontiguousarray(scene.image.transpose(2, 0, 1))),
            "keypoints": torch.from_numpy(kps),
            "n_people": P,
        }
        if self.targets:
            item.update(self.make_targets(torch.from_numpy(kps), torch.from_numpy(scene.ignore)))
        return item

    def make_targets(self, keypoints: Tensor, ignore: Tensor) -> dict[str, Tensor]:
        """S* (19, h, w), L* (38, h, w), W (1, h, w) of one scene: ``groundtruth.targets`` (Eq. 3-9).

        keypoints: (max_people, 18, 3) float32 in image pixels; ignore: (H, W) bool.
        """
        S, L, W = self.spec.maps(keypoints[None], ignore[None], grid_size=self.grid_size)
        return {"S": S[0], "L": L[0], "W": W[0]}


# ---------------------------------------------------------------------------- the validation set


def validation_set(
    n: int = N_VAL, size: tuple[int, int] = VAL_SIZE, max_people: int = 6, **kwargs: Any
) -> SyntheticPoseDataset:
    """The held-out synthetic validation set: ``n`` scenes of the reserved ``VALIDATION_SEED``.

    Training uses seeds below ``VALIDATION_SEED``, so no validation scene is ever trained on.
    kwargs: ``SyntheticPoseDataset``'s (``spec``: the targets' ``TargetSpec``, ``targets``, ...)
    and ``seed`` (another seed's scenes, built the same way: ``evaluate.SELECTION_SEED``'s).
    """
    kwargs.setdefault("seed", VALIDATION_SEED)
    return SyntheticPoseDataset(n, size=size, max_people=max_people, **kwargs)


def validation_scenes(
    n: int = N_VAL, seed: int = VALIDATION_SEED, size: tuple[int, int] = VAL_SIZE
) -> list[Scene]:
    """The validation set's scenes alone (no targets): ``synthetic.make_scene(seed, i, size)`` for i < n."""
    return [make_scene(seed, i, size=size) for i in range(n)]


# --------------------------------------------------------------------------------- COCO files


def letterbox(
    image: np.ndarray, crop: int, pad: int = 128, interpolation: int = cv2.INTER_AREA
) -> tuple[np.ndarray, float]:
    """Scale ``image`` (H, W[, C]) so its longer side is ``crop`` px, pad right/bottom to crop x crop.

    Returns (the crop x crop image, the scale factor: crop pixels per image pixel). ``pad`` 128 is
    the original's pad value for images; a bool mask is scaled with ``INTER_NEAREST``, pad 0.
    """
    H, W = image.shape[:2]
    scale = crop / max(H, W)
    h, w = round(H * scale), round(W * scale)
    src = image.astype(np.uint8) if image.dtype == bool else np.ascontiguousarray(image)
    out = np.full((crop, crop, *src.shape[2:]), pad, np.uint8)
    out[:h, :w] = cv2.resize(src, (w, h), interpolation=interpolation)
    return out, scale


def coco_labels(anns: list[dict], shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """One image's COCO annotations -> everyone labelled as OpenPose-18 keypoints (P, 18, 3)
    float32, and the (H, W) bool mask W = 0 of the rest: people without keypoints and crowds
    (caffe_train's mask_miss), each by its segmentation, else its box."""
    is_labelled = [a.get("num_keypoints", 0) > 0 and not a.get("iscrowd", 0) for a in anns]
    kps17 = np.array([a["keypoints"] for a, ok in zip(anns, is_labelled) if ok], np.float32)
    kps17 = kps17.reshape(-1, 17, 3)
    ignore = np.zeros(shape, bool)
    for a, ok in zip(anns, is_labelled):
        if not ok and (a.get("segmentation") or "bbox" in a):
            ignore |= _region(a, shape)
    return np.asarray(coco_to_openpose(kps17), np.float32).reshape(-1, 18, 3), ignore


def _region(ann: dict, shape: tuple[int, int]) -> np.ndarray:
    """(H, W) bool region of an annotation: its segmentation (polygons or RLE), else its box."""
    H, W = shape
    seg = ann.get("segmentation")
    if seg:
        if isinstance(seg, list):
            rle = mask_utils.merge(mask_utils.frPyObjects(seg, H, W))
        elif isinstance(seg.get("counts"), list):
            rle = mask_utils.frPyObjects(seg, H, W)
        else:
            rle = seg
        return mask_utils.decode(rle).astype(bool)
    out = np.zeros(shape, bool)
    x, y, w, h = (int(round(v)) for v in ann["bbox"])
    out[max(y, 0) : y + h, max(x, 0) : x + w] = True
    return out


def coco_paths(annotations: str | Path, images: str | Path) -> tuple[Path, Path]:
    """A person_keypoints JSON and its image folder, both checked to exist (FileNotFoundError naming each)."""
    annotations, images = Path(annotations), Path(images)
    if not annotations.is_file():
        raise FileNotFoundError(f"COCO annotation file not found: {annotations} (a person_keypoints JSON)")
    if not images.is_dir():
        raise FileNotFoundError(f"COCO image folder not found: {images} (the images the JSON names)")
    return annotations, images


class CocoKeypointDataset(Dataset):
    """A COCO-format keypoint data set as training items (images letterboxed to crop x crop).

    Each image is scaled so that its longer side is ``crop`` pixels and padded with 128 (the
    original pad value); keypoints go through ``groundtruth.coco_to_openpose`` (COCO-17 ->
    OpenPose-18, Neck = mean of the shoulders); people without keypoints and crowd regions are
    masked out of the loss (W = 0), as caffe_train's mask_miss does. No augmentation: simple,
    for a user who wants to fine-tune on their own annotations. ``spec``: the targets'
    ``groundtruth.TargetSpec`` (stride, widths in pixels of the crop; its variant and mask method).
    """

    def __init__(
        self,
        annotations: str | Path,
        images: str | Path,
        crop: int = 368,
        spec: TargetSpec = DEFAULT_TARGETS,
    ) -> None:
        stride = spec.stride
        if crop % stride:  # SyntheticPoseDataset checks its size the same way
            raise ValueError(f"crop {crop} must be a multiple of the network's stride {stride}")
        annotations, images = coco_paths(annotations, images)
        with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints progress
            self.coco = COCO(str(annotations))
        self.images = images
        self.crop, self.spec, self.stride = crop, spec, stride
        self.ids = sorted(self.coco.getImgIds(catIds=self.coco.getCatIds(catNms=["person"])))
        if not self.ids:
            raise ValueError(f"{annotations} has no images with 'person' annotations")

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        info = self.coco.loadImgs(self.ids[index])[0]
        path = self.images / info["file_name"]
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise FileNotFoundError(f"cannot read image {path} (named in the COCO annotations)")
        image, scale = letterbox(bgr[..., ::-1], self.crop)  # BGR -> RGB
        anns = self.coco.loadAnns(self.coco.getAnnIds(imgIds=info["id"], iscrowd=None))
        keypoints, ignore = coco_labels(anns, bgr.shape[:2])
        ignore_crop = letterbox(ignore, self.crop, pad=0, interpolation=cv2.INTER_NEAREST)[0] > 0
        kps = torch.from_numpy(keypoints)
        kps[..., :2] *= scale
        grid = (self.crop // self.stride, self.crop // self.stride)
        maps = self.spec.maps(kps[None], ignore_crop[None], grid_size=grid)
        S, L, Wm = (t[0] for t in maps)
        return {"image": torch.as_tensor(image.copy()).permute(2, 0, 1), "S": S, "L": L, "W": Wm}


# ------------------------------------------------------------------------------------- batches


def collate(items: Sequence[Any]) -> dict[str, Tensor]:
    """Stack dataset items into a batch dict: image (N,3,H,W) uint8 RGB, S, L, W float32."""
    batch: dict[str, list[Tensor]] = {"image": [], "S": [], "L": [], "W": []}
    for item in items:
        item = _as_item(item)
        for key in batch:
            batch[key].append(item[key])
    return {key: torch.stack(value) for key, value in batch.items()}


def _as_item(item: Any) -> dict[str, Tensor]:
    """One dataset item as {image (3,H,W) uint8, S (19,h,w), L (38,h,w), W (1,h,w)}.

    An (H, W, 3) image is made (3, H, W) and an (h, w) mask (1, h, w); S, L, W become float32.
    """
    if not isinstance(item, dict):
        raise TypeError(f"dataset items must be dicts, got {type(item).__name__}")
    missing = [key for key in ("image", "S", "L", "W") if key not in item]
    if missing:
        raise KeyError(
            f"dataset item has no {missing} (expected 'image', 'S', 'L', 'W'); it has {sorted(item)}"
        )
    image = torch.as_tensor(item["image"])
    if image.ndim == 3 and image.shape[-1] == 3 and image.shape[0] != 3:
        image = image.permute(2, 0, 1)  # HWC -> CHW
    W = torch.as_tensor(item["W"]).float()
    return {
        "image": image,
        "S": torch.as_tensor(item["S"]).float(),
        "L": torch.as_tensor(item["L"]).float(),
        "W": W[None] if W.ndim == 2 else W,
    }
