"""Notebook 05: stage refinement."""


def receptive_field(kernels: list[int]) -> int:
    """Stride-1 layers: each k x k layer widens the view by k - 1 cells."""
    return 1 + sum(k - 1 for k in kernels)
