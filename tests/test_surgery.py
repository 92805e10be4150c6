"""surgery.py: each operation keeps every trained weight and the network's function."""

from dataclasses import replace

import pytest
import torch

from openpose_edu.model import InputSpec, OpenPoseConfig, OpenPoseNet, he_normal_
from openpose_edu.surgery import grown, with_stage_kernel, without_last_pool


def test_without_last_pool_keeps_every_weight_and_halves_the_stride():

    net = he_normal_(
        OpenPoseNet(OpenPoseConfig.small(width=0.0625, n_stages=2, vgg=((4,), (4,), (8,), (8, 8))))
    )
    fine = without_last_pool(net)
    assert fine.stride == 4 and fine.config.vgg == ((4,), (4,), (8, 8, 8)) and fine.input_spec.stride == 4
    for a, b in zip(net.parameters(), fine.parameters(), strict=True):
        assert torch.equal(a, b)
    x = torch.randn(1, 3, 32, 40)
    # the new backbone is the old one with pool3 left out, layer for layer
    no_pool = torch.nn.Sequential(*[m for name, m in net.backbone.named_children() if name != "pool3_stage1"])
    torch.testing.assert_close(fine.backbone(x), no_pool(x))
    assert fine(x).S[-1].shape[-2:] == (8, 10) and net(x).S[-1].shape[-2:] == (4, 5)
    with pytest.raises(ValueError, match="no max pool left"):
        without_last_pool(
            OpenPoseNet(
                OpenPoseConfig.small(width=0.0625, n_stages=1, vgg=((4,),), input=InputSpec(stride=1))
            )
        )


def test_with_stage_kernel_grows_the_refinement_kernels_and_keeps_the_function():

    torch.manual_seed(0)
    net = he_normal_(OpenPoseNet(OpenPoseConfig.small(width=0.0625, n_stages=3, stage_kernel=3)))
    for p in net.parameters():  # nonzero biases too, so the zero ring really is all that differs
        p.data.add_(0.01 * torch.randn_like(p))
    big = with_stage_kernel(net, 7)
    assert big.config.stage_kernel == 7 and big.config.stage_layers == net.config.stage_layers
    w = big.stages[1].L1.Mconv2_stage2_L1.weight
    assert w.shape[-2:] == (7, 7)
    torch.testing.assert_close(w[:, :, 2:5, 2:5], net.stages[1].L1.Mconv2_stage2_L1.weight)
    assert w[:, :, 0].abs().sum() == 0 and w[:, :, :, 6].abs().sum() == 0
    # the 1x1 convs and everything before stage 2 are untouched
    assert big.stages[2].L2.Mconv6_stage3_L2.weight.shape[-2:] == (1, 1)
    assert torch.equal(big.stages[0].L1.conv5_1_CPM_L1.weight, net.stages[0].L1.conv5_1_CPM_L1.weight)
    x = torch.randn(1, 3, 40, 48)
    with torch.no_grad():
        a, b = net(x), big(x)
    for s, t in zip(a.S + a.L, b.S + b.L, strict=True):
        torch.testing.assert_close(s, t, rtol=1e-5, atol=1e-5)
    # and the grown ring is trainable: a gradient reaches it
    big(x).S[-1].sum().backward()
    assert big.stages[1].L1.Mconv1_stage2_L1.weight.grad[:, :, 0].abs().sum() > 0
    with pytest.raises(ValueError, match="odd"):
        with_stage_kernel(net, 4)
    with pytest.raises(ValueError, match=">= the current"):
        with_stage_kernel(big, 5)


def test_grown_widens_every_part_and_keeps_the_function():

    torch.manual_seed(0)
    cfg = OpenPoseConfig.small(
        width=0.0625,
        n_stages=3,
        stage_kernel=3,
        vgg=((4,), (8,), (8, 8)),
        cpm=(8, 6),
        input=InputSpec(stride=4),
    )
    net = he_normal_(OpenPoseNet(cfg))
    for p in net.parameters():  # nonzero biases too
        p.data.add_(0.01 * torch.randn_like(p))
    wide_cfg = replace(
        cfg,
        vgg=((6,), (8,), (12, 16)),
        cpm=(12, 10),
        stage1_width=12,
        stage_width=12,
        stage_hidden=10,
        stage_kernel=5,
    )
    big = grown(net, wide_cfg)
    assert big.config == wide_cfg and big.features(torch.zeros(1, 3, 16, 16)).shape[1] == 10
    x = torch.randn(1, 3, 40, 48)
    with torch.no_grad():
        a, b = net(x), big(x)
    torch.testing.assert_close(a.F, b.F[:, :6], rtol=1e-5, atol=1e-5)  # F's old channels, first
    for s, t in zip(a.S + a.L, b.S + b.L, strict=True):
        torch.testing.assert_close(s, t, rtol=1e-5, atol=1e-5)
    # stage 2's first conv: old weights in the old corner (L, S, then F's first 6 channels, centre
    # of the kernel); the old outputs read nothing from F's 4 new channels; the new outputs do
    w, w0 = big.stages[1].L1.Mconv1_stage2_L1.weight, net.stages[1].L1.Mconv1_stage2_L1.weight
    assert w.shape == (12, 38 + 19 + 10, 5, 5) and w0.shape == (8, 38 + 19 + 6, 3, 3)
    assert torch.equal(w[:8, :63, 1:4, 1:4], w0)
    assert w[:8, 63:].abs().sum() == 0 and w[:8, :, 0].abs().sum() == 0
    assert w[8:].abs().sum() > 0
    # the new channels learn: a gradient reaches the zero weights that read them
    big(x).S[-1].sum().backward()
    assert big.stages[0].L2.conv5_1_CPM_L2.weight.grad[:, 6:].abs().sum() > 0
    torch.testing.assert_close(
        grown(net, wide_cfg).backbone.conv1_1.weight, big.backbone.conv1_1.weight
    )  # seeded
    with pytest.raises(ValueError, match="cannot grow"):
        grown(big, cfg)
    with pytest.raises(ValueError, match="same layers"):
        grown(net, replace(cfg, stage_layers=4))
    with pytest.raises(ValueError, match="stride"):
        grown(net, replace(cfg, vgg=((4,), (8,), (8,), (8,)), input=InputSpec(stride=8)))
