"""Ground truth S*, L*, W (paper Eq. 6-9, W of Eq. 3-4), checked against per-pixel loops."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks import references as ref
from openpose_edu import groundtruth as gt
from openpose_edu.skeleton import (
    BACKGROUND,
    COCO_PART_NAMES,
    LIMBS,
    N_PARTS,
    PART_NAMES,
    TRAINING_ORDER,
    limb_by_name,
    part_index,
)

GRID = (12, 10)  # small grid: 96 x 80 input pixels
STRIDE = 8


def cell(g: int) -> float:
    """Input-pixel position of grid cell g (stride 8)."""
    return 3.5 + 8 * g


def person(parts: dict[str, tuple[float, float]], v: float = 2) -> np.ndarray:
    """One person (18, 3) with only the given parts labelled."""
    kp = np.zeros((N_PARTS, 3))
    for name, (x, y) in parts.items():
        kp[part_index(name)] = (x, y, v)
    return kp


@st.composite
def keypoint_sets(draw, max_people: int = 3) -> np.ndarray:
    """(P, 18, 3) keypoints around (and a little outside) the small grid, mixed visibility."""
    P = draw(st.integers(0, max_people))
    coords = st.floats(-20, 120, allow_nan=False, width=32)
    xy = np.array(draw(st.lists(coords, min_size=P * N_PARTS * 2, max_size=P * N_PARTS * 2)), dtype=float)
    v = np.array(
        draw(st.lists(st.sampled_from([0, 1, 2]), min_size=P * N_PARTS, max_size=P * N_PARTS)), float
    )
    return np.concatenate([xy.reshape(P, N_PARTS, 2), v.reshape(P, N_PARTS, 1)], axis=-1)


# ---------------------------------------------------------------------------------------------
# Reference loops (vectorized == straightforward), both variants
# ---------------------------------------------------------------------------------------------


def assert_same_field(ours: np.ndarray, loop: np.ndarray, max_undecided: float = 1.0) -> None:
    """Equal wherever the loop is sure; NaN cells lie within 1e-3 px of a limb's edge (float32)."""
    sure = ~np.isnan(loop)
    np.testing.assert_allclose(ours[sure], loop[sure], atol=1e-6)
    assert (~sure).mean() <= max_undecided


@settings(max_examples=15, deadline=None)
@given(kp=keypoint_sets(), variant=st.sampled_from(gt.VARIANTS), sigma=st.floats(2.0, 12.0))
def test_confidence_maps_match_loop(kp, variant, sigma):
    ours = gt.confidence_maps(kp, GRID, sigma=sigma, variant=variant)[0].numpy()
    loop = ref.reference_confidence_maps(kp, GRID, STRIDE, sigma, variant)
    np.testing.assert_allclose(ours, loop, atol=1e-6)


@settings(max_examples=15, deadline=None)
@given(kp=keypoint_sets(), variant=st.sampled_from(gt.VARIANTS), width=st.sampled_from([4.0, 8.0, 11.0]))
def test_part_affinity_fields_match_loop(kp, variant, width):
    ours = gt.part_affinity_fields(kp, GRID, limb_width=width, variant=variant)[0].numpy()
    loop = ref.reference_part_affinity_fields(kp, GRID, STRIDE, width, variant, tol=ref.EDGE_TOL[variant])
    assert_same_field(ours, loop)


def test_benchmark_batch_matches_loop():
    # Realistic crowded data: 6 people on a 368x368 crop, several overlapping limbs.
    kp, ignore = ref.make_batch(1, 6, crop=368, seed=3)
    for variant in gt.VARIANTS:
        S, L, W = gt.targets(kp, ignore, grid_size=(46, 46), variant=variant)
        np.testing.assert_allclose(
            S[0].numpy(), ref.reference_confidence_maps(kp[0], (46, 46), variant=variant), atol=1e-6
        )
        L_ref = ref.reference_part_affinity_fields(
            kp[0], (46, 46), variant=variant, tol=ref.EDGE_TOL[variant]
        )
        assert_same_field(L[0].numpy(), L_ref, max_undecided=0.001)  # random data: ties are rare
        np.testing.assert_array_equal(W[0].numpy(), ref.reference_loss_mask(ignore[0], (46, 46)))


