"""Notebook 06: the loss (Eq. 3-5)."""


def masked_l2(prediction, target, W) -> float:  # noqa: ANN001
    """Eq. 3: sum_p W(p) ||prediction(p) - target(p)||^2 (the paper's plain sum)."""
    return float((W * (prediction - target) ** 2).sum())


def loss_over_stages(S_stages, L_stages, S_star, L_star, W) -> float:  # noqa: ANN001
    """Eq. 5: f = sum_t f_S^t + f_L^t."""
    return sum(masked_l2(s, S_star, W) + masked_l2(paf, L_star, W) for s, paf in zip(S_stages, L_stages))
