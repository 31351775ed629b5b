"""The model file: which format a path names, and the one read / write pair.

=================  ====  =====  ====================================================
extension          read  write  format (:mod:`espcn_ref.formats`)
=================  ====  =====  ====================================================
``.npz``           yes   yes    named arrays + a JSON ``__meta__`` entry (the default)
``.safetensors``   yes   yes    the same arrays; the JSON in the header's metadata
``.onnx``          yes   no     a Conv + Tanh/Relu stack and a shuffle, read from the
                                graph (written by :func:`espcn_ref.export.export_onnx`)
=================  ====  =====  ====================================================

Every format gives the same (meta, arrays): ``meta`` holds ESPCNConfig's
fields, ``arrays`` the weights under PyTorch's names (``conv1.weight``
(64, 1, 5, 5), ``conv1.bias``, ...). Any other extension is refused with a
one-line error, when saving as when loading: a path is never silently given
another format. Nothing in the project ever unpickles (``.pt`` / ``.pth``
files are PyTorch pickles: they are refused, not read).

Format version 2 (the metadata, whatever the file): the architecture
(ESPCNConfig's fields), "format_version", and "provenance": what made the
weights (training sets with their SHA-256, command, commit, machines; see
:mod:`espcn_ref.train.provenance`). Version 1 is version 2 without
"provenance" (and without "pre_upscale", which reads as 1); both are read.

This module knows files, not networks: :func:`espcn_ref.model.load_model`
checks the arrays against the architecture.
"""

from __future__ import annotations

from pathlib import Path

from .formats import FORMAT_VERSION, MissingPackageError, ModelFormatError, check_model_path, npz, onnx_reader, safetensors
from .formats.npz import read_npz, save_npz_atomic

__all__ = ["FORMAT_VERSION", "MissingPackageError", "ModelFormatError", "read_model", "write_model",
           "read_npz", "save_npz_atomic", "READ_EXTENSIONS", "WRITE_EXTENSIONS"]

_READERS = {".npz": npz.read, ".safetensors": safetensors.read, ".onnx": onnx_reader.read}
_WRITERS = {".npz": npz.write, ".safetensors": safetensors.write}
READ_EXTENSIONS = tuple(_READERS)
WRITE_EXTENSIONS = tuple(_WRITERS)


def _extension(path, supported: tuple, doing: str) -> str:
    """The lower-case extension of ``path`` if it is one of ``supported``; else a one-line error."""
    ext = Path(path).suffix.lower()
    if ext in supported:
        return ext
    hint = ""
    if ext in (".pt", ".pth", ".ckpt", ".pkl", ".pickle"):
        hint = " (PyTorch and pickle files are never read: unpickling runs code; save a state_dict with safetensors)"
    elif ext == ".onnx" and doing == "save":
        hint = " (write ONNX with espcn_ref.export.export_onnx, or `espcn-ref export`)"
    what = f"extension {ext!r}" if ext else "no extension"
    raise ModelFormatError(f"cannot {doing} {path}: {what}; a model file is {' or '.join(supported)}{hint}")


def write_model(path, meta: dict, arrays: dict) -> None:
    """Write ``arrays`` ({name: array}) and ``meta`` (JSON-able, without the
    version) atomically, in the format of the extension (.npz or .safetensors)."""
    _WRITERS[_extension(path, WRITE_EXTENSIONS, "save")](path, meta, arrays)


def read_model(path) -> tuple[dict, dict]:
    """(meta, arrays) of a model file (.npz, .safetensors or .onnx); meta without "format_version".

    Raises FileNotFoundError / IsADirectoryError for a missing file or a
    folder, ModelFormatError for a file that is not an espcn-ref model of its
    extension (see each format), MissingPackageError when the format's
    optional package is not installed.
    """
    path = check_model_path(path)  # a missing file or a folder is reported as such, whatever its name
    return _READERS[_extension(path, READ_EXTENSIONS, "load")](path)
