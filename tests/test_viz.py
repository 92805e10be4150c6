"""Tests of viz (drawing, plots, macs): skeleton drawing, map pictures, stage grid, MAC counting."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from openpose_edu import viz
from openpose_edu.model import OpenPoseConfig, OpenPoseNet, parameter_counts
from openpose_edu.skeleton import (
    COLORS,
    DRAWN_LIMBS,
    LIMBS,
    N_PAFS,
    N_PARTS,
    PART_NAMES,
    limb_by_name,
    part_index,
)


def one_person(x0: float = 20.0, y0: float = 10.0) -> np.ndarray:
    """A person of (18, 3) keypoints, every part present, on a loose grid."""
    kp = np.zeros((N_PARTS, 3), np.float32)
    kp[:, 0] = x0 + 6 * (np.arange(N_PARTS) % 6)
    kp[:, 1] = y0 + 12 * (np.arange(N_PARTS) // 6)
    kp[:, 2] = 1.0
    return kp


# ---------------------------------------------------------------- draw_people


def test_draw_people_returns_new_image_and_keeps_input():
    image = np.full((64, 80, 3), 30, np.uint8)
    before = image.copy()
    out = viz.draw_people(image, one_person()[None])
    assert out.dtype == np.uint8 and out.shape == image.shape
    assert out is not image and not np.shares_memory(out, image)
    np.testing.assert_array_equal(image, before)
    assert (out != image).any()


def test_draw_people_limb_midpoint_has_limb_color():
    kp = np.zeros((1, N_PARTS, 3), np.float32)
    limb = limb_by_name("RShoulder-RElbow")
    kp[0, limb.a] = (10, 40, 1)
    kp[0, limb.b] = (90, 40, 1)
    out = viz.draw_people(np.zeros((80, 100, 3), np.uint8), kp, radius=2)
    np.testing.assert_array_equal(out[40, 50], COLORS[limb.index])
    # A part is drawn in its own color.
    np.testing.assert_array_equal(out[40, 10], COLORS[limb.a])
    bgr = viz.draw_people(np.zeros((80, 100, 3), np.uint8), kp, radius=2, color="BGR")
    np.testing.assert_array_equal(bgr[40, 50], COLORS[limb.index][::-1])


def test_draw_people_skips_missing_parts_and_redundant_limbs():
    image = np.zeros((60, 60, 3), np.uint8)
    kp = np.zeros((2, N_PARTS, 3), np.float32)  # nobody present
    np.testing.assert_array_equal(viz.draw_people(image, kp), image)
    # Only an ear-shoulder pair: redundant limb, not drawn by default (OpenPose draws 17).
    kp[0, part_index("RShoulder")] = (5, 30, 1)
    kp[0, part_index("REar")] = (55, 30, 1)
    out = viz.draw_people(image, kp, radius=1)
    assert (out[30, 25:35] == 0).all()
    out_all = viz.draw_people(image, kp, limbs=LIMBS, radius=1)
    assert (out_all[30, 25:35] != 0).any()
    assert len(DRAWN_LIMBS) == 17


def test_draw_people_min_score():
    kp = one_person()[None].copy()
    kp[..., 2] = 0.3
    image = np.zeros((64, 80, 3), np.uint8)
    np.testing.assert_array_equal(viz.draw_people(image, kp, min_score=0.5), image)
    assert (viz.draw_people(image, kp, min_score=0.2) != 0).any()


def test_draw_people_rejects_bad_input():
    with pytest.raises(TypeError, match="uint8"):
        viz.draw_people(np.zeros((10, 10, 3), np.float32), one_person())
    with pytest.raises(ValueError, match=r"\(P, 18, 3\)"):
        viz.draw_people(np.zeros((10, 10, 3), np.uint8), np.zeros((2, 17, 3)))
    with pytest.raises(ValueError, match="color"):
        viz.draw_people(np.zeros((10, 10, 3), np.uint8), one_person(), color="HSV")
    with pytest.raises(ValueError, match="empty"):
        viz.draw_people(np.zeros((0, 10, 3), np.uint8), one_person())


def test_draw_people_takes_gray_images_like_inference():
    gray = np.full((64, 80), 90, np.uint8)
    drawn = viz.draw_people(gray, one_person())
    assert drawn.shape == (64, 80, 3) and (drawn != 90).any()
    np.testing.assert_array_equal(gray, 90)  # the input is never modified


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 3), st.integers(0, 2**31 - 1))
def test_draw_people_changes_only_near_keypoints(n_people, seed):
    rng = np.random.default_rng(seed)
    kp = np.zeros((n_people, N_PARTS, 3), np.float32)
    kp[..., 0] = rng.uniform(0, 50, (n_people, N_PARTS))
    kp[..., 1] = rng.uniform(0, 40, (n_people, N_PARTS))
    kp[..., 2] = rng.integers(0, 2, (n_people, N_PARTS))
    image = np.zeros((100, 120, 3), np.uint8)
    out = viz.draw_people(image, kp, radius=3, thickness=2)
    # Everything drawn lies within the keypoints' bounding box grown by the pen size.
    assert (out[:, 60:] == 0).all() and (out[50:] == 0).all()
    assert (out != 0).any() == bool((kp[..., 2] > 0).any())


# ---------------------------------------------------------------- maps to pictures


def test_part_map_and_all_parts():
    S = torch.zeros(1, 19, 5, 6)
    S[0, 3, 1, 2] = 0.7
    S[0, 18] = 1.0  # background never counts among "all parts"
    assert viz.part_map(S, 3)[1, 2] == pytest.approx(0.7)
    m = viz.part_map(S, None)
    assert m.shape == (5, 6) and m.max() == pytest.approx(0.7)
    with pytest.raises(ValueError, match="part"):
        viz.part_map(S, 19)


def test_paf_to_rgb_hue_is_direction_value_is_length():
    L = np.zeros((N_PAFS, 4, 4), np.float32)
    limb = LIMBS[2]
    L[limb.paf_x, 0, 0] = 1.0  # +x: hue 0 (red)
    L[limb.paf_y, 0, 1] = 1.0  # +y (down on screen): hue 1/4
    L[limb.paf_x, 0, 2] = 0.5  # half length: half brightness
    rgb = viz.paf_to_rgb(L, limb)
    assert rgb.shape == (4, 4, 3) and rgb.dtype == np.float32
    np.testing.assert_allclose(rgb[0, 0], [1, 0, 0], atol=1e-6)
    np.testing.assert_allclose(rgb[0, 1], [0.5, 1, 0], atol=1e-6)  # hue 90 deg = chartreuse
    np.testing.assert_allclose(rgb[0, 2], [0.5, 0, 0], atol=1e-6)
    np.testing.assert_array_equal(rgb[3, 3], [0, 0, 0])
    # All limbs: the longest vector wins.
    other = LIMBS[5]
    L[other.paf_y, 0, 0] = 2.0
    np.testing.assert_allclose(viz.paf_to_rgb(L, None)[0, 0], [0.5, 1, 0], atol=1e-6)


def test_color_wheel_is_a_disc():
    wheel = viz.color_wheel(33)
    assert wheel.shape == (33, 33, 3)
    assert wheel[0, 0].max() == 0  # corner outside the disc
    assert wheel[16, 32].max() == pytest.approx(1.0)  # edge of the disc at full length


def test_stage_grid_and_plot_helpers_draw():
    from matplotlib.figure import Figure

    T = 3
    S = [torch.rand(1, 19, 6, 8) for _ in range(T)]
    L = [torch.rand(1, N_PAFS, 6, 8) - 0.5 for _ in range(T)]
    image = np.zeros((48, 64, 3), np.uint8)
    fig = viz.stage_grid(S, L, part=0, limb=1, image=image)
    assert len(fig.axes) == 2 * T + 1  # and the colorbar (the colour wheel is an inset)
    assert [fig.axes[0].get_title(), fig.axes[T].get_title()] == ["$S^{1}$", "$L^{1}$"]
    # and two colorbars: S (0..1) and the difference row's diverging one (red grew, blue shrank)
    assert len(viz.stage_grid(S, L, image=image, differences=True).axes) == 3 * T + 2
    png = viz.figure_to_png(fig)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    ax = Figure().subplots()
    q = viz.plot_paf_arrows(ax, L[0][0], 1, image=image, min_norm=0.0, step=2)
    assert q.N == 3 * 4  # (6 / 2) x (8 / 2) cells
    arts = viz.plot_skeleton(ax, one_person()[None])
    assert len(arts) == len(DRAWN_LIMBS) + 1
    with pytest.raises(ValueError, match="same number"):
        viz.stage_grid(S, L[:2])


def test_body25_people_are_drawn_with_the_body25_skeleton():
    """skeleton=BODY25: (P, 25, 3) keypoints, BODY_25's 24 drawn limbs, each in BODY25.colors."""
    from matplotlib.figure import Figure

    from openpose_edu.skeleton import BODY25

    kp = np.zeros((1, 25, 3), np.float32)
    kp[0, :, 0] = 10 + 14 * (np.arange(25) % 5)
    kp[0, :, 1] = 10 + 14 * (np.arange(25) // 5)
    kp[0, :, 2] = 1.0
    image = np.zeros((90, 90, 3), np.uint8)
    out = viz.draw_people(image, kp, radius=1, thickness=3, skeleton=BODY25)
    big_toe = BODY25.limbs[20]  # LAnkle (14) at (66, 38) -> LBigToe (19) at (66, 52), a foot limb
    assert (big_toe.a, big_toe.b) == (14, 19)
    assert tuple(out[45, 66]) == BODY25.colors[20] and BODY25.colors[20] not in COLORS
    assert tuple(out[10, 10]) == BODY25.colors[0]  # the Nose in part 0's colour
    arts = viz.plot_skeleton(Figure().subplots(), kp, skeleton=BODY25)
    assert len(BODY25.drawn_limbs) == 24 and len(arts) == 24 + 1  # 24 lines, one scatter
    with pytest.raises(ValueError, match="skeleton=skeleton.BODY25"):
        viz.draw_people(image, kp)  # a COCO-18 drawing refuses 25 parts, and says what to pass


# ---------------------------------------------------------------- MACs


def test_conv_macs_matches_hand_count_for_one_conv():
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1))
    assert viz.conv_macs(net, (10, 12)) == {"0": 4 * 10 * 12 * 3 * 9}


