"""augment.py and coco_samples.py: keypoints and masks move with the pixels; the COCO samples."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openpose_edu.augment import (
    AugmentSpec,
    Draw,
    augment,
    draw,
    drop_outside,
    flip_parts,
    sample_matrix,
    warp_keypoints,
)
from openpose_edu.coco_samples import CocoPersonDataset, write_coco_scenes
from openpose_edu.groundtruth import TargetSpec
from openpose_edu.skeleton import COCO18, part_index
from openpose_edu.synthetic import SceneConfig

H, W, CROP = 120, 160, 96
SPEC = AugmentSpec(crop=CROP)
HEIGHT = SPEC.target_dist * CROP  # a person this tall is scaled by the draw's multiplier alone
CENTER = (W / 2, H / 2)


def coded_dots() -> tuple[np.ndarray, np.ndarray]:
    """18 parts on a 6 x 3 grid, each a 9 x 9 dot whose red value codes the part (40 + 10 j)."""
    image = np.zeros((H, W, 3), np.uint8)
    kps = np.zeros((1, 18, 3), np.float32)
    for j in range(18):
        x, y = CENTER[0] + 16 * (j % 6 - 2.5), CENTER[1] + 16 * (j // 6 - 1)
        kps[0, j] = (x, y, 2)
        xi, yi = int(x), int(y)
        kps[0, j, :2] = (xi, yi)
        image[yi - 4 : yi + 5, xi - 4 : xi + 5] = (40 + 10 * j, 255, 0)
    return image, kps


draws = st.builds(
    Draw,
    scale=st.floats(1.0, 1.5),
    degrees=st.floats(-40, 40),
    shift=st.tuples(st.floats(-20, 20), st.floats(-20, 20)),
    flip=st.booleans(),
)


@settings(max_examples=40, deadline=None)
@given(d=draws)
def test_a_keypoint_drawn_as_a_dot_stays_on_its_dot(d: Draw) -> None:
    """After scale, rotation, crop and flip, part j sits on the dot of the part it came from
    (itself, or its mirror part when flipped: RWrist's dot is now the LWrist)."""
    image, kps = coded_dots()
    out, _, kp = augment(image, np.zeros((H, W), bool), kps, CENTER, HEIGHT, d, SPEC)
    seen = 0
    for j in range(18):
        x, y, v = kp[0, j]
        if v == 0:
            continue
        source = COCO18.flip[j] if d.flip else j
        assert out[int(round(y)), int(round(x)), 0] == 40 + 10 * source, (j, d)
        seen += 1
    assert seen >= 9  # most parts stay in the crop (shift <= 20, scale <= 1.5)


@settings(max_examples=25, deadline=None)
@given(d=draws, cx=st.floats(30, 130), cy=st.floats(30, 90), r=st.floats(6, 20))
def test_the_mask_moves_with_the_pixels(d: Draw, cx: float, cy: float, r: float) -> None:
    """A disc painted in the image and set in the mask: after augment the two still coincide."""
    yy, xx = np.mgrid[:H, :W]
    disc = (xx - cx) ** 2 + (yy - cy) ** 2 <= r**2
    image = np.zeros((H, W, 3), np.uint8)
    image[disc] = (255, 0, 0)  # green stays 0 in the image: green 128 is padding
    out, mask, _ = augment(image, disc, np.zeros((0, 18, 3)), CENTER, HEIGHT, d, SPEC)
    painted = out[..., 0] > 191  # the disc (255), not the background (0) or the padding (128)
    near = np.ones((3, 3), np.uint8)  # the two resamplings (cubic, nearest) differ by <= 1 px at the edge
    off_mask = painted & ~cv2.dilate(mask.astype(np.uint8), near).astype(bool)
    off_paint = mask & ~cv2.dilate(painted.astype(np.uint8), near).astype(bool)
    # (the crop's outer ring has no neighbour beyond it to be within 1 px of)
    assert not off_mask[1:-1, 1:-1].any() and not off_paint[1:-1, 1:-1].any()
    if max(painted.sum(), mask.sum()) >= 20:  # more than a sliver of the disc in the crop
        assert (painted & mask).sum() >= 0.5 * max(painted.sum(), mask.sum())
    # the padding outside the image is grey 128 and annotated (caffe_train pads mask_miss with 255)
    assert not mask[out[..., 1] == 128].any()


def test_nothing_moves_without_a_draw() -> None:
    """Draw() on a person of target size, centred, crop = image: the same pixels, mask and points."""
    spec = AugmentSpec(crop=H)
    image, kps = coded_dots()
    image = image[:, 20:140]
    kps[..., 0] -= 20
    ignore = np.zeros((H, H), bool)
    ignore[10:30, 50:90] = True
    out, mask, kp = augment(image, ignore, kps, (H / 2, H / 2), spec.target_dist * H, Draw(), spec)
    assert np.array_equal(out, image) and np.array_equal(mask, ignore)
    np.testing.assert_allclose(kp, kps, atol=1e-4)


def test_scale_is_relative_to_the_person() -> None:
    """A person twice as tall is scaled half as much: both end target_dist * crop * m tall."""
    for height in (50.0, 100.0):
        M = sample_matrix((0.0, 0.0), height, Draw(scale=0.8), SPEC)
        top, bottom = warp_keypoints(np.array([[[0, 0, 2], [0, height, 2]]], np.float32), M)[0, :, :2]
        assert np.linalg.norm(bottom - top) == pytest.approx(SPEC.target_dist * CROP * 0.8, rel=1e-5)


def test_flip_swaps_left_and_right() -> None:
    kps = np.random.default_rng(0).uniform(0, 50, size=(2, 18, 3)).astype(np.float32)
    swapped = flip_parts(kps)
    assert np.array_equal(swapped[:, part_index("LWrist")], kps[:, part_index("RWrist")])
    assert np.array_equal(swapped[:, part_index("Nose")], kps[:, part_index("Nose")])
    assert np.array_equal(flip_parts(swapped), kps)


def test_parts_outside_the_crop_are_unlabelled() -> None:
    kps = np.array([[[-1, 5, 2], [5, 5, 2], [5, CROP, 1], [3, 3, 0]]], np.float32)
    out = drop_outside(kps, CROP)
    assert out[0, :, 2].tolist() == [0, 2, 0, 0]
    assert out[0, 0, :2].tolist() == [0, 0]


def test_draws_cover_caffe_trains_ranges() -> None:
    rng = np.random.default_rng(0)
    ds = [draw(rng, SPEC) for _ in range(400)]
    scales, degrees = np.array([d.scale for d in ds]), np.array([d.degrees for d in ds])
    assert SPEC.scale_min <= scales.min() < 0.55 and 1.05 < scales.max() <= SPEC.scale_max
    assert -40 <= degrees.min() < -35 and 35 < degrees.max() <= 40
    assert 0.4 < np.mean([d.flip for d in ds]) < 0.6


@pytest.fixture(scope="module")
def coco_set(tmp_path_factory):
    """Six scenes, each with unlabelled people (masked, W = 0)."""
    return write_coco_scenes(
        tmp_path_factory.mktemp("coco"), 6, size=(120, 160), config=SceneConfig(p_unlabelled=1.0)
    )


def test_one_sample_per_person_in_a_random_order_per_epoch(coco_set) -> None:
    ds = CocoPersonDataset(*coco_set, AugmentSpec(crop=64), TargetSpec(stride=8), length=100)
    n = len(ds.people)
    assert n >= 4
    first, second = [ds.person_of(i) for i in range(n)], [ds.person_of(i) for i in range(n, 2 * n)]
    assert sorted(first) == sorted(second) == ds.people and first != second
    # a pure function of the index, in any reading order (each epoch's order is kept between items)
    shuffled = [ds.person_of(i) for i in (2 * n - 1, 0, n, 1, n + 1)]
    assert shuffled == [second[-1], first[0], second[0], first[1], second[1]]
    a, b = ds[5], ds[5]
    assert all(np.array_equal(a[k], b[k]) for k in a)  # a pure function of (seed, index)
    assert a["image"].shape == (3, 64, 64) and a["S"].shape == (19, 8, 8) and a["W"].shape == (1, 8, 8)
    other = CocoPersonDataset(*coco_set, AugmentSpec(crop=64), TargetSpec(stride=8), length=100, seed=1)
    assert not np.array_equal(other[5]["image"], a["image"])


def test_unannotated_people_are_masked_in_the_samples(coco_set) -> None:
    """Scenes with unlabelled people: their regions reach the crops as W = 0."""
    ds = CocoPersonDataset(*coco_set, AugmentSpec(crop=64), TargetSpec(stride=8), augmentation=False)
    masked = [ds.sample(i).ignore.any() for i in range(len(ds))]
    assert sum(masked) >= 2
    lowest = [float(ds[i]["W"].min()) for i in range(len(ds))]
    assert 0.0 in lowest  # a masked region covers the majority of a grid cell somewhere
    assert all(w == 1.0 for w, m in zip(lowest, masked) if not m)  # no mask, no W = 0
    # without augmentation the person fills target_dist of the crop, centred
    s = ds.sample(0)
    ann = ds.coco.anns[ds.person_of(0)]
    kp = s.keypoints[s.keypoints[..., 2] > 0]
    assert kp[:, :2].min() >= 0 and kp[:, :2].max() <= 63
    assert ann["num_keypoints"] >= 5
