"""PatchStore: sub-images cut on demand are the sub-images extract_patches cuts."""

import numpy as np
import pytest
from hypothesis import given, strategies as st

from espcn_ref.data import extract_patches
from espcn_ref.data.patch_store import PatchStore


@given(st.integers(1, 4), st.integers(3, 6), st.integers(1, 5), st.booleans(), st.integers(0, 2**32 - 1))
def test_the_store_cuts_what_extract_patches_cuts(r, size, stride, augment, seed):
    g = np.random.default_rng(seed)
    pairs = [(g.random((h, w)), g.random((h * r, w * r))) for h, w in ((size + 4, size + 7), (size, size), (2, 9))]
    store, want_lr, want_hr = PatchStore(r, size), [], []
    rng_a, rng_b = np.random.default_rng(seed), np.random.default_rng(seed)
    for lr, hr in pairs:
        got = store.add(lr, hr, stride, rng_a, augment)
        lp, hp = extract_patches(lr, hr, r, size, stride, rng_b, augment)
        assert got == len(lp)
        want_lr.append(lp)
        want_hr.append(hp)
    want_lr, want_hr = np.concatenate(want_lr), np.concatenate(want_hr)
    idx = np.random.default_rng(seed + 1).permutation(len(store))
    lr_p, hr_p = store.take(idx)
    np.testing.assert_array_equal(lr_p, want_lr[idx])
    np.testing.assert_array_equal(hr_p, want_hr[idx])
    assert lr_p.dtype == hr_p.dtype == np.float32
    assert rng_a.integers(1 << 30) == rng_b.integers(1 << 30)  # the same draws, in the same order


def test_memory_is_the_images_not_the_sub_images_and_bad_indices_are_refused():
    """At stride 3, a 17x17 sub-image overlaps its neighbours: the store holds
    each pixel once (plus a few ints a sub-image), the arrays 23x more here."""
    g = np.random.default_rng(0)
    store = PatchStore(3, 17)
    store.add(g.random((120, 150)), g.random((360, 450)), stride=3)
    lr_p, hr_p = store.take(np.arange(len(store)))
    assert len(store) == 35 * 45 and (lr_p.nbytes + hr_p.nbytes) > 20 * store.nbytes()
    with pytest.raises(IndexError, match=r"in \[0, 1575\)"):
        store.take([len(store)])
    with pytest.raises(ValueError, match="hr must have shape"):
        store.add(g.random((20, 20)), g.random((61, 60)))
