"""The maps' bicubic upsampling (network output -> the parsing grid, as the demo does), and the lazy PAF.

The demo resizes every map with OpenCV's ``INTER_CUBIC``: Keys' cubic kernel (a = -0.75),
half-pixel centres, the edge pixels repeated beyond the border. ``resize_planes`` does exactly
that, one plane at a time. The resize is linear and separable, so a whole plane is also

    grid = R_y @ low @ R_x^T        R_y (grid_h, h_low), R_x (grid_w, w_low)

with at most a few non-zero weights in each row of R_y and R_x (``grid_weights``). That is what
makes ``GridField`` cheap: the parser reads L only at the 10 samples of each candidate pair's
line integral (Eq. 10-11), and one grid pixel of one channel is R_y[i] @ low_c @ R_x[j], a 4 x 4
block of the low-resolution map. A camera frame's 38 PAF planes of 368 x 491 are then resized
only when someone looks at them (``GridField.dense``, or ``planes`` for one limb's two).
"""

from __future__ import annotations

import functools
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import torch

CUBIC_A = -0.75  # OpenCV's (and the demo's) Keys kernel parameter


def resize_planes(
    low: np.ndarray, stride: int, resized: tuple[int, int], grid: tuple[int, int]
) -> np.ndarray:
    """(N, C, h/s, w/s) float32 -> (N, C, grid_h, grid_w): bicubic x stride, crop to ``resized``, resize.

    The demo's ``cv2.resize(..., INTER_CUBIC)``, one plane at a time, each written once into
    the output: a 368 x 496 stage is 40 MB, and writing it more than once (a padded copy, then
    a cropped one) cost more than the resize itself. The planes are shared between
    ``torch.get_num_threads()`` threads (OpenCV releases the GIL). When ``resized == grid``
    (scale 1) the last resize does nothing.
    """
    N, C, hl, wl = low.shape
    h, w = resized
    gh, gw = int(grid[0]), int(grid[1])
    out = np.empty((N, C, gh, gw), np.float32)

    def planes(ks: range) -> None:
        for k in ks:
            n, c = divmod(k, C)
            up = cv2.resize(low[n, c], (wl * stride, hl * stride), interpolation=cv2.INTER_CUBIC)[:h, :w]
            if (h, w) == (gh, gw):
                out[n, c] = up
            else:
                cv2.resize(up, (gw, gh), dst=out[n, c], interpolation=cv2.INTER_CUBIC)

    n_threads = max(1, min(torch.get_num_threads(), N * C))
    if n_threads == 1:
        planes(range(N * C))
    else:
        with ThreadPoolExecutor(n_threads) as pool:
            list(pool.map(planes, [range(i, N * C, n_threads) for i in range(n_threads)]))
    return out


