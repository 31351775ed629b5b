"""Drawing helpers shared by the figures: category colours, labelled grids."""

from __future__ import annotations

import numpy as np
from matplotlib.colors import ListedColormap, Normalize



def category_cmap(n: int) -> ListedColormap:
    """n distinct colours: tab10 / tab20, else evenly spaced on 'turbo'."""
    from matplotlib import colormaps

    if n <= 10:
        return ListedColormap(colormaps["tab10"].colors[:n])
    if n <= 20:
        return ListedColormap(colormaps["tab20"].colors[:n])
    return ListedColormap(colormaps["turbo"](np.linspace(0.05, 0.95, n)))


def grid(ax, values, labels=None, fontsize=8, **imshow):
    """imshow ``values`` (h, w) as cells with thin white borders and optional text."""
    im = ax.imshow(values, interpolation="nearest", **imshow)
    h, w = np.shape(values)
    ax.set_xticks(np.arange(-0.5, w, 1), minor=True)
    ax.set_yticks(np.arange(-0.5, h, 1), minor=True)
    ax.grid(which="minor", color="white", linewidth=1)
    ax.tick_params(which="both", length=0, labelbottom=False, labelleft=False)
    if labels is not None:
        rgba = im.to_rgba(np.asarray(values, dtype=np.float64))  # (h, w, 4): the drawn colours
        dark = rgba[..., :3] @ np.array([0.299, 0.587, 0.114]) < 0.45  # white text on dark cells
        for (a, b), text in np.ndenumerate(np.asarray(labels, dtype=object)):
            ax.text(b, a, text, ha="center", va="center", fontsize=fontsize,
                    color="white" if dark[a, b] else "black")
    return im


def fmt(v) -> str:
    return f"{v:.2f}".replace("-0.00", "0.00")


def symmetric(a) -> Normalize:
    """A colour scale centred on 0, from -max|a| to max|a|."""
    m = float(np.nanmax(np.abs(a))) or 1.0
    return Normalize(-m, m)
