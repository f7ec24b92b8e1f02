"""No import is ever stuck: an unexpected error fails its job with `internal_error` (after one more run),
releasing the dataset; the database out of reach is waited out; a cancel always takes effect; a poisoned
line becomes a stored line error."""

import logging
from datetime import timedelta

import pytest
from django.db import OperationalError
from django.utils import timezone

from datasets.models import Image
from importers import manifest_source, services
from importers.models import ImportJob, ImportLineError
from importers.tasks import run_import
from tests.fixtures.datasets import Draft, assert_counts_true, make_dataset
from tests.importers.test_manifest_import import classification, manifest, put_images

pytestmark = [pytest.mark.s3, pytest.mark.django_db]


def start(project, s3, body: bytes, *, dataset=None):
    """An import of `body` (with its images) into `dataset`, or into a new one; not run yet."""
    put_images(s3, body)
    source = {"kind": "manifest", "s3_uri": s3.put_in_drop(project, "gt/stuck.manifest", body)}
    if dataset is None:
        return services.dataset_create_from_source(
            project_id=project.pk, name="new", type="train", source=source, user=None
        )  # enqueued on commit: never, in a test's transaction
    return dataset, services.import_start(dataset_id=dataset.pk, source=source, user=None, enqueue=False)


def body_of(project, s3, count: int) -> bytes:
    return manifest(*[classification(s3.drop_uri(project, f"s/{i}.jpg")) for i in range(count)])


def crash_on_batch(monkeypatch, number: int, errors) -> None:
    """Make the `number`th batch write of every run raise the next of `errors` (a bug deep in the import)."""
    real, calls = manifest_source._write_batch, {"n": 0}
    errors = iter(errors)

    def write(job_id, batch):
        calls["n"] += 1
        if calls["n"] % number == 0:
            raise next(errors)
        return real(job_id, batch)

    monkeypatch.setattr(manifest_source, "_write_batch", write)


def test_a_job_failing_the_same_way_twice_fails_with_internal_error(project_with_roles, s3, monkeypatch, caplog):
    project = project_with_roles.project
    kept = s3.drop_uri(project, "kept.jpg")
    existing = make_dataset(project, drafts=[Draft(kept, labels=["old"])])
    monkeypatch.setattr(manifest_source, "BATCH_LINES", 2)
    crash_on_batch(monkeypatch, 2, [ValueError("a bug"), ValueError("a bug")])  # batch 1 lands, batch 2 raises
    dataset, job = start(project, s3, body_of(project, s3, 6), dataset=existing)

    with caplog.at_level(logging.ERROR, logger="importers.tasks"):
        result = run_import.apply(args=(job.pk,)).get()  # eager: the retry runs at once, in this process

    job.refresh_from_db()
    dataset.refresh_from_db()
    assert result == {"job": job.pk, "status": "failed", "error": "internal_error"}
    assert (job.status, job.error_code, job.crash_count) == ("failed", "internal_error", 2)
    assert "ValueError" in job.error_message
    assert "traceback" in job.error_message
    assert dataset.status == "ready"  # released, and as it was: the batch written before the error is undone
    assert list(Image.objects.filter(dataset=dataset).values_list("source_ref", flat=True)) == [kept]
    assert_counts_true(dataset)
    tracebacks = [r for r in caplog.records if r.exc_info and r.exc_info[0] is ValueError]
    assert len(tracebacks) == 2


def test_a_new_dataset_of_a_crashed_import_is_left_failed_not_updating(project_with_roles, s3, monkeypatch):
    project = project_with_roles.project
    crash_on_batch(monkeypatch, 1, [KeyError("x")] * 2)
    dataset, job = start(project, s3, body_of(project, s3, 3))

    run_import.apply(args=(job.pk,))

    dataset.refresh_from_db()
    assert (dataset.status, ImportJob.objects.get(pk=job.pk).error_code) == ("failed", "internal_error")


def test_different_errors_are_retried_up_to_the_limit(project_with_roles, s3, monkeypatch, settings):
    settings.IMPORT_MAX_CRASHES = 3
    project = project_with_roles.project
    crash_on_batch(monkeypatch, 1, [RuntimeError("one"), RuntimeError("two"), RuntimeError("three")])
    _, job = start(project, s3, body_of(project, s3, 3))

    run_import.apply(args=(job.pk,))

    job.refresh_from_db()
    assert (job.status, job.error_code, job.crash_count, job.last_crash) == (
        "failed", "internal_error", 3, "RuntimeError: three"
    )  # fmt: skip


