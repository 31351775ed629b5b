"""The shipped weights: ``pretrained(scale)`` and where their files are."""

from __future__ import annotations

from pathlib import Path

from ._checks import check_int
from .model import ESPCN, load_model

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
