"""Synthetic scenes: determinism, keypoints on the drawn bodies, the left/right cue,
visibility flags from the render and the ignore mask (issue 6; the Dataset: test_datasets.py)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openpose_edu.skeleton import FLIP_PARTS, N_PARTS, PART_INDEX, PART_NAMES
from openpose_edu.synthetic import (
    EYE_COLORS,
    N_SEGMENTS,
    OWNS,
    SEGMENT_INDEX,
    STRIPE_COLORS,
    SceneConfig,
    _visibility,
    make_scene,
)

SIZE = (128, 160)  # small scenes keep the file fast; the generator is size-independent


@pytest.fixture(scope="module")
def scenes():
    """60 clean scenes (no pixel noise, so drawn colors can be compared exactly)."""
    return [make_scene(7, i, size=SIZE, noise=False) for i in range(60)]


def _luminance(rgb) -> float:
    r, g, b = (float(c) for c in rgb)
    return 0.299 * r + 0.587 * g + 0.114 * b


# ------------------------------------------------------------------------------ determinism


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2**32 - 2), index=st.integers(0, 10**6))
def test_scene_is_deterministic_per_seed_and_index(seed: int, index: int) -> None:
    a = make_scene(seed, index, size=SIZE)
    b = make_scene(seed, index, size=SIZE)
    np.testing.assert_array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.keypoints, b.keypoints)
    np.testing.assert_array_equal(a.ignore, b.ignore)
    other = make_scene(seed, index + 1, size=SIZE)
    assert not np.array_equal(a.image, other.image)


def test_noise_changes_only_the_pixels() -> None:
    noisy, clean = make_scene(3, 5, size=SIZE), make_scene(3, 5, size=SIZE, noise=False)
    np.testing.assert_array_equal(noisy.keypoints, clean.keypoints)
    np.testing.assert_array_equal(noisy.ignore, clean.ignore)
    diff = np.abs(noisy.image.astype(int) - clean.image.astype(int))
    assert diff.mean() < 15  # the same picture, only noisier


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 1000), index=st.integers(0, 1000), max_people=st.integers(0, 5))
def test_scene_shapes_dtypes_and_flag_ranges(seed: int, index: int, max_people: int) -> None:
    s = make_scene(seed, index, size=SIZE, max_people=max_people)
    H, W = SIZE
    assert s.image.shape == (H, W, 3) and s.image.dtype == np.uint8
    assert s.ignore.shape == (H, W) and s.ignore.dtype == bool
    P = s.keypoints.shape[0]
    assert s.keypoints.shape == (P, N_PARTS, 3) and s.keypoints.dtype == np.float32
    assert P <= max_people
    v = s.keypoints[..., 2]
    assert set(np.unique(v)) <= {0.0, 1.0, 2.0}
    # COCO: unlabelled parts are (0, 0, 0); labelled ones lie on an image pixel.
    assert np.all(s.keypoints[v == 0][:, :2] == 0)
    xy = np.round(s.keypoints[v > 0][:, :2])
    assert np.all((xy[:, 0] >= 0) & (xy[:, 0] < W) & (xy[:, 1] >= 0) & (xy[:, 1] < H))
    # Labelled people are really seen; the rows of keypoints are the labelled people in order.
    assert np.all((v == 2).sum(1) >= SceneConfig().min_visible)
    assert len(s.labelled_people) == P
    for row, person in zip(s.keypoints, s.labelled_people):
        np.testing.assert_array_equal(row, person.keypoints)


# --------------------------------------------------------------------- keypoints on bodies


def test_visible_keypoints_lie_on_their_body_part(scenes) -> None:
    """The rendered color at a visible keypoint is the fill color of a segment of that part.

    Read from the image, not the label buffer: a 3x3 neighbourhood allows for one anti-aliased
    edge pixel of a shape drawn over the part's neighbour.
    """
    hits, total = 0, 0
    for s in scenes:
        for person in s.labelled_people:
            for j in np.flatnonzero(person.keypoints[:, 2] == 2):
                x, y = np.round(person.keypoints[j, :2]).astype(int)
                patch = s.image[max(0, y - 1) : y + 2, max(0, x - 1) : x + 2].reshape(-1, 1, 3).astype(int)
                owner_colors = person.colors[OWNS[j]].astype(int)[None]  # (1, n, 3)
                hits += int(np.abs(patch - owner_colors).max(-1).min() <= 6)
                total += 1
    assert total > 500
    assert hits / total >= 0.99, f"{total - hits} of {total} visible keypoints are off their body part"


def test_keypoints_follow_the_label_buffer(scenes) -> None:
    """v = 2 exactly where the pixel under the part shows one of that part's segments."""
    checked = 0
    for s in scenes:
        for p, person in enumerate(s.people):
            for j in np.flatnonzero(person.keypoints[:, 2] > 0):
                hit = s.segment_at(*person.keypoints[j, :2])
                ours = hit is not None and hit[0] == p and OWNS[j, SEGMENT_INDEX[hit[1]]]
                assert (person.keypoints[j, 2] == 2) == ours, (s.index, p, PART_NAMES[j])
                checked += 1
    assert checked > 500


