"""The model file: an ``.npz`` of named arrays plus a JSON ``__meta__`` entry.

Format version 2::

    conv{l}.weight, conv{l}.bias    float32 arrays, PyTorch's names and layouts
    __meta__                        JSON: the architecture (ESPCNConfig's fields),
                                    "format_version", and "provenance": what made
                                    the weights (training sets with their SHA-256,
                                    command, commit, machines; see train.provenance)

Version 1 is version 2 without "provenance" (and without "pre_upscale",
which reads as 1); both are read.

Read with ``allow_pickle=False``: nothing in the project ever unpickles.
Written to a temporary file in the same folder and renamed, so a crash never
leaves a half-written file. This module knows files, not networks:
:func:`espcn_ref.model.load_model` checks the arrays against the architecture.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np

from ._atomic import write_bytes_atomic

FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)


class ModelFormatError(ValueError):
    """A weights file that is not a valid espcn-ref model."""


def save_npz_atomic(path, arrays: dict) -> None:
    """np.savez to a temporary file in the same folder, then rename: a crash
    never leaves a half-written file at ``path``."""
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    write_bytes_atomic(path, buf.getvalue())


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


def write_model(path, meta: dict, arrays: dict) -> None:
    """Write ``arrays`` ({name: array}) and ``meta`` (JSON-able, without the version) atomically."""
    arrays = dict(arrays)
    arrays["__meta__"] = np.array(json.dumps({**meta, "format_version": FORMAT_VERSION}))
    save_npz_atomic(path, arrays)


def read_model(path) -> tuple[dict, dict]:
    """(meta, arrays) of a model file; meta without "format_version".

    Raises ModelFormatError for a checkpoint, a file without metadata,
    metadata that is not a JSON object, or another format version.
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
    except Exception as e:
        raise ModelFormatError(f"{path}: invalid metadata ({e})") from None
    if version not in READABLE_VERSIONS:
        raise ModelFormatError(f"{path}: format version {version}, this espcn-ref reads "
                               f"{', '.join(map(str, READABLE_VERSIONS))}")
    return meta, arrays
