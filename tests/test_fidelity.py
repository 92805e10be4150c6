"""Fidelity: our PyTorch OpenPoseNet computes what CMU's Caffe network computes.

The prototxt that ``caffe.to_prototxt`` writes for ``OpenPoseConfig.paper()`` is CMU's
``pose_deploy_linevec.prototxt``; OpenCV's dnn module (an independent implementation of every
Caffe layer) runs it with the same weights as the torch model, and F and the S^t, L^t of
EVERY stage must agree to 1e-4 on a random 1x3x368x368 input (Winograd disabled).
"""

from __future__ import annotations

import hashlib
from collections import Counter

import cv2
import pytest
import torch
from _caffe_files import random_net

from openpose_edu.formats.caffe import (
    caffe_net_layers,
    caffemodel_bytes,
    model_blobs,
    opencv_forward,
    opencv_net,
    output_blobs,
    to_prototxt,
)
from openpose_edu.model import OpenPoseConfig, OpenPoseNet, caffe_layers

TOL = 1e-4
# sha256 of to_prototxt(OpenPoseConfig.paper()). Checked against CMU's
# models/pose/coco/pose_deploy_linevec.prototxt (openpose @3d2c0e2): same length (46,372
# characters) and the same text in every part read. Pins the writer against silent changes.
PAPER_PROTOTXT_SHA256 = "17051b87f709aa094e09c5da7b78e9016a1f37b2b452ed1f190fe74cce70b1ad"


def max_diffs(a, b) -> dict[str, float]:
    """Max abs difference of F and of S^t, L^t for every stage t (1-based names)."""
    out = {"F": (a.F - b.F).abs().max().item()}
    for t, (sa, sb, la, lb) in enumerate(zip(a.S, b.S, a.L, b.L), start=1):
        out[f"S{t}"] = (sa - sb).abs().max().item()
        out[f"L{t}"] = (la - lb).abs().max().item()
    return out


def test_paper_prototxt_is_cmus_file() -> None:
    text = to_prototxt(OpenPoseConfig.paper())
    assert len(text) == 46_372
    assert hashlib.sha256(text.encode()).hexdigest() == PAPER_PROTOTXT_SHA256
    assert text.startswith('input: "image"\ninput_dim: 1\ninput_dim: 3\n')


def test_paper_layers_have_the_original_counts_names_and_wiring() -> None:
    """92 Convolution, 80 ReLU, 3 Pooling, 5 Concat + the final net_output (docs/openpose_facts.md s.3)."""
    layers = caffe_net_layers(OpenPoseConfig.paper())
    assert Counter(la.type for la in layers) == {"Convolution": 92, "ReLU": 80, "Pooling": 3, "Concat": 6}
    with torch.device("meta"):
        convs = caffe_layers(OpenPoseNet(OpenPoseConfig.paper()))
    conv_layers = {la.name: la for la in layers if la.type == "Convolution"}
    assert sorted(conv_layers) == sorted(convs)  # every torch conv is a Caffe layer of the same name
    assert all(conv_layers[n].num_output == m.out_channels for n, m in convs.items())
    relu_on = {la.bottoms[0] for la in layers if la.type == "ReLU"}
    no_relu = {la.name for la in layers if la.type == "Convolution"} - relu_on
    assert no_relu == {"conv5_5_CPM_L1", "conv5_5_CPM_L2"} | {
        f"Mconv7_stage{t}_L{b}" for t in range(2, 7) for b in (1, 2)
    }
    by_name = {la.name: la for la in layers}
    assert by_name["concat_stage2"].bottoms == ("conv5_5_CPM_L1", "conv5_5_CPM_L2", "conv4_4_CPM")
    assert by_name["concat_stage4"].bottoms == ("Mconv7_stage3_L1", "Mconv7_stage3_L2", "conv4_4_CPM")
    assert by_name["concat_stage7"].bottoms == ("Mconv7_stage6_L2", "Mconv7_stage6_L1")
    assert by_name["concat_stage7"].top == "net_output"
    assert by_name["Mconv1_stage2_L1"].kernel == 7 and by_name["Mconv1_stage2_L1"].pad == 3
    assert by_name["Mconv1_stage2_L1"].c_in == 185 and by_name["Mconv1_stage2_L1"].lr_mult == 4.0
    assert by_name["conv5_4_CPM_L2"].kernel == 1 and by_name["conv5_4_CPM_L2"].num_output == 512
    # The two branches are interleaved layer by layer, as in CMU's file.
    names = [la.name for la in layers]
    assert names.index("conv5_1_CPM_L2") == names.index("conv5_1_CPM_L1") + 2


def _compare(config: OpenPoseConfig, shape: tuple[int, int, int, int], seed: int) -> dict[str, float]:
    net = random_net(config, seed=seed)
    cv_net = opencv_net(config, caffemodel_bytes(model_blobs(net)))
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(shape, generator=g) - 0.5  # the range of a normalized image (x/256 - 0.5)
    with torch.inference_mode():
        ours = net(x)
    theirs = opencv_forward(cv_net, x, config)
    assert len(theirs.S) == len(ours.S) == config.n_stages
    # The final heatmaps are not ReLU-clipped (a known bug of a popular port): negatives survive.
    assert (ours.S[-1] < 0).any() and (theirs.S[-1] < 0).any()
    # Outputs must be non-trivial for the comparison to mean anything.
    assert all(s.abs().max() > 0.5 for s in ours.S + ours.L)
    return max_diffs(ours, theirs)


@pytest.mark.parametrize(
    "config, shape",
    [
        (OpenPoseConfig.small(0.25, n_stages=3, stage_kernel=3), (1, 3, 368, 368)),
        (
            OpenPoseConfig.small(0.125, n_stages=2, stage_kernel=7),
            (2, 3, 100, 124),
        ),  # odd sizes: ceil pooling
    ],
    ids=["small-368", "tiny-odd-size-batch2"],
)
def test_small_configs_match_opencv(config: OpenPoseConfig, shape: tuple[int, int, int, int]) -> None:
    diffs = _compare(config, shape, seed=1)
    assert max(diffs.values()) <= TOL, diffs


@pytest.mark.slow
def test_paper_network_matches_opencv_at_every_stage() -> None:
    """The proof that OpenPoseNet(paper) is CMU's network: every stage's maps agree with OpenCV."""
    cv2.setNumThreads(2)
    diffs = _compare(OpenPoseConfig.paper(), (1, 3, 368, 368), seed=0)
    assert set(diffs) == {"F"} | {f"{m}{t}" for m in "SL" for t in range(1, 7)}
    assert max(diffs.values()) <= TOL, diffs


def test_output_blob_names() -> None:
    F, S, L = output_blobs(OpenPoseConfig.paper())
    assert F == "relu4_4_CPM"  # the layer name gives the values after the ReLU (F)
    assert S[0] == "conv5_5_CPM_L2" and L[0] == "conv5_5_CPM_L1"
    assert S[-1] == "Mconv7_stage6_L2" and L[-1] == "Mconv7_stage6_L1" and len(S) == len(L) == 6