# ---------------------------------------------------------------------------------------------
# S* (Eq. 6-7)
# ---------------------------------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(kp=keypoint_sets(), variant=st.sampled_from(gt.VARIANTS))
def test_confidence_values_in_unit_range_and_background(kp, variant):
    S = gt.confidence_maps(kp, GRID, variant=variant)
    assert S.shape == (1, 19, *GRID) and S.dtype == torch.float32
    assert S.min() >= 0 and S.max() <= 1
    parts_max = S[:, :N_PARTS].amax(dim=1)
    torch.testing.assert_close(S[:, BACKGROUND], (1 - parts_max).clamp(min=0))


@pytest.mark.parametrize("variant", gt.VARIANTS)
def test_peak_is_exactly_one_on_a_grid_point(variant):
    kp = person({"RWrist": (cell(3), cell(5))})[None]
    S = gt.confidence_maps(kp, GRID, variant=variant)[0]
    j = part_index("RWrist")
    assert S[j, 5, 3] == 1.0
    assert S[j].argmax() == 5 * GRID[1] + 3
    assert S[BACKGROUND, 5, 3] == 0.0
    others = [i for i in range(N_PARTS) if i != j]
    assert S[others].abs().max() == 0  # unlabelled parts give no peak


def test_paper_gaussian_value():
    # Eq. 6: exp(-d^2 / sigma^2), d in input pixels from the cell centre 3.5 + 8 g.
    kp = person({"Nose": (cell(2) + 3.0, cell(4) - 4.0)})[None]
    S = gt.confidence_maps(kp, GRID, sigma=7.0)[0]
    assert S[0, 4, 2].item() == pytest.approx(math.exp(-25 / 49), rel=1e-6)


@settings(max_examples=20, deadline=None)
@given(a=keypoint_sets(max_people=1), b=keypoint_sets(max_people=1))
def test_two_people_is_pointwise_max(a, b):
    both = np.concatenate([a, b])
    S_ab = gt.confidence_maps(both, GRID)
    S_a, S_b = gt.confidence_maps(a, GRID), gt.confidence_maps(b, GRID)
    torch.testing.assert_close(S_ab[:, :N_PARTS], torch.maximum(S_a, S_b)[:, :N_PARTS])


@pytest.mark.parametrize("v", [1, 2])
def test_occluded_and_visible_both_labelled(v):
    kp = person({"LKnee": (cell(4), cell(4))}, v=v)[None]
    assert gt.confidence_maps(kp, GRID)[0, part_index("LKnee")].max() == 1.0


def test_invisible_parts_give_no_peak():
    kp = person({"LKnee": (cell(4), cell(4))}, v=0)[None]
    S = gt.confidence_maps(kp, GRID)
    assert S[0, :N_PARTS].abs().max() == 0
    assert (S[0, BACKGROUND] == 1).all()


# ---------------------------------------------------------------------------------------------
# L* (Eq. 8-9)
# ---------------------------------------------------------------------------------------------


def paf_of(L: torch.Tensor, name: str) -> torch.Tensor:
    """(2, h, w) field of the named limb from L (1, 38, h, w) or (38, h, w)."""
    limb = limb_by_name(name)
    return L.reshape(-1, *L.shape[-2:])[[limb.paf_x, limb.paf_y]]


