"""datasets.py: the synthetic Dataset's targets, DataLoader workers, the held-out validation set,
a COCO file's letterboxed items and the batches (collate)."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from openpose_edu import groundtruth
from openpose_edu.datasets import (
    N_VAL,
    CocoKeypointDataset,
    SyntheticPoseDataset,
    collate,
    letterbox,
    validation_scenes,
    validation_set,
)
from openpose_edu.skeleton import N_PARTS
from openpose_edu.synthetic import VALIDATION_SEED, make_scene


def test_dataset_targets_equal_groundtruth() -> None:
    ds = SyntheticPoseDataset(3, seed=11, size=(96, 128), max_people=4)
    assert ds.grid_size == (12, 16)
    for i in range(len(ds)):
        item = ds[i]
        scene = make_scene(11, i, size=(96, 128), max_people=4)
        P = scene.keypoints.shape[0]
        assert item["n_people"] == P
        assert item["image"].shape == (3, 96, 128) and item["image"].dtype == torch.uint8
        np.testing.assert_array_equal(item["image"].permute(1, 2, 0).numpy(), scene.image)
        kps = item["keypoints"]
        assert kps.shape == (4, N_PARTS, 3)
        np.testing.assert_array_equal(kps[:P].numpy(), scene.keypoints)
        assert torch.all(kps[P:] == 0)  # padding people: v = 0 everywhere
        S = groundtruth.confidence_maps(scene.keypoints, grid_size=(12, 16), stride=8, sigma=7.0)
        L = groundtruth.part_affinity_fields(scene.keypoints, grid_size=(12, 16), stride=8)
        W = groundtruth.loss_mask(scene.ignore, grid_size=(12, 16), stride=8)
        torch.testing.assert_close(item["S"], S[0], rtol=0, atol=1e-6)
        torch.testing.assert_close(item["L"], L[0], rtol=0, atol=1e-6)
        torch.testing.assert_close(item["W"], W[0], rtol=0, atol=0)
        assert item["S"].shape == (19, 12, 16) and item["L"].shape == (38, 12, 16)


def test_dataloader_with_workers_matches_single_process() -> None:
    ds = SyntheticPoseDataset(4, seed=2, size=(64, 64), max_people=3)
    with_workers = next(iter(DataLoader(ds, batch_size=4, num_workers=2)))
    in_process = next(iter(DataLoader(ds, batch_size=4, num_workers=0)))
    for key in ("image", "keypoints", "n_people", "S", "L", "W"):
        assert torch.equal(with_workers[key], in_process[key]), key


def test_validation_set_is_held_out() -> None:
    val = validation_set(3, size=(64, 64))
    assert val.seed == VALIDATION_SEED and len(val) == 3
    train = SyntheticPoseDataset(3, seed=0, size=(64, 64))
    assert not torch.equal(val[0]["image"], train[0]["image"])


def test_missing_coco_paths_are_reported(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="annotation file"):
        CocoKeypointDataset(tmp_path / "none.json", tmp_path)
    (tmp_path / "a.json").write_text("{}")
    with pytest.raises(FileNotFoundError, match="image folder"):
        CocoKeypointDataset(tmp_path / "a.json", tmp_path / "no_images")


def test_coco_dataset_items(tmp_path) -> None:
    (tmp_path / "img").mkdir()
    cv2.imwrite(str(tmp_path / "img" / "a.png"), np.full((40, 80, 3), 90, np.uint8))
    kps = np.zeros((17, 3))
    kps[5] = [20, 10, 2]  # left shoulder
    kps[6] = [30, 10, 2]  # right shoulder
    anns = [
        {"id": 1, "image_id": 1, "category_id": 1, "keypoints": kps.reshape(-1).tolist(), "num_keypoints": 2,
         "bbox": [15, 5, 20, 30], "area": 600, "iscrowd": 0},
        {"id": 2, "image_id": 1, "category_id": 1, "keypoints": [0] * 51, "num_keypoints": 0,
         "bbox": [50, 0, 30, 40], "area": 1200, "iscrowd": 0,
         "segmentation": [[50, 0, 80, 0, 80, 40, 50, 40]]},
    ]  # fmt: skip
    coco = {
        "images": [{"id": 1, "file_name": "a.png", "height": 40, "width": 80}],
        "annotations": anns,
        "categories": [{"id": 1, "name": "person"}],
    }
    (tmp_path / "k.json").write_text(json.dumps(coco))
    item = CocoKeypointDataset(tmp_path / "k.json", tmp_path / "img", crop=64)[0]
    assert item["image"].shape == (3, 64, 64) and item["image"].dtype == torch.uint8
    assert item["S"].shape == (19, 8, 8) and item["L"].shape == (38, 8, 8) and item["W"].shape == (1, 8, 8)
    # the image is scaled by 64/80: the Neck (mean of the shoulders, x=25, y=10) lands near (20, 8)
    neck = item["S"][1]
    gy, gx = divmod(int(neck.argmax()), 8)
    assert (gx, gy) == (2, 1)
    # the unlabelled person (right side) is masked out, the labelled one is not
    assert item["W"][0, :4, 6:].max() == 0 and item["W"][0, 1, 2] == 1
    assert item["W"][0, 4:].min() == 1  # the padding below the image counts as annotated
    fine = CocoKeypointDataset(
        tmp_path / "k.json", tmp_path / "img", crop=64, spec=groundtruth.TargetSpec(stride=4)
    )[0]
    assert fine["S"].shape == (19, 16, 16) and fine["W"].shape == (1, 16, 16)
    assert divmod(int(fine["S"][1].argmax()), 16)[::-1] == (5, 2)  # the Neck at (20, 8) / 4
    narrow = CocoKeypointDataset(
        tmp_path / "k.json", tmp_path / "img", crop=64, spec=groundtruth.TargetSpec(stride=4, sigma=2.0)
    )[0]
    assert narrow["S"][1].argmax() == fine["S"][1].argmax() and narrow["S"][1].sum() < fine["S"][1].sum()


def test_validation_scenes_are_the_validation_sets_scenes() -> None:
    val = validation_set(2, size=(64, 64), targets=False)
    scenes = validation_scenes(2, size=(64, 64))
    assert N_VAL == 200 and len(scenes) == 2
    for i, scene in enumerate(scenes):
        assert scene.seed == VALIDATION_SEED
        np.testing.assert_array_equal(scene.image, val.scene(i).image)


def test_dataset_clear_errors() -> None:
    with pytest.raises(ValueError, match="multiple of stride"):
        SyntheticPoseDataset(1, size=(100, 100), spec=groundtruth.TargetSpec(stride=8))
    with pytest.raises(ValueError, match="seed"):
        SyntheticPoseDataset(1, seed=-1)
    with pytest.raises(IndexError):
        SyntheticPoseDataset(2)[2]


def test_letterbox_scales_the_longer_side_and_pads() -> None:
    image = np.full((40, 80, 3), 90, np.uint8)
    out, scale = letterbox(image, 64)
    assert out.shape == (64, 64, 3) and scale == 64 / 80
    assert (out[:32] == 90).all() and (out[32:] == 128).all()
    mask, _ = letterbox(np.ones((40, 80), bool), 64, pad=0, interpolation=cv2.INTER_NEAREST)
    assert mask.shape == (64, 64) and mask[:32].all() and not mask[32:].any()


def test_collate_stacks_items_and_names_a_missing_key() -> None:
    item = {"image": torch.zeros(8, 8, 3, dtype=torch.uint8), "S": torch.zeros(19, 1, 1),
            "L": torch.zeros(38, 1, 1), "W": torch.ones(1, 1)}  # fmt: skip
    batch = collate([item, item])
    assert batch["image"].shape == (2, 3, 8, 8) and batch["W"].shape == (2, 1, 1, 1)
    with pytest.raises(KeyError, match="'W'"):
        collate([{k: v for k, v in item.items() if k != "W"}])
