"""Read, transform and write at once: a three-stage pipeline with bounded queues.

Video upscaling (Sec. 3.5) is decode -> upscale -> encode, frame by frame.
ffmpeg decodes and encodes in its own processes, and the network's GEMMs and
the Numba kernels release the GIL, so the three stages can overlap::

    read thread  --q_in (maxsize_in)-->  calling thread: transform  --q_out (maxsize_out)-->  write thread

Order. Each queue is first in, first out, and each stage is one thread, so
items are written in the order they were read, and ``transform`` sees them
in that order too: the output is that of :func:`run_in_order`, item for item.

Memory. At most ``maxsize_in + 2`` read items exist at once (q_in, the one
the read thread holds while q_in is full, the one being transformed), and
at most ``maxsize_out + 2`` transformed ones (q_out, the one being written,
the one being made). No stage keeps a reference to an item it has passed on.

Errors. The first error in any stage stops all three: it sets ``stop``,
every wait on a queue gives up within ``POLL_SECONDS`` (a stage busy with
an item finishes that item first), and every thread is joined before
:func:`run_pipeline` returns or raises. An error in the read
or write stage is raised as :class:`StageError` (which stage, how many items
it had finished, the exception); an error in ``transform`` is raised as it
is. :func:`run_in_order` raises the same errors, one stage after the other.

Processes. No stage may start a process while ``transform`` can be in a
GEMM: a fork (``subprocess`` with a ``preexec_fn``, as imageio-ffmpeg
starts ffmpeg) runs OpenBLAS's fork handler, which stops OpenBLAS's worker
threads under a GEMM running without the GIL in another thread, and that
GEMM then waits for them for ever. Start such processes before the pipeline.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable

POLL_SECONDS = 0.05  # how often a waiting stage checks whether another one failed
_END = object()  # put after the last item: the read stage is done


class StageError(Exception):
    """The read or write stage failed. stage: "read" or "write"; done: the items
    it had finished before; error: the exception (also the ``__cause__``)."""

    def __init__(self, stage: str, done: int, error: BaseException):
        super().__init__(f"the {stage} stage failed after {done} items: {type(error).__name__}: {error}")
        self.stage, self.done, self.error = stage, done, error


def run_in_order(source: Iterable, transform: Callable, sink: Callable) -> int:
    """``sink(transform(item))`` for each item of ``source``, one after the
    other in the calling thread. Returns the number of items written."""
    items, done = iter(source), 0
    while True:
        try:
            item = next(items)
        except StopIteration:
            return done
        except Exception as e:
            raise StageError("read", done, e) from e
        out = transform(item)
        try:
            sink(out)
        except Exception as e:
            raise StageError("write", done, e) from e
        done += 1


def run_pipeline(source: Iterable, transform: Callable, sink: Callable, maxsize_in: int = 4,
                 maxsize_out: int = 4, name: str = "pipeline") -> int:
    """:func:`run_in_order` with the three stages at once (see the module doc).

    source is iterated in a read thread, ``transform`` runs in the calling
    thread, ``sink`` in a write thread. The threads are named
    "{name} read" and "{name} write". Returns the number of items written.
    maxsize_in, maxsize_out: >= 1 (a queue.Queue of size 0 would be unbounded).
    """
    if min(maxsize_in, maxsize_out) < 1:
        raise ValueError(f"the queues need room for at least one item, got {maxsize_in} and {maxsize_out}")
    stop = threading.Event()
    q_in, q_out = queue.Queue(maxsize_in), queue.Queue(maxsize_out)
    failures = []  # (stage, done, exception); the first is raised
    done = {"read": 0, "write": 0}

    def fail(stage, e):
        failures.append((stage, done[stage], e))
        stop.set()

    def read():
        try:
            for item in source:
                if not _put(q_in, item, stop):
                    return
                done["read"] += 1
                del item  # q_in holds it now
        except BaseException as e:  # a worker's error must reach the caller, whatever it is
            fail("read", e)
        finally:
            _put(q_in, _END, stop)

    def write():
        try:
            while (item := _get(q_out, stop)) is not _END:
                sink(item)
                del item
                done["write"] += 1
        except BaseException as e:
            fail("write", e)

    threads = [threading.Thread(target=read, name=f"{name} read", daemon=True),
               threading.Thread(target=write, name=f"{name} write", daemon=True)]
    for t in threads:
        t.start()
    try:
        while (item := _get(q_in, stop)) is not _END:
            out = transform(item)
            del item
            if not _put(q_out, out, stop):
                break
            del out
        _put(q_out, _END, stop)
    except BaseException:
        stop.set()
        raise
    finally:
        _join(threads, stop)
    if failures:
        stage, n, e = failures[0]
        raise StageError(stage, n, e) from e
    return done["write"]


def _join(threads, stop: threading.Event) -> None:
    """Join every thread; interrupted (Ctrl-C), stop them all, join them, and go on raising."""
    try:
        for t in threads:
            t.join()
    except BaseException:
        stop.set()
        for t in threads:
            t.join()
        raise


def _put(q: queue.Queue, item, stop: threading.Event) -> bool:
    """Put ``item`` into ``q``, waiting while it is full; False if ``stop`` was set first."""
    while not stop.is_set():
        try:
            q.put(item, timeout=POLL_SECONDS)
            return True
        except queue.Full:
            pass
    return False


def _get(q: queue.Queue, stop: threading.Event):
    """The next item of ``q``, waiting while it is empty; _END once ``stop`` is set."""
    while not stop.is_set():
        try:
            return q.get(timeout=POLL_SECONDS)
        except queue.Empty:
            pass
    return _END
