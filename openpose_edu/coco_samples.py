"""COCO training samples as CMU made them: one per annotated person, augmented (``augment.py``).

``CocoPersonDataset`` reads a COCO person_keypoints JSON and its image folder. Each annotated
person (>= 5 keypoints, area >= 32 x 32, not a crowd: ZC's genJSON) is one sample: the crop is
centred on that person, scaled to its height, rotated and flipped at random, and the targets
S* (Eq. 6-7), L* (Eq. 8-9) hold every labelled person in the crop; the mask W (Eq. 3-4) is 0
on people without keypoints and on crowds, carried through the same matrix as the pixels.

Item ``i`` of the data set is a pure function of (seed, i): epoch ``i // n`` visits the n
people in its own random order and every draw comes from ``numpy.random.default_rng((seed, i))``,
so training on it resumes bit for bit (train.py's data order is a function of the step).

``write_coco_scenes`` saves synthetic scenes as such a data set (images + JSON): the tests,
the benchmark and notebook 08 train on it without downloading COCO.
"""

from __future__ import annotations

import contextlib
import io
import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from torch import Tensor
from torch.utils.data import Dataset

from .augment import DEFAULT_AUGMENT, AugmentSpec, Draw, augment, draw
from .coco import scenes_ground_truth
from .datasets import coco_labels, coco_paths
from .groundtruth import DEFAULT_TARGETS, TargetSpec
from .synthetic import SceneConfig, make_scene


@dataclass
class Sample:
    """One augmented sample before its targets: image (crop, crop, 3) uint8 RGB, ignore
    (crop, crop) bool (True: unannotated), keypoints (P, 18, 3) of everyone labelled, the draw."""

    image: np.ndarray
    ignore: np.ndarray
    keypoints: np.ndarray
    draw: Draw


