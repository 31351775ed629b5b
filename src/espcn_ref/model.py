"""The ESPCN network, Sec. 2 and 3.2 of Shi et al. (CVPR 2016).

An L-layer network, eq. (1)-(3)::

    f^1(I)   = phi(W_1 * I + b_1)                       W_1: (n_1, C, f_1, f_1)
    f^l(I)   = phi(W_l * f^{l-1}(I) + b_l)              W_l: (n_l, n_{l-1}, f_l, f_l)
    I_SR     = PS(W_L * f^{L-1}(I) + b_L)               W_L: (C r^2, n_{L-1}, f_L, f_L)

The paper's values (Sec. 3.2): l = 3, (f_1, n_1) = (5, 64), (f_2, n_2) =
(3, 32), f_3 = 3, phi = tanh, C = 1 (the Y channel). Every convolution uses
'same' zero padding (f - 1) / 2, so an H x W input gives an rH x rW output.
The last layer has no nonlinearity.

Weights use PyTorch's names and layouts (``conv1.weight`` (64, 1, 5, 5),
``conv1.bias`` (64,), ...), so they can be moved to and from a
``torch.nn.Conv2d`` stack and ``nn.PixelShuffle`` without reshaping.

How it runs: on the padded channels-last grid of :mod:`.ops.conv_grid`,
where each 'same' convolution is a sum of shifted GEMMs and layer 1 (one
input channel) gathers its f_1 x f_1 taps first. PS reads the last layer's
output straight off the grid; in training, PS, the loss and the loss's
gradient are one pass (:func:`.ops.conv_grid.shuffle_mse_grid`). The tests pin the network
to the plain composition of :func:`.ops.conv.conv2d_reference`, tanh and
:func:`.ops.shuffle.pixel_shuffle`, the equations as written.

Initialisation (documented, not from the paper, which does not state one):
PyTorch's Conv2d default, W and b ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
``init="icnr"`` (Aitken et al. 2017) draws the last layer for one phase only
and copies it to all r^2 phases, so the initial output is a nearest-neighbour
upscaling of a learnt LR map: no checkerboard at the start of training.
"""

from __future__ import annotations

import functools
import io
import json
import math
from dataclasses import asdict, dataclass
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

import numpy as np
from numba import get_num_threads, set_num_threads

from ._atomic import write_bytes_atomic
from ._checks import as_float_array, check_int
from .ops.activations import ACTIVATIONS
from .ops.conv_grid import (
    Grid,
    act_backward_grid,
    act_grid,
    conv_grid,
    conv_grid_backward,
    im2col_grid,
    shuffle_from_grid,
    shuffle_mse_grid,
    to_grid,
)
from .ops.activations import relu_backward, tanh_backward
from .ops.conv import conv2d, conv2d_backward
from .ops.loss import mse_loss, mse_loss_backward
from .ops.shuffle import ORDERS, channel_index, pixel_shuffle, pixel_shuffle_backward, pixel_unshuffle

FORMAT_VERSION = 1


@dataclass(frozen=True)
class ESPCNConfig:
    """Architecture; the defaults are the paper's (Sec. 3.2)."""

    scale: int = 3  # r, the upscaling factor
    channels: int = 1  # C: 1 = the Y channel, as in the paper
    hidden: tuple = ((5, 64), (3, 32))  # (f_l, n_l) of layers 1 .. L-1
    last_kernel: int = 3  # f_L
    activation: str = "tanh"  # phi; "relu" is Table 1's alternative
    order: str = "crd"  # periodic-shuffle channel order; crd == dcr for C = 1

    def __post_init__(self):
        for name in ("scale", "channels", "last_kernel"):  # store plain ints (JSON-able)
            object.__setattr__(self, name, check_int(getattr(self, name), name, 1))
        hidden = []
        for l, fl in enumerate(self.hidden, start=1):
            if not isinstance(fl, (tuple, list)) or len(fl) != 2:
                raise ValueError(f"hidden must be a sequence of (f_l, n_l) pairs, got {fl!r} for layer {l}")
            hidden.append((check_int(fl[0], f"f_{l}", 1), check_int(fl[1], f"n_{l}", 1)))
        object.__setattr__(self, "hidden", tuple(hidden))
        for f in [f for f, _ in self.hidden] + [self.last_kernel]:
            if f % 2 == 0:
                raise ValueError(f"kernel sizes must be odd for 'same' padding, got {f}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {tuple(ACTIVATIONS)}, got {self.activation!r}")
        if self.order not in ORDERS:
            raise ValueError(f"order must be one of {ORDERS}, got {self.order!r}")

    def layer_shapes(self) -> list[tuple[int, int, int, int]]:
        """(C_out, C_in, f, f) of every convolution, first to last."""
        shapes, c_in = [], self.channels
        for f, n in self.hidden:
            shapes.append((n, c_in, f, f))
            c_in = n
        shapes.append((self.channels * self.scale**2, c_in, self.last_kernel, self.last_kernel))
        return shapes

    def macs_per_lr_pixel(self) -> int:
        """Multiply-adds per LR pixel: sum over layers of C_out C_in f^2
        (1600 + 18432 + 288 r^2 for the paper's network)."""
        return sum(co * ci * f * f for co, ci, f, _ in self.layer_shapes())