def test_macs_per_part_of_small_openpose():
    net = OpenPoseNet(OpenPoseConfig.small(width=0.125, n_stages=2))
    per_part = viz.macs_per_part(net, (64, 64))
    assert list(per_part) == ["backbone", "cpm", "stage1", "stage2"]
    assert list(parameter_counts(net))[2:] == ["stage1", "stage2"]
    # Stage 1 of the stride-8 grid (8 x 8 cells): every conv counted once, by hand.
    cfg = net.config
    c, w, hd = cfg.F_channels, cfg.stage1_width, cfg.stage1_hidden
    per_branch = 64 * (9 * (c * w + w * w + w * w) + w * hd)
    assert per_part["stage1"] == per_branch * 2 + 64 * hd * (19 + 38)


def test_paf_to_rgba_is_transparent_off_the_limbs():
    L = np.zeros((N_PAFS, 3, 3), np.float32)
    L[LIMBS[0].paf_x, 1, 1] = 1.0
    rgba = viz.paf_to_rgba(L, 0, alpha=0.5)
    assert rgba.shape == (3, 3, 4)
    assert rgba[1, 1, 3] == pytest.approx(0.5) and rgba[0, 0, 3] == 0
    np.testing.assert_allclose(rgba[1, 1, :3], viz.paf_to_rgb(L, 0)[1, 1])
    L[LIMBS[0].paf_x, 1, 1] = 0.2  # opacity grows with |L|, no cut-off
    assert viz.paf_to_rgba(L, 0, alpha=0.5)[1, 1, 3] == pytest.approx(0.1)


