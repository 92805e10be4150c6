"""The training loss: masked L2 at every stage and branch, summed (intermediate supervision).

Paper Eq. 3-4: at stage t,

    f_S^t = sum_j sum_p W(p) ||S_j^t(p) - S_j^*(p)||^2      (confidence maps, 19 channels)
    f_L^t = sum_c sum_p W(p) ||L_c^t(p) - L_c^*(p)||^2      (PAFs, 38 channels)

and Eq. 5: f = sum_t (f_S^t + f_L^t). Scoring every stage, not only the last, is the
"intermediate supervision" that keeps gradients alive through a deep stack of stages.

Normalization. CMU trained with Caffe's ``EuclideanLoss``, which is sum (x - y)^2 / (2 N) with
N the batch size, once per stage and branch (12 losses with loss_weight 1), and with the
mask applied to both sides (W x - W y)^2 = W^2 (x - y)^2. The paper writes plain sums. We use
``reduction="caffe"``, sum / (2 N), by default: it is the original's, so its learning rates
(base_lr 4e-5 with SGD) keep their meaning, and the gradient reaching each output cell is
(x - y) W / N whatever the map size, so a learning rate tuned on one crop size still works on
another. ``reduction="mean"`` divides by every element (N C h w) instead: values that do not
grow with the map size, but gradients C h w / 2 times smaller (about 2e4 for S on a 46x46
grid), so with SGD the learning rate must grow to match (Adam hardly cares about the scale).
We weight by W (not W^2), as Eq. 3-4 do; both are the same for the usual binary W.

Explained in notebooks 06 (loss and masks) and 08 (training).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import torch
from torch import Tensor

from .skeleton import N_HEATMAPS, N_PAFS

Reduction = Literal["caffe", "mean", "sum"]
REDUCTIONS: tuple[str, ...] = ("caffe", "mean", "sum")


class _HasStages(Protocol):
    S: Sequence[Tensor]
    L: Sequence[Tensor]


@dataclass
class LossTerms:
    """The loss of one batch, named: ``total`` (Eq. 5) and every f_S^t, f_L^t (Eq. 3-4).

    S[t-1] is f_S^t and L[t-1] is f_L^t, scalar tensors still attached to the graph
    (``total.backward()`` trains; the others are for plots).
    """

    total: Tensor
    S: list[Tensor]
    L: list[Tensor]

    @property
    def n_stages(self) -> int:
        return len(self.S)

    def as_dict(self) -> dict[str, float]:
        """Plain floats for logging, EVERY term: {"total": ..., "stage1/S": ..., "stage1/L": ..., ...}.

        "stage{i}/S" is the i-th map stage's term and "stage{i}/L" the i-th PAF stage's, so a
        PAF-first network (4 L terms, 2 S terms for BODY_25) logs all six; the keys of the 2017
        network are unchanged. Their sum is ``total``.
        """
        out = {"total": float(self.total.detach())}
        for t in range(1, max(len(self.S), len(self.L)) + 1):
            if t <= len(self.S):
                out[f"stage{t}/S"] = float(self.S[t - 1].detach())
            if t <= len(self.L):
                out[f"stage{t}/L"] = float(self.L[t - 1].detach())
        return out


def masked_l2(prediction: Tensor, target: Tensor, W: Tensor, reduction: Reduction = "caffe") -> Tensor:
    """One stage and branch of the loss: sum_p W(p) ||prediction(p) - target(p)||^2 (Eq. 3 or 4).

    prediction, target: (N, C, h, w) float; W: (N, 1, h, w) or (N, C, h, w), broadcast over
    channels. reduction: "caffe" sum / (2 N), "mean" sum / (N C h w), "sum" the paper's plain
    sum (see the module docstring). Returns a scalar tensor.
    """
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    if prediction.shape != target.shape:
        raise ValueError(
            f"prediction {tuple(prediction.shape)} and target {tuple(target.shape)} differ; make the "
            f"targets on the network's output grid (h, w) = {tuple(prediction.shape[-2:])}"
        )
    squared = W * (prediction - target) ** 2  # (N, C, h, w)
    total = squared.sum()
    if reduction == "caffe":
        return total / (2 * prediction.shape[0])
    if reduction == "mean":
        return total / prediction.numel()
    return total


def openpose_loss(
    output: _HasStages,
    S_star: Tensor,
    L_star: Tensor,
    W: Tensor | None = None,
    reduction: Reduction = "caffe",
) -> LossTerms:
    """The full loss with intermediate supervision: f = sum_t (f_S^t + f_L^t) (Eq. 3-5).

    output: a NetworkOutput (or anything with lists ``S`` and ``L``): S[t-1] (N, 19, h, w),
    L[t-1] (N, 38, h, w). S_star (N, 19, h, w), L_star (N, 38, h, w): groundtruth.targets.
    W: (N, 1, h, w) for every channel, or (N, 57, h, w) = [19 for S | 38 for L] (heatmaps first,
    like OpenPose's output blob), or None (no mask). Returns LossTerms (total, S, L).
    Used by train.py; shown in notebooks 06 and 08.
    """
    S_list, L_list = list(output.S), list(output.L)
    if not S_list or not L_list:  # a Body25Net (2019) has fewer S than L stages: both lists count
        raise ValueError(f"output needs >= 1 S and >= 1 L stages, got {len(S_list)} and {len(L_list)}")
    spec = getattr(output, "spec", None)  # the network's OutputSpec: its skeleton's channel counts
    J1, C2 = (spec.n_heatmaps, spec.n_pafs) if spec is not None else (N_HEATMAPS, N_PAFS)
    if S_star.ndim != 4 or S_star.shape[1] != J1:
        raise ValueError(f"S_star must be (N, {J1}, h, w), got {tuple(S_star.shape)}")
    if L_star.ndim != 4 or L_star.shape[1] != C2:
        raise ValueError(f"L_star must be (N, {C2}, h, w), got {tuple(L_star.shape)}")
    if W is None:
        W_S = W_L = torch.ones((), dtype=S_star.dtype, device=S_star.device)
    elif W.ndim == 4 and W.shape[1] == 1:
        W_S = W_L = W
    elif W.ndim == 4 and W.shape[1] == J1 + C2:
        W_S, W_L = W[:, :J1], W[:, J1:]
    else:
        raise ValueError(f"W must be (N, 1, h, w) or (N, {J1 + C2}, h, w), got {tuple(W.shape)}")
    if W is not None and (W.shape[0] != S_star.shape[0] or W.shape[-2:] != S_star.shape[-2:]):
        raise ValueError(f"W {tuple(W.shape)} does not match the targets {tuple(S_star.shape)}")
    f_S = [masked_l2(s, S_star, W_S, reduction) for s in S_list]  # Eq. 3, one per stage
    f_L = [masked_l2(paf, L_star, W_L, reduction) for paf in L_list]  # Eq. 4, one per stage
    total = torch.stack(f_S).sum() + torch.stack(f_L).sum()  # Eq. 5
    return LossTerms(total=total, S=f_S, L=f_L)
