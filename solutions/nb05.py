"""Notebook 05: stage refinement."""


def receptive_field(stages: list[list[int]]) -> int:
    """Cells of F seen by one output cell of the last stage.

    Stage t >= 2 reads F directly and through stage t - 1; every layer is centred, so the widest
    path (through every stage) contains the others: each k x k layer on it widens the view by k - 1.
    """
    return 1 + sum(k - 1 for kernels in stages for k in kernels)
