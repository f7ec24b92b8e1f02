"""Producing items ahead in a thread: order, errors, early stops, bounded read-ahead."""

import sys
import threading

import pytest

from core.prefetch import SWITCH_INTERVAL_S, prefetch


def test_items_arrive_in_order_from_another_thread():
    threads = []

    def produce():
        for i in range(50):
            threads.append(threading.current_thread().name)
            yield i

    assert list(prefetch(produce(), depth=3)) == list(range(50))
    assert set(threads) == {"prefetch"}


def test_an_error_of_the_producer_is_raised_to_the_consumer_after_the_items_before_it():
    def produce():
        yield 1
        yield 2
        raise ValueError("broken page")

    items = prefetch(produce(), depth=2)
    assert [next(items), next(items)] == [1, 2]
    with pytest.raises(ValueError, match="broken page"):
        next(items)


def test_an_early_stop_closes_the_producer_in_its_thread_and_reads_ahead_at_most_depth_more():
    produced, closed_in = [], []

    def produce():
        try:
            for i in range(1000):
                produced.append(i)
                yield i
        finally:
            closed_in.append(threading.current_thread().name)

    items = prefetch(produce(), depth=2)
    assert next(items) == 0
    items.close()
    assert closed_in == ["prefetch"]
    # One taken, at most two waiting in the queue and one in the producer's hands.
    assert len(produced) <= 4


def test_the_switch_interval_is_short_while_a_producer_runs_and_restored_after():
    usual = sys.getswitchinterval()
    during = []

    def produce():
        during.append(sys.getswitchinterval())
        yield 1

    assert list(prefetch(produce(), depth=1)) == [1]
    assert during == [min(usual, SWITCH_INTERVAL_S)]
    assert sys.getswitchinterval() == usual
