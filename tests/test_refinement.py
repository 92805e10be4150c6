"""refinement.py: six stages in any order (TPAMI 2019 Table 5), one block type, either block."""

from __future__ import annotations

import pytest
import torch

from openpose_edu.loss import openpose_loss
from openpose_edu.model import InputSpec
from openpose_edu.refinement import ARMS, FinalMaps, RefinementConfig, RefinementNet, stage_inputs
from openpose_edu.train import init_weights

TINY = {"vgg": ((4,), (4,), (8,), (8,)), "cpm": (8,), "width": 4, "hidden": 8, "n_blocks": 1}


def test_stage_inputs_follow_the_order() -> None:
    assert stage_inputs("PPPPCC") == [0, 38, 38, 38, 38, 57]
    assert stage_inputs("CCCPPP") == [0, 19, 19, 19, 57, 57]
    assert stage_inputs("JJJJJJ") == [0, 57, 57, 57, 57, 57]


@pytest.mark.parametrize("arm", list(ARMS))
def test_every_arm_makes_its_maps_and_trains(arm: str) -> None:
    cfg = RefinementConfig(**ARMS[arm], **TINY, input=InputSpec(stride=8, box_size=32))
    net = init_weights(RefinementNet(cfg), seed=0)
    out = net(torch.randn(2, 3, 32, 32))
    order = ARMS[arm]["order"]
    assert len(out.S) == sum(k in "JC" for k in order) and len(out.L) == sum(k in "JP" for k in order)
    assert out.S[-1].shape == (2, 19, 4, 4) and out.L[-1].shape == (2, 38, 4, 4)
    loss = openpose_loss(out, torch.rand(2, 19, 4, 4), torch.rand(2, 38, 4, 4)).total
    loss.backward()  # every stage is trained: each output layer gets a gradient
    heat, paf = net.output_layers()
    assert all(m.weight.grad is not None and m.weight.grad.abs().sum() > 0 for m in heat + paf)
    final = FinalMaps(net).eval()(torch.randn(1, 3, 32, 32))
    assert final.n_stages == 1 and final.S[0].shape == (1, 19, 4, 4)


def test_later_stages_read_the_earlier_maps() -> None:
    """In PPPPCC the heatmap stages see the last PAFs: changing L^4's bias changes S (and not L^1)."""
    cfg = RefinementConfig(order="PPPPCC", **TINY, input=InputSpec(stride=8, box_size=32))
    net = init_weights(RefinementNet(cfg), seed=0).eval()
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        before = net(x)
        net.stages[3]["L"].conv_out.bias += 1.0
        after = net(x)
    assert torch.equal(before.L[0], after.L[0]) and not torch.equal(before.S[-1], after.S[-1])


def test_the_2019_block_is_three_chained_3x3_concatenated() -> None:
    cfg = RefinementConfig(order="PPPPCC", block="chained", **TINY, input=InputSpec(stride=8, box_size=32))
    block = RefinementNet(cfg).stages[0]["L"].block1
    convs = [m for m in block.children() if isinstance(m, torch.nn.Conv2d)]
    acts = [m for m in block.children() if isinstance(m, torch.nn.PReLU)]
    assert [c.kernel_size for c in convs] == [(3, 3)] * 3 and block.out_channels == 3 * TINY["width"]
    assert len(acts) == 3


def test_bad_orders_are_refused() -> None:
    for order in ("", "PPPPPP", "JJPC", "XX"):
        with pytest.raises(ValueError):
            RefinementConfig(order=order)
