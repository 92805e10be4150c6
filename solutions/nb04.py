"""Notebook 04: part affinity fields L* (Eq. 8-9)."""

import numpy as np


def _on_limb(a, b, grid_size, limb_width):  # noqa: ANN001, ANN202
    h, w = grid_size
    xs, ys = 3.5 + 8 * np.arange(w), 3.5 + 8 * np.arange(h)
    d = np.asarray(b, float) - np.asarray(a, float)
    length = np.hypot(*d)
    if length == 0:
        return np.zeros(grid_size, bool), np.zeros(2)
    v = d / length
    rx, ry = xs[None, :] - a[0], ys[:, None] - a[1]
    along = rx * v[0] + ry * v[1]
    on = (along >= 0) & (along <= length) & (np.abs(rx * v[1] - ry * v[0]) <= limb_width)
    return on, v


def limb_field(a: np.ndarray, b: np.ndarray, grid_size: tuple[int, int], limb_width: float) -> np.ndarray:
    """Eq. 8: the unit vector a -> b on the cells of the limb's rectangle. (2, h, w)."""
    on, v = _on_limb(a, b, grid_size, limb_width)
    return np.stack([on * v[0], on * v[1]])


def paf_average(A: np.ndarray, B: np.ndarray, grid_size: tuple[int, int], limb_width: float) -> np.ndarray:
    """Eq. 9: the sum of the people's vectors over n_c(p), the people covering p. (2, h, w)."""
    total, count = np.zeros((2, *grid_size)), np.zeros(grid_size)
    for a, b in zip(A, B):
        on, v = _on_limb(a, b, grid_size, limb_width)
        total += np.stack([on * v[0], on * v[1]])
        count += on
    return total / np.maximum(count, 1)


def paf_channels(training_order: list[tuple[str, str]], limb: tuple[str, str]) -> tuple[int, int]:
    """The (x, y) channels of ``limb`` in L: training limb i fills channels 2 i and 2 i + 1."""
    i = [tuple(pair) for pair in training_order].index(tuple(limb))
    return 2 * i, 2 * i + 1
