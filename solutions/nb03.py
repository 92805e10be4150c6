"""Notebook 03: confidence maps S* (Eq. 6-7) and the background channel."""

import numpy as np


def gaussian(x: float, y: float, grid_size: tuple[int, int], sigma: float) -> np.ndarray:
    """Eq. 6 on a stride-8 grid whose cell g sits at input pixel 3.5 + 8 g. (h, w)."""
    h, w = grid_size
    xs, ys = 3.5 + 8 * np.arange(w), 3.5 + 8 * np.arange(h)
    d2 = (xs[None, :] - x) ** 2 + (ys[:, None] - y) ** 2
    return np.exp(-d2 / sigma**2)


def max_over_people(
    points: np.ndarray, labelled: np.ndarray, grid_size: tuple[int, int], sigma: float
) -> np.ndarray:
    """Eq. 7: max over the labelled people's Gaussians. (h, w)."""
    out = np.zeros(grid_size)
    for (x, y), ok in zip(points, labelled):
        if ok:
            out = np.maximum(out, gaussian(x, y, grid_size, sigma))
    return out


def background(parts: np.ndarray) -> np.ndarray:
    """max(1 - max_j S*_j, 0). (h, w)."""
    return np.clip(1 - parts.max(axis=0), 0, None)
