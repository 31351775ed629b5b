"""A training batch cut into shards that run side by side on threads.

A batch of at least ``SHARD_MIN_BATCH`` images is cut into shards
(:func:`shard_count`) of about ``SHARD_ROWS`` grid rows (8 patches of
17x17), so that a layer's operands stay in the core's cache. With more than
one thread the shards run side by side, one BLAS and one Numba thread per
worker (small GEMMs do not split well across threads; whole shards do);
with one, one after the other. Loss and gradients are the shards' sums
weighted by their sizes, added in shard order, so the result does not
depend on timing (it does on the thread count, through the shard count).
"""

from __future__ import annotations

import functools
import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numba import set_num_threads

# On this 2-core machine the batch-64 step took 13.2-13.5 ms in 2 shards of
# 32 patches and 10.2-10.8 ms in 8 shards of 8 (shards of 4: slower again).
SHARD_MIN_BATCH = 16
SHARD_ROWS = 3072


def shard_count(n: int, image_rows: int, threads: int) -> int:
    """How many shards a batch of n images is cut into.

    image_rows: grid rows per image, (H + pad)(W + pad). Below
    SHARD_MIN_BATCH images, 1. Otherwise ceil(n image_rows / SHARD_ROWS)
    rounded up to a multiple of ``threads``, so that the workers share the
    shards evenly, and at most n (one image per shard). Shards hold whole
    images, so one may hold a few rows more than SHARD_ROWS. With 2 threads
    and 17x17 patches (324 rows each), 16 images make 2 shards and 64 make
    8; on 1 thread, 2 and 7.
    """
    if n < SHARD_MIN_BATCH:
        return 1
    return min(n, threads * math.ceil(n * image_rows / (threads * SHARD_ROWS)))


def sharded(step, x: np.ndarray, target: np.ndarray, image_rows: int, threads: int):
    """``step(x, target) -> (loss, grads)`` over the shards of a batch: (loss, grads).

    x: (N, ...) and target: (N, ...), checked; image_rows as in :func:`shard_count`.
    The loss and every gradient are the size-weighted sums of the shards' results.
    """
    n = len(x)
    shards = shard_count(n, image_rows, threads)
    if shards == 1:
        return step(x, target)
    bounds = [n * i // shards for i in range(shards + 1)]
    parts = [(x[a:b], target[a:b]) for a, b in zip(bounds, bounds[1:])]
    if threads == 1:  # the shards one after the other, for the cache
        results = [step(*p) for p in parts]
    else:
        def on_worker(part):
            set_num_threads(1)  # thread-local in Numba: this worker's kernels stay on its core
            return step(*part)

        with blas_controller().limit(limits=1):
            results = list(shard_pool(threads).map(on_worker, parts))
    loss = sum(len(p[0]) / n * r[0] for p, r in zip(parts, results))
    grads = {k: sum(len(p[0]) / n * r[1][k] for p, r in zip(parts, results)) for k in results[0][1]}
    return loss, grads


@functools.lru_cache(maxsize=None)
def shard_pool(threads: int) -> ThreadPoolExecutor:
    """One pool of ``threads`` workers per thread count, kept for the process."""
    return ThreadPoolExecutor(threads, thread_name_prefix="espcn-shard")


@functools.lru_cache(maxsize=None)
def blas_controller():
    """threadpoolctl's handle on the BLAS libraries (to give each worker one BLAS thread)."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController().select(user_api="blas")
