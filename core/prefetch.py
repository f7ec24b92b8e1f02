"""Producing the next items in a thread while the caller works on the current one."""

import queue
import sys
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")

_DONE = object()

# The consumer's thread waits on sockets; after each wait it needs the GIL back, which a busy producer keeps
# for up to the switch interval (5 ms by default). A manifest batch's write waits dozens of times (round
# trips, COPY chunks, result pieces): at 5 ms each, the database of a 250,000-line import spent seconds
# waiting for the worker.
SWITCH_INTERVAL_S = 0.0005
_producers = 0
_producers_lock = threading.Lock()
_usual_interval = sys.getswitchinterval()


@contextmanager
def _short_switch_interval() -> Iterator[None]:
    """The process's switch interval at most SWITCH_INTERVAL_S while any producer runs (it is process-wide)."""
    global _producers, _usual_interval
    with _producers_lock:
        if _producers == 0:
            _usual_interval = sys.getswitchinterval()
            sys.setswitchinterval(min(_usual_interval, SWITCH_INTERVAL_S))
        _producers += 1
    try:
        yield
    finally:
        with _producers_lock:
            _producers -= 1
            if _producers == 0:
                sys.setswitchinterval(_usual_interval)


def prefetch(items: Iterable[T], *, depth: int) -> Iterator[T]:
    """Yield the items of `items`, produced ahead by a thread (at most `depth` waiting), in order.

    For work that overlaps: the thread reads and parses the next batches while the caller's thread waits on
    the database (psycopg releases the GIL while it waits; SWITCH_INTERVAL_S says how it gets it back). An
    exception of the producer is raised here, in the caller's thread; when the caller stops early (an
    exception, a break) the producer stops too.
    """
    results: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                results.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put((item, None)):
                    return
        except BaseException as exc:  # handed to the consumer, which raises it
            put((_DONE, exc))
            return
        finally:
            # A generator stopped early is closed here, in its own thread (a database cursor it holds, too).
            close = getattr(items, "close", None)
            if close is not None:
                close()
        put((_DONE, None))

    with _short_switch_interval():
        thread = threading.Thread(target=produce, name="prefetch", daemon=True)
        thread.start()
        try:
            while True:
                item, error = results.get()
                if item is _DONE:
                    if error is not None:
                        raise error
                    return
                yield item
        finally:
            stop.set()
            thread.join(timeout=30)
