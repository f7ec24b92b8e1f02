"""Import jobs: creating datasets from a source, and running, finishing and canceling their jobs.

A job is claimed with a conditional UPDATE (queued -> running), so two deliveries of its task never run it
side by side; a redelivered task finds it `running` and resumes it (each source is idempotent).
"""

import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from core.errors import Conflict, GroundworkError, InvalidInput
from core.text import storable
from datasets.models import Dataset, DatasetStatus, DatasetType
from datasets.services.copy import dataset_copy_entries
from datasets.services.datasets import dataset_create, ensure_not_busy
from datasets.services.stats import dataset_lock, dataset_refresh_stats
from importers.jobs import JobCanceled, job_entries_delete, job_heartbeat
from importers.manifest_source import manifest_source_params, run_manifest_import, uploaded_manifest_params
from importers.models import FINISHED_STATUSES, ImportJob, ImportKind, ImportStatus
from importers.s3_folder import folder_source_params, run_s3_folder_import
from projects.models import Project
from projects.services import project_create

logger = logging.getLogger(__name__)


def _enqueue(job: ImportJob) -> None:
    from importers.tasks import run_import  # the task module imports this one

    transaction.on_commit(lambda: run_import.delay(job.pk))


@transaction.atomic
def dataset_create_from_source(
    *,
    project_id: int,
    name: str,
    type: DatasetType,
    source: dict[str, Any],
    user: AbstractBaseUser,
    source_dataset: Dataset | None = None,
) -> tuple[Dataset, ImportJob | None]:
    """Create a dataset, empty or filled by an import job that starts once the transaction commits.

    `source_dataset` is the dataset to copy for a source of kind `dataset`, already checked readable by the
    caller. Raises InvalidInput `dataset_name_taken`, `source_not_supported`.
    """
    kind = source.get("kind", "empty")
    if kind == "empty":
        return dataset_create(project_id=project_id, name=name, type=type, user=user), None
    if kind == ImportKind.COPY:
        assert source_dataset is not None
        dataset = dataset_create(project_id=project_id, name=name, type=type, user=user, status=DatasetStatus.CREATING)
        job = ImportJob.objects.create(
            dataset=dataset,
            kind=ImportKind.COPY,
            params={"dataset": source_dataset.pk},
            creates_dataset=True,
            created_by=user,
        )
        _enqueue(job)
        return dataset, job
    job_params = source_params(project_id=project_id, source=source)
    dataset = dataset_create(project_id=project_id, name=name, type=type, user=user, status=DatasetStatus.CREATING)
    job = ImportJob.objects.create(dataset=dataset, kind=kind, params=job_params, creates_dataset=True, created_by=user)
    _enqueue(job)
    return dataset, job


def source_params(*, project_id: int, source: dict[str, Any]) -> dict[str, Any]:
    """Check a source when it is asked for (a 400 then, nothing created) and return the job's parameters."""
    kind = source["kind"]
    if kind == ImportKind.S3_FOLDER:
        return folder_source_params(
            project_id=project_id,
            s3_uri=source["s3_uri"],
            auto_label=source.get("auto_label", False),
            connection=source.get("connection"),
        )
    if kind == ImportKind.MANIFEST:
        if "upload" in source:
            return uploaded_manifest_params(upload=source["upload"], size=source["upload_size"])
        return manifest_source_params(
            project_id=project_id, s3_uri=source["s3_uri"], connection=source.get("connection")
        )
    raise InvalidInput(
        f"Imports from a source of kind {kind!r} are not supported yet.",
        code="source_not_supported",
        fields={"source.kind": "Not supported yet."},
    )


@transaction.atomic
def import_start(
    *, dataset_id: int, source: dict[str, Any], user: AbstractBaseUser | None, enqueue: bool = True
) -> ImportJob:
    """Start an import into an existing dataset (it is `updating` until the job ends); `enqueue=False` leaves
    running it to the caller (the CLI). Raises Conflict `dataset_busy`, InvalidInput for a bad source."""
    dataset = dataset_lock(dataset_id=dataset_id)
    ensure_not_busy(dataset)
    params = source_params(project_id=dataset.project_id, source=source)
    job = ImportJob.objects.create(dataset=dataset, kind=source["kind"], params=params, created_by=user)
    Dataset.objects.filter(pk=dataset.pk).update(status=DatasetStatus.UPDATING, status_message="")
    if enqueue:
        _enqueue(job)
    return job


