"""Image files: read any 8/16-bit gray, RGB or RGBA image as uint8; write atomically."""

from __future__ import annotations

import warnings
from pathlib import Path

import imageio.v3 as iio
import numpy as np

from .._atomic import write_bytes_atomic


IMAGE_EXTENSIONS = (".png", ".bmp", ".jpg", ".jpeg", ".tif", ".tiff")


def load_image(path) -> np.ndarray:
    """Read an image file as uint8: (H, W) grayscale or (H, W, 3) RGB.

    Decoded with imageio.v3: the first frame or page of a multi-frame file;
    the EXIF orientation of a JPEG, PNG or WebP applied (the image as viewers
    show it); CMYK converted to RGB and palettes expanded by Pillow. Then:
    (H, W, 1) -> (H, W); palette images arrive as RGB(A) from imageio; an alpha
    channel (gray+alpha or RGBA) is DISCARDED, colours are kept as stored (not
    composited on a background), with a UserWarning if any pixel is not fully
    opaque; 1-bit images map to {0, 255}; 16-bit data maps to 8 bits as
    round(x / 257) (never a tie, since 257 is odd). Note that Pillow, imageio's
    PNG backend, itself reduces 16-bit *colour* PNGs to 8 bits by keeping the
    high byte (x >> 8), so those can be 1 lower than round(x / 257); 16-bit
    grayscale PNGs arrive as 16 bits and are rounded here.

    Raises FileNotFoundError if ``path`` does not exist, ValueError (with the
    path and the reason) if it cannot be decoded or is not a 2-D image.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"image file not found: {path}")
    if not path.is_file():
        raise ValueError(f"cannot read image {path}: not a regular file")
    try:
        img = _decode_first_image(path)
    except Exception as err:  # imageio raises OSError, ValueError, SyntaxError, ... by backend
        reason = (str(err).splitlines() or [""])[0]  # "no backend" messages go on for lines
        raise ValueError(f"cannot read image {path}: not a valid image file of a supported format "
                         f"({type(err).__name__}: {reason})") from err
    return normalise_image(img, str(path))


def _decode_first_image(path: Path) -> np.ndarray:
    """The first image in the file, oriented as viewers show it, RGB(A) or gray.

    Pillow reads the mode and the EXIF orientation, and decodes everything but
    TIFF (CMYK converted to RGB, palettes expanded). A TIFF goes to imageio's
    default plugin (tifffile when installed), which keeps 16-bit colour exact
    where Pillow keeps only the high byte, unless it is CMYK or a palette image
    (tifffile would return the ink or the indices): those go to Pillow. A
    TIFF's orientation tag is left to its decoder (rare in practice).
    """
    img, orientation = None, 1
    try:
        with iio.imopen(path, "r", plugin="pillow") as handle:
            meta = handle.metadata(index=0, exclude_applied=False)
            mode, tiff = meta.get("mode"), path.suffix.lower() in (".tif", ".tiff")
            if not tiff:
                orientation = meta.get("Orientation", 1)
            if mode in ("CMYK", "P") or not tiff:
                img = np.asarray(handle.read(index=0, **({"mode": "RGB"} if mode == "CMYK" else {})))
    except Exception:  # not a format Pillow reads: imageio's default plugin below
        pass
    if img is None:
        with iio.imopen(path, "r") as handle:
            if type(handle).__name__ == "TifffilePlugin":
                img = np.asarray(handle.read(index=0, page=0))  # index: the series; page: its first page
            else:
                img = np.asarray(handle.read(index=0))
    return apply_orientation(img, orientation)


def apply_orientation(img: np.ndarray, orientation) -> np.ndarray:
    """Undo an EXIF orientation tag (1-8): the image as viewers show it.

    img: (H, W) or (H, W, C); only the two pixel axes move, never the
    channels. Tag 1 (and any value outside 1-8) leaves img as it is.
    """
    flips = {
        2: lambda a: a[:, ::-1],                      # mirrored left-right
        3: lambda a: a[::-1, ::-1],                   # rotated 180
        4: lambda a: a[::-1],                         # mirrored top-bottom
        5: lambda a: a.swapaxes(0, 1),                # transposed
        6: lambda a: np.rot90(a, -1),                 # shown turned 90 degrees clockwise
        7: lambda a: a.swapaxes(0, 1)[::-1, ::-1],    # transversed
        8: lambda a: np.rot90(a, 1),                  # shown turned 90 degrees counter-clockwise
    }
    try:
        turn = flips.get(int(orientation))
    except (TypeError, ValueError):
        turn = None
    return np.ascontiguousarray(turn(img)) if turn else img


def normalise_image(img: np.ndarray, source: str) -> np.ndarray:
    """Decoded array of any supported layout/dtype -> uint8 (H, W) or (H, W, 3)."""
    if img.ndim == 3 and img.shape[2] in (2, 4):
        alpha = img[:, :, -1]
        opaque = np.iinfo(img.dtype).max if img.dtype.kind in "iu" else 1
        if np.any(alpha != opaque):
            warnings.warn(f"{source}: alpha channel has transparent pixels; it is discarded "
                          "and the stored colours are kept", UserWarning, stacklevel=3)
        img = img[:, :, :-1]
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[:, :, 0]
    if not (img.ndim == 2 or (img.ndim == 3 and img.shape[2] == 3)):
        raise ValueError(f"cannot read image {source}: expected a grayscale or RGB(A) image, "
                         f"got an array of shape {img.shape}")
    if img.dtype == np.bool_:
        return img.astype(np.uint8) * np.uint8(255)
    if img.dtype == np.uint16:
        return ((img.astype(np.uint32) + 128) // 257).astype(np.uint8)  # round(x / 257)
    if img.dtype != np.uint8:
        raise ValueError(f"cannot read image {source}: unsupported pixel type {img.dtype} "
                         "(expected 8-bit, 16-bit or 1-bit)")
    return np.ascontiguousarray(img)


def save_image(path, img) -> None:
    """Write a uint8 image (H, W) or (H, W, 3) atomically; format from the extension.

    The image is encoded in memory, written to a temporary file in the same
    directory and moved over ``path`` with os.replace, so ``path`` is either
    untouched or complete, never partial, and no temporary file is left
    behind. Extensions: .png .bmp .jpg .jpeg .tif .tiff (JPEG is lossy).
    """
    path = Path(path)
    ext = path.suffix.lower()
    if ext not in IMAGE_EXTENSIONS:
        raise ValueError(f"path {path}: unsupported image extension {path.suffix!r}, "
                         f"expected one of {IMAGE_EXTENSIONS}")
    img = np.asarray(img)
    if img.dtype != np.uint8:
        raise TypeError(f"img must be uint8, got dtype {img.dtype} "
                        "(convert [0, 1] floats with espcn_ref.metrics.to_uint8)")
    if not (img.ndim == 2 or (img.ndim == 3 and img.shape[2] == 3)):
        raise ValueError(f"img must have shape (H, W) or (H, W, 3), got {img.shape}")
    encoded = iio.imwrite("<bytes>", img, extension=ext)  # fails before any file exists
    write_bytes_atomic(path, encoded)
