"""Celery tasks of the importers: thin wrappers that load by id and call one service."""

import logging
from typing import Any

from celery import Task, shared_task
from django.conf import settings

from core.errors import GroundworkError
from core.s3_clients import TRANSIENT_S3_ERRORS
from importers import services

logger = logging.getLogger(__name__)

__all__ = ["TRANSIENT_S3_ERRORS", "requeue_stalled_imports", "run_import"]


class S3Unavailable(GroundworkError):
    """S3 stayed out of reach through every retry of an import."""


@shared_task(bind=True, name="importers.run_import", max_retries=None)
def run_import(self: Task, job_id: int) -> dict[str, Any]:
    try:
        return services.import_run(job_id=job_id)
    except TRANSIENT_S3_ERRORS as exc:
        attempts = settings.IMPORT_S3_RETRIES
        if self.request.retries >= attempts:
            logger.warning("Import %s: S3 still unreachable after %s retries (%s): failed", job_id, attempts, exc)
            error = S3Unavailable(f"S3 could not be reached ({exc}).", code="s3_unavailable")
            return services.import_fail(job_id=job_id, error=error)
        countdown = min(settings.IMPORT_S3_RETRY_BACKOFF_S * 2**self.request.retries, 600)
        logger.warning(
            "Import %s: S3 unreachable (%s); retry %s of %s in %ss", job_id, exc, self.request.retries + 1,
            attempts, countdown,
        )  # fmt: skip
        services.import_postpone(job_id=job_id, seconds=countdown)
        raise self.retry(exc=exc, countdown=countdown) from exc


@shared_task(name="importers.requeue_stalled_imports")
def requeue_stalled_imports() -> list[int]:
    return services.imports_requeue_stalled(older_than_s=settings.IMPORT_STALL_SECONDS)