@settings(max_examples=25, deadline=None)
@given(
    ax=st.floats(0, 79), ay=st.floats(0, 95), bx=st.floats(0, 79), by=st.floats(0, 95), width=st.floats(3, 12)
)
def test_unit_vector_inside_rectangle_zero_outside(ax, ay, bx, by, width):
    length = math.hypot(bx - ax, by - ay)
    if length < 1:
        return
    kp = person({"RShoulder": (ax, ay), "RElbow": (bx, by)})[None]
    L = gt.part_affinity_fields(kp, GRID, limb_width=width)
    field = paf_of(L, "RShoulder-RElbow").double()  # (2, h, w)
    v = np.array([bx - ax, by - ay]) / length
    ys, xs = np.meshgrid(np.arange(GRID[0]) * 8 + 3.5, np.arange(GRID[1]) * 8 + 3.5, indexing="ij")
    along = v[0] * (xs - ax) + v[1] * (ys - ay)
    across = np.abs(-v[1] * (xs - ax) + v[0] * (ys - ay))
    # Leave a hair's width (1e-3 px) around the edges, where float32 may decide either way.
    inside = (along >= 1e-3) & (along <= length - 1e-3) & (across <= width - 1e-3)
    outside = (along < -1e-3) | (along > length + 1e-3) | (across > width + 1e-3)
    norm = field.norm(dim=0).numpy()
    np.testing.assert_allclose(norm[inside], 1.0, atol=1e-6)
    assert (norm[outside] == 0).all()
    # Direction A -> B on every covered cell.
    np.testing.assert_allclose(field[0].numpy()[inside], v[0], atol=1e-6)
    np.testing.assert_allclose(field[1].numpy()[inside], v[1], atol=1e-6)
    # No other limb is drawn.
    mask = torch.ones(38, dtype=torch.bool)
    mask[list(limb_by_name("RShoulder-RElbow").channels)] = False
    assert L[0, mask].abs().max() == 0


def test_direction_points_from_a_to_b():
    kp = person({"Neck": (cell(1), cell(6)), "RHip": (cell(1), cell(10))})[None]  # straight down
    field = paf_of(gt.part_affinity_fields(kp, GRID), "Neck-RHip")
    assert field[1, 8, 1] == 1.0 and field[0, 8, 1] == 0.0


@pytest.mark.parametrize("variant", gt.VARIANTS)
def test_identical_limbs_average_to_same_vector(variant):
    one = person({"LHip": (cell(1), cell(2)), "LKnee": (cell(7), cell(9))})
    L1 = gt.part_affinity_fields(one[None], GRID, variant=variant)
    L2 = gt.part_affinity_fields(np.stack([one, one]), GRID, variant=variant)
    torch.testing.assert_close(L1, L2)
    assert L1.abs().max() > 0


def test_opposite_limbs_cancel_in_paper_overwrite_in_released():
    a, b = (cell(1), cell(4)), (cell(8), cell(4))
    forward = person({"RElbow": a, "RWrist": b})
    backward = person({"RElbow": b, "RWrist": a})
    both = np.stack([forward, backward])
    paper = paf_of(gt.part_affinity_fields(both, GRID), "RElbow-RWrist")
    assert paper.abs().max() == 0  # Eq. 9: (v + (-v)) / 2 = 0
    released = paf_of(gt.part_affinity_fields(both, GRID, variant="released"), "RElbow-RWrist")
    later_alone = paf_of(gt.part_affinity_fields(backward[None], GRID, variant="released"), "RElbow-RWrist")
    torch.testing.assert_close(released, later_alone)  # the later person overwrites
    assert released[0].min() == -1.0


def test_partly_overlapping_limbs_average():
    # Two perpendicular limbs crossing: where both cover a cell the field is their mean.
    horiz = person({"LElbow": (cell(0), cell(5)), "LWrist": (cell(9), cell(5))})
    vert = person({"LElbow": (cell(4), cell(0)), "LWrist": (cell(4), cell(11))})
    field = paf_of(gt.part_affinity_fields(np.stack([horiz, vert]), GRID, limb_width=4.0), "LElbow-LWrist")
    torch.testing.assert_close(field[:, 5, 4], torch.tensor([0.5, 0.5]))
    torch.testing.assert_close(field[:, 5, 1], torch.tensor([1.0, 0.0]))
    torch.testing.assert_close(field[:, 1, 4], torch.tensor([0.0, 1.0]))


@pytest.mark.parametrize("variant", gt.VARIANTS)
@pytest.mark.parametrize("missing", ["a", "b"])
def test_limb_with_one_part_unlabelled_is_absent(variant, missing):
    limb = limb_by_name("RKnee-RAnkle")
    kp = person({"RKnee": (cell(2), cell(2)), "RAnkle": (cell(2), cell(9))})
    kp[getattr(limb, missing), 2] = 0
    assert gt.part_affinity_fields(kp[None], GRID, variant=variant).abs().max() == 0