@transaction.atomic
def project_create_with_training_dataset(
    *,
    user: AbstractBaseUser,
    name: str,
    description: str,
    training_dataset: dict[str, Any],
    source_dataset: Dataset | None = None,
) -> tuple[Project, Dataset, ImportJob | None]:
    """Create a project and its first training dataset (and the import that fills it) in one transaction."""
    project = project_create(user=user, name=name, description=description)
    dataset, job = dataset_create_from_source(
        project_id=project.pk,
        name=training_dataset["name"],
        type=DatasetType.TRAIN,
        source=training_dataset["source"],
        user=user,
        source_dataset=source_dataset,
    )
    return project, dataset, job


def _claim(job_id: int) -> ImportJob | None:
    """The job if this delivery may run it: queued (first delivery) or running (a redelivery resumes it)."""
    ImportJob.objects.filter(pk=job_id, status=ImportStatus.QUEUED).update(
        status=ImportStatus.RUNNING, started_at=timezone.now(), heartbeat_at=timezone.now()
    )
    job = ImportJob.objects.select_related("dataset").filter(pk=job_id).first()
    if job is None or job.status in FINISHED_STATUSES:
        return None
    return job


def _finish(job: ImportJob, *, status: ImportStatus, error: GroundworkError | None = None) -> None:
    job.status = status
    job.finished_at = timezone.now()
    if error is not None:
        job.error_code, job.error_message = error.code, error.message
    job.save(
        update_fields=["status", "finished_at", "error_code", "error_message", "seen", "imported", "skipped", "failed"]
    )
    # A canceled import keeps what it wrote: the dataset is usable. A failed one wrote nothing (undone).
    dataset_status = (
        DatasetStatus.FAILED if status == ImportStatus.FAILED and job.creates_dataset else DatasetStatus.READY
    )
    Dataset.objects.filter(pk=job.dataset_id).update(
        status=dataset_status, status_message=job.error_message if error else "", updated_at=timezone.now()
    )


def import_run(*, job_id: int) -> dict[str, Any]:
    """Run (or resume) an import job to its end. Domain errors fail the job with their code; anything else
    propagates so the task's retry policy sees it."""
    job = _claim(job_id)
    if job is None:
        return {"job": job_id, "status": "not runnable"}
    with job_heartbeat(job.pk):
        return _run(job)


def _run(job: ImportJob) -> dict[str, Any]:
    try:
        if job.kind == ImportKind.COPY:
            copied = dataset_copy_entries(
                source_id=job.params["dataset"], target_id=job.dataset_id, origin_id=job.pk, user=job.created_by
            )
            ImportJob.objects.filter(pk=job.pk).update(seen=copied, imported=copied)
        elif job.kind == ImportKind.S3_FOLDER:
            run_s3_folder_import(job)
        elif job.kind == ImportKind.MANIFEST:
            run_manifest_import(job)
        else:
            raise InvalidInput(f"Unknown import kind {job.kind!r}.", code="source_not_supported")
    except JobCanceled:
        job.refresh_from_db()
        dataset_refresh_stats(dataset_id=job.dataset_id)
        _finish(job, status=ImportStatus.CANCELED)
        return {"job": job.pk, "status": ImportStatus.CANCELED}
    except GroundworkError as error:
        logger.info("Import %s failed: %s", job.pk, error.code)
        job_entries_delete(job)  # a failed import leaves the dataset as it was
        job.refresh_from_db()
        _finish(job, status=ImportStatus.FAILED, error=error)
        return {"job": job.pk, "status": ImportStatus.FAILED, "error": error.code}
    job.refresh_from_db()
    dataset_refresh_stats(dataset_id=job.dataset_id)
    _finish(job, status=ImportStatus.SUCCEEDED)
    return {"job": job.pk, "status": ImportStatus.SUCCEEDED, "imported": job.imported}


def import_fail(*, job_id: int, error: GroundworkError) -> dict[str, Any]:
    """Fail a running job with a code (a retry policy gave up on it), undoing its entries as any failure does."""
    job = ImportJob.objects.select_related("dataset").get(pk=job_id)
    if job.status in FINISHED_STATUSES:
        return {"job": job.pk, "status": job.status}
    with job_heartbeat(job.pk):
        job_entries_delete(job)
    job.refresh_from_db()
    _finish(job, status=ImportStatus.FAILED, error=error)
    return {"job": job.pk, "status": ImportStatus.FAILED, "error": error.code}