def test_one_unexpected_error_is_run_again_and_the_job_succeeds(project_with_roles, s3, monkeypatch):
    project = project_with_roles.project
    monkeypatch.setattr(manifest_source, "BATCH_LINES", 2)
    crash_on_batch(monkeypatch, 3, [ValueError("once")])  # only the 3rd write call raises
    dataset, job = start(project, s3, body_of(project, s3, 6))

    run_import.apply(args=(job.pk,))

    job.refresh_from_db()
    assert (job.status, job.imported, job.crash_count) == ("succeeded", 6, 1)
    assert Image.objects.filter(dataset=dataset).count() == 6


def test_the_database_out_of_reach_is_waited_out(project_with_roles, s3, monkeypatch):
    project = project_with_roles.project
    real = manifest_source._write_batch
    outage = {"left": 3}

    def write(job_id, batch):
        if outage["left"]:
            outage["left"] -= 1
            raise OperationalError("server closed the connection unexpectedly")
        return real(job_id, batch)

    monkeypatch.setattr(manifest_source, "_write_batch", write)
    _, job = start(project, s3, body_of(project, s3, 3))

    run_import.apply(args=(job.pk,))

    job.refresh_from_db()
    assert (job.status, job.imported, job.crash_count) == ("succeeded", 3, 0)  # an outage is not a crash


def test_a_poisoned_line_is_a_stored_line_error(project_with_roles, s3):
    project = project_with_roles.project
    good = [classification(s3.drop_uri(project, f"p/{i}.jpg")) for i in range(8)]
    nul = '{"source-ref": "' + s3.drop_uri(project, "p/a\\u0000.jpg") + '"}'
    surrogate = '{"source-ref": "' + s3.drop_uri(project, "p/b\\ud800.jpg") + '"}'
    _dataset, job = start(project, s3, manifest(*good[:4], nul, surrogate, *good[4:]))

    services.import_run(job_id=job.pk)

    job.refresh_from_db()
    assert (job.status, job.imported, job.failed) == ("succeeded", 8, 2)
    errors = list(ImportLineError.objects.filter(job=job).order_by("line").values_list("line", "code", "message"))
    assert [(line, code) for line, code, _ in errors] == [
        (5, "ERROR_INVALID_SOURCE_REF_FORMAT"), (6, "ERROR_INVALID_SOURCE_REF_FORMAT")
    ]  # fmt: skip
    assert "a\\x00.jpg" in errors[0][2]
    assert "b\\ud800.jpg" in errors[1][2]


def running_job(project, *, heartbeat_age_s: int):
    dataset = make_dataset(project)
    job = ImportJob.objects.create(dataset=dataset, kind="manifest", status="running")
    ImportJob.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(seconds=heartbeat_age_s))
    dataset.status = "updating"
    dataset.save(update_fields=["status"])
    return dataset, job


def test_cancel_of_a_job_whose_worker_is_gone_takes_effect_at_once(project_with_roles, settings):
    settings.IMPORT_STALL_SECONDS = 60
    dataset, job = running_job(project_with_roles.project, heartbeat_age_s=3600)

    services.import_cancel(job_id=job.pk)

    job.refresh_from_db()
    dataset.refresh_from_db()
    assert (job.status, dataset.status) == ("canceled", "ready")


def test_cancel_of_a_live_job_is_left_to_its_worker(project_with_roles, settings):
    settings.IMPORT_STALL_SECONDS = 60
    _dataset, job = running_job(project_with_roles.project, heartbeat_age_s=1)

    services.import_cancel(job_id=job.pk)

    job.refresh_from_db()
    assert (job.status, job.cancel_requested) == ("running", True)  # it stops at its next batch


def test_the_stall_sweep_finishes_a_canceled_job_instead_of_running_it_again(project_with_roles):
    dataset, job = running_job(project_with_roles.project, heartbeat_age_s=120)
    ImportJob.objects.filter(pk=job.pk).update(cancel_requested=True)

    assert services.imports_requeue_stalled(older_than_s=60) == []

    job.refresh_from_db()
    dataset.refresh_from_db()
    assert (job.status, dataset.status) == ("canceled", "ready")