def test_channel_pairs_match_skeleton():
    # Each limb drawn alone lights exactly its own two channels, in the training order of skeleton.py.
    for i, limb in enumerate(TRAINING_ORDER):
        kp = np.zeros((1, N_PARTS, 3))
        kp[0, limb.a] = (cell(2), cell(3), 2)
        kp[0, limb.b] = (cell(7), cell(8), 2)
        L = gt.part_affinity_fields(kp, GRID)[0]
        lit = (L.abs().flatten(1).amax(1) > 0).nonzero().flatten().tolist()
        assert lit == [2 * i, 2 * i + 1] == [limb.paf_x, limb.paf_y]
        assert L[limb.paf_x].max() > 0 and L[limb.paf_y].max() > 0  # +x, +y: A is up-left of B


def test_zero_length_limb_is_absent():
    kp = person({"Nose": (cell(3), cell(3)), "REye": (cell(3), cell(3))})[None]
    L = gt.part_affinity_fields(kp, GRID)
    assert torch.isfinite(L).all() and L.abs().max() == 0


# ---------------------------------------------------------------------------------------------
# Paper vs released code: they differ exactly where the design notes say
# ---------------------------------------------------------------------------------------------


@settings(max_examples=20, deadline=None)
@given(kp=keypoint_sets(max_people=1), sigma=st.floats(3.0, 10.0))
def test_released_gaussian_is_paper_with_sqrt2_sigma_cut_at_one_percent(kp, sigma):
    # One person, no overlaps: the only difference is exp(-d^2/2s^2) and the 1 % cut-off.
    paper = gt.confidence_maps(kp, GRID, sigma=sigma * math.sqrt(2))[:, :N_PARTS]
    released = gt.confidence_maps(kp, GRID, sigma=sigma, variant="released")[:, :N_PARTS]
    kept = paper >= 0.0101
    cut = paper <= 0.0099
    torch.testing.assert_close(released[kept], paper[kept], atol=1e-6, rtol=1e-5)
    assert (released[cut] == 0).all()


def test_released_sums_people_paper_takes_max():
    a = person({"LAnkle": (cell(3), cell(3))})
    b = person({"LAnkle": (cell(4), cell(3))})  # 8 px apart: the Gaussians overlap
    j = part_index("LAnkle")
    paper = gt.confidence_maps(np.stack([a, b]), GRID, sigma=7.0 * math.sqrt(2))[0, j]
    released = gt.confidence_maps(np.stack([a, b]), GRID, variant="released")[0, j]
    single = math.exp(-64 / (2 * 49))
    assert paper[3, 3].item() == pytest.approx(1.0)  # max(1, e)
    assert released[3, 3].item() == 1.0  # min(1 + e, 1)
    # Between the two cells the sum exceeds the max, clamped at 1 where it would pass it.
    assert released[3, 2].item() == pytest.approx(min(single + math.exp(-4 * 64 / 98), 1.0), rel=1e-5)
    assert paper[3, 2].item() == pytest.approx(single, rel=1e-5)


def test_released_paf_support_differs_from_paper():
    # A horizontal limb along y = 32 px (grid row 4 of caffe_train's grid points g = 8 g px).
    kp = person({"Neck": (cell(1), 32.0), "LHip": (cell(8), 32.0)})[None]

    def rows_cols(**kw):
        field = paf_of(gt.part_affinity_fields(kp, GRID, **kw), "Neck-LHip").abs().sum(0)
        return (field.sum(1) > 0).nonzero().flatten().tolist(), (
            field.sum(0) > 0
        ).nonzero().flatten().tolist()

    # 3 px wide: the paper's cell centres 27.5 and 35.5 px are 4.5 and 3.5 px away, so the band
    # misses every cell (why the default limb_width is one stride). The released code misses
    # it too: its box [round(4 - 3/8), round(4 + 3/8)) = [4, 4) is empty.
    assert rows_cols(limb_width=3.0) == ([], [])
    assert rows_cols(limb_width=3.0, variant="released") == ([], [])
    # 8 px = 1 cell (the default): the paper stops at the endpoints (cell centres 11.5 .. 67.5 px
    # = columns 1..8); the released box grows past them by one cell, rounded: the endpoints are
    # 1.4375 and 8.4375 cells -> columns round(0.4375) = 0 .. round(9.4375) = 9 (exclusive).
    rows_p, cols_p = rows_cols()
    rows_r, cols_r = rows_cols(variant="released")
    assert cols_p == list(range(1, 9)) and cols_r == list(range(0, 9))
    # Rows: 27.5 and 35.5 px are within 8 px; released rows 3, 4 (row 5 is 1 cell away, within
    # the threshold, but outside the box's exclusive end round(4 + 1) = 5).
    assert rows_p == [3, 4] and rows_r == [3, 4]