def import_postpone(*, job_id: int, seconds: int) -> None:
    """A retry of the job is due in `seconds`: its due time stands for a heartbeat, so that the stall sweep
    leaves the job to its retry meanwhile instead of starting a second chain of retries."""
    ImportJob.objects.filter(pk=job_id, status=ImportStatus.RUNNING).update(
        heartbeat_at=timezone.now() + timedelta(seconds=seconds)
    )


def import_record_crash(*, job_id: int, error: BaseException) -> bool:
    """Count an unexpected error that ended a run of the job; True when the job was failed for it, because
    it stopped on the same error before or on IMPORT_MAX_CRASHES errors (so a poisoned job is never run for
    ever, its dataset left `updating`). The traceback is the caller's to log."""
    signature = storable(f"{type(error).__name__}: {error}")[:500]
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.status in FINISHED_STATUSES:
            return True
        repeated = job.last_crash == signature
        job.crash_count += 1
        job.last_crash = signature
        job.save(update_fields=["crash_count", "last_crash"])
    if not repeated and job.crash_count < settings.IMPORT_MAX_CRASHES:
        return False
    failure = GroundworkError(
        f"The import stopped {job.crash_count} times on an unexpected error (the last a {type(error).__name__}); "
        "the worker's log has the traceback.",
        code="internal_error",
    )
    import_fail(job_id=job_id, error=failure)
    return True


def imports_requeue_stalled(*, older_than_s: int) -> list[int]:
    """Enqueue again the jobs nobody works on: queued or running without progress for `older_than_s`.

    A broker redelivers a killed worker's task by itself (Redis, after its visibility timeout), but not every
    broker can (the embedded filesystem one cannot), and a message can be lost with its broker. Running a job
    twice is safe: each step re-reads its checkpoint under the job's row lock and skips what was written.
    """
    cutoff = timezone.now() - timedelta(seconds=older_than_s)
    for job_id in ImportJob.objects.filter(
        status=ImportStatus.RUNNING, cancel_requested=True, heartbeat_at__lt=cutoff
    ).values_list("pk", flat=True)[:100]:
        import_cancel_abandoned(job_id=job_id, older_than_s=older_than_s)  # nobody runs them: no resume either
    stalled = (
        ImportJob.objects.filter(cancel_requested=False)
        .filter(
            Q(status=ImportStatus.RUNNING, heartbeat_at__lt=cutoff)
            | Q(status=ImportStatus.QUEUED, created_at__lt=cutoff)
        )
        .values_list("pk", flat=True)
    )
    job_ids = list(stalled[:100])
    from importers.tasks import run_import

    for job_id in job_ids:
        logger.warning("Import %s made no progress for %ss: enqueued again", job_id, older_than_s)
        run_import.delay(job_id)
    return job_ids


@transaction.atomic
def import_cancel(*, job_id: int) -> ImportJob:
    """Ask a job to stop; a queued job stops at once. Raises Conflict `import_finished`."""
    job = ImportJob.objects.select_for_update().get(pk=job_id)
    if job.status in FINISHED_STATUSES:
        raise Conflict(f"Import {job.pk} has ended already ({job.status}).", code="import_finished")
    job.cancel_requested = True
    job.save(update_fields=["cancel_requested"])
    if job.status == ImportStatus.QUEUED or _abandoned(job, older_than_s=settings.IMPORT_STALL_SECONDS):
        dataset_refresh_stats(dataset_id=job.dataset_id)  # a running job may have written batches: they stay
        _finish(job, status=ImportStatus.CANCELED)
    return job


def _abandoned(job: ImportJob, *, older_than_s: int) -> bool:
    """Running, but no worker has written progress for `older_than_s`: its worker is gone."""
    stale = job.heartbeat_at is None or job.heartbeat_at < timezone.now() - timedelta(seconds=older_than_s)
    return job.status == ImportStatus.RUNNING and stale


@transaction.atomic
def import_cancel_abandoned(*, job_id: int, older_than_s: int) -> None:
    """Finish a job whose cancel was asked for while no worker ran it (its worker died)."""
    job = ImportJob.objects.select_for_update().get(pk=job_id)
    if job.cancel_requested and _abandoned(job, older_than_s=older_than_s):
        dataset_refresh_stats(dataset_id=job.dataset_id)
        _finish(job, status=ImportStatus.CANCELED)
