"""Celery tasks of the importers: thin wrappers that load by id and call one service."""

import logging
from typing import Any

from celery import Task, shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError

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
    except (OperationalError, InterfaceError) as exc:  # the database out of reach: resume once it is back
        if self.request.retries >= settings.IMPORT_DB_RETRIES:
            raise
        countdown = min(settings.IMPORT_DB_RETRY_BACKOFF_S * 2 ** min(self.request.retries, 6), 60)
        logger.warning("Import %s: database unreachable (%s); retry in %ss", job_id, exc, countdown)
        raise self.retry(exc=exc, countdown=countdown) from exc
    except Exception as exc:  # a bug: logged, run once more, then the job fails instead of wedging its dataset
        logger.exception("Import %s: unexpected error", job_id)
        if services.import_record_crash(job_id=job_id, error=exc):
            return {"job": job_id, "status": "failed", "error": "internal_error"}
        raise self.retry(exc=exc, countdown=settings.IMPORT_CRASH_RETRY_S) from exc


@shared_task(name="importers.requeue_stalled_imports")
def requeue_stalled_imports() -> list[int]:
    return services.imports_requeue_stalled(older_than_s=settings.IMPORT_STALL_SECONDS)
