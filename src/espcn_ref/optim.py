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


class SGD:
    def __init__(self, params: dict, lr: float, momentum: float = 0.9, lr_mult: dict | None = None):
        if lr <= 0 or not 0 <= momentum < 1:
            raise ValueError(f"need lr > 0 and 0 <= momentum < 1, got lr={lr}, momentum={momentum}")
        self.lr, self.momentum = float(lr), float(momentum)
        self.lr_mult = dict(lr_mult or {})
        self.velocity = {k: np.zeros_like(p) for k, p in params.items()}

    def step(self, params: dict, grads: dict) -> None:
        for k, p in params.items():
            v = self.velocity[k]
            v *= self.momentum
            v += grads[k]
            p -= (self.lr * self.lr_mult.get(k, 1.0)) * v

    def state(self) -> dict:
        return {"lr": np.array(self.lr), **{f"velocity/{k}": v for k, v in self.velocity.items()}}

    def load_state(self, state: dict) -> None:
        self.lr = float(state["lr"])
        for k in self.velocity:
            self.velocity[k][...] = state[f"velocity/{k}"]


class Adam:
    def __init__(self, params: dict, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 lr_mult: dict | None = None):
        if lr <= 0 or not (0 <= betas[0] < 1 and 0 <= betas[1] < 1):
            raise ValueError(f"need lr > 0 and betas in [0, 1), got lr={lr}, betas={betas}")
        self.lr, self.b1, self.b2, self.eps = float(lr), float(betas[0]), float(betas[1]), float(eps)
        self.lr_mult = dict(lr_mult or {})
        self.t = 0
        self.m = {k: np.zeros_like(p) for k, p in params.items()}
        self.v = {k: np.zeros_like(p) for k, p in params.items()}

    def step(self, params: dict, grads: dict) -> None:
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
        self.lr, self.t = float(state["lr"]), int(state["t"])
        for k in self.m:
            self.m[k][...] = state[f"m/{k}"]
            self.v[k][...] = state[f"v/{k}"]