# ---------------------------------------------------------------- drawing rules (fixed scales)


def _photo(h: int = 48, w: int = 64) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)


@pytest.mark.parametrize("shape", [(6, 8), (48, 64), (23, 31)])
def test_zero_paf_leaves_the_photo_unchanged(shape):
    image = _photo()
    L = np.zeros((N_PAFS, *shape), np.float32)
    np.testing.assert_array_equal(viz.overlay_paf(image, L, None, stride=8), image)
    np.testing.assert_array_equal(viz.overlay_paf(image, L, 3, stride=8), image)
    np.testing.assert_array_equal(viz.overlay_heatmap(image, np.zeros((19, *shape)), None, stride=8), image)


def test_weak_uniform_paf_changes_the_photo_by_little():
    """|L| = 0.05 everywhere: no pixel moves by more than alpha * 0.05 * 255 + 0.5 = 10.7 grey levels."""
    image = _photo()
    L = np.zeros((N_PAFS, 6, 8), np.float32)
    L[LIMBS[4].paf_x] = 0.03
    L[LIMBS[4].paf_y] = 0.04  # length 0.05
    out = viz.overlay_paf(image, L, None, stride=8, alpha=0.8)
    change = np.abs(out.astype(int) - image.astype(int))
    assert change.max() <= 11
    assert change.max() >= 1  # but it is drawn: opacity grows with |L|, no cut-off
    strong = np.abs(viz.overlay_paf(image, L * 20, None, stride=8).astype(int) - image.astype(int))
    assert strong.max() > 100  # a unit field is clearly visible


