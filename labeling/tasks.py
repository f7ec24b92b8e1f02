"""Celery tasks of the labeling app: thin wrappers around one service each."""

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from labeling.services import queue, results


@shared_task(name="labeling.expire_leases")
def expire_leases() -> dict[str, int]:
    """Return the slots of leases past their time limit to the queue; mark jobs past their lifetime expired."""
    leases = 0
    while batch := queue.leases_expire():
        leases += batch
        if batch < queue.RECLAIM_BATCH:
            break
    return {"leases": leases, "jobs": queue.jobs_expire()}


@shared_task(name="labeling.write_back_results")
def write_back_results(job_id: int) -> int:
    """Write the job's complete results into their dataset entries, in batches; returns how many."""
    written = 0
    while batch := results.results_write_back(job_id=job_id):
        written += batch
        if batch < results.WRITE_BACK_BATCH:
            break
    return written


@shared_task(name="labeling.sweep_write_backs")
def sweep_write_backs() -> int:
    """Write results whose queued write-back was lost (a broker restart): any waiting for over a minute."""
    older_than = timezone.now() - timedelta(seconds=max(60, 10 * settings.LABELING_WRITE_BACK_DELAY_S))
    return sum(write_back_results(job_id) for job_id in results.jobs_with_pending_write_back(older_than=older_than))
