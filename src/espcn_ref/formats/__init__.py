"""The model file formats, one module each; every one reads and writes (meta, arrays).

* ``meta``: the architecture as JSON-able values (ESPCNConfig's fields),
  without "format_version";
* ``arrays``: ``conv{l}.weight`` (n_l, n_{l-1}, f_l, f_l) and ``conv{l}.bias``
  (n_l,), PyTorch's names and layouts.

=================  ============  ============  ==========================================
module             reads         writes        where the metadata is
=================  ============  ============  ==========================================
``npz``            .npz          .npz          a JSON ``__meta__`` entry
``safetensors``    .safetensors  .safetensors  the header's ``__metadata__``, JSON under "espcn_ref"
``onnx_reader``    .onnx         no            none: the graph itself (Conv stack, then the shuffle)
=================  ============  ============  ==========================================

:mod:`espcn_ref.model_file` picks the module from the file's extension. These
modules know files, not networks: :func:`espcn_ref.model.load_model` checks
the arrays against the architecture. Nothing here ever unpickles.

The ``safetensors`` and ``onnx`` packages are optional (``pip install
'espcn-ref[deploy]'``) and imported only when such a file is read or written.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path

__all__ = ["DEPLOY_EXTRA", "FORMAT_VERSION", "MissingPackageError", "ModelFormatError", "READABLE_VERSIONS",
           "check_model_path", "decode_meta", "encode_meta", "require"]

FORMAT_VERSION = 2  # 2: the metadata may hold "provenance" (see espcn_ref.model_file)
READABLE_VERSIONS = (1, 2)
DEPLOY_EXTRA = "pip install 'espcn-ref[deploy]'"


class ModelFormatError(ValueError):
    """A weights file that is not a valid espcn-ref model."""


class MissingPackageError(ImportError, ValueError):
    """An optional package (the ``deploy`` extra) is not installed. A
    ValueError too, so the command line reports it as one line."""


def require(module: str, package: str, what: str):
    """Import ``module``, or raise MissingPackageError naming ``package``, for ``what``."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingPackageError(f"{what} needs the package '{package}', which is not installed: "
                                  f"{DEPLOY_EXTRA}") from None


def check_model_path(path) -> Path:
    """``path`` as a Path to an existing file, or FileNotFoundError / IsADirectoryError."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder, not a model file")
    if not path.is_file():
        raise FileNotFoundError(f"model file not found: {path}")
    return path


def encode_meta(meta: dict) -> str:
    """The JSON text stored in a file: ``meta`` plus "format_version"."""
    return json.dumps({**meta, "format_version": FORMAT_VERSION})


def decode_meta(text: str, path) -> dict:
    """``meta`` back from :func:`encode_meta`'s text; ModelFormatError if it is
    not a JSON object or has another format version."""
    try:
        meta = json.loads(text)
        if not isinstance(meta, dict):
            raise TypeError(f"expected a JSON object, got {type(meta).__name__}")
        version = meta.pop("format_version")
    except Exception as e:
        raise ModelFormatError(f"{path}: invalid metadata ({e})") from None
    if version not in READABLE_VERSIONS:
        raise ModelFormatError(f"{path}: format version {version}, this espcn-ref reads "
                               f"{', '.join(map(str, READABLE_VERSIONS))}")
    return meta
