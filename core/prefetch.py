"""Producing the next items in a thread while the caller works on the current one."""

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

_DONE = object()


def prefetch(items: Iterable[T], *, depth: int) -> Iterator[T]:
    """Yield the items of `items`, produced ahead by a thread (at most `depth` waiting), in order.

    For work that overlaps: the thread reads and parses the next batches while the caller's thread waits on
    the database (psycopg releases the GIL while it waits). An exception of the producer is raised here, in
    the caller's thread; when the caller stops early (an exception, a break) the producer stops too.
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