def test_neck_is_midpoint_of_shoulders(scenes) -> None:
    """The OpenPose neck is the mean of the COCO shoulders (caffe_train's rule)."""
    for s in scenes:
        for person in s.people:
            mid = 0.5 * (person.joints[PART_INDEX["RShoulder"]] + person.joints[PART_INDEX["LShoulder"]])
            np.testing.assert_allclose(person.joints[PART_INDEX["Neck"]], mid, atol=1e-3)


# ---------------------------------------------------------------------------- left / right


def test_left_right_cue_in_the_palette(scenes) -> None:
    """Right-side segments are darker than their left partners; eyes have distinct colors."""
    pairs = [("torso_r", "torso_l"), ("r_upper_arm", "l_upper_arm"), ("r_forearm", "l_forearm")]
    pairs += [("r_thigh", "l_thigh"), ("r_shin", "l_shin"), ("r_ear", "l_ear")]
    for s in scenes:
        for person in s.people:
            for r, l in pairs:
                lum_r = _luminance(person.colors[SEGMENT_INDEX[r]])
                lum_l = _luminance(person.colors[SEGMENT_INDEX[l]])
                assert lum_r + 20 < lum_l, (r, l)
            assert tuple(person.colors[SEGMENT_INDEX["r_eye"]]) == EYE_COLORS["r_eye"]
            assert tuple(person.colors[SEGMENT_INDEX["l_eye"]]) == EYE_COLORS["l_eye"]
    assert EYE_COLORS["r_eye"] != EYE_COLORS["l_eye"]


def test_arms_stand_out_from_their_torso_half(scenes) -> None:
    """An arm in front of its own torso half shows: sleeve and shirt differ in every channel."""
    arms = {"torso_r": ("r_upper_arm", "r_forearm"), "torso_l": ("l_upper_arm", "l_forearm")}
    for s in scenes:
        for person in s.people:
            for torso, limbs in arms.items():
                for limb in limbs:
                    diff = np.abs(
                        person.colors[SEGMENT_INDEX[limb]].astype(int) - person.colors[SEGMENT_INDEX[torso]]
                    )
                    assert diff.min() >= 70, (torso, limb, diff)


