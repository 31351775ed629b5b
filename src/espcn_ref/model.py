"""The ESPCN network, Sec. 2 and 3.2 of Shi et al. (CVPR 2016).

An L-layer network, eq. (1)-(4), trained on the MSE of eq. (5)::

    f^1(I)   = phi(W_1 * I + b_1)                       W_1: (n_1, C, f_1, f_1)
    f^l(I)   = phi(W_l * f^{l-1}(I) + b_l)              W_l: (n_l, n_{l-1}, f_l, f_l)
    I_SR     = PS(W_L * f^{L-1}(I) + b_L)               W_L: (C r^2, n_{L-1}, f_L, f_L)

The paper's values (Sec. 3.2): l = 3, (f_1, n_1) = (5, 64), (f_2, n_2) =
(3, 32), f_3 = 3, phi = tanh, C = 1 (the Y channel). The last layer has no
nonlinearity. Our choices where the paper is silent: every convolution uses
'same' zero padding (f - 1) / 2, so an H x W input gives an rH x rW output
(the paper states no padding); weight axes are (n_l, n_{l-1}, f, f), the
reverse of the paper's n_{l-1} x n_l, as PyTorch lays them out.

Weights use PyTorch's names and layouts (``conv1.weight`` (64, 1, 5, 5),
``conv1.bias`` (64,), ...), so they can be moved to and from a
``torch.nn.Conv2d`` stack and ``nn.PixelShuffle`` without reshaping.

Two paths, the same numbers:

* :meth:`ESPCN.forward_reference` and :meth:`ESPCN.loss_and_grads_reference`
  are eq. (1)-(5) as written, composed from the public operations of
  :mod:`espcn_ref.ops`: the definition, one line per equation.
* :meth:`ESPCN.forward` and :meth:`ESPCN.loss_and_grads` run the same
  equations on the speed engine (:mod:`espcn_ref.engine`): a padded
  channels-last grid, shifted GEMMs, PS and the loss fused, shards on
  threads. Only the layout and the order of the sums differ, so the tests
  pin them to the reference: float64 to 1e-12, float32 to 1e-5.

Initialisation (documented, not from the paper, which does not state one):
PyTorch's Conv2d default, W and b ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
``init="icnr"`` (Aitken et al. 2017) draws the last layer for one phase only
and copies it to all r^2 phases, so the initial output is a nearest-neighbour
upscaling of a learnt LR map: no checkerboard at the start of training.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from fractions import Fraction

import numpy as np
from numba import get_num_threads

from ._checks import as_float_array, check_int
from .engine import network
from .engine.shards import sharded
from .engine.head import shuffle_from_grid
from .data import imresize
from .model_file import ModelFormatError, read_model, write_model
from .ops.activations import ACTIVATIONS, relu_backward, tanh_backward
from .ops.conv import conv2d, conv2d_backward
from .ops.loss import mse_loss, mse_loss_backward
from .ops.shuffle import ORDERS, channel_index, pixel_shuffle, pixel_shuffle_backward, pixel_unshuffle


@dataclass(frozen=True)
class ESPCNConfig:
    """Architecture; the defaults are the paper's (Sec. 3.2)."""

    scale: int = 3  # r, the upscaling factor
    channels: int = 1  # C: 1 = the Y channel, as in the paper
    hidden: tuple = ((5, 64), (3, 32))  # (f_l, n_l) of layers 1 .. L-1
    last_kernel: int = 3  # f_L
    activation: str = "tanh"  # phi; "relu" is Table 1's alternative
    order: str = "crd"  # periodic-shuffle channel order; crd == dcr for C = 1
    pre_upscale: int = 1  # bicubic upscaling before the stack: 1 for ESPCN; SRCNN's r with scale = 1 (:func:`srcnn`)

    def __post_init__(self):
        for name in ("scale", "channels", "last_kernel", "pre_upscale"):  # store plain ints (JSON-able)
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

    @property
    def overall_scale(self) -> int:
        """The model's upscaling factor: the bicubic pre-upscaling times the shuffle's r."""
        return self.pre_upscale * self.scale

    @property
    def kind(self) -> str:
        """"espcn" (the upscaling is the last layer's PS) or "srcnn" (bicubic first, the stack in HR space)."""
        return "srcnn" if self.pre_upscale > 1 else "espcn"

    def layer_shapes(self) -> list[tuple[int, int, int, int]]:
        """(C_out, C_in, f, f) of every convolution, first to last."""
        shapes, c_in = [], self.channels
        for f, n in self.hidden:
            shapes.append((n, c_in, f, f))
            c_in = n
        shapes.append((self.channels * self.scale**2, c_in, self.last_kernel, self.last_kernel))
        return shapes

    def param_shapes(self) -> dict:
        """{"conv{l}.weight": (C_out, C_in, f, f), "conv{l}.bias": (C_out,)} for every layer."""
        return {f"conv{l}.{kind}": (shape if kind == "weight" else shape[:1])
                for l, shape in enumerate(self.layer_shapes(), start=1) for kind in ("weight", "bias")}

    def macs_per_lr_pixel(self) -> int:
        """Multiply-adds per pixel the stack runs on: sum over layers of C_out C_in f^2
        (1600 + 18432 + 288 r^2 for the paper's network; per HR pixel for SRCNN)."""
        return sum(co * ci * f * f for co, ci, f, _ in self.layer_shapes())

    def macs_per_hr_pixel(self) -> float:
        """Multiply-adds per output pixel: ESPCN's per-LR-pixel count / r^2; SRCNN's
        stack runs on every HR pixel (57,184 for 9-5-5, 8,032 for 9-1-5). Bicubic not counted."""
        return self.macs_per_lr_pixel() / self.scale**2


