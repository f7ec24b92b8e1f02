"""A worker killed with SIGKILL in the middle of an import: the job is run again and ends exact."""

import time
from pathlib import Path

import pytest
from django.conf import settings

from datasets.models import Image
from importers import services
from importers.models import ImportJob
from importers.tasks import run_import
from tests.fixtures.datasets import assert_counts_true, make_dataset
from tests.fixtures.s3 import png_bytes
from tests.fixtures.worker import start_worker, worker_env

pytestmark = [pytest.mark.s3, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

IMAGES = 700


def wait_for(predicate, timeout=120, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_an_import_killed_mid_way_finishes_exact_after_it_is_enqueued_again(
    project_with_roles, s3, s3_server, celery_worker
):
    image = png_bytes()
    for index in range(IMAGES):
        s3.put_in_drop(project_with_roles.project, f"kill/{'cat' if index % 2 else 'dog'}/{index:04}.png", image)
    dataset = make_dataset(project_with_roles.project)
    source = {"kind": "s3_folder", "s3_uri": s3.drop_uri(project_with_roles.project, "kill/"), "auto_label": True}
    job = services.import_start(dataset_id=dataset.pk, source=source, user=None, enqueue=False)
    doomed = start_worker(
        env=worker_env(s3_server), log_path=Path(settings.VAR_DIR) / "test-worker-doomed.log", queues="doomed"
    )
    try:
        run_import.apply_async(args=[job.pk], queue="doomed")
        # Kill it once the listing is written and probing is under way.
        wait_for(lambda: ImportJob.objects.filter(pk=job.pk, checkpoint__listing_done=True).exists(), what="listing")
        doomed.kill()
    finally:
        doomed.stop()
    killed = ImportJob.objects.get(pk=job.pk)
    assert killed.status == "running"

    assert services.imports_requeue_stalled(older_than_s=0) == [job.pk]  # what beat does after a stall

    finished = wait_for(
        lambda: ImportJob.objects.filter(pk=job.pk, status__in=["succeeded", "failed"]).first(), what="the job"
    )
    assert finished.status == "succeeded", finished.error_message
    assert (finished.seen, finished.imported, finished.skipped, finished.failed) == (IMAGES, IMAGES, 0, 0)
    assert Image.objects.filter(dataset=dataset).count() == IMAGES
    assert not Image.objects.filter(dataset=dataset, format="").exists()  # every image probed
    assert_counts_true(dataset)
