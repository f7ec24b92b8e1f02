"""A worker SIGKILLed at an exact point of a manifest import (from S3): early, mid-way and at the last batch,
while probing, and again after a resume. The stall sweep enqueues the job again within seconds of the kill,
another worker finishes it, and it ends row for row as an uninterrupted import of the same manifest.

Real parts: PostgreSQL, Redis, Celery worker processes, the moto S3 server. Workers are armed with
GROUNDWORK_FAULT_POINTS (core.fault_points) and pause there until killed.
"""

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from importers import manifest_source, services
from importers.models import ImportJob
from importers.tasks import run_import
from tests.faults.manifest_run import (
    BATCH,
    LINES,
    STALL_S,
    picture,
    put_manifest,
    requeue_when_stalled,
    start_armed_worker,
    wait_finished,
    wait_paused,
)
from tests.fixtures.datasets import assert_counts_true, make_dataset
from tests.fixtures.s3 import png_bytes

pytestmark = [pytest.mark.s3, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def manifest_uri(project_with_roles, s3):
    return put_manifest(s3, project_with_roles.project)


@pytest.fixture
def reference(project_with_roles, manifest_uri, monkeypatch):
    """The same manifest imported without interruption, in this process, with the same batch size."""
    monkeypatch.setattr(manifest_source, "BATCH_LINES", BATCH)
    dataset = make_dataset(project_with_roles.project, name="reference")
    job = services.import_start(
        dataset_id=dataset.pk, source={"kind": "manifest", "s3_uri": manifest_uri}, user=None, enqueue=False
    )
    services.import_run(job_id=job.pk)
    expected = picture(job)
    assert expected["job"][0] == "succeeded"
    codes = {code for _, _, code, _ in expected["line_errors"]}
    assert codes >= {"ERROR_INVALID_JSON_LINE", "ERROR_DUPLICATE_SOURCE_REF", "ERROR_BUCKET_NOT_ALLOWED"}
    assert "ERROR_INVALID_IMAGE" in codes  # missing objects and objects that are not images, from probing
    assert any(has_errors for *_, has_errors, _ in expected["entries"].values())
    return expected


def kill_at(job, s3_server, tmp_path, fault: str) -> ImportJob:
    """Run the job on a worker armed at `fault`, SIGKILL it there; the job as the kill left it."""
    queue = f"faults-{uuid.uuid4().hex[:8]}"
    worker = start_armed_worker(s3_server, tmp_path, fault=fault, queue=queue)
    try:
        run_import.apply_async(args=[job.pk], queue=queue)  # what Redis redelivers to a worker of that queue
        wait_paused(worker, tmp_path, fault)
        worker.kill()
    finally:
        worker.stop()
    killed = ImportJob.objects.get(pk=job.pk)
    assert killed.status == "running"
    return killed


def start_job(project, manifest_uri):
    dataset = make_dataset(project, name=f"faulted-{uuid.uuid4().hex[:6]}")
    return services.import_start(
        dataset_id=dataset.pk, source={"kind": "manifest", "s3_uri": manifest_uri}, user=None, enqueue=False
    )


def resume_and_compare(job, reference, celery_worker, scenario: str):
    requeue_when_stalled(job.pk)  # the session's worker (no fault armed) takes it
    finished = wait_finished(job.pk)
    assert finished.status == "succeeded", (scenario, finished.error_code, celery_worker.log_tail())
    got = picture(finished)
    for part in reference:
        assert got[part] == reference[part], f"{scenario}: {part}"
    assert_counts_true(finished.dataset)


def kill_while_probing(job, s3_server, tmp_path) -> ImportJob:
    """Pause at the 2nd probe page, check the sweep leaves a paused (live) worker's job alone, then kill it."""
    fault = "probing.after_page:2"
    queue = f"faults-{uuid.uuid4().hex[:8]}"
    worker = start_armed_worker(s3_server, tmp_path, fault=fault, queue=queue)
    try:
        run_import.apply_async(args=[job.pk], queue=queue)
        wait_paused(worker, tmp_path, fault)
        # Paused, but alive: its heartbeat thread goes on, and the sweep leaves the job alone past the stall time.
        time.sleep(STALL_S + 1.5)
        assert services.imports_requeue_stalled(older_than_s=STALL_S) == []
        worker.kill()
    finally:
        worker.stop()
    return ImportJob.objects.get(pk=job.pk)


def test_a_worker_killed_at_any_point_resumes_to_the_rows_of_an_uninterrupted_import(
    project_with_roles, manifest_uri, reference, s3_server, celery_worker, tmp_path
):
    """One manifest and one reference for every kill point (each in a dataset of its own): putting 1,600 images
    and importing them once more per kill point would cost more than the kills."""
    project = project_with_roles.project
    for name, fault, lines_written in [
        ("first batch", "manifest.after_batch:1", BATCH),
        ("middle batch", "manifest.after_batch:2", 2 * BATCH),
        ("last batch", "manifest.after_batch:4", LINES),
    ]:
        job = start_job(project, manifest_uri)
        killed = kill_at(job, s3_server, tmp_path / name, fault)
        assert (killed.checkpoint["line"], "probed" in killed.checkpoint) == (lines_written, False), name
        resume_and_compare(job, reference, celery_worker, name)

    job = start_job(project, manifest_uri)
    killed = kill_while_probing(job, s3_server, tmp_path / "probing")
    assert (killed.status, killed.checkpoint["line"], killed.checkpoint["probed"]) == ("running", LINES, 2 * 500)
    resume_and_compare(job, reference, celery_worker, "probing")

    job = start_job(project, manifest_uri)
    assert kill_at(job, s3_server, tmp_path / "twice-1", "manifest.after_batch:1").checkpoint["line"] == BATCH
    # The resumed run counts its own batches: its 2nd is the file's 3rd.
    assert kill_at(job, s3_server, tmp_path / "twice-2", "manifest.after_batch:2").checkpoint["line"] == 3 * BATCH
    resume_and_compare(job, reference, celery_worker, "killed twice")


def test_a_worker_killed_while_listing_a_folder_resumes_to_the_rows_of_an_uninterrupted_import(
    project_with_roles, s3, s3_server, celery_worker, tmp_path
):
    project = project_with_roles.project
    image = png_bytes()

    def put(index: int) -> None:
        key = f"folder/{['cat', 'dog', 'bad label?'][index % 3]}/{index:04}"
        if index % 50 == 7:
            s3.put_in_drop(project, f"{key}.txt", b"notes")  # not an image key: skipped
        else:
            s3.put_in_drop(project, f"{key}.png", b"not an image" if index % 61 == 3 else image)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(put, range(300)))
    source = {"kind": "s3_folder", "s3_uri": s3.drop_uri(project, "folder/"), "auto_label": True}
    reference = make_dataset(project, name="reference")
    reference_job = services.import_start(dataset_id=reference.pk, source=source, user=None, enqueue=False)
    services.import_run(job_id=reference_job.pk)
    expected = picture(reference_job)
    assert expected["job"][0] == "succeeded"
    job = services.import_start(
        dataset_id=make_dataset(project, name="faulted").pk, source=source, user=None, enqueue=False
    )
    fault, queue = "s3_folder.after_page:2", f"faults-{uuid.uuid4().hex[:8]}"
    worker = start_armed_worker(s3_server, tmp_path, fault=fault, queue=queue, IMPORT_LIST_PAGE_SIZE="100")
    try:
        run_import.apply_async(args=[job.pk], queue=queue)
        wait_paused(worker, tmp_path, fault)
        worker.kill()
    finally:
        worker.stop()
    killed = ImportJob.objects.get(pk=job.pk)
    assert (killed.status, killed.seen, killed.checkpoint["listing_done"]) == ("running", 200, False)

    resume_and_compare(job, expected, celery_worker, "folder listing")  # resumed with pages of 1,000
