"""What a Celery pool process sets up for itself when it starts."""

import gc

from celery.signals import worker_process_init


def test_a_pool_process_keeps_the_gc_off_its_startup_objects():
    try:
        worker_process_init.send(sender=None)

        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