# ---------------------------------------------------------------------------------------------
# Input handling and errors
# ---------------------------------------------------------------------------------------------


def test_empty_person_list_gives_zero_maps_and_background_one():
    for kp in (np.zeros((0, 18, 3)), torch.zeros(2, 0, 18, 3)):
        S, L, W = gt.targets(kp, grid_size=GRID)
        n = 1 if kp.ndim == 3 else 2
        assert S.shape == (n, 19, *GRID) and L.shape == (n, 38, *GRID) and W.shape == (n, 1, *GRID)
        assert S[:, :N_PARTS].abs().max() == 0 and (S[:, BACKGROUND] == 1).all()
        assert L.abs().max() == 0 and (W == 1).all()


def test_batch_list_and_numpy_torch_inputs_agree():
    rng = np.random.default_rng(0)
    a = np.concatenate([rng.uniform(0, 90, (2, 18, 2)), np.full((2, 18, 1), 2.0)], -1)
    b = np.concatenate([rng.uniform(0, 90, (1, 18, 2)), np.full((1, 18, 1), 1.0)], -1)
    batched = gt.part_affinity_fields([a, b], GRID)  # padded with an unlabelled person
    assert batched.shape == (2, 38, *GRID)
    torch.testing.assert_close(batched[0], gt.part_affinity_fields(torch.as_tensor(a), GRID)[0])
    torch.testing.assert_close(batched[1], gt.part_affinity_fields(b, GRID)[0])
    S_list = gt.confidence_maps([a, b], GRID)
    torch.testing.assert_close(S_list[1], gt.confidence_maps(b[None], GRID)[0])


def test_unlabelled_parts_may_hold_nan():
    kp = person({"Nose": (cell(2), cell(2))})
    kp[part_index("LEar"), :2] = np.nan  # v = 0: ignored
    S = gt.confidence_maps(kp[None], GRID)
    assert torch.isfinite(S).all() and S[0, 0, 2, 2] == 1


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.zeros((3, 17, 3)), "coco_to_openpose"),
        (np.zeros((18, 3)), r"kps\[None\]"),
        (np.zeros((1, 2, 3, 18, 3)), "shape"),
        (np.zeros((1, 18, 2)), "shape"),
    ],
)
def test_wrong_shapes_raise(bad, message):
    with pytest.raises(ValueError, match=message):
        gt.confidence_maps(bad, GRID)
    with pytest.raises(ValueError, match=message):
        gt.part_affinity_fields(bad, GRID)


def test_bad_values_raise():
    kp = person({"Nose": (np.nan, 3.0)})[None]
    with pytest.raises(ValueError, match="non-finite coordinates"):
        gt.confidence_maps(kp, GRID)
    with pytest.raises(ValueError, match="Nose"):
        gt.part_affinity_fields(kp, GRID)
    ok = person({"Nose": (3.0, 3.0)})[None]
    with pytest.raises(ValueError, match="sigma"):
        gt.confidence_maps(ok, GRID, sigma=0)
    with pytest.raises(ValueError, match="sigma"):
        gt.confidence_maps(ok, GRID, sigma=-1.0)
    assert gt.confidence_maps(ok, GRID, sigma=np.float32(7.0)).shape == (1, 19, *GRID)
    with pytest.raises(ValueError, match="sigma"):
        gt.confidence_maps(ok, GRID, sigma=float("nan"))
    with pytest.raises(ValueError, match="limb_width"):
        gt.part_affinity_fields(ok, GRID, limb_width=0)
    with pytest.raises(ValueError, match="variant"):
        gt.confidence_maps(ok, GRID, variant="caffe")
    with pytest.raises(ValueError, match="grid_size"):
        gt.confidence_maps(ok, (0, 5))
    with pytest.raises(ValueError, match="grid_size"):
        gt.confidence_maps(ok, (4.5, 5))
    with pytest.raises(ValueError, match="stride"):
        gt.confidence_maps(ok, GRID, stride=0)
    neg = ok.copy()
    neg[0, 0, 2] = -1
    with pytest.raises(ValueError, match="visibility"):
        gt.confidence_maps(neg, GRID)
    with pytest.raises(TypeError, match="keypoints"):
        gt.confidence_maps("nose", GRID)


