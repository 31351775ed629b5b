"""Shared test settings: hypothesis profiles and small helpers."""

import os

import numba
import numpy as np
import pytest
from hypothesis import HealthCheck, settings

# "ci" is deterministic (derandomize) so a CI run is reproducible; "dev"
# explores new examples each run. .ci/run sets HYPOTHESIS_PROFILE=ci.
# "nojit" (the default under NUMBA_DISABLE_JIT=1, `make test-nojit`) is
# deterministic too, with fewer examples: every kernel runs as Python loops.
settings.register_profile(
    "ci", derandomize=True, deadline=None, max_examples=100,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", deadline=None, max_examples=40,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("nojit", parent=settings.get_profile("ci"), max_examples=50)
_default = "nojit" if numba.config.DISABLE_JIT else "ci" if os.environ.get("CI") else "dev"
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", _default))


def assert_close(ours, ref, rtol=1e-10, atol=1e-10, what=""):
    """assert_allclose with an 'ours vs reference' message."""
    ours, ref = np.asarray(ours), np.asarray(ref)
    assert ours.shape == ref.shape, f"{what}: shape ours {ours.shape} vs reference {ref.shape}"
    err = np.max(np.abs(ours - ref)) if ours.size else 0.0
    np.testing.assert_allclose(ours, ref, rtol=rtol, atol=atol,
                               err_msg=f"{what}: ours vs reference, max abs diff {err:.3e}")


def importorskip_deploy(module: str):
    """pytest.importorskip for a package of the deploy extra; the skip names it."""
    return pytest.importorskip(module, reason=f"{module} is not installed; it comes with the deploy extra "
                                              "(pip install -e '.[deploy]')")


@pytest.fixture
def rng():
    return np.random.default_rng(20161)
