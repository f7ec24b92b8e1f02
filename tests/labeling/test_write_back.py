"""Consolidated results reach the dataset in batches: queued once per job, written in a flat number of queries,
swept when a queued write-back was lost, and through a real Celery worker."""

import time
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from datasets.models import BoundingBox, Image, ImageLabel, Origin
from labeling.models import JobStatus, LabelingJob, Task, TaskStatus
from labeling.services import queue
from labeling.services.results import jobs_with_pending_write_back, results_write_back
from labeling.tasks import sweep_write_backs
from tests.fixtures.datasets import Box, Draft, assert_counts_true
from tests.labeling.factories import answer_all, make_job, make_workers


def labels_by_ref(job):
    links = ImageLabel.objects.filter(image__dataset_id=job.dataset_id).values_list(
        "image__source_ref", "label__name", "origin", "origin_id"
    )
    return sorted(links)


@pytest.mark.django_db
def test_results_wait_for_the_write_back_then_land_with_the_job_as_provenance(project_with_roles):
    (worker,) = make_workers(project_with_roles.project, 1)
    drafts = [Draft("s3://b/0.jpg", labels=["outdoor", "dog"]), Draft("s3://b/1.jpg")]
    job = make_job(project_with_roles.project, workers=[worker], drafts=drafts)
    answer_all(job, [worker], [{"labels": ["cat"]}], write_back=False)
    job.refresh_from_db()
    assert (job.status, job.completed_count, job.write_back_queued) == (JobStatus.IN_PROGRESS, 2, True)
    assert labels_by_ref(job) == [("s3://b/0.jpg", "dog", "import", None), ("s3://b/0.jpg", "outdoor", "import", None)]

    assert results_write_back(job_id=job.pk) == 2
    job.refresh_from_db()
    assert (job.status, job.write_back_queued) == (JobStatus.COMPLETED, False)
    # The job's own label (dog) is replaced, the others (outdoor) kept.
    assert labels_by_ref(job) == [
        ("s3://b/0.jpg", "cat", "job", job.pk),
        ("s3://b/0.jpg", "outdoor", "import", None),
        ("s3://b/1.jpg", "cat", "job", job.pk),
    ]
    assert not Task.objects.filter(job=job, written_at__isnull=True).exists()
    assert_counts_true(job.dataset)
    assert results_write_back(job_id=job.pk) == 0


@pytest.mark.django_db
def test_a_write_back_takes_the_same_queries_for_3_or_30_results(project_with_roles):
    counts = []
    for size in (3, 30):
        (worker,) = make_workers(project_with_roles.project, 1)
        drafts = [Draft(f"s3://b/{size}/{i}.jpg", labels=["old"], boxes=[Box("tree")]) for i in range(size)]
        job = make_job(project_with_roles.project, workers=[worker], drafts=drafts, name=f"job{size}")
        answer_all(job, [worker], [{"labels": ["dog"]}], write_back=False)
        with CaptureQueriesContext(connection) as captured:
            assert results_write_back(job_id=job.pk) == size
        counts.append(len(captured))
        assert_counts_true(job.dataset)
    assert counts[0] == counts[1]


@pytest.mark.django_db
def test_the_first_result_queues_one_write_back_for_the_job(project_with_roles, django_capture_on_commit_callbacks):
    (worker,) = make_workers(project_with_roles.project, 1)
    job = make_job(project_with_roles.project, workers=[worker])
    with django_capture_on_commit_callbacks() as queued:
        answer_all(job, [worker], [{"labels": ["dog"]}], write_back=False)
    assert len(queued) == 1, "three results, one queued write-back"
    results_write_back(job_id=job.pk)
    assert not LabelingJob.objects.get(pk=job.pk).write_back_queued


@pytest.mark.django_db
def test_a_result_the_dataset_refuses_goes_to_review_with_the_error(project_with_roles):
    (worker,) = make_workers(project_with_roles.project, 1)
    crowded = [Box("tree", left=i, top=i, width=5, height=5) for i in range(45)]
    drafts = [Draft("s3://b/0.jpg", boxes=crowded), Draft("s3://b/1.jpg")]
    job = make_job(
        project_with_roles.project, workers=[worker], drafts=drafts, task_type="bounding_box", labels=("cat",)
    )
    boxes = [{"label": "cat", "left": 10 * i, "top": 10, "width": 8, "height": 8} for i in range(10)]
    answer_all(job, [worker], [{"boxes": boxes}])
    tasks = {t.image.source_ref: t for t in Task.objects.filter(job=job).select_related("image")}
    refused, written = tasks["s3://b/0.jpg"], tasks["s3://b/1.jpg"]
    assert refused.status == TaskStatus.REVIEW
    assert refused.result["write_error"]["code"] == "too_many_boxes"
    assert written.status == TaskStatus.COMPLETE
    assert written.written_at is not None
    assert BoundingBox.objects.filter(image=refused.image).count() == 45, "the refused entry is unchanged"
    assert BoundingBox.objects.filter(image=written.image, origin=Origin.JOB).count() == 10
    job.refresh_from_db()
    assert (job.status, job.completed_count, job.review_count) == (JobStatus.IN_PROGRESS, 1, 1)
    assert_counts_true(job.dataset)


@pytest.mark.django_db
def test_the_sweep_writes_results_whose_queued_write_back_was_lost(project_with_roles):
    (worker,) = make_workers(project_with_roles.project, 1)
    job = make_job(project_with_roles.project, workers=[worker])
    answer_all(job, [worker], [{"labels": ["dog"]}], write_back=False)
    assert jobs_with_pending_write_back(older_than=timezone.now() - timedelta(minutes=1)) == []
    Task.objects.filter(job=job).update(completed_at=timezone.now() - timedelta(minutes=5))
    assert jobs_with_pending_write_back(older_than=timezone.now() - timedelta(minutes=1)) == [job.pk]
    assert sweep_write_backs() == 3
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED
    assert ImageLabel.objects.filter(image__dataset_id=job.dataset_id, origin=Origin.JOB).count() == 3


@pytest.mark.s3
@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_writes_the_results_after_the_last_answer(project_with_roles, celery_worker):
    workers = make_workers(project_with_roles.project, 2)
    job = make_job(project_with_roles.project, workers=workers, workers_per_image=2)
    for worker in workers:
        while (lease := queue.assignment_claim_next(job=job, worker=worker)) is not None:
            queue.assignment_submit(assignment_id=lease.pk, worker=worker, answer={"labels": ["cat"]})
    deadline = time.monotonic() + 60
    while LabelingJob.objects.get(pk=job.pk).status != JobStatus.COMPLETED:
        assert time.monotonic() < deadline, celery_worker.log_tail()
        time.sleep(0.2)
    labeled = Image.objects.filter(dataset_id=job.dataset_id, image_labels__label__name="cat")
    assert labeled.count() == 3
    assert_counts_true(job.dataset)
