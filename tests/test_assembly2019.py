"""The TPAMI 2019 parser (Sec. 3.5): hand-made cases from the paper's description and replays of
its steps. Its round trips from people to perfect maps and back (COCO-18 and BODY_25) run beside
the 2017 parser's in test_assembly.py (``PARSERS``)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_assembly import perfect_maps, random_scene

from openpose_edu.assembly import LimbScores, ParsingParams, Peaks
from openpose_edu.assembly2019 import (
    DECISIONS,
    JOIN,
    LOOP,
    MERGE,
    NEW,
    OVERLAP,
    SLOT_TAKEN,
    join_fragments,
    parse_2019,
    rank_connections,
)
from openpose_edu.skeleton import COCO18, part_index


def _peaks(parts: list[str], scores: list[float] | None = None) -> Peaks:
    """Candidates 0.. of the named parts (ids in the given order, which must be sorted by part)."""
    part = np.array([part_index(n) for n in parts], np.int64)
    assert np.all(np.diff(part) >= 0), "Peaks are sorted by part"
    score = np.array(scores if scores is not None else [1.0] * len(parts), np.float32)
    return Peaks(xy=np.zeros((len(parts), 2), np.float32), score=score, part=part)


def _limbs(peaks: Peaks, scores: dict[tuple[str, int, int], float]) -> list[LimbScores]:
    """One LimbScores per COCO-18 limb; ``scores[(limb name, a id, b id)]`` valid pairs, others invalid."""
    out = []
    for limb in COCO18.limbs:
        a, b = peaks.of_part(limb.a), peaks.of_part(limb.b)
        score = np.zeros((len(a), len(b)))
        for (name, ia, ib), s in scores.items():
            if name == limb.name:
                score[list(a).index(ia), list(b).index(ib)] = s
        zeros = np.zeros((len(a), len(b)))
        out.append(
            LimbScores(limb, a, b, np.zeros((len(a), len(b), 2, 2)), np.zeros((len(a), len(b), 2)),
                       score, zeros, score, zeros + 1, score > 0)
        )  # fmt: skip
    return out


def _walk(parts: list[str], scores: dict, part_weight: float = 0.0):
    peaks = _peaks(parts)
    limbs = _limbs(peaks, scores)
    ranked = rank_connections(peaks, limbs, part_weight)
    return ranked, *join_fragments(peaks, limbs, ranked, COCO18)


def test_all_limb_types_are_sorted_together_by_paf_score() -> None:
    """Sec. 3.5: one list of every candidate connection, not one limb type after another."""
    parts = ["Neck", "RShoulder", "RElbow", "LHip", "LKnee"]  # ids 0..4
    scores = {("Neck-RShoulder", 0, 1): 0.3, ("RShoulder-RElbow", 1, 2): 0.9, ("LHip-LKnee", 3, 4): 0.6}
    ranked, *_ = _walk(parts, scores)
    names = [COCO18.limbs[k].name for k in ranked.limb]
    assert names == ["RShoulder-RElbow", "LHip-LKnee", "Neck-RShoulder"]
    np.testing.assert_allclose(ranked.paf_score, [0.9, 0.6, 0.3])


def test_part_weight_adds_the_part_scores_to_the_key() -> None:
    """CMU's code sorts by PAF + 0.1 (S_a + S_b): a confident pair of parts can overtake."""
    peaks = _peaks(["Neck", "Neck", "RShoulder", "RShoulder"], [0.1, 1.0, 0.1, 1.0])
    limbs = _limbs(peaks, {("Neck-RShoulder", 0, 2): 0.50, ("Neck-RShoulder", 1, 3): 0.45})
    assert rank_connections(peaks, limbs, 0.0).a.tolist() == [0, 1]  # the paper's text: PAF only
    assert rank_connections(peaks, limbs, 0.1).a.tolist() == [1, 0]  # 0.45 + 0.2 > 0.50 + 0.02


def test_new_join_and_slot_taken() -> None:
    parts = ["Neck", "RShoulder", "RElbow", "RElbow"]  # ids 0, 1, 2, 3
    scores = {("Neck-RShoulder", 0, 1): 0.9, ("RShoulder-RElbow", 1, 2): 0.8, ("RShoulder-RElbow", 1, 3): 0.7}
    ranked, rows, totals, steps = _walk(parts, scores)
    assert steps.decision.tolist() == [NEW, JOIN, SLOT_TAKEN]
    assert len(rows) == 1 and rows[0][part_index("RElbow")] == 2  # the better elbow, the other skipped
    assert totals[0] == pytest.approx(3 * 1.0 + 0.9 + 0.8)
    assert "skipped: slot taken" in steps.describe(2)


def test_two_fragments_from_different_ends_merge() -> None:
    """The union: an arm and a torso found apart join when a later connection links them."""
    parts = ["Neck", "RShoulder", "RElbow", "RWrist", "RHip"]  # ids 0..4
    scores = {
        ("RElbow-RWrist", 2, 3): 0.95,  # fragment 1: elbow-wrist
        ("Neck-RHip", 0, 4): 0.9,  # fragment 2: neck-hip
        ("Neck-RShoulder", 0, 1): 0.85,  # joins fragment 2
        ("RShoulder-RElbow", 1, 2): 0.8,  # both ends owned by different fragments: merge
    }
    ranked, rows, totals, steps = _walk(parts, scores)
    assert steps.decision.tolist() == [NEW, NEW, JOIN, MERGE]
    assert steps.n_people.tolist() == [1, 2, 2, 1]
    assert len(rows) == 1 and (rows[0] >= 0).sum() == 5
    assert totals[0] == pytest.approx(5 * 1.0 + 0.95 + 0.9 + 0.85 + 0.8)


