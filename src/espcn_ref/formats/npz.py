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
import zipfile

import numpy as np

from .._atomic import write_bytes_atomic
from . import ModelFormatError, check_model_path, decode_meta, encode_meta


def save_npz_atomic(path, arrays: dict) -> None:
    """np.savez to a temporary file in the same folder, then rename: a crash
    never leaves a half-written file at ``path``."""
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    write_bytes_atomic(path, buf.getvalue())


# What reading one .npz (a model or a checkpoint) may allocate: the arrays its
# headers declare, summed before any is read. A zip can compress a huge array
# of zeros into a few bytes; its header still says how large it is.
MAX_FILE_ARRAY_BYTES = 2 * 2**30


def declared_bytes(path) -> int:
    """The bytes the arrays of an ``.npz`` declare in their .npy headers, read without loading them.

    ModelFormatError for an object array (it would need pickle) or a header
    that is not a .npy header.
    """
    total = 0
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            with zf.open(info) as f:
                try:
                    version = np.lib.format.read_magic(f)
                    header = {(1, 0): np.lib.format.read_array_header_1_0,
                              (2, 0): np.lib.format.read_array_header_2_0}[version]
                    shape, _, dtype = header(f)
                except (KeyError, ValueError) as e:
                    raise ModelFormatError(f"{path}: {info.filename} is not a .npy array ({e})") from None
            if dtype.hasobject:
                raise ModelFormatError(f"{path}: {info.filename} is an object array, which would need pickle (refused)")
            total += int(np.prod(shape, dtype=object)) * dtype.itemsize
    return total


def read_npz(path) -> dict:
    """Load every array of an ``.npz`` with ``allow_pickle=False``; clear errors.

    The arrays' declared sizes are added up first: more than
    MAX_FILE_ARRAY_BYTES is refused before anything is allocated.
    """
    path = check_model_path(path)
    if not zipfile.is_zipfile(path):  # nothing is read from it
        with open(path, "rb") as f:
            zip_start = f.read(4) == b"PK\x03\x04"
        raise ModelFormatError(f"{path}: not a readable .npz file (a zip archive cut short)" if zip_start else
                               f"{path}: not an espcn-ref .npz file (not a zip archive)")
    try:
        need = declared_bytes(path)
    except ModelFormatError:
        raise
    except Exception as e:  # truncated or not a zip at all
        raise ModelFormatError(f"{path}: not a readable .npz file ({type(e).__name__}: {e})") from None
    if need > MAX_FILE_ARRAY_BYTES:
        raise ModelFormatError(f"{path}: its arrays declare {need / 2**30:,.1f} GiB, beyond this loader's limit of "
                               f"{MAX_FILE_ARRAY_BYTES / 2**30:.0f} GiB")
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