def test_s_colour_scale_is_fixed_between_frames():
    """The same value of S has the same colour whatever the frame's maximum (scale 0..1)."""
    image = np.full((16, 16, 3), 100, np.uint8)
    a = np.zeros((19, 16, 16), np.float32)
    b = np.zeros((19, 16, 16), np.float32)
    a[0, 4, 4] = b[0, 4, 4] = 0.3
    a[0, 10, 10] = 0.35  # frame a's maximum
    b[0, 10, 10] = 1.0  # frame b's maximum
    pa, pb = viz.overlay_heatmap(image, a), viz.overlay_heatmap(image, b)
    np.testing.assert_array_equal(pa[4, 4], pb[4, 4])
    assert (pa[10, 10] != pb[10, 10]).any()
    # And a paf's brightness does not depend on the frame's maximum either.
    L = np.zeros((N_PAFS, 16, 16), np.float32)
    L[LIMBS[0].paf_x, 4, 4] = 0.3
    L2 = L.copy()
    L2[LIMBS[0].paf_x, 10, 10] = 1.0
    np.testing.assert_array_equal(viz.paf_to_rgb(L, 0)[4, 4], viz.paf_to_rgb(L2, 0)[4, 4])


def test_map_to_image_any_size():
    m = np.arange(12, dtype=np.float32).reshape(3, 4)
    assert viz.map_to_image(m, (20, 30, 3), stride=8).shape == (20, 30)  # stride grid, cropped
    assert viz.map_to_image(m, (20, 30, 3)).shape == (20, 30)  # stretched
    assert viz.map_to_image(np.zeros((38, 5, 7)), (40, 50)).shape == (38, 40, 50)
    # A stride-8 cell's value sits at its centre pixel (j 8 + 3.5).
    up = viz.map_to_image(m, (24, 32), stride=8)
    assert up[11:13, 19:21].mean() == pytest.approx(m[1, 2], abs=1e-5)
    with pytest.raises(ValueError, match="map"):
        viz.map_to_image(np.zeros(5), (4, 4))


def test_display_sizes_and_legends_draw():
    from matplotlib.figure import Figure

    d = viz.Display(width_px=600, dpr=2.0)
    assert d.pixels == 1200 and d.figsize(0.5) == (6.0, 3.0) and d.dpi == 200
    with pytest.raises(ValueError, match="dpr"):
        viz.Display(dpr=10)
    ax = Figure().subplots()
    viz.skeleton_legend(ax)
    assert {t.get_text() for t in ax.texts} == set(PART_NAMES)
    ax2 = Figure().subplots()
    viz.plot_color_wheel(ax2)
    assert {t.get_text() for t in ax2.texts} == {"→", "↓", "←", "↑"}


def test_pipeline_figure_draws_body25_people_with_their_own_skeleton() -> None:
    """The pipeline figure (Fig. 2 a-e) of BODY_25 Poses: people and legend in its own 25 parts."""
    from dataclasses import replace

    from openpose_edu.body25 import Body25Config, Body25Net
    from openpose_edu.inference import estimate
    from openpose_edu.plots import pipeline_figure
    from openpose_edu.skeleton import BODY25

    net = Body25Net(Body25Config.small(0.125, skeleton="BODY25", paf_stages=1, heat_stages=1)).eval()
    image = np.full((64, 48, 3), 128, np.uint8)
    poses = estimate(image, net)
    person = np.zeros((1, BODY25.n_parts, 3), np.float32)
    person[0, BODY25.part_index("Neck")] = (24, 20, 0.9)
    person[0, BODY25.part_index("MidHip")] = (24, 40, 0.8)
    poses = replace(poses, keypoints=person)
    assert poses.skeleton is BODY25
    fig = pipeline_figure(image, poses)
    texts = {t.get_text() for ax in fig.axes for t in ax.texts}
    assert "MidHip" in texts and "(e) people: 1" in {ax.get_title() for ax in fig.axes}
