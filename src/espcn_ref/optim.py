"""Optimisers: mini-batch SGD with momentum (the paper, Sec. 3.2) and Adam.

Both update ``params`` in place from ``grads`` (dicts of the same keys) and
keep their moments in the object, the only state they have. Each parameter
may have a learning-rate multiplier: the paper trains the final layer 10x
slower (``lr_mult={"conv3.weight": 0.1, "conv3.bias": 0.1}``).

SGD with momentum mu (PyTorch's form)::

    v <- mu v + g            p <- p - lr * mult * v

Adam (Kingma & Ba 2015), bias-corrected::

    m <- b1 m + (1 - b1) g   v <- b2 v + (1 - b2) g^2
    p <- p - lr * mult * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
"""

from __future__ import annotations

import numpy as np

from ._checks import check_real


def _check_setup(params: dict, lr, lr_mult) -> tuple:
    """(lr, lr_mult) checked against params: {name: float array}."""
    for k, p in params.items():
        if not (isinstance(p, np.ndarray) and p.dtype.kind == "f"):
            raise TypeError(f"parameter {k!r} must be a float array, got {type(p).__name__} "
                            f"{getattr(p, 'dtype', '')}")
    mult = dict(lr_mult or {})
    unknown = sorted(set(mult) - set(params))
    if unknown:
        raise ValueError(f"lr_mult names no parameter: {unknown}; parameters: {sorted(params)}")
    return check_real(lr, "lr", 0, low_open=True), {k: check_real(v, f"lr_mult[{k!r}]", 0) for k, v in mult.items()}


def _check_grads(params: dict, grads: dict, slots: dict) -> None:
    """Before any update: the same names as the optimiser's, and each gradient
    of its parameter's shape (NumPy would broadcast a smaller one silently)."""
    if set(params) != set(slots) or set(grads) != set(slots):
        raise ValueError(f"params and grads must both have the names {sorted(slots)}, "
                         f"got {sorted(params)} and {sorted(grads)}")
    for k, p in params.items():
        g = np.asarray(grads[k])
        if p.shape != slots[k].shape or g.shape != p.shape:
            raise ValueError(f"{k!r}: the parameter {p.shape} and its gradient {g.shape} must have "
                             f"the shape {slots[k].shape}")


def _load_state(state: dict, groups: dict) -> float:
    """Copy state[prefix + name] into every slot of groups ({prefix: {name: array}})
    and return state's lr; every shape and the lr are checked before anything is written."""
    lr = check_real(np.asarray(state["lr"]).item(), "lr", 0, low_open=True)
    for prefix, slots in groups.items():
        for k, a in slots.items():
            got = np.shape(state[f"{prefix}{k}"])
            if got != a.shape:
                raise ValueError(f"optimiser state {prefix}{k} has shape {got}, expected {a.shape}")
    for prefix, slots in groups.items():
        for k, a in slots.items():
            a[...] = state[f"{prefix}{k}"]
    return lr


class SGD:
    def __init__(self, params: dict, lr: float, momentum: float = 0.9, lr_mult: dict | None = None):
        self.lr, self.lr_mult = _check_setup(params, lr, lr_mult)
        self.momentum = check_real(momentum, "momentum", 0, 1)
        self.velocity = {k: np.zeros_like(p) for k, p in params.items()}

    def step(self, params: dict, grads: dict) -> None:
        _check_grads(params, grads, self.velocity)
        for k, p in params.items():
            v = self.velocity[k]
            v *= self.momentum
            v += grads[k]
            p -= (self.lr * self.lr_mult.get(k, 1.0)) * v

    def state(self) -> dict:
        return {"lr": np.array(self.lr), **{f"velocity/{k}": v for k, v in self.velocity.items()}}

    def load_state(self, state: dict) -> None:
        self.lr = _load_state(state, {"velocity/": self.velocity})


class Adam:
    def __init__(self, params: dict, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 lr_mult: dict | None = None):
        self.lr, self.lr_mult = _check_setup(params, lr, lr_mult)
        if not (isinstance(betas, (tuple, list)) and len(betas) == 2):
            raise ValueError(f"betas must be a pair (b1, b2), got {betas!r}")
        self.b1, self.b2 = check_real(betas[0], "betas[0]", 0, 1), check_real(betas[1], "betas[1]", 0, 1)
        self.eps = check_real(eps, "eps", 0, low_open=True)
        self.t = 0
        self.m = {k: np.zeros_like(p) for k, p in params.items()}
        self.v = {k: np.zeros_like(p) for k, p in params.items()}

    def step(self, params: dict, grads: dict) -> None:
        _check_grads(params, grads, self.m)
        self.t += 1
        c1, c2 = 1 - self.b1**self.t, 1 - self.b2**self.t
        for k, p in params.items():
            g, m, v = grads[k], self.m[k], self.v[k]
            m *= self.b1
            m += (1 - self.b1) * g
            v *= self.b2
            v += (1 - self.b2) * g * g
            step = (self.lr * self.lr_mult.get(k, 1.0) / c1) * m / (np.sqrt(v / c2) + self.eps)
            p -= step.astype(p.dtype, copy=False)

    def state(self) -> dict:
        out = {"lr": np.array(self.lr), "t": np.array(self.t)}
        out.update({f"m/{k}": a for k, a in self.m.items()})
        out.update({f"v/{k}": a for k, a in self.v.items()})
        return out

    def load_state(self, state: dict) -> None:
        t = np.asarray(state["t"])
        if t.shape != () or t.dtype.kind not in "iu" or int(t) < 0:
            raise ValueError(f"optimiser state t must be an integer >= 0, got {state['t']!r}")
        self.lr = _load_state(state, {"m/": self.m, "v/": self.v})  # checks everything, then writes
        self.t = int(t)