def test_left_right_cue_in_the_pixels(scenes) -> None:
    """In the image: a visible right elbow/knee is darker than its visible left partner, and the
    middle of a visible right upper arm or thigh shows the stripe (a thin line: anywhere in the
    3x3 pixels there) while a left one does not."""
    darker, pairs = 0, 0
    striped: dict = {(a, b): [] for a in "rl" for b in "rl"}  # (limb side, stripe color side) -> shows it?
    for s in scenes:
        for p, person in enumerate(s.people):
            kp = person.keypoints
            for right in ("RElbow", "RKnee"):
                j, k = PART_INDEX[right], FLIP_PARTS[PART_INDEX[right]]
                if kp[j, 2] == 2 and kp[k, 2] == 2:
                    xr, yr = np.round(kp[j, :2]).astype(int)
                    xl, yl = np.round(kp[k, :2]).astype(int)
                    darker += _luminance(s.image[yr, xr]) < _luminance(s.image[yl, xl])
                    pairs += 1
            for side, seg, a, b in (
                ("r", "r_upper_arm", "RShoulder", "RElbow"),
                ("r", "r_thigh", "RHip", "RKnee"),
                ("l", "l_upper_arm", "LShoulder", "LElbow"),
                ("l", "l_thigh", "LHip", "LKnee"),
            ):
                mid = 0.5 * (person.joints[PART_INDEX[a]] + person.joints[PART_INDEX[b]])
                x, y = np.round(mid).astype(int)
                length = np.linalg.norm(person.joints[PART_INDEX[a]] - person.joints[PART_INDEX[b]])
                if not (0 <= x < SIZE[1] and 0 <= y < SIZE[0]) or length < 10:
                    continue
                if s.segment_at(x, y) != (p, seg):
                    continue  # covered here
                patch = s.image[y - 1 : y + 2, x - 1 : x + 2].reshape(-1, 3).astype(int)
                for stripe_side, color in STRIPE_COLORS.items():
                    is_stripe = bool((np.abs(patch - np.array(color)).max(-1) <= 6).any())
                    striped[side, stripe_side].append(is_stripe)
    assert pairs > 20 and darker / pairs > 0.9
    for side in "rl":
        assert len(striped[side, side]) > 20 and np.mean(striped[side, side]) > 0.9, side
        # The other side's stripe color shows only by chance (a near-white or near-black shirt).
        other = "l" if side == "r" else "r"
        assert np.mean(striped[side, other]) < 0.1, side


# ------------------------------------------------------------------------------- visibility


def test_visibility_from_a_hand_made_label_buffer() -> None:
    """0 outside the image, 2 on an own segment of the part, 1 under anything else."""
    labels = np.zeros((20, 20), dtype=np.int32)
    person = 1
    base = 1 + person * N_SEGMENTS
    labels[2, 3] = base + SEGMENT_INDEX["r_forearm"]  # RWrist: on its forearm -> visible
    labels[4, 5] = base + SEGMENT_INDEX["torso_r"]  # RElbow: own torso over it -> occluded
    labels[6, 7] = 1 + SEGMENT_INDEX["r_upper_arm"]  # RShoulder: person 0's arm over it -> occluded
    joints = np.full((N_PARTS, 2), 10.0)
    joints[PART_INDEX["RWrist"]] = (3.2, 1.8)
    joints[PART_INDEX["RElbow"]] = (5.0, 4.0)
    joints[PART_INDEX["RShoulder"]] = (7.0, 6.0)
    joints[PART_INDEX["Nose"]] = (-3.0, 5.0)  # left of the image
    joints[PART_INDEX["LEye"]] = (5.0, 19.6)  # rounds to row 20: below the image
    v = _visibility(joints, labels, person)
    assert v[PART_INDEX["RWrist"]] == 2
    assert v[PART_INDEX["RElbow"]] == 1
    assert v[PART_INDEX["RShoulder"]] == 1
    assert v[PART_INDEX["Nose"]] == 0 and v[PART_INDEX["LEye"]] == 0
    assert v[PART_INDEX["Neck"]] == 1  # background (label 0) at (10, 10)


def test_out_of_image_parts_are_unlabelled(scenes) -> None:
    """Every part whose true position is off the image has v = 0; every part on it has v > 0."""
    n_out = 0
    H, W = SIZE
    for s in scenes:
        for person in s.labelled_people:
            xy = np.round(person.joints)
            inside = (xy[:, 0] >= 0) & (xy[:, 0] < W) & (xy[:, 1] >= 0) & (xy[:, 1] < H)
            np.testing.assert_array_equal(person.keypoints[:, 2] > 0, inside)
            n_out += int((~inside).sum())
    assert n_out > 20  # people cut by the border do occur


def test_every_labelled_neck_is_in_the_image(scenes) -> None:
    """Bodies are cut by the border (arms, legs, heads), but the neck stays inside the image:
    without it the COCO-18 tree falls apart into pieces the parser cannot join."""
    H, W = SIZE
    m = SceneConfig().neck_margin
    for s in scenes:
        for person in s.people:
            x, y = person.joints[PART_INDEX["Neck"]]
            assert m * W - 1e-3 <= x <= (1 - m) * W + 1e-3 and m * H - 1e-3 <= y <= (1 - m) * H + 1e-3
        for person in s.labelled_people:
            assert person.keypoints[PART_INDEX["Neck"], 2] > 0
    cut = [p for s in scenes for p in s.labelled_people if (p.keypoints[:, 2] == 0).any()]
    assert len(cut) > 10  # still plenty of people cut by the border


