"""What the import commands share: start a job through the services, run it here, draw its progress."""

import threading
from typing import Any

from django.core.management.base import CommandError
from django.db import connection

from core.errors import GroundworkError
from core.progress import ProgressBar
from datasets.models import Dataset
from importers import services
from importers.models import ImportJob


def start_job(*, dataset_id: int, source: dict[str, Any]) -> ImportJob:
    dataset = Dataset.objects.filter(pk=dataset_id).first()
    if dataset is None:
        raise CommandError(f"No dataset {dataset_id}.")
    try:
        return services.import_start(dataset_id=dataset.pk, source=source, user=None, enqueue=False)
    except GroundworkError as error:
        raise CommandError(f"{error.code}: {error.message}") from None


def run_with_progress(job: ImportJob, *, quiet: bool) -> ImportJob:
    """Run the job in this process (a thread) while a progress bar follows its counters."""
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            outcome["result"] = services.import_run(job_id=job.pk)
        except BaseException as error:  # shown by the caller
            outcome["error"] = error
        finally:
            connection.close()

    worker = threading.Thread(target=work)
    worker.start()
    progress = None if quiet else ProgressBar(None, label=f"import {job.pk}")
    while worker.is_alive():
        worker.join(timeout=0.5)
        if progress:
            seen = ImportJob.objects.filter(pk=job.pk).values_list("seen", flat=True).first() or 0
            progress.advance(seen - progress.done)
    if progress:
        progress.finish()
    if "error" in outcome:
        raise outcome["error"]
    job.refresh_from_db()
    return job


def report(command: Any, job: ImportJob) -> None:
    counts = f"seen {job.seen}, imported {job.imported}, skipped {job.skipped}, failed {job.failed}"
    if job.status == "succeeded":
        command.stdout.write(command.style.SUCCESS(f"Import {job.pk} succeeded: {counts}."))
    else:
        raise CommandError(f"Import {job.pk} {job.status}: {job.error_code} {job.error_message} ({counts}).")