# SRCNN (Dong et al., ECCV 2014 / TPAMI 2016): bicubic upscaling, then three
# relu layers in HR space. The same layer stack as ESPCN, with r = 1 (PS is
# the identity) after a bicubic pre-upscaling by the model's scale.
SRCNN_VARIANTS = {"915": ((9, 64), (1, 32)), "955": ((9, 64), (5, 32))}


def srcnn_config(scale: int = 3, variant: str = "915", channels: int = 1) -> ESPCNConfig:
    """SRCNN 9-1-5 or 9-5-5 (f_1-f_2-f_3; n_1 = 64, n_2 = 32, relu) for x``scale``."""
    if variant not in SRCNN_VARIANTS:
        raise ValueError(f"SRCNN variant must be one of {tuple(SRCNN_VARIANTS)}, got {variant!r}")
    return ESPCNConfig(scale=1, channels=channels, hidden=SRCNN_VARIANTS[variant], last_kernel=5,
                       activation="relu", pre_upscale=check_int(scale, "scale", 1))


def srcnn_over_espcn(scale: int, variant: str = "955") -> dict:
    """SRCNN's cost over ESPCN's at x``scale`` (Sec. 3.5), from the two configs, as exact fractions.

    ``"macs"``: multiply-adds per HR pixel, bicubic not counted. SRCNN 9-5-5
    runs 57,184 on every HR pixel; ESPCN runs 1600 + 18432 + 288 r^2 per LR
    pixel, i.e. 22,624 / 9 per HR pixel at x3 (22.7x) and 24,640 / 16 at x4
    (37.1x).

    ``"weights"``: the W_l only, biases excluded: 57,184 / 22,624 = 2.53x
    at x3, 57,184 / 24,640 = 2.32x at x4. The paper's "2.5 times fewer
    parameters" is the x3 figure, and it counts weights, as SRCNN's papers
    do (8,032 for 9-1-5): with the biases, ``"params"``, the ratios are
    57,281 / 22,729 = 2.52x and 57,281 / 24,752 = 2.31x.

    Every weight is one multiply-add per pixel its layer runs on, so
    macs = weights x r^2 (SRCNN runs on r^2 times as many pixels).
    """
    srcnn, espcn = ESPCN(config=srcnn_config(scale, variant)), ESPCN(scale)

    def per_hr_pixel(c: ESPCNConfig) -> Fraction:  # macs_per_hr_pixel, exactly
        return Fraction(c.macs_per_lr_pixel(), c.scale**2)

    return {"macs": per_hr_pixel(srcnn.config) / per_hr_pixel(espcn.config),
            "weights": Fraction(srcnn.num_params(biases=False), espcn.num_params(biases=False)),
            "params": Fraction(srcnn.num_params(), espcn.num_params())}


