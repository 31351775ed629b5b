"""The ESPCN layer stack on the grid: eq. (1)-(5) as the speed engine runs them.

The same equations as :meth:`espcn_ref.model.ESPCN.forward_reference` and
:meth:`~espcn_ref.model.ESPCN.loss_and_grads_reference`, re-laid out for
speed; tests pin these to them (float64 to 1e-12). What differs is only
where numbers live and the order in which sums are added:

* every layer's input and output is a channels-last :class:`.grid.Grid`;
* layer 1 (one input channel) is a 1x1 convolution over gathered taps
  (:mod:`.taps`); layers 2..L are sums of shifted GEMMs (:mod:`.conv`);
* PS, eq. (4), reads the last layer straight off the grid, and in training
  PS, the loss of eq. (5) and its gradient are one pass (:mod:`.head`).

params: ``{"conv{l}.weight": (n_l, n_{l-1}, f_l, f_l), "conv{l}.bias": (n_l,)}``
for l = 1..L, all of one dtype.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .conv import conv_grid, conv_grid_backward
from .grid import Grid, act_backward_grid, act_grid, to_grid
from .head import shuffle_from_grid, shuffle_mse_grid
from .taps import im2col_grid


class Cache(NamedTuple):
    """What the forward keeps for the backward, all on one :class:`Grid`:
    layer 1's tap matrix and every activation's output phi(z_l)."""

    grid: Grid
    cols: np.ndarray  # (length, C*f1*f1): layer 1's input taps (im2col_grid)
    activations: tuple  # (length, n_l) grids phi(z_l), layer 1 .. L-1


def num_layers(params: dict) -> int:
    """L: params holds a weight and a bias per layer."""
    return len(params) // 2


def make_grid(params: dict, shape) -> Grid:
    """The grid for a batch of LR images of ``shape`` (N, C, H, W): padding enough for layers 2..L."""
    kernels = [params[f"conv{l}.weight"].shape[2] for l in range(2, num_layers(params) + 1)]
    return Grid(shape[0], shape[2], shape[3], max((f // 2 for f in kernels), default=0))


def grid_weight(params: dict, l: int) -> np.ndarray:
    """conv{l}.weight as :func:`.conv.conv_grid` takes it: layer 1 as a 1x1 kernel over its taps."""
    w = params[f"conv{l}.weight"]
    return w.reshape(w.shape[0], -1, 1, 1) if l == 1 else w


def forward_grid(params: dict, x: np.ndarray, activation: str, keep: bool):
    """eq. (1)-(3) on the grid. x: (N, C, H, W), checked, in the params' dtype.

    Returns (z, grid, cache): z (length, C r^2) the last layer's output
    before PS; cache a :class:`Cache` if ``keep`` (for :func:`backward_grid`), else None.
    """
    grid = make_grid(params, x.shape)
    h = im2col_grid(x, params["conv1.weight"].shape[2], grid)
    cols, acts = (h if keep else None), []  # inference drops the taps after layer 1
    L = num_layers(params)
    for l in range(1, L + 1):
        z = conv_grid(h, grid_weight(params, l), grid, params[f"conv{l}.bias"])  # W_l * h + b_l, 'same' padding
        if l < L:
            h = act_grid(z, activation, grid)  # phi, eq. (1)-(2)
            if keep:
                acts.append(h)
    # no nonlinearity on the last layer, eq. (3); PS, eq. (4), comes next
    return z, grid, (Cache(grid, cols, tuple(acts)) if keep else None)


def forward(params: dict, x: np.ndarray, r: int, order: str, activation: str) -> np.ndarray:
    """Inference, eq. (1)-(4): x (N, C, H, W) -> I^SR (N, C, rH, rW)."""
    z, grid, _ = forward_grid(params, x, activation, keep=False)
    return shuffle_from_grid(z, r, order, grid)  # PS, eq. (4)


def backward_grid(params: dict, dz: np.ndarray, cache: Cache, activation: str) -> dict:
    """Gradients from dz = dL/dz_L on the grid (zero off the pixels): {name: array}."""
    grid = cache.grid
    L = len(cache.activations) + 1
    grads = {}
    for l in range(L, 0, -1):
        inp = cache.cols if l == 1 else cache.activations[l - 2]
        dh, dw, grads[f"conv{l}.bias"] = conv_grid_backward(dz, inp, grid_weight(params, l), grid, need_dx=l > 1)
        grads[f"conv{l}.weight"] = dw.reshape(params[f"conv{l}.weight"].shape)
        if l > 1:
            dz = act_backward_grid(dh, cache.activations[l - 2], activation, grid)
    return grads


def backward_from_image(params: dict, dz: np.ndarray, cache: Cache, activation: str) -> dict:
    """:func:`backward_grid` from dz = dL/dz_L as (N, C r^2, H, W) images (PS^-1 of dL/dI^SR)."""
    return backward_grid(params, to_grid(np.asarray(dz, dtype=cache.cols.dtype), cache.grid), cache, activation)


def loss_and_grads(params: dict, x: np.ndarray, target: np.ndarray, r: int, order: str, activation: str):
    """eq. (5) and its gradients for one batch on the calling thread: (loss, grads).

    x: (N, C, H, W) and target: (N, C, rH, rW), both checked. The same
    numbers as mse_loss and the backward of the forward's output, with PS
    and the loss in one pass (:func:`.head.shuffle_mse_grid`).
    """
    z, grid, cache = forward_grid(params, x, activation, keep=True)
    loss, dz = shuffle_mse_grid(z, target, r, order, grid)  # eq. (4)-(5)
    return loss, backward_grid(params, dz, cache, activation)
