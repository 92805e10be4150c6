"""Notebook 02: the network."""

import numpy as np
import torch


def conv_parameters(c_in: int, c_out: int, k: int) -> int:
    """Weights of a k x k convolution plus one bias per output channel."""
    return c_in * c_out * k * k + c_out


def stage_forward(L_prev: torch.Tensor, S_prev: torch.Tensor, F: torch.Tensor, phi, rho):  # noqa: ANN001, ANN201
    """Stage t >= 2 (Eq. 1-2): both branches read the concatenation [L^{t-1}, S^{t-1}, F]."""
    x = torch.cat([L_prev, S_prev, F], dim=1)
    return phi(x), rho(x)


def paf_first_forward(F: torch.Tensor, phis, rhos):  # noqa: ANN001, ANN201
    """TPAMI 2019: PAF stages on [F, L^{t-1}], then confidence-map stages on [F, (S^{t-1},) L^last]."""
    L = [phis[0](F)]
    for phi in phis[1:]:
        L.append(phi(torch.cat([F, L[-1]], dim=1)))
    S = [rhos[0](torch.cat([F, L[-1]], dim=1))]
    for rho in rhos[1:]:
        S.append(rho(torch.cat([F, S[-1], L[-1]], dim=1)))
    return L, S


def grid_to_pixels(g: np.ndarray, stride: int) -> np.ndarray:
    """The pixel at the centre of grid cell g: cell g covers pixels stride*g .. stride*g + stride - 1."""
    return stride * np.asarray(g, dtype=float) + (stride - 1) / 2