def bicubic_pre_upscale(x: np.ndarray, r: int) -> np.ndarray:
    """SRCNN's first step: MATLAB bicubic imresize of every (h, w) plane by r.

    x: (N, C, h, w) float. Returns (N, C, r h, r w) in x's dtype (computed in float64).
    """
    N, C, h, w = x.shape
    planes = imresize(np.ascontiguousarray(x.transpose(2, 3, 0, 1)).reshape(h, w, N * C), scale=r)
    return np.ascontiguousarray(planes.reshape(r * h, r * w, N, C).transpose(2, 3, 0, 1))


class ESPCN:
    """ESPCN with explicit parameters; forward and backward built from ops.

    params: dict name -> array, ``conv{l}.weight`` (C_out, C_in, f, f) and
    ``conv{l}.bias`` (C_out,), float32.
    """

    def __init__(self, scale: int | None = None, *, config: ESPCNConfig | None = None, rng=None,
                 init: str = "default", params: dict | None = None, **kw):
        """scale (default 3) and ``kw`` build an :class:`ESPCNConfig`; or pass ``config``.

        rng: numpy.random.Generator for the initial weights (default: seed 0).
        init: "default" (PyTorch's Conv2d initialisation) or "icnr".
        params: the weights to use instead of initial ones ({name: array} of
        the config's shapes; :func:`load_model` passes what it checked).
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
        if params is not None:
            want = self.config.param_shapes()
            got = {k: np.shape(v) for k, v in params.items()}
            if got != want:
                raise ValueError(f"params must have the config's names and shapes {want}, got {got}")
            self.params = dict(params)
        else:
            self.params = init_params(self.config, rng, icnr=(init == "icnr"))
        self.provenance = {}  # what made the weights (written by the trainer; kept in the model file)

    # -- parameters -------------------------------------------------------
    @property
    def scale(self) -> int:
        """The model's upscaling factor (for SRCNN, the bicubic step's; its stack has r = 1)."""
        return self.config.overall_scale

    @property
    def num_layers(self) -> int:
        """L, the number of convolutions (3 in the paper)."""
        return len(self.config.layer_shapes())

    def names(self) -> list[str]:
        return [f"conv{l}.{kind}" for l in range(1, len(self.config.layer_shapes()) + 1) for kind in ("weight", "bias")]

    def num_params(self, biases: bool = True) -> int:
        """Number of parameters; ``biases=False``: the weights W_l only (SRCNN's papers count those)."""
        return sum(p.size for name, p in self.params.items() if biases or name.endswith(".weight"))

    # -- the network as the paper writes it, eq. (1)-(5) ----------------------
    def forward_reference(self, x) -> np.ndarray:
        """eq. (1)-(4) composed from the public operations: the definition.

        x: (N, C, H, W) LR. Returns I^SR: (N, C, rH, rW). :meth:`forward`
        computes the same numbers on the speed engine; tests pin it to this.
        """
        f = self.network_input(x)  # f^0 = I^LR: (N, C, H, W); SRCNN: its bicubic upscaling
        phi, L, r, order = ACTIVATIONS[self.config.activation][0], self.num_layers, self.config.scale, self.config.order
        for l in range(1, L):
            f = phi(self._conv(l, f))  # eq. (1)-(2): f^l = phi(W_l * f^{l-1} + b_l)    (N, n_l, H, W)
        return pixel_shuffle(self._conv(L, f), r, order)  # eq. (3)-(4): PS(W_L * f^{L-1} + b_L)  (N, C, rH, rW)

    def loss_and_grads_reference(self, x, target):
        """eq. (5) and its gradients by the chain rule back through eq. (4)-(1).

        x: (N, C, H, W) LR; target: (N, C, rH, rW) HR. Returns (loss, grads)
        like :meth:`loss_and_grads`, op by op with the public operations.
        """
        x = self.check_input(x)
        target = self._check_hr(target, "target", self._hr_shape(x.shape))
        f = [self.network_input(x)]  # f[l] = f^l; f[0] = I^LR (SRCNN: its bicubic upscaling)
        (phi, _), L, r, order = ACTIVATIONS[self.config.activation], self.num_layers, self.config.scale, self.config.order
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

    # -- the same network on the speed engine ---------------------------------
    def forward(self, x) -> np.ndarray:
        """Inference, eq. (1)-(4), on the engine. x: (N, C, H, W) LR images in [0, 1].

        Returns (N, C, rH, rW), the numbers of :meth:`forward_reference`.
        Computes in the parameters' dtype (float32; float64 if the params are).
        Keeps nothing for a backward pass: memory is the layer activations
        on the grid plus layer 1's thin tap matrix.
        """
        c = self.config
        return network.forward(self.params, self.network_input(x), c.scale, c.order, c.activation)

    def forward_train(self, x):
        """Forward that also returns the engine's cache for :meth:`backward`: (y, cache)."""
        c = self.config
        z, grid, cache = network.forward_grid(self.params, self.network_input(x), c.activation, keep=True)
        return shuffle_from_grid(z, c.scale, c.order, grid), cache

    def backward(self, dy, cache: network.Cache) -> dict:
        """dy: (N, C, rH, rW) = dL/dI_SR. Returns grads, same keys as params."""
        g = cache.grid
        r = self.config.scale  # the shuffle's r (1 for SRCNN, whose grid is already HR-sized)
        dy = self._check_hr(dy, "dy", (g.n, self.config.channels, r * g.h, r * g.w))
        dz = pixel_unshuffle(dy, r, self.config.order)  # PS's backward is PS^-1
        return network.backward_from_image(self.params, dz, cache, self.config.activation)

    def loss_and_grads(self, x, target, threads: int | None = None):
        """The MSE of eq. (5) for a batch and its gradients, on the engine: (loss, grads).

        x: (N, C, H, W) LR; target: (N, C, rH, rW) HR. The numbers of
        :meth:`loss_and_grads_reference`. A batch of 16 or more images is cut
        into shards that run on ``threads`` workers (default: Numba's thread
        count; see :mod:`espcn_ref.engine.shards`); the result depends on the
        thread count through the shard count, never on timing.
        """
        threads = get_num_threads() if threads is None else check_int(threads, "threads", 1)
        x = self.check_input(x)
        target = self._check_hr(target, "target", self._hr_shape(x.shape))
        x, c = self.network_input(x, checked=True), self.config

        def step(xs, ts):
            return network.loss_and_grads(self.params, xs, ts, c.scale, c.order, c.activation)

        loss, grads = sharded(step, x, target, network.make_grid(self.params, x.shape).image, threads)
        return loss, {k: v.astype(self.params[k].dtype, copy=False) for k, v in grads.items()}

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

    def network_input(self, x, checked: bool = False) -> np.ndarray:
        """What the layer stack runs on: x (N, C, H, W) checked, then for SRCNN
        upscaled by bicubic imresize (:func:`bicubic_pre_upscale`); ESPCN's is x itself."""
        x = x if checked else self.check_input(x)
        return bicubic_pre_upscale(x, self.config.pre_upscale) if self.config.pre_upscale > 1 else x

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
        """The architecture as JSON-able values (ESPCNConfig's fields), as the model file stores it."""
        meta = asdict(self.config)
        meta["hidden"] = [list(fl) for fl in self.config.hidden]
        return meta

    def save(self, path) -> None:
        """Write the model file atomically, in the format of the extension: .npz or
        .safetensors (:mod:`espcn_ref.model_file`); any other is refused. The
        metadata holds the architecture and, when recorded, the provenance."""
        meta = {**self.metadata(), **({"provenance": self.provenance} if self.provenance else {})}
        write_model(path, meta, {name: self.params[name] for name in self.names()})


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


def load_model(path, expect_scale: int | None = None) -> ESPCN:
    """Load a model saved by :meth:`ESPCN.save`; check it against its metadata.

    Raises ModelFormatError if the file is truncated, pickled, lacks metadata,
    or holds arrays whose names or shapes disagree with the architecture it
    declares; ValueError if ``expect_scale`` is given and differs.
    """
    meta, arrays = read_model(path)  # the reader bounds what it allocates (formats.MAX_FILE_ARRAY_BYTES)
    provenance = meta.pop("provenance", {})
    try:
        if not isinstance(provenance, dict):
            raise TypeError(f"provenance must be a JSON object, got {type(provenance).__name__}")
        config = ESPCNConfig(**meta)
    except Exception as e:
        raise ModelFormatError(f"{path}: invalid metadata ({e})") from None
    check_loadable(config, path)  # before any array is built
    expected = config.param_shapes()
    if set(arrays) != set(expected):
        raise ModelFormatError(f"{path}: arrays {sorted(arrays)} do not match the architecture's {sorted(expected)}")
    params = {}
    for name, shape in expected.items():
        a = arrays[name]
        if a.shape != shape or a.dtype.kind != "f":
            raise ModelFormatError(f"{path}: {name} has shape {a.shape} dtype {a.dtype}, expected {shape} float")
        if not np.all(np.isfinite(a)):
            raise ModelFormatError(f"{path}: {name} contains NaN or inf")
        if a.dtype.itemsize > 4 and np.abs(a).max(initial=0.0) > np.finfo(np.float32).max:
            raise ModelFormatError(f"{path}: {name} holds values beyond float32's range (|w| up to "
                                   f"{np.abs(a).max():.3g}); the network computes in float32")
        params[name] = a.astype(np.float32)
    if expect_scale is not None and config.overall_scale != expect_scale:
        raise ValueError(f"{path} is a x{config.overall_scale} model, but x{expect_scale} was asked for")
    model = ESPCN(config=config, params=params)
    model.provenance = provenance
    return model


# What a model file may declare (documented in docs/architecture.md): far
# beyond any ESPCN or SRCNN, small enough that a tampered header cannot make
# the loader build a huge network.
MAX_FILE_PARAMS = 50_000_000  # weights and biases
MAX_FILE_SCALE = 16  # the overall upscaling factor
MAX_FILE_LAYERS = 64
MAX_FILE_CHANNELS = 4  # C: 1 (Y) or 3 (RGB) in practice


def check_loadable(config: ESPCNConfig, path) -> None:
    """Refuse an architecture a model file declares beyond the documented limits (MAX_FILE_*)."""
    n = sum(co * ci * f * f + co for co, ci, f, _ in config.layer_shapes())
    for what, value, limit in (("scale", config.overall_scale, MAX_FILE_SCALE),
                               ("layers", len(config.layer_shapes()), MAX_FILE_LAYERS),
                               ("channels", config.channels, MAX_FILE_CHANNELS), ("parameters", n, MAX_FILE_PARAMS)):
        if value > limit:
            raise ModelFormatError(f"{path}: declares {value:,} {what}, beyond this loader's limit of {limit:,}")