class CocoPersonDataset(Dataset):
    """COCO keypoints as CMU trained on them: person-centred, augmented crops with targets.

    annotations: COCO person_keypoints JSON; images: its image folder; augment_spec: the
    augmentation (``AugmentSpec``: crop size, ranges); spec: the targets' ``TargetSpec``
    (stride = the network's); length: items (default: one epoch, one per person; ``train``
    asks for steps x batch); seed: the draws and the epoch orders; augmentation False: every
    draw is ``Draw()`` (scale 1, no rotation, shift or flip: the person centred at target size).
    Items: ``image`` (3, crop, crop) uint8 RGB, ``S`` (19, h, w), ``L`` (38, h, w), ``W`` (1, h, w).
    """

    def __init__(
        self,
        annotations: str | Path,
        images: str | Path,
        augment_spec: AugmentSpec = DEFAULT_AUGMENT,
        spec: TargetSpec = DEFAULT_TARGETS,
        length: int | None = None,
        seed: int = 0,
        augmentation: bool = True,
    ) -> None:
        annotations, images = coco_paths(annotations, images)
        if augment_spec.crop % spec.stride:
            raise ValueError(
                f"crop {augment_spec.crop} must be a multiple of the network's stride {spec.stride}"
            )
        with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints progress
            self.coco = COCO(str(annotations))
        self.images, self.augment_spec, self.spec = images, augment_spec, spec
        self.seed, self.augmentation = int(seed), augmentation
        self.people = self._people()  # annotation ids, one sample each
        if not self.people:
            raise ValueError(
                f"{annotations} has no person with >= {augment_spec.min_keypoints} keypoints and area >= "
                f"{augment_spec.min_area:g}: nothing to train on"
            )
        self.length = len(self.people) if length is None else int(length)
        self._order: tuple[int, np.ndarray] = (-1, np.zeros(0, np.int64))  # (epoch, its order of the people)

    def _people(self) -> list[int]:
        """Annotation ids of the people that become samples (ZC's genJSON filter), sorted."""
        s = self.augment_spec
        return sorted(
            a["id"]
            for a in self.coco.dataset["annotations"]
            if not a.get("iscrowd", 0)
            and a.get("num_keypoints", 0) >= s.min_keypoints
            and a["area"] >= s.min_area
        )

    def __len__(self) -> int:
        return self.length

    def person_of(self, index: int) -> int:
        """Annotation id of item ``index``: epoch ``index // n`` visits the n people in a random order."""
        n = len(self.people)
        epoch, k = divmod(index, n)
        if self._order[0] != epoch:  # one permutation per epoch, not per item (2 ms at 150k people)
            self._order = (epoch, np.random.default_rng((self.seed, 1 << 30, epoch)).permutation(n))
        return self.people[int(self._order[1][k])]

    def sample(self, index: int) -> Sample:
        """Item ``index`` before its targets (``Sample``): the person's crop, its mask and keypoints."""
        if not 0 <= index < self.length:
            raise IndexError(f"index {index} out of range for a dataset of length {self.length}")
        ann = self.coco.anns[self.person_of(index)]
        info = self.coco.imgs[ann["image_id"]]
        path = self.images / info["file_name"]
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise FileNotFoundError(f"cannot read image {path} (named in the COCO annotations)")
        anns = self.coco.imgToAnns[ann["image_id"]]
        keypoints, ignore = coco_labels(anns, bgr.shape[:2])
        x, y, w, h = ann["bbox"]
        d = (
            draw(np.random.default_rng((self.seed, index)), self.augment_spec)
            if self.augmentation
            else Draw()
        )
        image, mask, kp = augment(
            bgr[..., ::-1], ignore, keypoints, (x + w / 2, y + h / 2), h, d, self.augment_spec
        )
        return Sample(image=image, ignore=mask, keypoints=kp, draw=d)

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        s = self.sample(index)
        grid = (self.augment_spec.crop // self.spec.stride,) * 2
        S, L, W = self.spec.maps(
            torch.from_numpy(s.keypoints)[None], torch.from_numpy(s.ignore)[None], grid_size=grid
        )
        image = torch.from_numpy(np.ascontiguousarray(s.image.transpose(2, 0, 1)))
        return {"image": image, "S": S[0], "L": L[0], "W": W[0]}


def write_coco_scenes(
    folder: str | Path,
    n: int,
    seed: int = 0,
    size: tuple[int, int] = (240, 320),
    max_people: int = 4,
    config: SceneConfig | None = None,
) -> tuple[Path, Path]:
    """Save ``n`` synthetic scenes (``synthetic.make_scene(seed, i, size, max_people, config)``) as COCO.

    Writes ``folder/images/{i}.png`` and ``folder/person_keypoints.json``: the labelled people
    with their keypoints (``coco.scenes_ground_truth``), each unlabelled person's region as an
    annotation without keypoints whose segmentation is its RLE mask. Returns (JSON, image folder).
    """
    folder = Path(folder)
    (folder / "images").mkdir(parents=True, exist_ok=True)
    scenes = [make_scene(seed, i, size, max_people, config) for i in range(n)]
    gt = scenes_ground_truth(scenes)
    for image_id, scene in enumerate(scenes, start=1):
        cv2.imwrite(str(folder / "images" / f"{image_id}.png"), scene.image[..., ::-1])
    for a in gt["annotations"]:
        if a["num_keypoints"] == 0:  # an unlabelled person: its exact pixels, as COCO gives them
            x, y, w, h = (int(v) for v in a["bbox"])
            region = np.zeros(scenes[a["image_id"] - 1].ignore.shape, np.uint8, order="F")
            region[y : y + h, x : x + w] = scenes[a["image_id"] - 1].ignore[y : y + h, x : x + w]
            rle = mask_utils.encode(region)
            a["segmentation"] = {"size": rle["size"], "counts": rle["counts"].decode("ascii")}
    path = folder / "person_keypoints.json"
    path.write_text(json.dumps(gt))
    return path, folder / "images"
