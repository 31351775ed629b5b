"""The ``.safetensors`` model file: the arrays PyTorch's ``safetensors.torch.load_file``
reads, and the architecture in the header's metadata.

Layout (the safetensors format: an 8-byte header length, a JSON header, the raw data)::

    conv{l}.weight, conv{l}.bias    F32 tensors, PyTorch's names and layouts
    __metadata__                    {"format": "pt",
                                     "espcn_ref": JSON of ESPCNConfig's fields and "format_version"}

The header's metadata is a str -> str map, so the architecture is one JSON
string under the key ``espcn_ref``. A safetensors file holds raw numbers and
JSON, nothing to unpickle. Written atomically, like the ``.npz``.
"""

from __future__ import annotations

import numpy as np

from .._atomic import write_bytes_atomic
from . import ModelFormatError, check_model_path, decode_meta, encode_meta, require

META_KEY = "espcn_ref"


def write(path, meta: dict, arrays: dict) -> None:
    """Write ``arrays`` ({name: float array}) and ``meta`` (JSON-able) atomically."""
    st = require("safetensors.numpy", "safetensors", "saving a .safetensors file")
    tensors = {name: np.ascontiguousarray(a) for name, a in arrays.items()}
    write_bytes_atomic(path, st.save(tensors, metadata={"format": "pt", META_KEY: encode_meta(meta)}))


def read(path) -> tuple[dict, dict]:
    """(meta, arrays) of a ``.safetensors`` model file; meta without "format_version".

    Raises ModelFormatError for a file safetensors cannot read, or one whose
    header has no espcn-ref metadata (the architecture cannot be told from
    the arrays alone: the activation and the shuffle order are not in them).
    """
    path = check_model_path(path)
    st = require("safetensors", "safetensors", "reading a .safetensors file")
    try:
        with st.safe_open(str(path), framework="np") as f:
            header = f.metadata() or {}
            arrays = {name: f.get_tensor(name) for name in f.keys()}
    except Exception as e:  # truncated, not safetensors, or a dtype NumPy lacks (bf16)
        raise ModelFormatError(f"{path}: not a readable .safetensors file ({type(e).__name__}: {e})") from None
    if META_KEY not in header:
        raise ModelFormatError(f"{path}: no '{META_KEY}' entry in the header's metadata; not an espcn-ref "
                               "model (the activation and shuffle order are not in the arrays)")
    return decode_meta(header[META_KEY], path), arrays
