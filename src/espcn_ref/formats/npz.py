"""The ``.npz`` model file: named arrays plus a JSON ``__meta__`` entry.

Format version 2::

    conv{l}.weight, conv{l}.bias    float32 arrays, PyTorch's names and layouts
    __meta__                        JSON: the architecture (ESPCNConfig's fields),
                                    "format_version" and, when recorded, "provenance"

Read with ``allow_pickle=False``. Written to a temporary file in the same
folder and renamed, so a crash never leaves a half-written file. The
training checkpoint (:mod:`espcn_ref.train.run_folder`) is an ``.npz`` too,
written and read with :func:`save_npz_atomic` and :func:`read_npz`.
"""

from __future__ import annotations

import io
import numpy as np

from .._atomic import write_bytes_atomic
from . import ModelFormatError, check_model_path, decode_meta, encode_meta


def save_npz_atomic(path, arrays: dict) -> None:
    """np.savez to a temporary file in the same folder, then rename: a crash
    never leaves a half-written file at ``path``."""
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    write_bytes_atomic(path, buf.getvalue())


def read_npz(path) -> dict:
    """Load every array of an ``.npz`` with ``allow_pickle=False``; clear errors."""
    path = check_model_path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except ValueError as e:  # a text file, or object arrays that need pickle (refused)
        raise ModelFormatError(f"{path}: not an espcn-ref .npz file ({e})") from None
    except Exception as e:  # truncated or not a zip at all
        raise ModelFormatError(f"{path}: not a readable .npz file ({type(e).__name__}: {e})") from None


def write(path, meta: dict, arrays: dict) -> None:
    """Write ``arrays`` ({name: array}) and ``meta`` (JSON-able, without the version) atomically."""
    arrays = dict(arrays)
    arrays["__meta__"] = np.array(encode_meta(meta))
    save_npz_atomic(path, arrays)


def read(path) -> tuple[dict, dict]:
    """(meta, arrays) of an ``.npz`` model file; meta without "format_version".

    Raises ModelFormatError for a checkpoint, a file without metadata,
    metadata that is not a JSON object, or another format version.
    """
    arrays = read_npz(path)
    if "__run__" in arrays:
        raise ModelFormatError(f"{path} is a training checkpoint, not a model: use model.npz from the same run folder")
    if "__meta__" not in arrays:
        raise ModelFormatError(f"{path}: no __meta__ entry; not an espcn-ref model")
    return decode_meta(str(arrays.pop("__meta__")), path), arrays
