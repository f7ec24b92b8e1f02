"""Celery tasks of the importers: thin wrappers that load by id and call one service."""

from typing import Any

from celery import shared_task
from django.conf import settings

from importers import services


@shared_task(name="importers.run_import")
def run_import(job_id: int) -> dict[str, Any]:
    return services.import_run(job_id=job_id)


@shared_task(name="importers.requeue_stalled_imports")
def requeue_stalled_imports() -> list[int]:
    return services.imports_requeue_stalled(older_than_s=settings.IMPORT_STALL_SECONDS)