class Cache(NamedTuple):
    """What the forward keeps for the backward, all on one :class:`Grid`:
    layer 1's tap matrix and every activation's output phi(z_l)."""

    grid: Grid
    cols: np.ndarray  # (length, C*f1*f1): layer 1's input taps (im2col_grid)
    activations: tuple  # (length, n_l) grids phi(z_l), layer 1 .. L-1


class ESPCN:
    """ESPCN with explicit parameters; forward and backward built from ops.

    params: dict name -> array, ``conv{l}.weight`` (C_out, C_in, f, f) and
    ``conv{l}.bias`` (C_out,), float32.
    """

    def __init__(self, scale: int | None = None, *, config: ESPCNConfig | None = None, rng=None,
                 init: str = "default", **kw):
        """scale (default 3) and ``kw`` build an :class:`ESPCNConfig`; or pass ``config``.

        rng: numpy.random.Generator for the initial weights (default: seed 0).
        init: "default" (PyTorch's Conv2d initialisation) or "icnr".
        """
        if config is not None:
            if kw or (scale is not None and scale != config.scale):
                raise ValueError("pass either config or scale/architecture keywords, not both")
            self.config = config
        else:
            self.config = ESPCNConfig(scale=3 if scale is None else scale, **kw)
        if init not in ("default", "icnr"):
            raise ValueError(f"init must be 'default' or 'icnr', got {init!r}")
        rng = np.random.default_rng(0) if rng is None else rng
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"rng must be a numpy.random.Generator (np.random.default_rng(seed)), "
                            f"got {type(rng).__name__}")
        self.params = init_params(self.config, rng, icnr=(init == "icnr"))

    # -- parameters -------------------------------------------------------
    @property
    def scale(self) -> int:
        return self.config.scale

    @property
    def num_layers(self) -> int:
        """L, the number of convolutions (3 in the paper)."""
        return len(self.config.layer_shapes())

    def names(self) -> list[str]:
        return [f"conv{l}.{kind}" for l in range(1, len(self.config.layer_shapes()) + 1) for kind in ("weight", "bias")]

    def num_params(self) -> int:
        return sum(p.size for p in self.params.values())

    # -- the network as the paper writes it, eq. (1)-(5) ----------------------
    def forward_reference(self, x) -> np.ndarray:
        """eq. (1)-(4) composed from the public operations: the definition.

        x: (N, C, H, W) LR. Returns I^SR: (N, C, rH, rW). :meth:`forward`
        computes the same numbers on the speed engine; tests pin it to this.
        """
        f = self.check_input(x)  # f^0 = I^LR: (N, C, H, W)
        phi, L, r, order = ACTIVATIONS[self.config.activation][0], self.num_layers, self.scale, self.config.order
        for l in range(1, L):
            f = phi(self._conv(l, f))  # eq. (1)-(2): f^l = phi(W_l * f^{l-1} + b_l)    (N, n_l, H, W)
        return pixel_shuffle(self._conv(L, f), r, order)  # eq. (3)-(4): PS(W_L * f^{L-1} + b_L)  (N, C, rH, rW)

    def loss_and_grads_reference(self, x, target):
        """eq. (5) and its gradients by the chain rule back through eq. (4)-(1).

        x: (N, C, H, W) LR; target: (N, C, rH, rW) HR. Returns (loss, grads)
        like :meth:`loss_and_grads`, op by op with the public operations.
        """
        f = [self.check_input(x)]  # f[l] = f^l; f[0] = I^LR
        target = self._check_hr(target, "target", self._hr_shape(f[0].shape))
        (phi, _), L, r, order = ACTIVATIONS[self.config.activation], self.num_layers, self.scale, self.config.order
        z = [None]  # z[l] = W_l * f^{l-1} + b_l
        for l in range(1, L + 1):
            z.append(self._conv(l, f[l - 1]))  # eq. (1)-(3), before phi
            if l < L:
                f.append(phi(z[l]))  # eq. (1)-(2); the last layer has no phi, eq. (3)
        y = pixel_shuffle(z[L], r, order)  # eq. (4): I^SR = PS(z_L)
        loss = mse_loss(y, target)  # eq. (5)
        dz = pixel_shuffle_backward(mse_loss_backward(y, target), r, order)  # dL/dz_L = PS^-1(dL/dI^SR)
        grads = {}
        for l in range(L, 0, -1):
            w = self.params[f"conv{l}.weight"]  # dL/dW_l, dL/db_l and dL/df^{l-1} of z_l = W_l * f^{l-1} + b_l:
            df, grads[f"conv{l}.weight"], grads[f"conv{l}.bias"] = conv2d_backward(
                dz, f[l - 1], w, padding=w.shape[2] // 2, need_dx=l > 1)
            if l > 1:  # back through f^{l-1} = phi(z_{l-1}): tanh' from its output, relu' from its input
                dz = tanh_backward(df, f[l - 1]) if self.config.activation == "tanh" else relu_backward(df, z[l - 1])
        return loss, grads

    def _conv(self, l: int, f: np.ndarray) -> np.ndarray:
        """W_l * f + b_l with 'same' zero padding f_l // 2 (our choice: the paper states no padding)."""
        w = self.params[f"conv{l}.weight"]
        return conv2d(f, w, self.params[f"conv{l}.bias"], padding=w.shape[2] // 2)

    # -- forward / backward -------------------------------------------------
    def forward(self, x) -> np.ndarray:
        """Inference. x: (N, C, H, W) LR images in [0, 1]. Returns (N, C, rH, rW).

        Computes in the parameters' dtype (float32; float64 if the params are).
        Keeps nothing for a backward pass: memory is the layer activations
        on the grid plus layer 1's thin tap matrix.
        """
        z, grid, _ = self._forward(self.check_input(x), keep=False)
        return shuffle_from_grid(z, self.scale, self.config.order, grid)  # PS, eq. (4)

    def forward_train(self, x):
        """Forward that also returns the :class:`Cache` for :meth:`backward`: (y, cache)."""
        z, grid, cache = self._forward(self.check_input(x), keep=True)
        return shuffle_from_grid(z, self.scale, self.config.order, grid), cache

    def _forward(self, x, keep):
        """eq. (1)-(3) on the grid layout of :mod:`.ops.conv_grid`: returns
        (z, grid, cache), z the last layer's output on the grid, before PS.

        Layer 1 gathers its f1 x f1 taps (one input channel: a thin matrix),
        which makes it a 1x1 convolution; layers 2..L are shifted GEMMs.
        """
        grid = self._grid(x.shape)
        h = im2col_grid(x, self.config.layer_shapes()[0][2], grid)
        cols, acts = (h if keep else None), []  # inference drops the taps after layer 1
        L = len(self.config.layer_shapes())
        for l in range(1, L + 1):
            w, b = self._grid_weight(l), self.params[f"conv{l}.bias"]
            z = conv_grid(h, w, grid, b)  # W_l * h + b_l, 'same' zero padding
            if l < L:
                h = act_grid(z, self.config.activation, grid)  # phi, eq. (1)-(2)
                if keep:
                    acts.append(h)
        # no nonlinearity on the last layer, eq. (3); the caller applies PS, eq. (4)
        return z, grid, (Cache(grid, cols, tuple(acts)) if keep else None)

    def backward(self, dy, cache: Cache) -> dict:
        """dy: (N, C, rH, rW) = dL/dI_SR. Returns grads, same keys as params."""
        g = cache.grid
        dy = self._check_hr(dy, "dy", (g.n, self.config.channels, self.scale * g.h, self.scale * g.w))
        dz = pixel_unshuffle(dy, self.scale, self.config.order)  # PS's backward is PS^-1
        return self._backward_grid(to_grid(np.asarray(dz, dtype=cache.cols.dtype), cache.grid), cache)

    def _backward_grid(self, dz, cache: Cache) -> dict:
        """Backward from dz = dL/dz_L on the grid (zero off the pixels)."""
        grid = cache.grid
        L = len(cache.activations) + 1
        grads = {}
        for l in range(L, 0, -1):
            inp = cache.cols if l == 1 else cache.activations[l - 2]
            dh, dw, grads[f"conv{l}.bias"] = conv_grid_backward(dz, inp, self._grid_weight(l), grid, need_dx=l > 1)
            grads[f"conv{l}.weight"] = dw.reshape(self.params[f"conv{l}.weight"].shape)
            if l > 1:
                dz = act_backward_grid(dh, cache.activations[l - 2], self.config.activation, grid)
        return grads

    def _grid(self, shape) -> Grid:
        """The grid for a batch of LR images: padding enough for layers 2..L."""
        pad = max((f // 2 for _, _, f, _ in self.config.layer_shapes()[1:]), default=0)
        return Grid(shape[0], shape[2], shape[3], pad)

    def _grid_weight(self, l: int) -> np.ndarray:
        """conv{l}.weight as :func:`conv_grid` takes it: layer 1 as a 1x1 kernel over its taps."""
        w = self.params[f"conv{l}.weight"]
        return w.reshape(w.shape[0], -1, 1, 1) if l == 1 else w

    def loss_and_grads(self, x, target, threads: int | None = None):
        """The MSE of eq. (5) for a batch and its gradients: (loss, grads).

        x: (N, C, H, W) LR; target: (N, C, rH, rW) HR. A batch of at least
        ``SHARD_MIN_BATCH`` images is cut into shards (:func:`shard_count`)
        of about ``SHARD_ROWS`` grid rows (8 patches of 17x17), so that a
        layer's operands stay in the core's cache. With ``threads`` > 1
        (default: Numba's thread count) the shards run side by side on
        ``threads`` workers, one BLAS and one Numba thread each (small GEMMs
        do not split well across threads; whole shards do); with 1, one
        after the other. Loss and gradients are the shards' sums weighted by
        their sizes, added in shard order, so the result does not depend on
        timing (it does on the thread count, through the shard count).
        """
        threads = get_num_threads() if threads is None else check_int(threads, "threads", 1)
        x = self.check_input(x)
        n = len(x)
        target = self._check_hr(target, "target", self._hr_shape(x.shape))
        shards = shard_count(n, self._grid(x.shape).image, threads)
        if shards == 1:
            return self._loss_and_grads_here(x, target)
        bounds = [n * i // shards for i in range(shards + 1)]
        parts = [(x[a:b], target[a:b]) for a, b in zip(bounds, bounds[1:])]
        if threads == 1:  # the shards one after the other, for the cache
            results = [self._loss_and_grads_here(*p) for p in parts]
        else:
            with _blas_controller().limit(limits=1):
                results = list(_shard_pool(threads).map(lambda p: self._shard(*p), parts))
        loss = sum(len(p[0]) / n * r[0] for p, r in zip(parts, results))
        grads = {k: sum(len(p[0]) / n * r[1][k] for p, r in zip(parts, results)) for k in results[0][1]}
        return loss, {k: v.astype(self.params[k].dtype, copy=False) for k, v in grads.items()}

    def _loss_and_grads_here(self, x, target):
        """loss_and_grads on the calling thread, for x already checked by
        :meth:`loss_and_grads`. The same numbers as ``mse_loss(y, target)``
        and ``backward(mse_loss_backward(y, target))`` with
        ``y = forward_train(x)[0]``, with PS and the loss in one pass."""
        z, grid, cache = self._forward(x, keep=True)
        loss, dz = shuffle_mse_grid(z, target, self.scale, self.config.order, grid)  # eq. (4)-(5)
        return loss, self._backward_grid(dz, cache)

    def _shard(self, x, target):
        set_num_threads(1)  # thread-local in Numba: this worker's kernels stay on its core
        return self._loss_and_grads_here(x, target)

    def _hr_shape(self, shape) -> tuple:
        """(N, C, rH, rW) for an LR batch of ``shape`` (N, C, H, W)."""
        return (shape[0], shape[1], self.scale * shape[2], self.scale * shape[3])

    def _check_hr(self, a, name: str, shape: tuple) -> np.ndarray:
        """An HR-sized array (a target or dL/dy) of exactly ``shape``, the one x implies."""
        a = as_float_array(a, name, ndim=4, shape_doc="(N, C, rH, rW)")
        if a.shape != shape:
            raise ValueError(f"{name} must have shape {shape} (x's batch and channels, r = {self.scale} "
                             f"times its size), got {a.shape}")
        return a

    def check_input(self, x) -> np.ndarray:
        """x as the network takes it: (N, C, H, W), non-empty, in the parameters' dtype; or a one-line error."""
        x = as_float_array(x, "x", ndim=4, shape_doc=f"(N, {self.config.channels}, H, W)")
        if x.shape[1] != self.config.channels:
            raise ValueError(f"x must have {self.config.channels} channel(s), shape (N, C, H, W); got {x.shape}")
        if min(x.shape) < 1:
            raise ValueError(f"x must be non-empty, got shape {x.shape}")
        return x.astype(self.params["conv1.weight"].dtype, copy=False)

    # -- persistence --------------------------------------------------------
    def metadata(self) -> dict:
        meta = asdict(self.config)
        meta["hidden"] = [list(fl) for fl in self.config.hidden]
        meta["format_version"] = FORMAT_VERSION
        return meta

    def save(self, path) -> None:
        """Write an ``.npz`` (PyTorch names + a JSON ``__meta__``) atomically."""
        arrays = {name: self.params[name] for name in self.names()}
        arrays["__meta__"] = np.array(json.dumps(self.metadata()))
        save_npz_atomic(path, arrays)


def init_params(config: ESPCNConfig, rng: np.random.Generator, icnr: bool = False) -> dict:
    """PyTorch's default Conv2d initialisation, optionally ICNR for the last layer."""
    params = {}
    shapes = config.layer_shapes()
    for l, (co, ci, f, _) in enumerate(shapes, start=1):
        bound = 1.0 / np.sqrt(ci * f * f)
        params[f"conv{l}.weight"] = rng.uniform(-bound, bound, (co, ci, f, f)).astype(np.float32)
        params[f"conv{l}.bias"] = rng.uniform(-bound, bound, co).astype(np.float32)
    if icnr:
        L = len(shapes)
        w, b = params[f"conv{L}.weight"], params[f"conv{L}.bias"]
        C, r = config.channels, config.scale
        for c in range(C):  # every phase (i, j) of output channel c gets phase (0, 0)'s filter
            src = channel_index(c, 0, 0, C, r, config.order)
            for i in range(r):
                for j in range(r):
                    dst = channel_index(c, i, j, C, r, config.order)
                    w[dst], b[dst] = w[src], b[src]
    return params


def save_npz_atomic(path, arrays: dict) -> None:
    """np.savez to a temporary file in the same folder, then rename: a crash
    never leaves a half-written file at ``path``."""
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    write_bytes_atomic(path, buf.getvalue())


class ModelFormatError(ValueError):
    """A weights file that is not a valid espcn-ref model."""


def read_npz(path) -> dict:
    """Load every array of an ``.npz`` with ``allow_pickle=False``; clear errors."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder, not a model file (.npz)")
    if not path.is_file():
        raise FileNotFoundError(f"model file not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except ValueError as e:  # a text file, or object arrays that need pickle (refused)
        raise ModelFormatError(f"{path}: not an espcn-ref .npz file ({e})") from None
    except Exception as e:  # truncated or not a zip at all
        raise ModelFormatError(f"{path}: not a readable .npz file ({type(e).__name__}: {e})") from None


def load_model(path, expect_scale: int | None = None) -> ESPCN:
    """Load a model saved by :meth:`ESPCN.save`; check it against its metadata.

    Raises ModelFormatError if the file is truncated, pickled, lacks metadata,
    or holds arrays whose names or shapes disagree with the architecture it
    declares; ValueError if ``expect_scale`` is given and differs.
    """
    arrays = read_npz(path)
    if "__run__" in arrays:
        raise ModelFormatError(f"{path} is a training checkpoint, not a model: use model.npz from the same run folder")
    if "__meta__" not in arrays:
        raise ModelFormatError(f"{path}: no __meta__ entry; not an espcn-ref model")
    try:
        meta = json.loads(str(arrays.pop("__meta__")))
        if not isinstance(meta, dict):
            raise TypeError(f"expected a JSON object, got {type(meta).__name__}")
        version = meta.pop("format_version")
        config = ESPCNConfig(**meta)
    except Exception as e:
        raise ModelFormatError(f"{path}: invalid metadata ({e})") from None
    if version != FORMAT_VERSION:
        raise ModelFormatError(f"{path}: format version {version}, this espcn-ref reads {FORMAT_VERSION}")
    model = ESPCN(config=config)
    expected = {name: model.params[name].shape for name in model.names()}
    if set(arrays) != set(expected):
        raise ModelFormatError(f"{path}: arrays {sorted(arrays)} do not match the architecture's {sorted(expected)}")
    for name, shape in expected.items():
        a = arrays[name]
        if a.shape != shape or a.dtype.kind != "f":
            raise ModelFormatError(f"{path}: {name} has shape {a.shape} dtype {a.dtype}, expected {shape} float")
        if not np.all(np.isfinite(a)):
            raise ModelFormatError(f"{path}: {name} contains NaN or inf")
        model.params[name] = a.astype(np.float32)
    if expect_scale is not None and config.scale != expect_scale:
        raise ValueError(f"{path} is a x{config.scale} model, but x{expect_scale} was asked for")
    return model


PRETRAINED_SCALES = (2, 3, 4)


def pretrained_path(scale: int) -> Path:
    """Path of the shipped model for x``scale`` (inside the installed package)."""
    scale = check_int(scale, "scale", 1)
    if scale not in PRETRAINED_SCALES:
        raise ValueError(f"pretrained models exist for x{PRETRAINED_SCALES}, not x{scale}")
    return Path(__file__).parent / "weights" / f"espcn_x{scale}.npz"


def pretrained(scale: int = 3) -> ESPCN:
    """The shipped ESPCN for x2, x3 or x4, trained on T91 (see the README)."""
    path = pretrained_path(scale)
    if not path.is_file():
        raise FileNotFoundError(f"the pretrained x{scale} model is not in this installation ({path})")
    return load_model(path, expect_scale=scale)


# A batch this large or larger is split into shards by ESPCN.loss_and_grads,
# of about SHARD_ROWS grid rows each (shard_count). On this 2-core machine the
# batch-64 step took 13.2-13.5 ms in 2 shards of 32 patches and 10.2-10.8 ms
# in 8 shards of 8 (shards of 4: slower again).
SHARD_MIN_BATCH = 16
SHARD_ROWS = 3072


def shard_count(n: int, image_rows: int, threads: int) -> int:
    """How many shards ESPCN.loss_and_grads cuts a batch of n images into.

    image_rows: grid rows per image, (H + pad)(W + pad). Below
    SHARD_MIN_BATCH images, 1. Otherwise ceil(n image_rows / SHARD_ROWS)
    rounded up to a multiple of ``threads``, so that the workers share the
    shards evenly, and at most n (one image per shard). Shards hold whole
    images, so one may hold a few rows more than SHARD_ROWS. With 2 threads
    and 17x17 patches (324 rows each), 16 images make 2 shards and 64 make
    8; on 1 thread, 2 and 7.
    """
    if n < SHARD_MIN_BATCH:
        return 1
    return min(n, threads * math.ceil(n * image_rows / (threads * SHARD_ROWS)))


@functools.lru_cache(maxsize=None)
def _shard_pool(threads: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(threads, thread_name_prefix="espcn-shard")


@functools.lru_cache(maxsize=None)
def _blas_controller():
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController().select(user_api="blas")