def cubic_weights(n_out: int, n_in: int, a: float = CUBIC_A) -> np.ndarray:
    """The 1-D resize n_in -> n_out of ``cv2.INTER_CUBIC`` as a matrix (n_out, n_in) float64.

    Output pixel i sits at input coordinate x = (i + 0.5) n_in / n_out - 0.5 (half-pixel
    centres); it takes the 4 inputs floor(x) - 1 .. floor(x) + 2 with Keys' weights for the
    fraction t = x - floor(x); an index outside 0..n_in - 1 is the nearest edge pixel. Rows sum to 1.
    """
    x = (np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5
    base = np.floor(x)
    t = x - base
    w0 = ((a * (t + 1) - 5 * a) * (t + 1) + 8 * a) * (t + 1) - 4 * a
    w1 = ((a + 2) * t - (a + 3)) * t * t + 1
    w2 = ((a + 2) * (1 - t) - (a + 3)) * (1 - t) * (1 - t) + 1
    weights = np.stack([w0, w1, w2, 1 - w0 - w1 - w2], axis=1)  # (n_out, 4)
    index = np.clip(base[:, None].astype(np.int64) + np.arange(-1, 3), 0, n_in - 1)  # (n_out, 4)
    m = np.zeros((n_out, n_in))
    np.add.at(m, (np.repeat(np.arange(n_out), 4), index.ravel()), weights.ravel())
    return m


def grid_weights(n_low: int, stride: int, n_resized: int, n_grid: int) -> np.ndarray:
    """The 1-D operator of ``resize_planes`` along one axis: (n_grid, n_low) float64.

    Bicubic n_low -> n_low * stride, keep the first n_resized (the padding is cropped), then
    bicubic n_resized -> n_grid when they differ.
    """
    up = cubic_weights(n_low * stride, n_low)[:n_resized]
    return up if n_resized == n_grid else cubic_weights(n_grid, n_resized) @ up


@dataclass(frozen=True)
class Band:
    """A matrix (n_out, n_in) whose rows are zero outside a short run: row i's weights sit at
    columns start[i] .. start[i] + K - 1 (start (n_out,) int64, weights (n_out, K) float32)."""

    start: np.ndarray
    weights: np.ndarray

    @classmethod
    def of(cls, m: np.ndarray) -> Band:
        """The band of a dense (n_out, n_in) matrix: the narrowest K that holds every row's non-zeros."""
        nz = m != 0
        first = np.where(nz.any(1), nz.argmax(1), 0)
        last = np.where(nz.any(1), m.shape[1] - 1 - nz[:, ::-1].argmax(1), 0)
        k = max(1, int((last - first).max()) + 1)
        start = np.clip(first, 0, m.shape[1] - k)
        cols = start[:, None] + np.arange(k)
        return cls(start=start, weights=np.take_along_axis(m, cols, 1).astype(np.float32))


@functools.lru_cache(maxsize=64)
def grid_band(n_low: int, stride: int, n_resized: int, n_grid: int) -> Band:
    """``Band.of(grid_weights(...))``, kept per size: a camera or video repeats one frame size."""
    return Band.of(grid_weights(n_low, stride, n_resized, n_grid))


class GridField:
    """Maps on the parsing grid (C, grid_h, grid_w), resized only where and when they are read.

    Holds each scale's network output (C, h/s, w/s) and its 1-D operators (``grid_weights``);
    the grid is their mean over the scales. ``at`` evaluates single pixels (the parser's line
    integral samples), ``planes`` / ``[c]`` / ``[[c1, c2]]`` some channels, ``dense`` (or ``np.asarray``) all
    of them; planes are computed by ``resize_planes`` (the same numbers as before) and kept.
    """

    def __init__(
        self, lows: list[np.ndarray], stride: int, resized: list[tuple[int, int]], grid: tuple[int, int]
    ) -> None:
        self._lows = [np.ascontiguousarray(low, dtype=np.float32) for low in lows]  # (C, hl, wl) each
        self._stride = stride
        self._resized = resized
        self._grid = (int(grid[0]), int(grid[1]))
        gh, gw = self._grid
        self._bands = [  # (rows, columns) per scale
            (grid_band(low.shape[1], stride, r[0], gh), grid_band(low.shape[2], stride, r[1], gw))
            for low, r in zip(self._lows, resized)
        ]
        self._dense: np.ndarray | None = None
        self._planes: dict[int, np.ndarray] = {}

    ndim = 3

    @property
    def shape(self) -> tuple[int, int, int]:
        """(C, grid_h, grid_w)."""
        c = self._lows[0].shape[0]
        return (int(c), *self._grid)

    @property
    def is_dense(self) -> bool:
        """Whether every plane has been computed (``dense`` was called)."""
        return self._dense is not None

    def at(self, channels: Any, ys: Any, xs: Any) -> np.ndarray:
        """Values at grid pixels (ys, xs) of ``channels`` (int arrays, broadcast together): float32.

        Exact pixels of the resized maps (the same numbers as ``dense()[c, y, x]`` within
        float32 rounding, 1e-6), computed from a 4 x 4 block (a few more after a second
        resize) of each scale's low-resolution map.
        """
        c, y, x = np.broadcast_arrays(*(np.asarray(v, dtype=np.intp) for v in (channels, ys, xs)))
        if self._dense is not None:
            return self._dense[c, y, x]
        total = np.zeros(c.shape, np.float32)
        for low, (rows, cols) in zip(self._lows, self._bands):
            ky, kx = rows.weights.shape[1], cols.weights.shape[1]
            r = rows.start[y][..., None, None] + np.arange(ky)[:, None]  # (..., ky, 1)
            q = cols.start[x][..., None, None] + np.arange(kx)[None, :]  # (..., 1, kx)
            block = low[c[..., None, None], r, q]  # (..., ky, kx)
            total += np.einsum("...a,...ab,...b->...", rows.weights[y], block, cols.weights[x])
        return total / len(self._lows) if len(self._lows) > 1 else total

    def planes(self, channels: Any) -> np.ndarray:
        """Some channels on the whole grid: (len(channels), grid_h, grid_w) float32."""
        if self._dense is not None:
            return self._dense[list(channels)]
        todo = [int(c) for c in dict.fromkeys(channels) if int(c) not in self._planes]
        if todo:
            for c, plane in zip(todo, self._resize(todo)):
                self._planes[c] = plane
        return np.stack([self._planes[int(c)] for c in channels])

    def __getitem__(self, c: Any) -> np.ndarray:
        """One channel (grid_h, grid_w), or a list of channels (n, grid_h, grid_w), float32, as an array's."""
        return self.planes(c) if isinstance(c, (list, tuple, np.ndarray)) else self.planes([c])[0]

    def dense(self) -> np.ndarray:
        """Every channel on the whole grid (C, grid_h, grid_w) float32 (computed once)."""
        if self._dense is None:
            self._dense = self._resize(list(range(self.shape[0])))
            self._planes = {}
        return self._dense

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self.dense() if dtype is None else self.dense().astype(dtype)

    def _resize(self, channels: list[int]) -> np.ndarray:
        """``resize_planes`` of the channels at every scale, then their mean (as the dense grid)."""
        total: np.ndarray | None = None
        for low, r in zip(self._lows, self._resized):
            m = resize_planes(low[channels][None], self._stride, r, self._grid)[0]
            if total is None:
                total = m
            else:
                total += m
        assert total is not None
        return total if len(self._lows) == 1 else total / len(self._lows)
