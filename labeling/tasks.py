"""Celery tasks of the labeling app: thin wrappers around one service each."""

from celery import shared_task

from labeling.services import queue


@shared_task(name="labeling.expire_leases")
def expire_leases() -> dict[str, int]:
    """Return the slots of leases past their time limit to the queue; mark jobs past their lifetime expired."""
    leases = 0
    while batch := queue.leases_expire():
        leases += batch
        if batch < queue.RECLAIM_BATCH:
            break
    return {"leases": leases, "jobs": queue.jobs_expire()}
