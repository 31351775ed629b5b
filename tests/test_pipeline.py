"""espcn_ref._pipeline: read | transform | write at once, in order, bounded, and every thread joined on error."""

import itertools
import threading

import pytest

from espcn_ref._pipeline import StageError, run_in_order, run_pipeline

RUNNERS = {"pipeline": lambda *a: run_pipeline(*a, maxsize_in=2, maxsize_out=3, name="test"), "in order": run_in_order}


def _no_stage_threads_left(start: int) -> None:
    assert [t.name for t in threading.enumerate() if t.name.startswith("test ")] == []
    assert threading.active_count() == start


@pytest.mark.parametrize("runner", RUNNERS)
def test_every_item_in_order(runner):
    start, written = threading.active_count(), []
    n = RUNNERS[runner](iter(range(50)), lambda k: 10 * k, written.append)
    assert n == 50 and written == [10 * k for k in range(50)]
    _no_stage_threads_left(start)


def test_the_stages_overlap():
    """The source yields item 1 only once item 0 is written: one stage after the other would wait for ever."""
    written0 = threading.Event()

    def source():
        yield 0
        assert written0.wait(timeout=30), "item 0 was not written while item 1 was being read"
        yield 1

    written = []
    assert run_pipeline(source(), lambda k: k, lambda k: (written.append(k), written0.set())) == 2
    assert written == [0, 1]


class _Counted:
    """Counts its live instances (CPython frees an object when its last reference goes)."""
    lock = threading.Lock()

    def __init__(self):
        with self.lock:
            type(self).live += 1
            type(self).most = max(type(self).most, type(self).live)

    def __del__(self):
        with self.lock:
            type(self).live -= 1


class Frame(_Counted):
    live = most = 0


class Upscaled(_Counted):
    live = most = 0


def test_items_in_flight_are_bounded_by_the_queues():
    """At most maxsize_in + 2 read items and maxsize_out + 2 transformed ones exist at once."""
    import time

    source = (Frame() for _ in range(60))
    run_pipeline(source, lambda f: Upscaled(), lambda u: time.sleep(0.002), maxsize_in=2, maxsize_out=3)
    assert Frame.most <= 2 + 2 and Upscaled.most <= 3 + 2, (Frame.most, Upscaled.most)
    assert Frame.live == Upscaled.live == 0


def _failing_source(after, error):
    for k in itertools.count():  # endless unless it fails: a stop must not wait for its end
        if k == after:
            raise error
        yield k


@pytest.mark.parametrize("runner", RUNNERS)
def test_a_read_error_stops_everything(runner):
    start = threading.active_count()
    with pytest.raises(StageError, match="the read stage failed after 3 items: OSError: damaged") as e:
        RUNNERS[runner](_failing_source(3, OSError("damaged")), lambda k: k, lambda k: None)
    assert (e.value.stage, e.value.done, type(e.value.error)) == ("read", 3, OSError)
    assert e.value.__cause__ is e.value.error
    _no_stage_threads_left(start)


@pytest.mark.parametrize("runner", RUNNERS)
def test_a_write_error_stops_everything(runner):
    start = threading.active_count()

    def sink(k):
        if k == 2:
            raise BrokenPipeError("ffmpeg quit")

    with pytest.raises(StageError, match="the write stage failed after 2 items") as e:
        RUNNERS[runner](itertools.count(), lambda k: k, sink)  # an endless source
    assert (e.value.stage, e.value.done, type(e.value.error)) == ("write", 2, BrokenPipeError)
    _no_stage_threads_left(start)


@pytest.mark.parametrize("runner", RUNNERS)
@pytest.mark.parametrize("error", [ValueError("bad frame"), KeyboardInterrupt()])
def test_a_transform_error_is_raised_as_it_is(runner, error):
    start = threading.active_count()

    def transform(k):
        if k == 4:
            raise error
        return k

    with pytest.raises(type(error)):
        RUNNERS[runner](itertools.count(), transform, lambda k: None)
    _no_stage_threads_left(start)


def test_a_queue_of_size_0_is_refused():
    with pytest.raises(ValueError, match="at least one item, got 0 and 4"):
        run_pipeline([], lambda k: k, print, maxsize_in=0)
