"""Multi-person parsing (assembly.py): each step against a loop reference, and the round trip
people -> perfect maps (ground truth S*, L* upsampled like network output) -> parse -> same people."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks import references
from openpose_edu import groundtruth
from openpose_edu.assembly import (
    MAX_PEAKS_BOUND,
    Connections,
    ParsingParams,
    Peaks,
    _boxes,
    _smooth_near_parts,
    find_peaks,
    group_people,
    match_limbs,
    parse,
    score_limbs,
    smooth_maps,
)
from openpose_edu.assembly2019 import parse_2019
from openpose_edu.inference import Padding, resize_maps
from openpose_edu.skeleton import BODY25, COCO18, LIMBS, N_PARTS, REDUNDANT_LIMBS, Skeleton, part_index

# --------------------------------------------------------------------------------------------
# Scenes with known people
# --------------------------------------------------------------------------------------------

TEMPLATE = references.TEMPLATE  # a standing person of height 1, neck at the origin


def _body25_template() -> np.ndarray:
    """The same standing person in BODY_25's 25 parts: COCO-18's parts where they share a
    name, MidHip between the hips, and a heel, big toe and small toe below each ankle."""
    shared = {name: TEMPLATE[j] for j, name in enumerate(COCO18.parts)}
    extra = {
        "MidHip": (0.0, 0.38),
        "RHeel": (-0.1, 0.87), "RBigToe": (-0.06, 0.92), "RSmallToe": (-0.13, 0.91),
        "LHeel": (0.1, 0.87), "LBigToe": (0.06, 0.92), "LSmallToe": (0.13, 0.91),
    }  # fmt: skip
    return np.array([shared[n] if n in shared else extra[n] for n in BODY25.parts])


TEMPLATES = {"COCO18": TEMPLATE, "BODY25": _body25_template()}  # (J, 2) per skeleton


def _segment_distance(p1, p2, q1, q2) -> float:
    def to_segment(p, a, b):
        ab = b - a
        t = np.clip(np.dot(p - a, ab) / max(np.dot(ab, ab), 1e-12), 0, 1)
        return float(np.linalg.norm(p - (a + t * ab)))

    def cross(u, v):
        return u[0] * v[1] - u[1] * v[0]

    if (
        cross(q2 - q1, p1 - q1) * cross(q2 - q1, p2 - q1) < 0
        and cross(p2 - p1, q1 - p1) * cross(p2 - p1, q2 - p1) < 0
    ):
        return 0.0
    return min(to_segment(p1, q1, q2), to_segment(p2, q1, q2), to_segment(q1, p1, p2), to_segment(q2, p1, p2))


def _limbs_compatible(p1, p2, q1, q2, gap: float) -> bool:
    """Two same-type limbs of different people: apart, or crossing steeply away from their ends."""
    if _segment_distance(p1, p2, q1, q2) >= gap:
        return True
    u, v = p2 - p1, q2 - q1
    steep = abs(np.dot(u, v)) / (np.linalg.norm(u) * np.linalg.norm(v) + 1e-12) < 0.5
    if not steep or _segment_distance(p1, p2, q1, q2) > 0:
        return False
    return (
        min(_segment_distance(e, e, q1, q2) for e in (p1, p2)) >= gap
        and min(_segment_distance(e, e, p1, p2) for e in (q1, q2)) >= gap
    )


def label_inside(points: np.ndarray, size: tuple[int, int], margin: float = 12.0) -> np.ndarray:
    """(18, 3) [x, y, v]: v = 2 inside the image, 0 outside or within ``margin`` of the border.

    The network's grid starts half a stride inside the image and the upsampled maps are flat
    beyond that, so parts within 1.5 strides of the border cannot be placed within 1 px.
    """
    H, W = size
    x, y = points[:, 0], points[:, 1]
    inside = (x >= margin) & (x <= W - 1 - margin) & (y >= margin) & (y <= H - 1 - margin)
    return np.column_stack([points, np.where(inside, 2.0, 0.0)])


def random_scene(
    rng: np.random.Generator,
    size: tuple[int, int] = (256, 256),
    n_people: int = 3,
    p_unlabelled: float = 0.0,
    heights: tuple[float, float] = (150, 190),
    gap: float = 24.0,
    min_limb: float = 0.0,
    skeleton: Skeleton = COCO18,
) -> np.ndarray:
    """Keypoints (P, J, 3) of up to n people, some cut by the border, some partly labelled.

    Same-type parts of different people stay ``gap`` px apart and same-type limbs stay apart or
    cross steeply (an X), so a perfect parse is well defined; other limbs may cross or touch.
    """
    H, W = size
    template, limbs = TEMPLATES[skeleton.name], skeleton.limbs
    people: list[np.ndarray] = []
    for _ in range(300 * max(n_people, 1)):
        if len(people) == n_people:
            break
        h = rng.uniform(*heights)
        pts = template * h + rng.normal(0, 0.025 * h, template.shape)
        if rng.random() < 0.5:
            pts[:, 0] *= -1  # seen from the back: left and right swap sides
        a = rng.uniform(-0.6, 0.6)
        pts = pts @ np.array([[math.cos(a), math.sin(a)], [-math.sin(a), math.cos(a)]])
        pts += [rng.uniform(-0.05 * W, 1.05 * W), rng.uniform(0.15 * H, 0.65 * H)]
        person = label_inside(pts, size)
        person[rng.random(skeleton.n_parts) < p_unlabelled, 2] = 0
        v = person[:, 2] > 0
        if min_limb and any(
            v[lb.a] and v[lb.b] and np.linalg.norm(pts[lb.a] - pts[lb.b]) < min_limb for lb in limbs
        ):
            continue
        ok = True
        for q in people:
            both = v & (q[:, 2] > 0)
            if np.any(np.linalg.norm(pts - q[:, :2], axis=1)[both] < gap):
                ok = False
                break
            for lb in limbs:
                if v[lb.a] and v[lb.b] and q[lb.a, 2] and q[lb.b, 2]:
                    if not _limbs_compatible(pts[lb.a], pts[lb.b], q[lb.a, :2], q[lb.b, :2], gap):
                        ok = False
                        break
                # No part on somebody else's limb of its type: the parse would be ambiguous.
                for mine, theirs in ((pts, q), (q, pts)):
                    mine_v = v if mine is pts else q[:, 2] > 0
                    theirs_v = q[:, 2] > 0 if theirs is q else v
                    if theirs_v[lb.a] and theirs_v[lb.b]:
                        for j in (lb.a, lb.b):
                            a, b = theirs[lb.a, :2], theirs[lb.b, :2]
                            if mine_v[j] and _segment_distance(mine[j, :2], mine[j, :2], a, b) < gap:
                                ok = False
                if not ok:
                    break
            if not ok:
                break
        if ok:
            people.append(person)
    return np.array(people).reshape(-1, skeleton.n_parts, 3)


def expected_people(keypoints: np.ndarray, min_parts: int = 4, skeleton: Skeleton = COCO18) -> np.ndarray:
    """What a perfect parse must find: each person's labelled parts that the limbs connect
    (a connected component of the limb graph), when it has at least ``min_parts`` parts."""
    J = skeleton.n_parts
    out = []
    for person in keypoints:
        labelled = person[:, 2] > 0
        component = -np.ones(J, dtype=int)
        for j in np.flatnonzero(labelled):
            if component[j] >= 0:
                continue
            component[j], stack = j, [j]
            while stack:
                u = stack.pop()
                for lb in skeleton.limbs:
                    for s, t in ((lb.a, lb.b), (lb.b, lb.a)):
                        if s == u and labelled[t] and component[t] < 0:
                            component[t] = j
                            stack.append(t)
        for c in np.unique(component[component >= 0]):
            members = component == c
            if members.sum() >= min_parts:
                kp = np.zeros((J, 3))
                kp[members] = person[members]
                out.append(kp)
    return np.array(out).reshape(-1, J, 3)


def perfect_maps(
    keypoints: np.ndarray, size: tuple[int, int], variant: str = "released", skeleton: Skeleton = COCO18
):
    """S*, L* (19/38, H, W; 26/52 for BODY25) at image resolution, made like network output
    (groundtruth on the stride-8 grid -> bicubic x8)."""
    return references.perfect_maps(keypoints, size, variant=variant, skeleton=skeleton)


def assert_same_people(found: np.ndarray, expected: np.ndarray, tol: float) -> None:
    """Same number of people, each expected person found with exactly its parts, within tol px."""
    assert len(found) == len(expected), f"found {len(found)} people, expected {len(expected)}"
    used = set()
    for e in expected:
        labelled = e[:, 2] > 0
        d = np.linalg.norm(found[:, :, :2] - e[None, :, :2], axis=2)  # (P, J)
        k = int(np.argmin(np.where(labelled, d, 0).sum(axis=1)))
        assert k not in used, "two expected people matched the same parsed person"
        used.add(k)
        np.testing.assert_array_equal(found[k, :, 2] > 0, labelled, err_msg="different parts grouped")
        assert d[k][labelled].max() <= tol, f"keypoint off by {d[k][labelled].max():.2f} px"


# --------------------------------------------------------------------------------------------
# Round trips: people -> perfect maps -> parse -> the same people
# --------------------------------------------------------------------------------------------


# Both parsers: the 2017 greedy grouping (parse) and the 2019 ranked walk (assembly2019.parse_2019)
# find the same people on perfect maps of well separated people.
PARSERS = pytest.mark.parametrize("parser", [parse, parse_2019], ids=["2017", "2019"])


@PARSERS
@settings(max_examples=10, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**32 - 1), n_people=st.integers(0, 5), partial=st.sampled_from([0.0, 0.2]))
def test_round_trip_released_maps(parser, seed: int, n_people: int, partial: float) -> None:
    """caffe_train's S*, L* (what the demo's parser was tuned on): exact people, within 1 px."""
    size = (256, 256)
    kp = random_scene(np.random.default_rng(seed), size, n_people, p_unlabelled=partial)
    S, L = perfect_maps(kp, size, "released")
    people = parser(S, L)
    assert_same_people(people.keypoints, expected_people(kp), tol=1.0)


@settings(max_examples=5, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**32 - 1), n_people=st.integers(1, 4))
def test_round_trip_paper_maps(seed: int, n_people: int) -> None:
    """The paper's S*, L* (Eq. 6-9): exact people within 2 px, with two caveats of these maps.

    Their Gaussian (std sigma / sqrt 2 = 5 px) is undersampled by the stride-8 grid, so the
    upsampled peak is off by up to ~1.7 px; and their PAF stops at the limb's ends, so the
    two end samples of the line integral can fall below thre2: 8 of 10 samples must suffice
    (min_above_fraction 0.7) and limbs must be at least two strides long.
    """
    size = (256, 256)
    kp = random_scene(np.random.default_rng(seed), size, n_people, heights=(170, 200), min_limb=16)
    S, L = perfect_maps(kp, size, "paper")
    people = parse(S, L, ParsingParams(min_above_fraction=0.7))
    assert_same_people(people.keypoints, expected_people(kp), tol=2.0)


@PARSERS
@settings(max_examples=10, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**32 - 1), n_people=st.integers(0, 5), partial=st.sampled_from([0.0, 0.2]))
def test_round_trip_released_body25_maps(parser, seed: int, n_people: int, partial: float) -> None:
    """The same round trip with BODY_25's 25 parts and 26 limbs (feet, MidHip; PAF channels
    from POSE_MAP_INDEX): ground truth, parse and the expected people all read skeleton.BODY25."""
    size = (256, 256)
    # Feet limbs are short (ankle-heel 0.05 h): keep them over 6 px, or the two ends are one peak.
    rng = np.random.default_rng(seed)
    kp = random_scene(rng, size, n_people, p_unlabelled=partial, min_limb=6.0, skeleton=BODY25)
    S, L = perfect_maps(kp, size, "released", skeleton=BODY25)
    assert S.shape == (26, *size) and L.shape == (52, *size)
    people = parser(S, L, skeleton=BODY25)
    assert people.keypoints.shape[1:] == (25, 3)
    assert_same_people(people.keypoints, expected_people(kp, skeleton=BODY25), tol=1.0)


def _person(neck: tuple[float, float], height: float, **moves: tuple[float, float]) -> np.ndarray:
    pts = TEMPLATE * height + neck
    for name, xy in moves.items():
        pts[part_index(name)] = xy
    return pts


def test_crossing_forearms() -> None:
    """Two people's left forearms cross in an X: the PAF at the crossing is ambiguous, the
    line integral over the whole limb is not."""
    size = (256, 320)
    a = _person((90, 90), 170, LElbow=(140, 120), LWrist=(190, 90))
    b = _person((230, 80), 170, LElbow=(185, 125), LWrist=(140, 90))
    kp = np.stack([label_inside(a, size), label_inside(b, size)])
    for variant in ("released", "paper"):
        S, L = perfect_maps(kp, size, variant)
        people = parse(S, L, ParsingParams(min_above_fraction=0.7))
        assert_same_people(people.keypoints, expected_people(kp), tol=2.0)


def test_touching_hands() -> None:
    """One's left wrist touches the other's right wrist (different part types, same pixel)."""
    size = (256, 320)
    a = _person((100, 90), 170, LElbow=(135, 110), LWrist=(160, 125))
    b = _person((220, 90), 170, RElbow=(185, 110), RWrist=(160, 125))
    kp = np.stack([label_inside(a, size), label_inside(b, size)])
    S, L = perfect_maps(kp, size)
    assert_same_people(parse(S, L).keypoints, expected_people(kp), tol=1.0)


def test_people_cut_by_the_border() -> None:
    """People half outside the image: only their parts inside are labelled and found."""
    size = (256, 256)
    left = label_inside(_person((15, 80), 170), size)  # right-side parts are outside
    right = label_inside(_person((250, 100), 180), size)
    kp = np.stack([left, right])
    assert (kp[:, :, 2] == 0).sum() > 8
    S, L = perfect_maps(kp, size)
    assert_same_people(parse(S, L).keypoints, expected_people(kp), tol=1.0)


def test_no_neck_head_joins_shoulders_through_ears() -> None:
    """Without a neck, arms and head connect only through the ear-shoulder limbs (17, 18),
    which never start a person but merge two; arms alone (3 parts each) are no person."""
    size = (256, 256)
    headless = label_inside(_person((80, 90), 170), size)
    headless[part_index("Neck"), 2] = 0
    arms_only = label_inside(_person((190, 90), 170), size)
    for name in ("Neck", "Nose", "REye", "LEye", "REar", "LEar", "RHip", "LHip", "RKnee", "LKnee"):
        arms_only[part_index(name), 2] = 0
    kp = np.stack([headless, arms_only])
    S, L = perfect_maps(kp, size)
    people = parse(S, L)
    expected = expected_people(kp)
    # The headless person is one piece (arms + head through the ears; legs, cut off at the hips,
    # are two pieces of 3); the other has two arms of 3 parts and two lone ankles: nobody.
    assert len(expected) == 1
    assert_same_people(people.keypoints, expected, tol=1.0)


# --------------------------------------------------------------------------------------------
# Degenerate maps
# --------------------------------------------------------------------------------------------


def test_empty_maps_give_no_people() -> None:
    S, L = np.zeros((19, 40, 50), np.float32), np.zeros((38, 40, 50), np.float32)
    people = parse(S, L)
    assert people.keypoints.shape == (0, N_PARTS, 3)
    assert people.scores.shape == (0,) and len(people.steps.peaks) == 0


def test_single_isolated_peak_is_no_person() -> None:
    S, L = np.zeros((19, 40, 50), np.float32), np.zeros((38, 40, 50), np.float32)
    S[part_index("Neck"), 20, 25] = 1.0
    people = parse(S, L, ParsingParams(smooth_sigma=None))
    assert len(people.steps.peaks) == 1 and len(people) == 0


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), smooth=st.sampled_from([None, 3.0]), nb=st.sampled_from([4, 8]))
def test_noise_never_crashes_nor_shares_a_candidate(seed: int, smooth: float | None, nb: int) -> None:
    # Random grid maps upsampled like network output: blobs and ridges in every direction.
    rng = np.random.default_rng(seed)
    grid = torch.from_numpy(rng.random((1, 57, 5, 6)).astype(np.float32))
    grid[:, 19:] = grid[:, 19:] * 4 - 2  # PAF components in -2..2
    maps = resize_maps(grid, Padding((40, 48), (40, 48), (40, 48), 1.0))[0].numpy()
    S, L = maps[:19], maps[19:]
    params = ParsingParams(smooth_sigma=smooth, peak_neighbours=nb, min_parts=2, min_mean_score=0.0)
    people = parse(S, L, params)
    ids = people.part_ids[people.part_ids >= 0]
    assert len(ids) == len(set(ids.tolist())), "a candidate was given to two people"
    peaks = people.steps.peaks
    present = people.part_ids >= 0
    np.testing.assert_array_equal(present.sum(1), people.n_parts)
    assert np.all(people.n_parts >= params.min_parts)
    for p, j in zip(*np.nonzero(present)):
        cid = people.part_ids[p, j]
        assert peaks.part[cid] == j
        np.testing.assert_allclose(people.keypoints[p, j], [*peaks.xy[cid], peaks.score[cid]])
    assert np.all(people.keypoints[~present] == 0)
    # ... and the vectorized parse is the loop reference's parse.
    np.testing.assert_allclose(people.keypoints, references.loop_parse(S, L, params), atol=1e-5)


# --------------------------------------------------------------------------------------------
# Each step against a slow loop version
# --------------------------------------------------------------------------------------------


def _loop_peaks(m: np.ndarray, threshold: float, neighbours: int) -> list[tuple[int, int, int]]:
    """(part, y, x) of every pixel > threshold and >= its neighbours (outside counts as 0)."""
    C, H, W = m.shape
    offs = [(0, 1), (0, -1), (1, 0), (-1, 0)] + (
        [(1, 1), (1, -1), (-1, 1), (-1, -1)] if neighbours == 8 else []
    )
    out = []
    for c in range(C):
        for y in range(H):
            for x in range(W):
                v = m[c, y, x]
                if v <= threshold:
                    continue
                if all(
                    v >= (m[c, y + dy, x + dx] if 0 <= y + dy < H and 0 <= x + dx < W else 0)
                    for dy, dx in offs
                ):
                    out.append((c, y, x))
    return out


@pytest.mark.parametrize("neighbours", [4, 8])
@pytest.mark.parametrize("smooth", [None, 2.0])
def test_find_peaks_matches_loop(neighbours: int, smooth: float | None) -> None:
    rng = np.random.default_rng(neighbours)
    S = rng.random((19, 12, 15)).astype(np.float32)
    S[:, :, 0] = 0.9  # plateaus along the border: >= keeps them all, like the demo
    params = ParsingParams(smooth_sigma=smooth, peak_neighbours=neighbours, peak_threshold=0.3)
    peaks = find_peaks(torch.from_numpy(S), params)  # torch input works too
    m = smooth_maps(S, smooth) if smooth else S[:N_PARTS]
    ref = _loop_peaks(m, 0.3, neighbours)
    got = [(int(c), int(y), int(x)) for c, (x, y) in zip(peaks.part, peaks.xy)]
    assert got == ref
    np.testing.assert_array_equal(peaks.score, [S[c, y, x] for c, y, x in ref])  # unsmoothed scores


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    sigma=st.sampled_from([1.0, 3.0]),
    neighbours=st.sampled_from([4, 8]),
    gap=st.sampled_from([0, 48]),
)
def test_smoothing_only_near_parts_finds_the_same_peaks(
    seed: int, sigma: float, neighbours: int, gap: int
) -> None:
    """find_peaks smooths only in boxes around above-threshold pixels: same peaks as smoothing all.

    Many blobs on a large map, so that the XY cut makes several boxes per channel, some of
    them as close as the cut allows (gap 0 means the smallest exact gap, 2 r + 2).
    """
    rng = np.random.default_rng(seed)
    H, W = 150, 210
    S = (rng.random((19, H, W)) * 0.09).astype(np.float32)  # below the threshold everywhere
    yy, xx = np.mgrid[0:H, 0:W]
    for _ in range(14):  # blobs, some at the border, several in the same channel
        j, y, x = rng.integers(0, 3), rng.uniform(-3, H + 3), rng.uniform(-3, W + 3)
        spread = 2 * rng.uniform(1, 6) ** 2
        S[j] += rng.uniform(0.1, 1.0) * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / spread)
    params = ParsingParams(smooth_sigma=sigma, peak_neighbours=neighbours)
    got = _smooth_near_parts(S[:N_PARTS], sigma, params.peak_threshold, neighbours, gap=gap)
    ref = _loop_peaks(smooth_maps(S, sigma), params.peak_threshold, neighbours)
    assert [(int(i) // (H * W), int(i) % (H * W) // W, int(i) % W) for i in got] == ref
    if gap == 48:  # the default: find_peaks gives the same
        peaks = find_peaks(S, params)
        assert [(int(c), int(y), int(x)) for c, (x, y) in zip(peaks.part, peaks.xy)] == ref


def test_boxes_cover_the_active_pixels_and_keep_apart() -> None:
    """The XY cut: every True pixel in exactly one box; boxes are >= gap rows or columns apart."""
    rng = np.random.default_rng(0)
    active = rng.random((120, 160)) > 0.997
    boxes = _boxes(active, gap=10)
    assert len(boxes) > 3
    covered = np.zeros(active.shape, int)
    for y0, y1, x0, x1 in boxes:
        covered[y0:y1, x0:x1] += 1
    assert covered[active].min() == 1 and covered.max() == 1
    for a, (y0, y1, x0, x1) in enumerate(boxes):
        for v0, v1, u0, u1 in boxes[a + 1 :]:
            assert max(v0 - y1, y0 - v1) >= 10 or max(u0 - x1, x0 - u1) >= 10


def test_smoothing_is_scipys_gaussian_filter() -> None:
    from scipy.ndimage import gaussian_filter

    S = np.random.default_rng(0).random((19, 30, 41)).astype(np.float32)
    ours = smooth_maps(S, 3.0)
    ref = np.stack([gaussian_filter(S[j], sigma=3.0) for j in range(N_PARTS)])
    np.testing.assert_allclose(ours, ref, atol=1e-5)


def test_eight_neighbours_suppress_diagonal_ties() -> None:
    S = np.zeros((19, 5, 5), np.float32)
    S[0, 2, 2], S[0, 3, 3] = 0.5, 0.9  # the larger value is a diagonal neighbour
    p4 = find_peaks(S, ParsingParams(smooth_sigma=None, peak_neighbours=4))
    p8 = find_peaks(S, ParsingParams(smooth_sigma=None, peak_neighbours=8))
    assert len(p4) == 2 and len(p8) == 1
    np.testing.assert_array_equal(p8.xy, [[3, 3]])


def test_peaks_per_part_table() -> None:
    S = np.zeros((19, 20, 20), np.float32)
    S[3, 5, 7] = S[3, 15, 2] = S[10, 1, 1] = 0.5
    peaks = find_peaks(S, ParsingParams(smooth_sigma=None))
    table = peaks.per_part
    assert len(table) == N_PARTS
    np.testing.assert_array_equal(table[3], [[7, 5, 0.5, 0], [2, 15, 0.5, 1]])
    np.testing.assert_array_equal(table[10][:, 3], [2])
    assert [len(t) for t in table].count(0) == N_PARTS - 2
    np.testing.assert_array_equal(peaks.of_part(3), [0, 1])


def _random_peaks(rng: np.random.Generator, H: int, W: int, n: int) -> Peaks:
    part = np.sort(rng.integers(0, N_PARTS, n))
    return Peaks(
        xy=np.column_stack([rng.integers(0, W, n), rng.integers(0, H, n)]).astype(np.float32),
        score=rng.random(n).astype(np.float32),
        part=part.astype(np.int64),
    )


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_samples=st.sampled_from([2, 5, 10, 17]))
def test_score_limbs_matches_the_demos_pair_loop(seed: int, n_samples: int) -> None:
    rng = np.random.default_rng(seed)
    H, W = 30, 40
    L = rng.normal(0, 0.5, (38, H, W)).astype(np.float32)
    peaks = _random_peaks(rng, H, W, 60)
    params = ParsingParams(n_samples=n_samples)
    for limb in LIMBS:
        got = score_limbs(peaks, L, limb, params)
        A, B = peaks.xy[peaks.of_part(limb.a)], peaks.xy[peaks.of_part(limb.b)]
        assert got.score.shape == (len(A), len(B)) and got.samples.shape == (len(A), len(B), n_samples, 2)
        for i, a in enumerate(A):
            for j, b in enumerate(B):
                vec = b - a
                norm = max(math.hypot(*vec), 1e-3)
                pts = zip(np.linspace(a[0], b[0], n_samples), np.linspace(a[1], b[1], n_samples))
                along = [
                    L[limb.paf_x, int(round(y)), int(round(x))] * vec[0] / norm
                    + L[limb.paf_y, int(round(y)), int(round(x))] * vec[1] / norm
                    for x, y in pts
                ]
                score = float(np.mean(along)) + min(0.5 * H / norm - 1, 0)
                ok = sum(v > 0.05 for v in along) > 0.8 * n_samples and score > 0
                np.testing.assert_allclose(got.along[i, j], along, rtol=1e-5, atol=1e-6)
                assert got.score[i, j] == pytest.approx(score, abs=1e-6)
                assert bool(got.valid[i, j]) == ok


def _one_candidate_each(limb, a: list[float], b: list[float]) -> Peaks:  # noqa: ANN001
    """One candidate of part limb.a at ``a`` and one of limb.b at ``b`` ([x, y]), score 1."""
    return Peaks(
        xy=np.array([a, b], np.float32), score=np.ones(2, np.float32), part=np.array([limb.a, limb.b])
    )


def test_score_limbs_of_a_perfect_limb() -> None:
    """A constant unit field along A -> B scores 1 at every sample; reversed, -1."""
    L = np.zeros((38, 50, 50), np.float32)
    limb = LIMBS[2]
    L[limb.paf_x] = 0.6
    L[limb.paf_y] = 0.8
    peaks = _one_candidate_each(limb, [10, 10], [16, 18])
    s = score_limbs(peaks, L, limb)
    np.testing.assert_allclose(s.along[0, 0], 1.0, rtol=1e-6)
    assert s.valid[0, 0] and s.fraction[0, 0] == 1.0 and s.prior[0, 0] == 0
    L[limb.paf_x] *= -1
    L[limb.paf_y] *= -1
    assert not score_limbs(peaks, L, limb.index).valid[0, 0]


def test_distance_prior_penalises_limbs_longer_than_half_the_height() -> None:
    L = np.zeros((38, 40, 200), np.float32)
    limb = LIMBS[0]
    L[limb.paf_x] = 1.0
    peaks = _one_candidate_each(limb, [0, 5], [100, 5])
    s = score_limbs(peaks, L, limb)
    assert s.prior[0, 0] == pytest.approx(0.5 * 40 / 100 - 1)
    assert s.score[0, 0] == pytest.approx(1 + 0.5 * 40 / 100 - 1)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), nA=st.integers(0, 6), nB=st.integers(0, 6))
def test_greedy_matching(seed: int, nA: int, nB: int) -> None:
    rng = np.random.default_rng(seed)
    limb = LIMBS[0]
    from openpose_edu.assembly import LimbScores

    score = rng.normal(0.5, 0.5, (nA, nB))
    scores = LimbScores(
        limb=limb,
        a=np.arange(nA),
        b=np.arange(nA, nA + nB),
        samples=np.zeros((nA, nB, 10, 2)),
        along=np.zeros((nA, nB, 10)),
        mean=score,
        prior=np.zeros((nA, nB)),
        score=score,
        fraction=np.ones((nA, nB)),
        valid=(score > 0) & (rng.random((nA, nB)) < 0.8),
    )
    c = match_limbs(scores)
    # Ranked: every valid pair, best first. Replaying the decisions gives the connections.
    assert len(c.ranked) == scores.valid.sum()
    ranked_scores = score[c.ranked[:, 0], c.ranked[:, 1]]
    assert np.all(np.diff(ranked_scores) <= 0)
    used_a, used_b, chosen = set(), set(), []
    for (i, j), acc in zip(c.ranked.tolist(), c.accepted):
        free = i not in used_a and j not in used_b and len(chosen) < min(nA, nB)
        assert acc == free
        if free:
            used_a.add(i)
            used_b.add(j)
            chosen.append((i, j))
    assert list(zip(c.a.tolist(), c.b.tolist())) == [(scores.a[i], scores.b[j]) for i, j in chosen]
    assert len(set(c.a.tolist())) == len(c) and len(set(c.b.tolist())) == len(c)
    np.testing.assert_allclose(c.score, [score[i, j] for i, j in chosen])


def _conns(limb_index: int, pairs: list[tuple[int, int]], s: float = 1.0) -> Connections:
    a = np.array([p[0] for p in pairs], dtype=np.int64)
    b = np.array([p[1] for p in pairs], dtype=np.int64)
    return Connections(
        limb=LIMBS[limb_index],
        a=a,
        b=b,
        score=np.full(len(pairs), s),
        ranked=np.zeros((0, 2), np.int64),
        accepted=np.zeros(0, bool),
    )


def _peaks_for(parts: list[int]) -> Peaks:
    order = np.argsort(parts, kind="stable")
    assert np.all(order == np.arange(len(parts))), "give parts sorted"
    n = len(parts)
    return Peaks(
        xy=np.arange(2 * n, dtype=np.float32).reshape(n, 2),
        score=np.ones(n, np.float32),
        part=np.array(parts),
    )


def test_group_people_merges_and_redundant_limbs_only_complete() -> None:
    # candidates: 0 Nose, 1 Neck, 2 RShoulder, 3 RElbow, 4 REye, 5 REar
    peaks = _peaks_for([0, 1, 2, 3, 14, 16])
    conns = [_conns(k, []) for k in range(len(LIMBS))]
    conns[2] = _conns(2, [(2, 3)])  # RSho-RElb: starts person A
    conns[13] = _conns(13, [(0, 4)])  # Nose-REye: starts person B
    conns[14] = _conns(14, [(4, 5)])  # REye-REar: joins B
    conns[17] = _conns(17, [(2, 5)])  # RSho-REar: merges A and B
    people = group_people(peaks, conns, ParsingParams(min_parts=1, min_mean_score=0))
    assert len(people) == 1
    np.testing.assert_array_equal(np.flatnonzero(people.part_ids[0] >= 0), [0, 2, 3, 14, 16])
    assert people.n_parts[0] == 5
    assert people.scores[0] == pytest.approx(5 * 1.0 + 4 * 1.0)  # parts + connections
    # A redundant limb alone never creates a person.
    assert 17 in REDUNDANT_LIMBS
    only = [_conns(k, [(2, 5)] if k == 17 else []) for k in range(len(LIMBS))]
    assert len(group_people(peaks, only, ParsingParams(min_parts=1, min_mean_score=0))) == 0


def test_group_people_never_gives_a_candidate_to_two_people() -> None:
    """The demo's bug: two people that cannot merge (both have a neck) each own one end of a
    connection; the demo then gives the end to both. We leave the connection out."""
    # 0 Neck, 1 Neck, 2 RShoulder, 3 RShoulder, 4 RElbow
    peaks = _peaks_for([1, 1, 2, 2, 3])
    conns = [_conns(k, []) for k in range(len(LIMBS))]
    conns[0] = _conns(0, [(0, 2), (1, 3)])  # two people: necks with right shoulders
    conns[2] = _conns(2, [(2, 4)])  # RSho 2 -> RElb 4: person 0 gets the elbow
    conns[3] = _conns(3, [])
    people = group_people(peaks, conns, ParsingParams(min_parts=1, min_mean_score=0))
    assert len(people) == 2
    ids = people.part_ids[people.part_ids >= 0]
    assert len(ids) == len(set(ids.tolist())) == 5


def test_min_parts_and_min_mean_score() -> None:
    peaks = _peaks_for([1, 2, 3, 4])
    conns = [_conns(k, []) for k in range(len(LIMBS))]
    conns[0], conns[2], conns[3] = _conns(0, [(0, 1)]), _conns(2, [(1, 2)]), _conns(3, [(2, 3)])
    assert len(group_people(peaks, conns, ParsingParams(min_parts=4))) == 1
    assert len(group_people(peaks, conns, ParsingParams(min_parts=5))) == 0
    # mean score = (4 parts + 3 connections) / 4 = 1.75
    assert len(group_people(peaks, conns, ParsingParams(min_mean_score=1.75))) == 1
    assert len(group_people(peaks, conns, ParsingParams(min_mean_score=1.76))) == 0


# --------------------------------------------------------------------------------------------
# Parameters and input checking
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"peak_threshold": -0.1},
        {"smooth_sigma": -1.0},
        {"peak_neighbours": 6},
        {"n_samples": 1},
        {"min_above_fraction": 1.0},
        {"distance_prior": -0.5},
        {"min_parts": 0},
    ],
)
def test_bad_params_are_refused(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        ParsingParams(**kwargs)


def test_defaults_are_the_reference_demos() -> None:
    p = ParsingParams()
    assert (p.peak_threshold, p.paf_threshold, p.n_samples, p.min_above_fraction) == (0.1, 0.05, 10, 0.8)
    assert (p.min_parts, p.min_mean_score, p.smooth_sigma, p.distance_prior) == (4, 0.4, 3.0, 0.5)


def test_bad_maps_are_refused() -> None:
    with pytest.raises(ValueError, match=r"\(18, H, W\)"):
        find_peaks(np.zeros((1, 19, 10, 10), np.float32))
    with pytest.raises(TypeError, match="numpy array or torch tensor"):
        find_peaks([[0.0]])
    with pytest.raises(ValueError, match="same H, W"):
        parse(np.zeros((19, 10, 10), np.float32), np.zeros((38, 10, 12), np.float32))
    with pytest.raises(ValueError, match=r"\(38, H, W\)"):
        parse(np.zeros((19, 10, 10), np.float32), np.zeros((19, 10, 10), np.float32))


def test_parse_keeps_every_step() -> None:
    kp = random_scene(np.random.default_rng(7), (256, 256), 2)
    S, L = perfect_maps(kp, (256, 256))
    people = parse(torch.from_numpy(S), torch.from_numpy(L))
    steps = people.steps
    assert len(steps.limbs) == len(steps.connections) == len(LIMBS)
    assert [s.limb for s in steps.limbs] == list(LIMBS)
    n = sum(len(c) for c in steps.connections)
    assert n >= people.n_parts.sum() - len(people)  # a tree of n parts has n - 1 limbs


def test_resize_maps_places_grid_cell_g_at_pixel_8g_plus_3_5() -> None:
    """The convention that makes the round trip exact: cell g covers pixels 8g .. 8g+7."""
    grid = torch.zeros(1, 1, 10, 10)
    grid[0, 0, 4, 6] = 1.0
    up = resize_maps(grid, Padding((80, 80), (80, 80), (80, 80), 1.0))[0, 0].numpy()
    y, x = np.unravel_index(np.argmax(up), up.shape)
    assert abs(x - (8 * 6 + 3.5)) <= 0.5 and abs(y - (8 * 4 + 3.5)) <= 0.5
    S = groundtruth.confidence_maps(
        np.array([[[52.0, 36.0, 2]] + [[0, 0, 0]] * 17]), (10, 10), variant="released"
    )
    up = resize_maps(S, Padding((80, 80), (80, 80), (80, 80), 1.0))[0, 0].numpy()
    y, x = np.unravel_index(np.argmax(up), up.shape)
    assert (x, y) == (52, 36)


def test_at_most_max_peaks_candidates_per_part_the_highest() -> None:
    """OpenPose's C++ keeps at most POSE_MAX_PEOPLE = 127 peaks per part: noise maps (an
    untrained network) give thousands of local maxima, whose nA x nB pairs would take gigabytes."""
    rng = np.random.default_rng(0)
    S = rng.random((19, 120, 160)).astype(np.float32)
    params = ParsingParams(smooth_sigma=None)
    capped = find_peaks(S, params)
    every = find_peaks(S, ParsingParams(smooth_sigma=None, max_peaks=MAX_PEAKS_BOUND))
    for j in range(N_PARTS):
        kept, all_j = capped.score[capped.of_part(j)], every.score[every.of_part(j)]
        assert len(all_j) > 1000 and len(kept) == params.max_peaks
        np.testing.assert_array_equal(np.sort(kept)[::-1], np.sort(all_j)[::-1][: params.max_peaks])
    small = ParsingParams(smooth_sigma=None, max_peaks=3)
    assert max(len(find_peaks(S, small).of_part(j)) for j in range(N_PARTS)) == 3
    with pytest.raises(ValueError, match="max_peaks"):
        ParsingParams(max_peaks=0)
