"""Training sub-images cut on demand (Sec. 3.2): the images are kept, not the patches.

Holding every sub-image of T91 + BSD200 at stride 3 (with rescaled copies)
in RAM takes about 9 GB at x3: each LR pixel sits in up to 36 sub-images.
A :class:`PatchStore` keeps each training image's LR and HR arrays once,
with the origin of every sub-image and the flip / rotation drawn for it at
extraction, and cuts a batch of sub-images when the loop asks for it.
The sub-images are the numbers :func:`.patches.extract_patches` gives,
drawing from the random generator in the same order.
"""

from __future__ import annotations

import numpy as np

from .._checks import as_float_array, check_int
from .patches import dihedral, patch_origins


class PatchStore:
    """The sub-images of many (lr, hr) image pairs, in the order they were added.

    r: the scale; size: LR sub-image side (HR: size r). ``len(store)`` is the
    number of sub-images P; ``store.take(idx)`` returns (lr (n, C, size, size),
    hr (n, C, size r, size r)) float32 copies of sub-images ``idx``; C is 1 for
    (h, w) images, 3 for (h, w, 3) ones (all the store's pairs alike).
    """

    def __init__(self, r: int, size: int = 17):
        self.r, self.size = check_int(r, "r", 1), check_int(size, "size", 1)
        self.images = []  # (lr (C, h, w), hr (C, h r, w r)) float32
        self._image = np.zeros(0, np.int64)  # per sub-image: its image
        self._origin = np.zeros((0, 2), np.int64)  # per sub-image: LR top-left (i, j)
        self._k = np.zeros(0, np.int64)  # per sub-image: its dihedral transform (0 = none)

    def __len__(self) -> int:
        return len(self._image)

    def nbytes(self) -> int:
        """Bytes held: the images plus the per-sub-image index arrays."""
        return sum(a.nbytes + b.nbytes for a, b in self.images) + self._image.nbytes * 4

    def add(self, lr, hr, stride: int | None = None, rng=None, augment: bool = False) -> int:
        """Add the sub-images of one pair, as :func:`.patches.extract_patches` would cut them.

        lr: (h, w), hr: (h r, w r) float. augment: one of the 8 flips /
        rotations per sub-image, drawn from ``rng`` (one draw of P integers,
        as :func:`.patches.random_dihedral` does). Returns P for this pair.
        """
        lr, hr = _planes(lr, "lr"), _planes(hr, "hr")  # (C, h, w), (C, h r, w r)
        C, h, w = lr.shape
        if hr.shape != (C, h * self.r, w * self.r):
            raise ValueError(f"hr must have shape (h r, w r[, C]) = {(h * self.r, w * self.r, C)}, "
                             f"got {hr.shape[1:] + hr.shape[:1]}")
        if self.images and self.images[0][0].shape[0] != C:
            raise ValueError(f"every pair must have {self.images[0][0].shape[0]} channel(s), got {C}")
        if augment and not isinstance(rng, np.random.Generator):
            raise ValueError("augment=True needs rng, a numpy.random.Generator")
        origins = patch_origins(h, w, self.size, stride)
        if len(origins) == 0:
            return 0
        ks = rng.integers(0, 8, size=len(origins)) if augment else np.zeros(len(origins), np.int64)
        self._image = np.concatenate([self._image, np.full(len(origins), len(self.images), np.int64)])
        self._origin = np.concatenate([self._origin, origins.astype(np.int64)])
        self._k = np.concatenate([self._k, ks.astype(np.int64)])
        self.images.append((lr, hr))
        return len(origins)

    def take(self, idx) -> tuple[np.ndarray, np.ndarray]:
        """Sub-images ``idx`` (ints in [0, P)): (lr (n, 1, s, s), hr (n, 1, s r, s r)) float32."""
        idx = np.asarray(idx, dtype=np.int64).reshape(-1)
        if idx.size and (idx.min() < 0 or idx.max() >= len(self)):
            raise IndexError(f"sub-image indices must be in [0, {len(self)}), got {idx.min()}..{idx.max()}")
        s, r = self.size, self.r
        C = self.images[0][0].shape[0] if self.images else 1
        lr_p = np.empty((len(idx), C, s, s), np.float32)
        hr_p = np.empty((len(idx), C, s * r, s * r), np.float32)
        for n, p in enumerate(idx):
            lr, hr = self.images[self._image[p]]
            i, j = self._origin[p]
            lr_p[n] = dihedral(lr[:, i : i + s, j : j + s], self._k[p])  # the same transform on every channel
            hr_p[n] = dihedral(hr[:, i * r : (i + s) * r, j * r : (j + s) * r], self._k[p])
        return lr_p, hr_p


def _planes(a, name: str) -> np.ndarray:
    """An (h, w) or (h, w, C) float image as float32 (C, h, w) planes."""
    a = as_float_array(a, name)
    if a.ndim not in (2, 3):
        raise ValueError(f"{name} must have shape (h, w) or (h, w, C), got {a.shape}")
    planes = a[None] if a.ndim == 2 else a.transpose(2, 0, 1)
    return np.ascontiguousarray(planes, dtype=np.float32)