# ---------------------------------------------------------------------------------------------
# Loss mask W
# ---------------------------------------------------------------------------------------------


def test_loss_mask_area_majority_and_padding():
    ignore = np.zeros((20, 30), bool)  # grid 3 x 4 (ceil), the last row/column partly padding
    ignore[0:8, 0:8] = True  # cell (0, 0) fully unannotated
    ignore[8:12, 8:16] = True  # cell (1, 1): exactly half -> still annotated (>= 0.5)
    ignore[8:13, 16:24] = True  # cell (1, 2): 5/8 unannotated -> 0
    ignore[16:20, 24:30] = True  # cell (2, 3): 24 of 64 pixels; the 40 padded count as annotated
    W = gt.loss_mask(ignore)
    assert W.shape == (1, 1, 3, 4) and W.dtype == torch.float32
    expected = np.ones((3, 4))
    expected[0, 0] = 0
    expected[1, 2] = 0
    np.testing.assert_array_equal(W[0, 0].numpy(), expected)
    np.testing.assert_array_equal(W[0].numpy(), ref.reference_loss_mask(ignore, (3, 4)))
    soft = gt.loss_mask(ignore, threshold=None)
    assert soft[0, 0, 1, 2].item() == pytest.approx(3 / 8)
    assert soft[0, 0, 2, 3].item() == pytest.approx(40 / 64)


