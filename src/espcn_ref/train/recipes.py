"""Training recipes (Sec. 3.2): the settings of a run, its optimiser and its
learning-rate schedule.

Two recipes:

* ``paper`` - mini-batch SGD with momentum 0.9. The learning rate starts at
  0.01 and falls (x ``lr_decay``) to at least 0.0001 whenever the training
  cost improves by less than a relative threshold mu over an epoch; the
  final layer learns 10x slower; training stops after ``patience`` epochs
  without a better validation score (the paper: 100 epochs).
* ``fast`` - Adam (lr 1e-3, final layer 1e-4): a practical recipe that
  converges in far fewer epochs. Its ``schedule`` is ``step`` (the rate cut
  x0.1 at ``decay_at`` = 80% of the epochs) or ``cosine`` (the rate follows
  half a cosine from 1e-3 down towards 0 over the epochs). Both follow
  ``epochs``: resuming with more epochs stretches the schedule from the next
  epoch on, so the rate can go back up.
  With ``average``, the epochs from ``decay_at`` on (for either schedule)
  also feed a running mean of their final weights (stochastic weight
  averaging, Izmailov et al. 2018), and model selection scores that mean
  after each of them as well. A resume whose ``epochs`` moves the start
  past the current epoch starts the mean afresh.

Deviations from the paper are listed in the README and here: the paper's
decay factor and mu are not given (we use ``lr_decay`` = 0.5 and mu = 1e-3);
the paper picks no epoch on a validation split, we do (``val_fraction`` of
the training images, never a test set).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from .._checks import check_int, check_real
from ..model import ESPCN, ESPCNConfig, srcnn_config
from ..optim import SGD, Adam


ARCHS = ("espcn", "srcnn-915", "srcnn-955")


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a run. Defaults follow Sec. 3.2 where it says."""

    scale: int = 3  # r
    arch: str = "espcn"  # "espcn" (Sec. 3.2's 5-3-3), or "srcnn-915" / "srcnn-955" (Dong et al.; see model_config)
    recipe: str = "fast"  # "paper" (SGD + plateau schedule) or "fast" (Adam)
    activation: str = "tanh"  # Table 1: tanh (paper) or relu
    channels: int = 1  # C: 1 = Y (the paper); 3 = an RGB network (trained and validated on RGB)
    order: str = "crd"  # the shuffle's channel order (matters for C = 3; ICNR is grouped by it)
    init: str = "default"  # "default" (PyTorch's) or "icnr"
    epochs: int = 100  # maximum number of epochs
    batch_size: int = 16
    patch: int = 17  # LR sub-image size; HR is 17 r (Sec. 3.2)
    stride: int | None = None  # LR stride; None = patch: with our 'same' padding each HR pixel once (the paper's
    #                             (17 - sum mod(f, 2)) r gives that under neither reading; docs/architecture.md)
    augment: bool = False  # one random flip / 90-degree rotation per sub-image, fixed at extraction
    augment_online: bool = False  # a fresh random flip / rotation each time a sub-image enters a batch
    rescale: tuple = ()  # also train on each image shrunk by these factors in (0, 1) (FSRCNN's augmentation)
    degradation: str = "bicubic"  # "bicubic" (the tables' protocol) or "gaussian"
    val_fraction: float = 0.1  # held-out training images for model selection
    seed: int = 0
    lr: float | None = None  # None: 0.01 (paper) or 1e-3 (fast)
    schedule: str = "step"  # fast recipe: "step" (x0.1 at decay_at) or "cosine" (half a cosine towards 0)
    decay_at: float = 0.8  # fast recipe, step schedule: the lr drops to lr / 10 at this fraction of the epochs
    average: bool = False  # fast recipe: also select among running means of the weights from decay_at on (SWA),
    #                        for either schedule
    momentum: float = 0.9  # paper recipe
    last_layer_lr_mult: float = 0.1  # "the final layer learns 10 times slower"
    mu: float = 1e-3  # paper recipe: relative cost improvement that keeps the lr
    lr_decay: float = 0.5  # paper recipe: factor applied when improvement < mu
    min_lr: float = 1e-4  # paper recipe: final learning rate
    patience: int = 100  # epochs without a better validation PSNR before stopping

    def __post_init__(self):
        if self.arch not in ARCHS:
            raise ValueError(f"arch must be one of {ARCHS}, got {self.arch!r}")
        if self.recipe not in ("paper", "fast"):
            raise ValueError(f"recipe must be 'paper' or 'fast', got {self.recipe!r}")
        for name in ("scale", "epochs", "batch_size", "patch", "patience"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        check_int(self.seed, "seed", 0)  # numpy's generators take seeds >= 0
        if self.channels not in (1, 3):
            raise ValueError(f"channels must be 1 (Y) or 3 (RGB), got {self.channels!r}")
        self.model_config()  # the order, the activation: refused here, before any data is loaded
        if self.stride is not None and self.stride < 1:
            raise ValueError(f"stride must be >= 1, got {self.stride}")
        if self.lr is not None:
            check_real(self.lr, "lr", 0, low_open=True)
        if not 0 <= self.val_fraction < 1:
            raise ValueError(f"val_fraction must be in [0, 1), got {self.val_fraction}")
        if self.schedule not in ("step", "cosine"):
            raise ValueError(f"schedule must be 'step' or 'cosine', got {self.schedule!r}")
        if self.recipe == "paper" and self.schedule != "step":
            raise ValueError("schedule 'cosine' is for the fast recipe; the paper recipe lowers the lr on plateaus")
        if self.recipe == "paper" and self.average:
            raise ValueError("average is for the fast recipe: it starts where its schedule drops (decay_at)")
        if self.average and self.val_fraction == 0:
            raise ValueError("average needs a validation split (val_fraction > 0): it is chosen on it")
        if not 0 < self.decay_at <= 1:
            raise ValueError(f"decay_at must be in (0, 1], got {self.decay_at}")
        try:
            rescale = tuple(float(f) for f in self.rescale)  # a tuple even when read back from JSON
        except (TypeError, ValueError):
            rescale = None
        if rescale is None or not all(0 < f < 1 for f in rescale) or len(set(rescale)) != len(rescale):
            raise ValueError(f"rescale factors must be distinct and in (0, 1), got {self.rescale!r}")
        object.__setattr__(self, "rescale", rescale)

    def model_config(self) -> ESPCNConfig:
        """The network this run trains: ESPCN at x``scale``, or SRCNN (bicubic x``scale``
        then its stack with r = 1), with this run's activation."""
        if self.arch == "espcn":
            return ESPCNConfig(scale=self.scale, channels=self.channels, activation=self.activation, order=self.order)
        return replace(srcnn_config(self.scale, self.arch.split("-")[1], self.channels), activation=self.activation)

    @property
    def initial_lr(self) -> float:
        return self.lr if self.lr is not None else (0.01 if self.recipe == "paper" else 1e-3)


# Settings that may change between a run and its resumption.
RESUMABLE_CHANGES = ("epochs", "patience")


def make_optimizer(model: ESPCN, cfg: TrainConfig):
    last = len(model.config.layer_shapes())
    mult = {f"conv{last}.weight": cfg.last_layer_lr_mult, f"conv{last}.bias": cfg.last_layer_lr_mult}
    if cfg.recipe == "paper":
        return SGD(model.params, cfg.initial_lr, cfg.momentum, mult)
    return Adam(model.params, cfg.initial_lr, lr_mult=mult)


def next_lr(cfg: TrainConfig, lr: float, epoch: int, prev_loss: float, loss: float) -> float:
    """The learning rate for the epoch after ``epoch`` (0-based).

    paper: lr * lr_decay (not below min_lr) when (prev - loss) / prev < mu.
    fast: ``fast_lr(cfg, epoch + 1)``.
    """
    if cfg.recipe == "paper":
        if math.isfinite(prev_loss) and (prev_loss - loss) / prev_loss < cfg.mu:
            return max(cfg.min_lr, lr * cfg.lr_decay)
        return lr
    return fast_lr(cfg, epoch + 1)


def fast_lr(cfg: TrainConfig, epoch: int) -> float:
    """The fast recipe's learning rate for ``epoch`` (0-based; log.csv numbers it epoch + 1).

    Our replacement for Sec. 3.2's schedule (listed among the deviations in the README).

    step: lr_0 for the first floor(decay_at * epochs) epochs, then lr_0 / 10.
    cosine: lr_0 (1 + cos(pi epoch / epochs)) / 2: epoch 0 runs at lr_0, the
    last at lr_0 (1 - cos(pi / epochs)) / 2.
    A function of the epoch alone, so a run resumed with another ``epochs``
    follows the new schedule from its next epoch on.
    """
    if cfg.schedule == "cosine":
        return cfg.initial_lr * 0.5 * (1.0 + math.cos(math.pi * epoch / cfg.epochs))
    return cfg.initial_lr * (0.1 if epoch >= drop_epoch(cfg) else 1.0)


def drop_epoch(cfg: TrainConfig) -> int:
    """floor(decay_at * epochs), 0-based: where the step schedule drops and
    ``average`` starts (with the cosine schedule too)."""
    return math.floor(cfg.decay_at * cfg.epochs + 1e-9)  # 0.58 * 100 is 57.999...: still 58


def update_average(avg: dict, params: dict, count: int) -> None:
    """Stochastic weight averaging (Izmailov et al. 2018), one snapshot:
    avg <- avg + (params - avg) / count, in float64; count counts this snapshot.

    avg, params: {name: array}, same names and shapes. After snapshots
    w_1 .. w_n, avg holds their mean (w_1 + ... + w_n) / n.
    """
    for k, p in params.items():
        if count == 1:
            avg[k] = p.astype(np.float64)
        else:
            avg[k] += (p - avg[k]) / count
