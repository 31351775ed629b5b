"""The shipped weights: one registry of names, scales and files.

``pretrained(scale, weights=NAME)`` loads one; ``list_pretrained()`` lists
them all; the command line names them ``pretrained:NAME`` (and plain
``pretrained`` is ``pretrained:espcn-t91``). Each entry records the Set5 PSNR
that ``espcn-ref evaluate --method pretrained:NAME --scale R --sets Set5``
prints (Y, R pixels shaved; the test suite re-measures it when the sets
are there). How each model was trained: docs/results.md.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from ._checks import check_int
from .model import ESPCN, load_model

DEFAULT_WEIGHTS = "espcn-t91"
WEIGHTS_DIR = Path(__file__).parent / "weights"


_TABLE1_DATA = "T91, 17x17 LR sub-images at stride 13, no augmentation (Table 1's conditions)"


@dataclass(frozen=True)
class Shipped:
    """One shipped model: its name and scale, file, architecture, training set and Set5 PSNR."""

    name: str
    scale: int
    file: str  # under espcn_ref/weights/
    architecture: str
    train_set: str
    set5_psnr: float  # dB, Y, scale pixels shaved


SHIPPED = (
    Shipped("espcn-t91", 2, "espcn_x2.npz", "ESPCN 5-3-3 tanh", "T91, overlapping sub-images", 36.37),
    Shipped("espcn-t91", 3, "espcn_x3.npz", "ESPCN 5-3-3 tanh", "T91, augmented (flips, rotations, rescaling)",
            32.89),
    Shipped("espcn-t91", 4, "espcn_x4.npz", "ESPCN 5-3-3 tanh", "T91, overlapping sub-images", 30.12),
    # Table 1's rows, trained as the paper's: T91, 17x17 LR sub-images at stride 13, no augmentation
    Shipped("espcn-t91-paper", 3, "espcn_x3_t91_paper.npz", "ESPCN 5-3-3 tanh", _TABLE1_DATA, 32.56),
    Shipped("espcn-relu-t91-paper", 3, "espcn_x3_relu_t91_paper.npz", "ESPCN 5-3-3 relu", _TABLE1_DATA, 32.45),
    Shipped("srcnn-915-t91", 3, "srcnn_915_x3_t91.npz", "SRCNN 9-1-5 relu (bicubic x3 first)", _TABLE1_DATA,
            32.35),
    # a colour network (C = 3): RGB in, RGB out; the Set5 figure is the Y of its RGB output
    Shipped("espcn-rgb-t91", 3, "espcn_rgb_x3_t91.npz", "ESPCN 5-3-3 tanh, RGB (C = 3, crd)",
            "T91, augmented (flips, rotations, rescaling)", 32.78),
)


def list_pretrained() -> list[dict]:
    """Every shipped model as a dict: name, scale, file, architecture, train_set, set5_psnr."""
    return [asdict(s) for s in SHIPPED]


def _entry(scale: int, weights: str) -> Shipped:
    scale = check_int(scale, "scale", 1)
    if not isinstance(weights, str):
        raise TypeError(f"weights must be a name such as {DEFAULT_WEIGHTS!r}, got {type(weights).__name__}")
    for s in SHIPPED:
        if s.name == weights and s.scale == scale:
            return s
    names = sorted({s.name for s in SHIPPED})
    if weights not in names:
        raise ValueError(f"no shipped weights named {weights!r}; shipped: {', '.join(names)} (list_pretrained())")
    scales = [s.scale for s in SHIPPED if s.name == weights]
    raise ValueError(f"pretrained models exist for x{', x'.join(map(str, scales))} ({weights!r}), not x{scale}")


def pretrained_path(scale: int, weights: str = DEFAULT_WEIGHTS) -> Path:
    """Path of a shipped model file (inside the installed package)."""
    return WEIGHTS_DIR / _entry(scale, weights).file


def pretrained(scale: int = 3, weights: str = DEFAULT_WEIGHTS) -> ESPCN:
    """A shipped model for x``scale``; ``weights`` names it (default "espcn-t91", see :func:`list_pretrained`)."""
    path = pretrained_path(scale, weights)
    if not path.is_file():
        raise FileNotFoundError(f"the pretrained x{scale} model {weights!r} is not in this installation ({path})")
    return load_model(path, expect_scale=scale)


def parse_pretrained(spec: str) -> str | None:
    """The weights name of a command-line ``pretrained`` or ``pretrained:NAME``; None for anything else."""
    if spec == "pretrained":
        return DEFAULT_WEIGHTS
    if spec.startswith("pretrained:"):
        return spec.split(":", 1)[1]
    return None
