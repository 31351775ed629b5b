"""The grid: a padded, channels-last layout on which a 'same' convolution
needs no im2col matrix (the speed engine's data structure; no new math).

A batch of (N, C, H, W) feature maps is stored channels-last on a
zero-padded *grid*, one row of the matrix per pixel::

    g: (length, C)     pixel (n, i, j) at row  front + n*image + i*row + j
    row = W + pad      image = (H + pad) * row      front = pad*row + pad

Each image row is followed by ``pad`` zero pixels and each image by ``pad``
zero rows; they are the right/bottom padding of one image row and the
left/top padding of the next (the flat index wraps around). ``front`` zero
rows before the first image and after the last complete it.

On this grid the pixel at tap (a, b) from pixel q is row ``q + a*row + b``
for every q: one fixed shift (:mod:`.conv`). The activations phi of eq.
(1)-(2) run flat over the whole buffer and then clear the padding again
(:func:`act_grid`), so every layer's output is again a valid grid.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .._checks import check_int
from ..ops.activations import ACTIVATIONS

# Rows of the grid per GEMM call in the forward and the per-tap backward:
# big enough that each call (split across BLAS's threads in inference) has
# work for both cores; 1080p inference measured 5-10% slower with 2048-8192.
CHUNK_ROWS = 16384


@dataclass(frozen=True)
class Grid:
    """Geometry of the padded channels-last layout (see the module doc).

    n, h, w: the batch's images, (N, H, W); pad: zero pixels after each image
    row and zero rows after each image. The derived sizes (row, image, front,
    length) are computed once, here: the training step reads them often.
    """

    n: int
    h: int
    w: int
    pad: int
    row: int = field(init=False)  # W + pad
    image: int = field(init=False)  # (H + pad) * row
    front: int = field(init=False)  # pad * row + pad
    length: int = field(init=False)  # N * image + 2 * front

    def __post_init__(self):
        row = self.w + self.pad
        derived = {"row": row, "image": (self.h + self.pad) * row, "front": self.pad * row + self.pad}
        derived["length"] = self.n * derived["image"] + 2 * derived["front"]
        for name, value in derived.items():
            object.__setattr__(self, name, value)  # frozen: set once, here

    def body(self, g: np.ndarray) -> np.ndarray:
        """The images of grid ``g`` as a (N, H + pad, row, C) view (padding included)."""
        return g[self.front : self.front + self.n * self.image].reshape(self.n, self.h + self.pad, self.row, -1)

    def chunks(self, rows: int | None = None):
        """(start, stop) row ranges covering the images' rows, ``rows`` (default CHUNK_ROWS) at a time."""
        rows = CHUNK_ROWS if rows is None else check_int(rows, "rows", 1)
        start, stop = self.front, self.front + self.n * self.image
        return [(s, min(stop, s + rows)) for s in range(start, stop, rows)]

    def chunk_array(self) -> np.ndarray:
        """:meth:`chunks` as an (n_chunks, 2) int64 array, for compiled loops."""
        return np.asarray(self.chunks(), dtype=np.int64).reshape(-1, 2)

    def taps(self, k: int) -> list[int]:
        """Row shifts of the k*k taps, in (a, b) row-major order."""
        p = k // 2
        if k % 2 == 0 or p > self.pad:
            raise ValueError(f"a {k}x{k} kernel needs an odd size with k//2 <= pad = {self.pad}")
        return [a * self.row + b for a in range(-p, p + 1) for b in range(-p, p + 1)]


def to_grid(x: np.ndarray, grid: Grid) -> np.ndarray:
    """x: (N, C, H, W) -> grid (length, C), zero on the padding."""
    check_images(x, grid)
    g = np.zeros((grid.length, x.shape[1]), dtype=x.dtype)
    grid.body(g)[:, : grid.h, : grid.w, :] = x.transpose(0, 2, 3, 1)
    return g


def from_grid(g: np.ndarray, grid: Grid) -> np.ndarray:
    """grid (length, C) -> (N, C, H, W), C-contiguous."""
    check_grid_array(g, grid, "g")
    return np.ascontiguousarray(grid.body(g)[:, : grid.h, : grid.w, :].transpose(0, 3, 1, 2))


def empty_grid(grid: Grid, channels: int, dtype) -> np.ndarray:
    """An uninitialised (length, channels) grid whose margins are zero."""
    g = np.empty((grid.length, channels), dtype=dtype)
    g[: grid.front] = 0
    g[grid.length - grid.front :] = 0
    return g


def clear_padding(g: np.ndarray, grid: Grid) -> np.ndarray:
    """Zero every row of grid g (length, C) that is not a pixel (padding and margins), in place; returns g."""
    g[: grid.front] = 0
    g[grid.length - grid.front :] = 0
    body = grid.body(g)
    body[:, grid.h :] = 0
    body[:, :, grid.w :] = 0
    return g


def check_grid_array(g, grid: Grid, name: str) -> None:
    if not isinstance(g, np.ndarray) or g.ndim != 2 or g.shape[0] != grid.length:
        raise ValueError(f"{name} must be a (length={grid.length}, C) grid array, got "
                         f"{getattr(g, 'shape', type(g).__name__)}")


def check_images(x, grid: Grid) -> None:
    if not isinstance(x, np.ndarray) or x.ndim != 4 or (x.shape[0], x.shape[2], x.shape[3]) != (grid.n, grid.h, grid.w):
        raise ValueError(f"x must be (N, C, H, W) = ({grid.n}, C, {grid.h}, {grid.w}) for this grid, got "
                         f"{getattr(x, 'shape', type(x).__name__)}")



# --- activation on a grid: the flat kernels, then the padding cleared ---------------


def act_grid(z: np.ndarray, activation: str, grid: Grid) -> np.ndarray:
    """phi(z), eq. (1)-(2), in place on a grid; the padding rows become 0 again.

    z: (length, C) grid (junk allowed off the pixels); activation: "tanh" or
    "relu". Returns z. The elementwise kernels of :mod:`.activations` run
    over the whole buffer (flat, vectorised), then the padding is cleared.
    """
    check_grid_array(z, grid, "z")
    ACTIVATIONS[activation][0](z, out=z)
    return clear_padding(z, grid)


def act_backward_grid(dh: np.ndarray, act: np.ndarray, activation: str, grid: Grid) -> np.ndarray:
    """dL/dz from dL/dh = dh and the forward's output act = phi(z); 0 on the padding.

    dh, act: (length, C) grids (dh may be junk off the pixels). The backward kernels of :mod:`.activations` run flat, then
    the padding is cleared. For relu, [z > 0] = [phi(z) > 0], so the output
    is all the backward needs.
    """
    check_grid_array(dh, grid, "dh")
    return clear_padding(ACTIVATIONS[activation][1](dh, act), grid)


# --- reference twins of the activations on a grid --------------------------------------


def act_grid_reference(z: np.ndarray, activation: str, grid: Grid) -> np.ndarray:
    """:func:`act_grid` with NumPy's tanh / maximum, on a copy."""
    out = np.tanh(z) if activation == "tanh" else np.where(z < 0, 0, z).astype(z.dtype)
    return clear_padding(out, grid)


def act_backward_grid_reference(dh: np.ndarray, act: np.ndarray, activation: str, grid: Grid) -> np.ndarray:
    """:func:`act_backward_grid` as NumPy expressions."""
    dz = dh * (1 - act * act) if activation == "tanh" else np.where(act > 0, dh, 0).astype(dh.dtype)
    return clear_padding(dz, grid)
