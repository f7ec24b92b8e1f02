"""Transient S3 outages during an import: the task runs again with backoff and the job ends exact; an
answer such as NoSuchBucket fails the job at once with its code. Real parts: a Celery worker process whose
S3 endpoint is a moto server that refuses connections until the test starts it."""

import time
from pathlib import Path

import pytest
from django.conf import settings
from moto.server import ThreadedMotoServer

from importers import services
from importers.models import ImportJob
from importers.tasks import run_import
from tests.fixtures.datasets import assert_counts_true, make_dataset
from tests.fixtures.s3 import free_port, png_bytes
from tests.fixtures.worker import start_worker, worker_env

pytestmark = [pytest.mark.s3, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

IMAGES = 30


def wait_for(predicate, timeout=180, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def flaky_worker(s3_server):
    """A worker on its own queue whose S3 endpoint is a port nobody listens on yet (retries after 1 s)."""
    port = free_port()
    env = worker_env(s3_server)
    env.update(AWS_S3_ENDPOINT_URL=f"http://127.0.0.1:{port}", IMPORT_S3_RETRY_BACKOFF_S="1", IMPORT_S3_RETRIES="30")
    log_path = Path(settings.VAR_DIR) / f"test-worker-flaky-{port}.log"
    worker = start_worker(env=env, log_path=log_path, queues="flaky")
    try:
        yield worker, port
    finally:
        worker.stop()


def test_an_import_retries_while_s3_refuses_connections_and_finishes_exact(project_with_roles, s3, flaky_worker):
    worker, port = flaky_worker
    image = png_bytes()
    for index in range(IMAGES):
        s3.put_in_drop(project_with_roles.project, f"flaky/{'cat' if index % 2 else 'dog'}/{index:04}.png", image)
    dataset = make_dataset(project_with_roles.project)
    source = {"kind": "s3_folder", "s3_uri": s3.drop_uri(project_with_roles.project, "flaky/"), "auto_label": True}
    job = services.import_start(dataset_id=dataset.pk, source=source, user=None, enqueue=False)
    run_import.apply_async(args=[job.pk], queue="flaky")
    wait_for(lambda: "S3 unreachable" in worker.log_tail(200), what="a retry of the task")
    assert ImportJob.objects.get(pk=job.pk).status == "running"
    # The same in-process moto backend (the s3 fixture's objects) now answers on the worker's endpoint.
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        finished = wait_for(
            lambda: ImportJob.objects.filter(pk=job.pk, status__in=["succeeded", "failed"]).first(), what="the job"
        )
    finally:
        server.stop()
    assert finished.status == "succeeded", (finished.error_code, worker.log_tail())
    assert (finished.seen, finished.imported, finished.skipped, finished.failed) == (IMAGES, IMAGES, 0, 0)
    assert dataset.entries.count() == IMAGES
    assert_counts_true(dataset)


def test_a_missing_bucket_fails_the_job_with_its_code_without_retrying(project_with_roles, s3, celery_worker):
    dataset = make_dataset(project_with_roles.project)
    s3.client.delete_bucket(Bucket=s3.bucket)  # the project's drop folder is allowed, and its bucket now gone
    source = {"kind": "s3_folder", "s3_uri": s3.drop_uri(project_with_roles.project, "photos/"), "auto_label": False}
    job = services.import_start(dataset_id=dataset.pk, source=source, user=None, enqueue=False)
    run_import.delay(job.pk)
    finished = wait_for(
        lambda: ImportJob.objects.filter(pk=job.pk, status__in=["succeeded", "failed"]).first(), what="the job"
    )
    assert (finished.status, finished.error_code) == ("failed", "bucket_not_found")
    assert "S3 unreachable" not in celery_worker.log_tail(400)
