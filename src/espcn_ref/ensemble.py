"""Ensembles: several predictions of one image, averaged.

Two kinds, each usable wherever a model is (``scale``, ``forward``,
``check_input``; :func:`espcn_ref.upscale.upscale_y` and
:func:`~espcn_ref.upscale.forward_tiled` take them)::

    Ensemble(models)      I_SR = 1/M sum_m  f_m(I_LR)               Sec. 3.5 of the paper
    SelfEnsemble(model)   I_SR = 1/8 sum_T  T^-1(f(T(I_LR)))        EDSR+ (Lim et al. 2017), not the paper

:class:`Ensemble` is the paper's suggestion (Sec. 3.5): "ensemble prediction
using independently trained models". :class:`SelfEnsemble` is the geometric
self-ensemble of EDSR+: T runs over the 8 flips and 90-degree rotations of
the plane (the dihedral group D4, :func:`espcn_ref.data.patches.dihedral`),
each prediction is turned back by T^-1, and the 8 are averaged. A rotation by
90 degrees swaps H and W; the network takes any H x W, and T^-1 swaps them
back, so non-square images need nothing special. It costs 8 forward passes.

The average is over the raw float outputs, before any clipping or rounding
(summed in float64, returned in the members' dtype); the protocol
(:mod:`espcn_ref.evaluate`) then clips and rounds once. A mean lies between
the smallest and the largest of its terms, so an ensemble never leaves the
range its members' outputs span.
"""

from __future__ import annotations

import numpy as np

from .data.patches import dihedral
from .model import ESPCN

N_DIHEDRAL = 8  # |D4|: 4 rotations, each with and without a flip


def dihedral_inverse(k: int) -> int:
    """The index of T_k^-1 for :func:`~espcn_ref.data.patches.dihedral`.

    T_k = rot90^k for k < 4: its inverse is rot90^(-k). For k >= 4, T_k is a
    rotation followed by a flip, a reflection, which is its own inverse.
    """
    return (-k) % 4 if k < 4 else k


def is_method(obj) -> bool:
    """Whether ``obj`` is a model this module can combine: an ESPCN (or SRCNN), an Ensemble or a SelfEnsemble."""
    return isinstance(obj, (ESPCN, Ensemble, SelfEnsemble))


def channels_of(method) -> int:
    """C, the channel count a method takes and returns."""
    return method.config.channels if isinstance(method, ESPCN) else method.channels


def _check_member(m, what: str):
    if isinstance(m, str):
        raise TypeError(f"{what} is {m!r}: ensembles average models (an ESPCN, Ensemble or SelfEnsemble), "
                        "not bicubic or a name; load it first (load_model, pretrained)")
    if not is_method(m):
        raise TypeError(f"{what} must be an ESPCN, Ensemble or SelfEnsemble, got {type(m).__name__}")
    return m


class Ensemble:
    """The mean of M models' outputs (Sec. 3.5): I_SR = 1/M sum_m f_m(I_LR).

    models: one or more ESPCN / SRCNN / Ensemble / SelfEnsemble of one scale
    and one channel count (a one-line ValueError names the member that
    differs). The mean is taken over the raw float outputs, before clipping
    and rounding; bicubic is refused (it is the baseline, not a model).
    """

    def __init__(self, models):
        if isinstance(models, str) or is_method(models):
            raise TypeError(f"Ensemble takes a list of models, got one {type(models).__name__}: Ensemble([model, ...])")
        models = tuple(models)
        if not models:
            raise ValueError("an ensemble needs at least one model, got none")
        self.members = tuple(_check_member(m, f"ensemble member {i + 1}") for i, m in enumerate(models))
        first = self.members[0]
        for i, m in enumerate(self.members[1:], start=2):
            if m.scale != first.scale:
                raise ValueError(f"ensemble members differ in scale: member 1 is x{first.scale}, member {i} x{m.scale}")
            if channels_of(m) != channels_of(first):
                raise ValueError(f"ensemble members differ in channels: member 1 takes {channels_of(first)}, "
                                 f"member {i} {channels_of(m)}")

    @property
    def scale(self) -> int:
        """r, the members' common upscaling factor."""
        return self.members[0].scale

    @property
    def channels(self) -> int:
        return channels_of(self.members[0])

    def check_input(self, x) -> np.ndarray:
        """x as the first member takes it: (N, C, H, W), non-empty, float; or a one-line error."""
        return self.members[0].check_input(x)

    def forward(self, x) -> np.ndarray:
        """x: (N, C, H, W) LR. Returns 1/M sum_m f_m(x): (N, C, rH, rW), not clipped."""
        x = self.check_input(x)
        total, dtype = None, None
        for m in self.members:
            y = m.forward(x)  # (N, C, rH, rW)
            total = y.astype(np.float64) if total is None else total + y
            dtype = y.dtype if dtype is None else np.result_type(dtype, y.dtype)
        return (total / len(self.members)).astype(dtype)


class SelfEnsemble:
    """EDSR+'s geometric self-ensemble: I_SR = 1/8 sum_T T^-1(f(T(I_LR))).

    T runs over the 8 flips and 90-degree rotations (D4). model: an ESPCN /
    SRCNN / Ensemble (or SelfEnsemble, pointlessly). The mean is over the raw
    float outputs, before clipping and rounding. If f commutes with every T
    (f(T x) = T f(x)), the result is f(x) itself; tests/test_ensemble.py
    builds such a model.
    """

    def __init__(self, model):
        self.model = _check_member(model, "the self-ensemble's model")

    @property
    def scale(self) -> int:
        """r, the model's upscaling factor."""
        return self.model.scale

    @property
    def channels(self) -> int:
        return channels_of(self.model)

    def check_input(self, x) -> np.ndarray:
        """x as the model takes it: (N, C, H, W), non-empty, float; or a one-line error."""
        return self.model.check_input(x)

    def forward(self, x) -> np.ndarray:
        """x: (N, C, H, W) LR. Returns 1/8 sum_k T_k^-1(f(T_k(x))): (N, C, rH, rW), not clipped."""
        x = self.check_input(x)
        N, C, H, W = x.shape
        total = np.zeros((N, C, self.scale * H, self.scale * W))  # float64 accumulator
        for k in range(N_DIHEDRAL):
            y = self.model.forward(dihedral(x, k))  # (N, C, rH, rW), or (N, C, rW, rH) for odd rotations
            total += dihedral(y, dihedral_inverse(k))  # (N, C, rH, rW)
        return (total / N_DIHEDRAL).astype(y.dtype)