def test_occluded_parts_are_covered_in_the_image(scenes) -> None:
    """At a v = 1 part, the image shows neither the part's own segment colors (mostly: the same
    shirt color on the torso and an arm can coincide) nor is the flag rare."""
    covered, total = 0, 0
    for s in scenes:
        for person in s.labelled_people:
            for j in np.flatnonzero(person.keypoints[:, 2] == 1):
                x, y = np.round(person.keypoints[j, :2]).astype(int)
                d = np.abs(person.colors[OWNS[j]].astype(int) - s.image[y, x].astype(int)).max(-1).min()
                covered += int(d > 6)
                total += 1
    assert total > 100
    assert covered / total > 0.8


def test_scene_variety(scenes) -> None:
    """Multi-person scenes with small and large people, rotations, and all three flags."""
    counts = [s.keypoints.shape[0] for s in scenes]
    assert max(counts) >= 4 and sum(c >= 2 for c in counts) >= 20
    ratios = [
        max(p.height for p in s.people) / min(p.height for p in s.people) for s in scenes if len(s.people) > 1
    ]
    assert max(ratios) > 2.5
    assert any(abs(p.angle) > 45 for s in scenes for p in s.people)
    flags = np.concatenate([s.keypoints[..., 2].ravel() for s in scenes])
    for v in (0, 1, 2):
        assert (flags == v).mean() > 0.05


# ------------------------------------------------------------------------------ ignore mask


def test_ignore_covers_the_unlabelled_people(scenes) -> None:
    with_ignore = 0
    for s in scenes:
        unl = [p for p, person in enumerate(s.people) if not person.labelled]
        shown = (s.labels > 0) & np.isin((s.labels - 1) // N_SEGMENTS, unl)
        assert np.all(s.ignore[shown])  # every pixel of an unlabelled person is ignored
        if not unl:
            assert not s.ignore.any()
        with_ignore += bool(s.ignore.any())
        # labelled people are mostly outside the mask
        lab = [p for p, person in enumerate(s.people) if person.labelled]
        mine = (s.labels > 0) & np.isin((s.labels - 1) // N_SEGMENTS, lab)
        if mine.sum() > 50:
            assert s.ignore[mine].mean() < 0.5
    assert with_ignore >= 5


def test_clear_errors() -> None:
    with pytest.raises(ValueError, match="size"):
        make_scene(0, 0, size=(8, 8))
    with pytest.raises(ValueError, match="max_people"):
        make_scene(0, 0, max_people=-1)


def test_write_samples_round_trips(tmp_path) -> None:
    import cv2

    from openpose_edu.synthetic import write_samples

    (path,) = write_samples(tmp_path, seed=4, indices=[2], size=(64, 96))
    rgb = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    np.testing.assert_array_equal(rgb, make_scene(4, 2, size=(64, 96)).image)


def test_compact_reprs() -> None:
    s = make_scene(7, 3, size=SIZE)
    text = repr(s)
    assert text.startswith("Scene(seed=7, index=3, size=(128, 160)") and len(text) < 200
    assert f"labelled={s.keypoints.shape[0]}" in text
    if s.people:
        assert repr(s.people[0]).startswith("Person(") and len(repr(s.people[0])) < 200


def test_config_knobs_take_effect() -> None:
    plain = SceneConfig(p_unlabelled=0.0, p_occluder=0.0, p_rotated=0.0)
    for i in range(15):
        s = make_scene(5, i, size=SIZE, config=plain)
        # Nobody drawn unlabelled: only people too hidden to label (demoted) are masked.
        unlabelled = [p for p in s.people if not p.labelled]
        assert all(p.n_visible < plain.min_visible for p in unlabelled)
        assert s.ignore.any() <= bool(unlabelled)
        assert all(abs(p.angle) < 60 for p in s.people)  # N(0, 12 deg) only
    crowd = SceneConfig(p_unlabelled=1.0, p_empty=0.0)
    assert sum(make_scene(5, i, size=SIZE, config=crowd).ignore.any() for i in range(10)) >= 5
    assert make_scene(5, 0, size=SIZE, max_people=0).keypoints.shape == (0, N_PARTS, 3)
