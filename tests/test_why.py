"""Notebook 12's library: midpoint maps against PAFs, greedy against optimal, top-down timing,
the failure flags and the layer graph. Small inputs, seconds in all."""

from __future__ import annotations

import numpy as np
import pytest

from openpose_edu import assembly, failures, matching, midpoints, netgraph, topdown
from openpose_edu.formats import caffe
from openpose_edu.skeleton import LIMBS


def test_greedy_and_optimal_differ_on_the_constructed_case() -> None:
    greedy, optimal = matching.totals(matching.limb_scores([[0.9, 0.8], [0.85, 0.1]]))
    assert greedy == pytest.approx(1.0) and optimal == pytest.approx(1.65)


def test_greedy_is_optimal_when_the_best_pairs_do_not_compete() -> None:
    greedy, optimal = matching.totals(matching.limb_scores([[0.9, 0.1], [0.2, 0.8]]))
    assert greedy == pytest.approx(optimal) == pytest.approx(1.7)


def test_limb_scores_rejects_a_wrong_shape() -> None:
    with pytest.raises(ValueError, match="2-d"):
        matching.limb_scores([0.1, 0.2])


def test_midpoint_maps_peak_at_limb_midpoints() -> None:
    kp = midpoints.row_of_people(2, 100.0, (128, 256))
    M = midpoints.midpoint_maps(kp, (128, 256), stride=1, sigma=3.0)
    assert M.shape == (len(LIMBS), 128, 256)
    limb = LIMBS[3]  # RElbow-RWrist
    for person in kp:
        x, y = (person[limb.a, :2] + person[limb.b, :2]) / 2
        assert M[limb.index, int(round(y)), int(round(x))] > 0.9
    assert M[limb.index].max() <= 1.0


def test_unlabelled_ends_give_no_midpoint() -> None:
    kp = midpoints.row_of_people(1, 100.0)
    kp[0, 4, 2] = 0  # RWrist unlabelled
    mid = midpoints.limb_midpoints(kp)
    assert mid[0, 3, 2] == 0 and mid[0, 2, 2] == 1  # RElbow-RWrist gone, RShoulder-RElbow kept


def test_both_parsers_are_right_on_perfect_maps_of_crossing_arms() -> None:
    kp = midpoints.crossing_arms()
    result = midpoints.compare(kp, (128, 224), jitter=0.0)
    assert result["PAF"].recall == 1.0 and result["midpoint"].recall == 1.0


def test_midpoints_fail_where_pafs_succeed_once_parts_are_a_little_off() -> None:
    kp = midpoints.crossing_arms()
    r = midpoints.compare(kp, (128, 224), jitter=1.5, seed=0)
    assert r["PAF"].precision == 1.0 and r["PAF"].recall > 0.9
    assert r["midpoint"].precision < 0.9  # wrong pairs whose midpoint lies on a neighbour's limb


def test_limb_accuracy_counts_a_swapped_limb_as_wrong() -> None:
    kp = midpoints.row_of_people(2, 120.0, (128, 256))
    S, L, _ = midpoints.perfect_maps(kp, (128, 256))
    people = assembly.parse(S, L)
    assert midpoints.limb_accuracy(people, kp).n_correct == midpoints.limb_accuracy(people, kp).n_true
    swapped = kp.copy()
    swapped[[0, 1], 4] = swapped[[1, 0], 4]  # the truth says the right wrists belong the other way round
    acc = midpoints.limb_accuracy(people, swapped)
    assert acc.n_correct == acc.n_true - 2


def test_person_boxes_cover_the_labelled_parts() -> None:
    kp = midpoints.row_of_people(2, 120.0, (128, 256))
    boxes = topdown.person_boxes(kp, margin=0.0)
    assert boxes.shape == (2, 4)
    np.testing.assert_allclose(boxes[0, :2], kp[0, :, :2].min(0))
    np.testing.assert_allclose(boxes[0, 2:], kp[0, :, :2].max(0))


