"""Datasets: folders of images, the dataset root, and the photos bundled with scikit-image."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from .io import IMAGE_EXTENSIONS, load_image, normalise_image


_SAMPLES = {
    "astronaut": lambda d: d.astronaut(),
    "brick": lambda d: d.brick(),
    "camera": lambda d: d.camera(),
    "cell": lambda d: d.cell(),
    "chelsea": lambda d: d.chelsea(),
    "coffee": lambda d: d.coffee(),
    "coins": lambda d: d.coins(),
    "grass": lambda d: d.grass(),
    "gravel": lambda d: d.gravel(),
    "hubble_deep_field": lambda d: d.hubble_deep_field(),
    "immunohistochemistry": lambda d: d.immunohistochemistry(),
    "moon": lambda d: d.moon(),
    "motorcycle": lambda d: d.stereo_motorcycle()[0],
    "retina": lambda d: d.retina(),
    "rocket": lambda d: d.rocket(),
}
DEFAULT_SAMPLES = ("astronaut", "camera", "chelsea", "coffee", "immunohistochemistry",
                   "motorcycle", "rocket")


def sample_images(names=None) -> dict[str, np.ndarray]:
    """The offline default dataset: photos bundled with scikit-image.

    names: iterable of names from ``sorted(_SAMPLES)``; None -> DEFAULT_SAMPLES
    (natural photos: astronaut, camera, chelsea, coffee, immunohistochemistry,
    motorcycle, rocket). Only the requested images are loaded. Returns
    {name: uint8 (H, W) or (H, W, 3)}, normalised like :func:`load_image`.
    """
    import skimage.data

    names = DEFAULT_SAMPLES if names is None else ((names,) if isinstance(names, str) else tuple(names))
    unknown = [n for n in names if n not in _SAMPLES]
    if unknown:
        raise ValueError(f"unknown sample image(s) {unknown}; available: {sorted(_SAMPLES)}")
    return {n: normalise_image(np.asarray(_SAMPLES[n](skimage.data)), f"skimage.data:{n}")
            for n in names}


def list_images(folder) -> list[Path]:
    """Image files (.png .bmp .jpg .jpeg .tif .tiff, any case) in ``folder``, sorted by name.

    Not recursive. Raises FileNotFoundError / NotADirectoryError for a bad
    folder and ValueError if it holds no image.
    """
    folder = Path(folder)
    if not folder.exists():
        raise FileNotFoundError(f"dataset folder not found: {folder}")
    if not folder.is_dir():
        raise NotADirectoryError(f"dataset path is not a folder: {folder}")
    paths = sorted(p for p in folder.iterdir()
                   if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
    if not paths:
        raise ValueError(f"no image files ({', '.join(IMAGE_EXTENSIONS)}) in {folder}")
    return paths


def find_data_dir(explicit=None) -> Path | None:
    """The dataset root (holding Set5/, Set14/, BSD100/, T91/), or None.

    In order: ``explicit`` if given (FileNotFoundError if missing); the
    ESPCN_DATA environment variable if set (FileNotFoundError if missing);
    ``../shared/data`` relative to the current working directory if it
    exists; else None, meaning: use :func:`sample_images`.
    """
    for source, value in (("--data", explicit), ("ESPCN_DATA", os.environ.get("ESPCN_DATA"))):
        if value is not None and str(value) != "":
            path = Path(value)
            if path.exists() and not path.is_dir():
                raise NotADirectoryError(f"data directory ({source}) {path} is a file, not a folder")
            if not path.is_dir():
                raise FileNotFoundError(f"data directory ({source}) not found: {path}")
            return path
    for default in (Path.cwd().parent / "shared" / "data", Path.cwd().parent.parent / "shared" / "data"):
        if default.is_dir():  # ../shared/data, or ../../shared/data from a folder of the repository (notebooks/)
            return default.resolve()
    return None


def load_set(name: str, data_dir=None) -> dict:
    """{image name: uint8 image} of a set. ``name`` is a folder under
    ``data_dir`` (e.g. "Set5"), or "samples" for the scikit-image photos."""
    if name == "samples":
        return sample_images()
    if data_dir is None:
        raise FileNotFoundError(f"set {name!r} needs a data directory (--data DIR or ESPCN_DATA)")
    return {p.stem: load_image(p) for p in list_images(Path(data_dir) / name)}


def set_fingerprint(name: str, data_dir=None) -> dict:
    """What a training set was, for a model file's metadata: {"name", "images", "sha256"}.

    sha256: SHA-256 of the lines "file name<two spaces>file SHA-256" of the
    set's images (:func:`list_images`), sorted by name, joined by newlines
    (the format of ``sha256sum``). For "samples", over the photos' pixels instead.
    """
    if name == "samples":
        lines = [f"{n}  {hashlib.sha256(np.ascontiguousarray(img).tobytes()).hexdigest()}"
                 for n, img in sorted(sample_images().items())]
    else:
        if data_dir is None:
            raise FileNotFoundError(f"set {name!r} needs a data directory (--data DIR or ESPCN_DATA)")
        lines = [f"{p.name}  {hashlib.sha256(p.read_bytes()).hexdigest()}" for p in list_images(Path(data_dir) / name)]
    return {"name": name, "images": len(lines), "sha256": hashlib.sha256("\n".join(sorted(lines)).encode()).hexdigest()}


HELD_OUT = "motorcycle"  # the sample photo held out for testing when there is no dataset root


def train_test_images(data_dir=None, train: str = "T91", test: str = "Set5"):
    """The data of the demo, the figures and the notebooks: (train images, test images, description).

    With a dataset root (:func:`find_data_dir`) that holds ``train`` and
    ``test``, those sets; else the offline default: the scikit-image photos,
    ``HELD_OUT`` kept apart for testing. A root given explicitly (``data_dir``
    or ESPCN_DATA) must hold both sets.
    """
    root = find_data_dir(data_dir)
    explicit = data_dir is not None or bool(os.environ.get("ESPCN_DATA"))
    if root is not None and (explicit or ((root / train).is_dir() and (root / test).is_dir())):
        return load_set(train, root), load_set(test, root), f"{train} -> {test} from {root}"
    photos = sample_images()
    held_out = {HELD_OUT: photos.pop(HELD_OUT)}
    return photos, held_out, f"scikit-image photos: train on {', '.join(sorted(photos))}; test on {HELD_OUT}"
