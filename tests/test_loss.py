"""The masked L2 loss with intermediate supervision (paper Eq. 3-5)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from openpose_edu import groundtruth as gt
from openpose_edu.loss import LossTerms, masked_l2, openpose_loss
from openpose_edu.model import NetworkOutput, OpenPoseConfig, OpenPoseNet

N, H, W_ = 2, 6, 5


def make_targets(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(N, 19, H, W_, generator=g), torch.rand(N, 38, H, W_, generator=g) * 2 - 1


def perfect_output(S_star: torch.Tensor, L_star: torch.Tensor, T: int = 3) -> NetworkOutput:
    return NetworkOutput(
        F=torch.zeros(N, 4, H, W_), S=[S_star.clone() for _ in range(T)], L=[L_star.clone() for _ in range(T)]
    )


def test_zero_when_every_stage_predicts_the_ground_truth():
    S_star, L_star = make_targets()
    terms = openpose_loss(perfect_output(S_star, L_star), S_star, L_star)
    assert isinstance(terms, LossTerms) and terms.n_stages == 3
    assert terms.total.item() == 0.0
    assert all(t.item() == 0.0 for t in terms.S + terms.L)


@pytest.mark.parametrize("branch", ["S", "L"])
@pytest.mark.parametrize("stage", [0, 2])
def test_grows_when_one_stage_is_perturbed(branch, stage):
    S_star, L_star = make_targets()
    out = perfect_output(S_star, L_star)
    getattr(out, branch)[stage] = getattr(out, branch)[stage] + 0.1
    terms = openpose_loss(out, S_star, L_star)
    assert terms.total.item() > 0
    for name in ("S", "L"):
        for t, value in enumerate(getattr(terms, name)):
            if (name, t) == (branch, stage):
                n_channels = 19 if branch == "S" else 38
                # Caffe normalization: sum of squares / (2 N).
                assert value.item() == pytest.approx(0.01 * n_channels * H * W_ / 2, rel=1e-4)
            else:
                assert value.item() == 0.0
    assert terms.total.item() == pytest.approx(
        sum(terms.as_dict()[k] for k in terms.as_dict() if k != "total")
    )
    # A bigger error gives a bigger loss.
    getattr(out, branch)[stage] = getattr(out, branch)[stage] + 0.1
    assert openpose_loss(out, S_star, L_star).total > terms.total


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 1000), noise=st.floats(0.1, 5.0))
def test_ignores_everything_where_W_is_zero(seed, noise):
    S_star, L_star = make_targets(seed)
    g = torch.Generator().manual_seed(seed + 1)
    W = (torch.rand(N, 1, H, W_, generator=g) > 0.5).float()
    out = NetworkOutput(
        F=torch.zeros(1),
        S=[torch.rand(N, 19, H, W_, generator=g) for _ in range(2)],
        L=[torch.rand(N, 38, H, W_, generator=g) for _ in range(2)],
    )
    base = openpose_loss(out, S_star, L_star, W).total
    # Change predictions and targets arbitrarily where W = 0: the loss does not move.
    hidden = W == 0
    moved = NetworkOutput(
        F=out.F,
        S=[torch.where(hidden, s + noise, s) for s in out.S],
        L=[torch.where(hidden, p - noise, p) for p in out.L],
    )
    S_moved = torch.where(hidden, S_star * noise, S_star)
    torch.testing.assert_close(openpose_loss(moved, S_moved, L_star, W).total, base)
    # ...while the same change where W = 1 does.
    shown = W == 1
    if shown.any():
        visible = NetworkOutput(F=out.F, S=[torch.where(shown, s + noise, s) for s in out.S], L=out.L)
        assert openpose_loss(visible, S_star, L_star, W).total != base


def test_W_57_channels_split_heatmaps_first():
    S_star, L_star = make_targets()
    out = perfect_output(S_star, L_star, T=1)
    out.S[0] = out.S[0] + 1.0
    out.L[0] = out.L[0] + 1.0
    W = torch.ones(N, 57, H, W_)
    W[:, :19] = 0  # mask only the heatmaps
    terms = openpose_loss(out, S_star, L_star, W)
    assert terms.S[0].item() == 0.0 and terms.L[0].item() > 0
    W1 = torch.ones(N, 1, H, W_)
    torch.testing.assert_close(
        openpose_loss(out, S_star, L_star, W1).total, openpose_loss(out, S_star, L_star).total
    )


def test_reductions():
    S_star, L_star = make_targets()
    pred = S_star + 0.5
    W = torch.ones(N, 1, H, W_)
    W[0, 0, 0, 0] = 0
    total = (W * (pred - S_star) ** 2).sum()
    assert masked_l2(pred, S_star, W).item() == pytest.approx(total.item() / (2 * N))
    assert masked_l2(pred, S_star, W, "mean").item() == pytest.approx(total.item() / pred.numel())
    assert masked_l2(pred, S_star, W, "sum").item() == pytest.approx(total.item())
    with pytest.raises(ValueError, match="reduction"):
        masked_l2(pred, S_star, W, "l1")


def test_gradient_reaches_every_stage():
    net = OpenPoseNet(OpenPoseConfig.small(width=0.0625, n_stages=3))
    x = torch.randn(2, 3, 32, 40)
    out = net(x)
    h, w = out.S[0].shape[-2:]
    kp = np.zeros((2, 1, 18, 3))
    kp[:, 0, :, :2] = np.random.default_rng(0).uniform(0, 32, (2, 18, 2))
    kp[:, 0, :, 2] = 2
    S_star, L_star, W = gt.targets(kp, grid_size=(h, w))
    terms = openpose_loss(out, S_star, L_star, W)
    terms.total.backward()
    assert terms.n_stages == 3
    for name, p in net.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    # Intermediate supervision: stage 1 gets a gradient from its own loss, not only through later stages.
    net.zero_grad()
    out = net(x)
    openpose_loss(out, S_star, L_star, W).S[0].backward()
    assert net.stages[0].L2[-1].weight.grad.abs().sum() > 0
    assert net.stages[1].L2[-1].weight.grad is None or net.stages[1].L2[-1].weight.grad.abs().sum() == 0


def test_as_dict_names():
    S_star, L_star = make_targets()
    d = openpose_loss(perfect_output(S_star, L_star, T=2), S_star, L_star).as_dict()
    assert list(d) == ["total", "stage1/S", "stage1/L", "stage2/S", "stage2/L"]
    assert all(isinstance(v, float) for v in d.values())


def test_bad_inputs_raise():
    S_star, L_star = make_targets()
    out = perfect_output(S_star, L_star)
    with pytest.raises(ValueError, match="grid"):
        openpose_loss(out, S_star[..., :-1], L_star[..., :-1])
    with pytest.raises(ValueError, match="S_star"):
        openpose_loss(out, S_star[:, :18], L_star)
    with pytest.raises(ValueError, match="L_star"):
        openpose_loss(out, S_star, L_star[:, :19])
    with pytest.raises(ValueError, match="W"):
        openpose_loss(out, S_star, L_star, torch.ones(N, 3, H, W_))
    with pytest.raises(ValueError, match="W"):
        openpose_loss(out, S_star, L_star, torch.ones(N, 1, H + 1, W_))
    with pytest.raises(ValueError, match="stages"):  # S and L may differ in length (2019), not be empty
        openpose_loss(NetworkOutput(F=out.F, S=out.S, L=[]), S_star, L_star)