def test_fragments_sharing_a_part_type_do_not_merge() -> None:
    # Two fragments, each with its own Neck, then a pair linking them.
    parts = ["Nose", "Neck", "Neck", "RShoulder"]  # ids 0 nose, 1-2 necks, 3 shoulder
    scores = {("Neck-RShoulder", 1, 3): 0.9, ("Neck-Nose", 2, 0): 0.8, ("Neck-Nose", 1, 0): 0.7}
    ranked, rows, totals, steps = _walk(parts, scores)
    # neck1-shoulder: new; neck2-nose: new; neck1-nose: nose owned by fragment 2, neck1 by 1,
    # and both fragments have a Neck: no merge.
    assert steps.decision.tolist() == [NEW, NEW, OVERLAP]
    assert len(rows) == 2


def test_a_redundant_connection_closes_a_loop_and_adds_its_score() -> None:
    """Redundant PAF connections (RShoulder-REar) inside one person add to its score only."""
    parts = ["Nose", "Neck", "RShoulder", "REye", "REar"]  # ids 0..4
    scores = {
        ("Neck-Nose", 1, 0): 0.9,
        ("Nose-REye", 0, 3): 0.85,
        ("REye-REar", 3, 4): 0.8,
        ("Neck-RShoulder", 1, 2): 0.75,
        ("RShoulder-REar", 2, 4): 0.7,  # redundant: both ends already in the person
    }
    ranked, rows, totals, steps = _walk(parts, scores)
    assert steps.decision.tolist() == [NEW, JOIN, JOIN, JOIN, LOOP]
    assert totals[0] == pytest.approx(5.0 + 0.9 + 0.85 + 0.8 + 0.75 + 0.7)
    assert DECISIONS[LOOP].startswith("closes a loop")


def test_a_redundant_connection_may_start_a_person() -> None:
    """Unlike the 2017 demo (ear-shoulder limbs only complete people), the 2019 walk lets a
    redundant connection that comes first start a fragment, which later connections extend."""
    parts = ["Neck", "RShoulder", "REar"]  # ids 0, 1, 2
    scores = {("RShoulder-REar", 1, 2): 0.9, ("Neck-RShoulder", 0, 1): 0.8}
    _, rows, _, steps = _walk(parts, scores)
    assert steps.decision.tolist() == [NEW, JOIN] and (rows[0] >= 0).sum() == 3


def test_empty_maps_find_nobody() -> None:
    people = parse_2019(np.zeros((19, 32, 32), np.float32), np.zeros((38, 32, 32), np.float32))
    assert len(people) == 0 and people.keypoints.shape == (0, 18, 3) and len(people.steps.ranked) == 0


@settings(max_examples=10, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**32 - 1))
def test_every_accepted_connection_is_replayed(seed: int) -> None:
    """The steps replay the parse: the people's parts are exactly the ends of the connections
    that created, joined or merged them, and no candidate belongs to two people."""
    size = (192, 192)
    kp = random_scene(np.random.default_rng(seed), size, 3, p_unlabelled=0.2)
    S, L = perfect_maps(kp, size, "released")
    S = S + np.random.default_rng(seed).normal(0, 0.05, S.shape).astype(np.float32)  # some clutter
    people = parse_2019(S, L, ParsingParams(min_parts=1, min_mean_score=0.0))
    steps = people.steps
    used = np.isin(steps.decision, [NEW, JOIN, LOOP, MERGE])
    ends = set(steps.ranked.a[used].tolist()) | set(steps.ranked.b[used].tolist())
    ids = people.part_ids[people.part_ids >= 0]
    assert len(ids) == len(set(ids.tolist())), "a candidate in two people"
    assert set(ids.tolist()) == ends
    assert steps.n_people[-1] == len(people) if len(steps.ranked) else len(people) == 0


def test_assembly_stepper_steps_through_the_2019_walk() -> None:
    from openpose_edu import widgets

    size = (128, 160)
    kp = random_scene(np.random.default_rng(3), size, 2)
    S, L = perfect_maps(kp, size, "released")
    image = np.full((*size, 3), 255, np.uint8)
    st = widgets.AssemblyStepper(image, S, L, parser="2019")
    people = st.parse()
    np.testing.assert_array_equal(people.keypoints, parse_2019(S, L).keypoints)
    R = len(people.steps.ranked)
    assert st.n_decisions(0) == R == len(st.decisions(0)) > 0  # every limb type, one list
    assert st.decisions(0)[0].startswith("1. ") and "new person" in st.decisions(0)[0]
    fig = st.figure(limb=0, step=2)
    assert fig.axes[0].get_title().startswith(f"2019: decision 2 of {R}")
    box = st.widget()
    before = box.picture.value
    box.controls["step"].value = 3
    assert box.picture.value != before and "<b>3. " in box.decisions.value
    with pytest.raises(ValueError, match="parser"):
        widgets.AssemblyStepper(image, S, L, parser="2018")