def test_top_down_returns_one_skeleton_per_box_in_image_pixels() -> None:
    from openpose_edu import inference
    from openpose_edu.synthetic import make_scene

    model = inference.resolve_model(None)
    scene = make_scene(seed=0, index=2, size=(256, 256))  # one person
    boxes = topdown.person_boxes(scene.keypoints)
    out = topdown.top_down(model, scene.image, boxes, height=96)
    assert out.shape == (len(boxes), 18, 3)
    on = scene.keypoints[..., 2] > 0
    err = np.hypot(*(out[..., :2] - scene.keypoints[..., :2]).transpose(2, 0, 1))[on]
    assert np.median(err) < 8  # the crop's maxima land on the person, in image pixels


def test_diagnose_flags_each_kind() -> None:
    kp = midpoints.row_of_people(2, 120.0, (400, 256)).astype(np.float64)
    kp[..., 2] = 1.0
    assert failures.diagnose(kp, (400, 256)) == []
    partial = kp.copy()
    partial[0, 8:, 2] = 0  # legs and face gone: 8 parts left ... then one more
    partial[0, 7, 2] = 0
    kinds = {f.kind for f in failures.diagnose(partial, (400, 256))}
    assert "partial" in kinds
    assert any(f.kind == "small" for f in failures.diagnose(kp, (1000, 256)))
    both = np.concatenate([kp[:1], kp[:1] + [3, 3, 0]])
    assert any(f.kind == "overlap" and f.people == (0, 1) for f in failures.diagnose(both, (400, 256)))
    far = kp.copy()
    far[0, 4, :2] = far[0, 3, :2] + [-150, 0]  # a wrist 150 px from its elbow
    assert any(
        f.kind == "long limb" and "RElbow-RWrist" in f.detail for f in failures.diagnose(far, (400, 256))
    )


def test_prototxt_graph_has_the_papers_stages() -> None:
    layers = netgraph.parse_prototxt(caffe.to_prototxt())
    assert sum(layer.type == "Convolution" for layer in layers) == 92  # docs/openpose_facts.md Sec. 3
    blocks, edges = netgraph.collapse(layers)
    concats = [b for b in blocks if b.kind == "Concat"]
    assert [b.name for b in concats] == [f"concat_stage{t}" for t in range(2, 8)]
    F = 0  # the backbone block: it feeds every stage (stage 1 and the concats of stages 2..6)
    assert {j for i, j in edges if i == F} >= {blocks.index(b) for b in concats[:5]}
    depth = netgraph.depths(len(blocks), edges)
    assert max(depth) == 12  # F, then (branches, concat) for stages 1..6
    fig = netgraph.draw_graph(blocks, edges)
    assert len([t for t in fig.axes[0].texts if t.get_text()]) == len(blocks)  # annotations are arrows


def test_parse_prototxt_reads_nested_params_and_comments() -> None:
    text = 'layer { name: "c" type: "Convolution" bottom: "x" top: "c" # a comment\n'
    text += " convolution_param { num_output: 7 kernel_size: 3 } }\n"
    text += 'layer { name: "r" type: "ReLU" bottom: "c" top: "c" }'
    a, b = netgraph.parse_prototxt(text)
    assert (a.name, a.num_output, a.kernel, b.tops) == ("c", 7, 3, ("c",))
    blocks, edges = netgraph.collapse([a, b])
    assert len(blocks) == 1 and edges == []


def test_time_per_box_counts_pixels_like_the_preprocessing() -> None:
    from openpose_edu import inference
    from openpose_edu.synthetic import make_scene

    model = inference.resolve_model(None)
    scene = make_scene(seed=0, index=2, size=(256, 256))
    boxes = topdown.person_boxes(scene.keypoints)
    kp, seconds, pixels = topdown.time_per_box(model, scene.image, boxes, height=96)
    assert kp.shape == (len(boxes), 18, 3) and (seconds > 0).all()
    crop = topdown._crop(scene.image, boxes[0])[0]
    x, _ = inference.preprocess(crop, model.input_spec, scale=96 / model.input_spec.box_size)
    assert pixels[0] == x.shape[2] * x.shape[3]
    assert topdown.input_pixels(model, scene.image) == 256 * 256
