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
    number of sub-images P; ``store.take(idx)`` returns (lr (n, 1, size, size),
    hr (n, 1, size r, size r)) float32 copies of sub-images ``idx``.
    """

    def __init__(self, r: int, size: int = 17):
        self.r, self.size = check_int(r, "r", 1), check_int(size, "size", 1)
        self.images = []  # (lr (h, w), hr (h r, w r)) float32
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
        lr = as_float_array(lr, "lr", ndim=2, shape_doc="(h, w)").astype(np.float32, copy=False)
        hr = as_float_array(hr, "hr", ndim=2, shape_doc="(h r, w r)").astype(np.float32, copy=False)
        h, w = lr.shape
        if hr.shape != (h * self.r, w * self.r):
            raise ValueError(f"hr must have shape (h r, w r) = {(h * self.r, w * self.r)}, got {hr.shape}")
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
        lr_p = np.empty((len(idx), 1, s, s), np.float32)
        hr_p = np.empty((len(idx), 1, s * r, s * r), np.float32)
        for n, p in enumerate(idx):
            lr, hr = self.images[self._image[p]]
            i, j = self._origin[p]
            lr_p[n, 0] = dihedral(lr[i : i + s, j : j + s], self._k[p])
            hr_p[n, 0] = dihedral(hr[i * r : (i + s) * r, j * r : (j + s) * r], self._k[p])
        return lr_p, hr_p