@settings(max_examples=20, deadline=None)
@given(
    H=st.integers(1, 30),
    W=st.integers(1, 30),
    density=st.floats(0, 1),
    seed=st.integers(0, 2**16),
)
def test_loss_mask_matches_loop(H, W, density, seed):
    ignore = np.random.default_rng(seed).random((H, W)) < density
    grid = (-(-H // STRIDE), -(-W // STRIDE))
    ours = gt.loss_mask(torch.as_tensor(ignore))
    assert ours.shape == (1, 1, *grid)
    np.testing.assert_array_equal(ours[0].numpy(), ref.reference_loss_mask(ignore, grid))


def test_loss_mask_cubic_is_the_original_resize():
    import cv2

    ignore = np.zeros((2, 48, 64), bool)
    ignore[0, 10:30, 20:50] = True
    W = gt.loss_mask(ignore, method="cubic", channels=57)
    assert W.shape == (2, 57, 6, 8)
    mask255 = np.where(ignore[0], 0, 255).astype(np.uint8)
    expected = cv2.resize(mask255, (8, 6), interpolation=cv2.INTER_CUBIC) / 255
    np.testing.assert_allclose(W[0, 0].numpy(), expected, atol=1e-6)
    assert (W[0] == W[0, :1]).all() and (W[1] == 1).all()


def test_ignore_from_regions_and_errors():
    m = gt.ignore_from_regions((20, 30), boxes=[(2, 3, 4, 5)], polygons=[[20, 10, 28, 10, 28, 18]])
    assert m.dtype == bool and m.shape == (20, 30)
    assert m[3:9, 2:7].all() and m[3, 1] == 0 and m[12, 27]
    assert m.sum() < 20 * 30 / 4
    with pytest.raises(ValueError, match="polygon"):
        gt.ignore_from_regions((20, 30), polygons=[[1, 2, 3, 4]])
    with pytest.raises(TypeError, match="annToMask"):
        gt.ignore_from_regions((20, 30), polygons=[{"counts": "x", "size": [20, 30]}])
    with pytest.raises(ValueError, match="image_size"):
        gt.ignore_from_regions((0, 30))
    with pytest.raises(ValueError, match="ignore must be"):
        gt.loss_mask(np.zeros(5, bool))
    with pytest.raises(ValueError, match="channels"):
        gt.loss_mask(np.zeros((8, 8), bool), channels=3)
    with pytest.raises(ValueError, match="method"):
        gt.loss_mask(np.zeros((8, 8), bool), method="nearest")
    with pytest.raises(ValueError, match="images"):
        gt.targets(np.zeros((2, 1, 18, 3)), np.zeros((3, 16, 16), bool), grid_size=(2, 2))


def test_targets_match_the_three_functions():
    kp, ignore = ref.make_batch(2, 3, crop=96, seed=1)
    S, L, W = gt.targets(kp, ignore, grid_size=(12, 12), variant="released")
    torch.testing.assert_close(S, gt.confidence_maps(kp, (12, 12), variant="released"))
    torch.testing.assert_close(L, gt.part_affinity_fields(kp, (12, 12), variant="released"))
    torch.testing.assert_close(W, gt.loss_mask(ignore, (12, 12)))


# ---------------------------------------------------------------------------------------------
# COCO-17 -> OpenPose-18
# ---------------------------------------------------------------------------------------------


def test_coco_to_openpose_order_by_name():
    coco = np.zeros((1, 17, 3))
    for i in range(17):
        coco[0, i] = (10 + i, 100 + i, 2)
    op = gt.coco_to_openpose(coco)
    assert op.shape == (1, 18, 3) and isinstance(op, np.ndarray)
    for j, name in enumerate(PART_NAMES):
        if name == "Neck":
            continue
        # "RShoulder" <-> "right_shoulder", "LEye" <-> "left_eye", "Nose" <-> "nose".
        side = {"R": "right_", "L": "left_"}.get(name[0], "") if name != "Nose" else ""
        coco_name = (side + (name[1:] if side else name)).lower()
        assert op[0, j, 0] == 10 + COCO_PART_NAMES.index(coco_name), name


@pytest.mark.parametrize(
    "v_left, v_right, v_neck", [(2, 2, 2), (2, 1, 1), (1, 2, 1), (1, 1, 1), (0, 2, 0), (2, 0, 0), (0, 0, 0)]
)
def test_neck_is_mean_of_shoulders_with_caffe_train_visibility(v_left, v_right, v_neck):
    coco = torch.zeros(17, 3)
    coco[COCO_PART_NAMES.index("left_shoulder")] = torch.tensor([40.0, 20.0, v_left])
    coco[COCO_PART_NAMES.index("right_shoulder")] = torch.tensor([20.0, 24.0, v_right])
    op = gt.coco_to_openpose(coco.flatten()[None])  # flat COCO list (1, 51)
    assert isinstance(op, torch.Tensor) and op.shape == (1, 18, 3)
    neck = op[0, part_index("Neck")]
    assert neck[2] == v_neck
    if v_neck:
        assert neck[:2].tolist() == [30.0, 22.0]
    else:
        assert neck[:2].tolist() == [0.0, 0.0]


def test_coco_to_openpose_rejects_wrong_shape():
    with pytest.raises(ValueError, match="COCO"):
        gt.coco_to_openpose(np.zeros((2, 18, 3)))


# ---------------------------------------------------------------------------------------------
# Device
# ---------------------------------------------------------------------------------------------


@pytest.mark.cuda
def test_cuda_matches_cpu():
    kp, ignore = ref.make_batch(2, 5, crop=184, seed=2)
    for variant in gt.VARIANTS:
        cpu = gt.targets(kp, ignore, grid_size=(23, 23), variant=variant)
        cuda = gt.targets(
            torch.as_tensor(kp).cuda(), torch.as_tensor(ignore).cuda(), grid_size=(23, 23), variant=variant
        )
        for a, b in zip(cpu, cuda):
            assert b.device.type == "cuda"
            torch.testing.assert_close(b.cpu(), a, atol=1e-6, rtol=1e-5)


def test_device_argument():
    kp = torch.zeros(1, 1, 18, 3)
    assert gt.confidence_maps(kp, GRID, device="cpu").device.type == "cpu"
    assert gt.part_affinity_fields(kp.numpy(), GRID).device.type == "cpu"
    assert [limb.index for limb in LIMBS] == list(range(19))
