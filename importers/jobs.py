"""What every import source shares: cancellation, line errors, heartbeats, and undoing a failed job's entries."""

import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from core.fault_points import fault_point
from core.text import storable
from datasets.models import BoundingBox, Image, ImageLabel, Origin
from datasets.services.label_counts import add_contributions, contributions_of, label_counts_apply
from datasets.services.stats import dataset_lock, dataset_refresh_stats
from importers.models import ImportJob, ImportLineError, ImportStatus

MAX_STORED_LINE_ERRORS = 10_000

logger = logging.getLogger(__name__)


class JobCanceled(Exception):
    """Raised between two steps of a job whose cancel was asked for."""


@contextmanager
def job_heartbeat(job_id: int) -> Iterator[None]:
    """Write the running job's heartbeat every IMPORT_HEARTBEAT_SECONDS while the block runs, whatever it does.

    A thread of its own, on its own connection in autocommit: the phases that hold one long transaction (a
    copy, the clean-up of a failed job) or wait on S3 write nothing the sweep could see, and a heartbeat
    written inside their transaction would be invisible until it commits. So the heartbeat says "the worker
    process is alive", and imports_requeue_stalled re-runs only the jobs of dead workers. On SQLite (one
    writer) a beat waits for the phase's transaction and may be skipped: there a long transaction can look
    stalled."""
    stop = threading.Event()

    def beat() -> None:
        try:
            while not stop.wait(settings.IMPORT_HEARTBEAT_SECONDS):
                try:
                    ImportJob.objects.filter(pk=job_id, status=ImportStatus.RUNNING).update(heartbeat_at=timezone.now())
                except DatabaseError:
                    logger.warning("Import %s: heartbeat not written", job_id, exc_info=True)
        finally:
            connection.close()

    thread = threading.Thread(target=beat, name=f"import-{job_id}-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def cancel_requested(job_id: int) -> bool:
    return ImportJob.objects.filter(pk=job_id, cancel_requested=True).exists()


def add_line_errors(job: ImportJob, errors: Sequence[tuple[int | None, str, str, str]]) -> None:
    """Store (line, source_ref, code, message) errors, the first 10,000 of the job; count all of them.
    A line's bad characters are quoted in its message: they are stored escaped. The caller saves
    `job.line_error_count` in the same transaction."""
    if not errors:
        return
    room = max(0, MAX_STORED_LINE_ERRORS - job.line_error_count)
    ImportLineError.objects.bulk_create(
        [
            ImportLineError(job=job, line=line, source_ref=storable(ref)[:2048], code=code, message=storable(message))
            for line, ref, code, message in errors[:room]
        ]
    )
    job.line_error_count += len(errors)


def commit_without_flush_wait() -> None:
    """Let PostgreSQL acknowledge this transaction's commit before its WAL is on disk.

    Safe here: a server crash can lose only the last batches (or pages) whole, with their checkpoint, and WAL is written
    in order, so the job's end (committed normally, later) is never kept without them. The import resumes
    at the checkpoint that survived.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


@transaction.atomic
def job_entries_delete(job: ImportJob) -> int:
    """Remove every entry the job created, so that a failed import leaves the dataset as it was."""
    dataset_lock(dataset_id=job.dataset_id)
    created = Image.objects.filter(dataset_id=job.dataset_id, origin=Origin.IMPORT, origin_id=job.pk)
    ids = list(created.values_list("pk", flat=True))
    for start in range(0, len(ids), 5000):
        batch = ids[start : start + 5000]
        label_counts_apply(add_contributions(({}, {}), contributions_of(batch), sign=-1))
        ImageLabel.objects.filter(image_id__in=batch).delete()
        BoundingBox.objects.filter(image_id__in=batch).delete()
        Image.objects.filter(pk__in=batch).delete()
        fault_point("jobs.entries_delete")
    dataset_refresh_stats(dataset_id=job.dataset_id)
    return len(ids)
