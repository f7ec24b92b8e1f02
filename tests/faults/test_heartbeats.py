"""Heartbeats in every phase of an import: the stall sweep re-runs only the jobs of dead workers, never a live
one, even in a phase that holds one long transaction (the clean-up of a failed import, a copy)."""

import json
import time
import uuid

import pytest
from django.conf import settings

from datasets.models import Image
from importers import services
from importers.jobs import job_heartbeat
from importers.models import ImportJob
from importers.tasks import run_import
from tests.faults.manifest_run import (
    STALL_S,
    requeue_when_stalled,
    start_armed_worker,
    wait_finished,
    wait_paused,
)
from tests.fixtures.datasets import Draft, assert_counts_true, make_dataset

pytestmark = [pytest.mark.django_db(transaction=True)]

# SQLite has one writer: while a phase holds its write transaction, no heartbeat can be written beside it.
needs_concurrent_writers = pytest.mark.skipif(
    settings.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3",
    reason="on SQLite (the embedded default) a long transaction blocks the heartbeat: PostgreSQL only",
)


def test_the_heartbeat_thread_writes_while_the_block_runs_and_stops_after_it(project_with_roles, settings):
    settings.IMPORT_HEARTBEAT_SECONDS = 1
    dataset = make_dataset(project_with_roles.project)
    job = ImportJob.objects.create(dataset=dataset, kind="manifest", status="running", heartbeat_at=None)

    with job_heartbeat(job.pk):
        time.sleep(1.5)  # no progress written by the block itself
        job.refresh_from_db()
        assert job.heartbeat_at is not None
    beat = job.heartbeat_at
    time.sleep(1.5)

    job.refresh_from_db()
    assert job.heartbeat_at == beat


@needs_concurrent_writers
@pytest.mark.s3
@pytest.mark.worker
def test_a_live_clean_up_is_left_alone_and_a_killed_one_is_run_again_to_a_dataset_as_it_was(
    project_with_roles, s3, s3_server, celery_worker, tmp_path
):
    project = project_with_roles.project
    dataset = make_dataset(project, drafts=[Draft(s3.drop_uri(project, "before.png"), labels=["cat"])])
    good = [{"source-ref": s3.drop_uri(project, f"c/{index}.png")} for index in range(8)]
    body = "\n".join([*map(json.dumps, good), *["{not json"] * 4]).encode()  # 4 of 12 bad: over 20%, it fails
    source = {"kind": "manifest", "s3_uri": s3.put_in_drop(project, "cleanup.manifest", body)}
    job = services.import_start(dataset_id=dataset.pk, source=source, user=None, enqueue=False)
    fault, queue = "jobs.entries_delete:1", f"faults-{uuid.uuid4().hex[:8]}"
    worker = start_armed_worker(s3_server, tmp_path, fault=fault, queue=queue)
    try:
        run_import.apply_async(args=[job.pk], queue=queue)
        wait_paused(worker, tmp_path, fault)  # inside the clean-up's transaction, entries deleted, not committed
        time.sleep(STALL_S + 1.5)
        assert services.imports_requeue_stalled(older_than_s=STALL_S) == []  # alive: its heartbeat goes on
        assert Image.objects.filter(dataset=dataset).count() == 1 + len(good)
        worker.kill()
    finally:
        worker.stop()
    assert ImportJob.objects.get(pk=job.pk).status == "running"

    requeue_when_stalled(job.pk)
    finished = wait_finished(job.pk)

    assert (finished.status, finished.error_code) == ("failed", "ERROR_TOO_MANY_RECORDS_IN_ERROR")
    assert list(Image.objects.filter(dataset=dataset).values_list("source_ref", flat=True)) == [
        s3.drop_uri(project, "before.png")
    ]
    dataset.refresh_from_db()
    assert (dataset.status, dataset.total_entries) == ("ready", 1)
    assert_counts_true(dataset)


def test_a_job_waiting_for_its_retry_is_not_stalled(project_with_roles):
    job = ImportJob.objects.create(dataset=make_dataset(project_with_roles.project), kind="manifest", status="running")

    services.import_postpone(job_id=job.pk, seconds=120)  # what the task does before a retry due in 120 s

    assert services.imports_requeue_stalled(older_than_s=60) == []


def test_the_beat_schedule_names_the_registered_stall_sweep(settings):
    from config.celery import app

    entry = settings.CELERY_BEAT_SCHEDULE["requeue-stalled-imports"]
    assert (entry["task"], entry["schedule"]) == (
        "importers.requeue_stalled_imports",
        settings.IMPORT_STALL_SWEEP_SECONDS,
    )
    app.loader.import_default_modules()
    assert entry["task"] in app.tasks
    assert settings.IMPORT_STALL_SECONDS >= 3 * settings.IMPORT_HEARTBEAT_SECONDS


@needs_concurrent_writers
@pytest.mark.s3
@pytest.mark.worker
def test_a_live_copy_is_left_alone_and_a_killed_one_is_run_again_to_the_same_rows(
    project_with_roles, s3, s3_server, celery_worker, tmp_path
):
    project = project_with_roles.project
    drafts = [
        Draft(s3.drop_uri(project, f"copy/{index}.png"), labels=["cat" if index % 2 else "dog"]) for index in range(50)
    ]
    source = make_dataset(project, name="source", drafts=drafts)
    # As dataset_create_from_source makes it, without enqueueing it to the session's worker.
    dataset = make_dataset(project, name="copy", status="creating")
    job = ImportJob.objects.create(dataset=dataset, kind="dataset", params={"dataset": source.pk}, creates_dataset=True)
    fault, queue = "copy.before_commit:1", f"faults-{uuid.uuid4().hex[:8]}"
    worker = start_armed_worker(s3_server, tmp_path, fault=fault, queue=queue)
    try:
        run_import.apply_async(args=[job.pk], queue=queue)
        wait_paused(worker, tmp_path, fault)  # the copy written, its transaction not committed
        time.sleep(STALL_S + 1.5)
        assert services.imports_requeue_stalled(older_than_s=STALL_S) == []  # alive: its heartbeat goes on
        worker.kill()
    finally:
        worker.stop()
    assert not Image.objects.filter(dataset=dataset).exists()  # rolled back with the worker

    requeue_when_stalled(job.pk)
    finished = wait_finished(job.pk)

    assert (finished.status, finished.imported) == ("succeeded", 50)
    copied = sorted(Image.objects.filter(dataset=dataset).values_list("source_ref", "image_labels__label__name"))
    assert copied == sorted(Image.objects.filter(dataset=source).values_list("source_ref", "image_labels__label__name"))
    assert_counts_true(dataset)
