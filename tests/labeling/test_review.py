"""Review: accepting a task (the consolidated answer or the reviewer's) and sending it back to the queue."""

from datetime import timedelta

import pytest
from django.utils import timezone

from core.errors import Conflict, InvalidInput
from datasets.models import BoundingBox, Image, ImageLabel, Origin
from labeling.models import Assignment, JobStatus, LabelingJob, Task
from labeling.services import queue, review
from tests.fixtures.datasets import Box, Draft, assert_counts_true
from tests.labeling.factories import answer_all, make_job, make_workers

pytestmark = pytest.mark.django_db


def labels_of(job):
    return {
        e.source_ref: sorted(e.image_labels.values_list("label__name", flat=True))
        for e in Image.objects.filter(dataset_id=job.dataset_id)
    }


def counters(job):
    job.refresh_from_db()
    return job.status, job.completed_count, job.review_count


def test_a_tie_needs_the_reviewers_answer_which_is_written_with_the_job_as_provenance(project_with_roles):
    project = project_with_roles.project
    reviewer = project_with_roles.user("reviewer")
    workers = make_workers(project, 2)
    drafts = [Draft("s3://b/0.jpg", labels=["outdoor", "dog"]), Draft("s3://b/1.jpg")]
    job = make_job(project, workers=workers, drafts=drafts, workers_per_image=2)
    answer_all(job, workers, [{"labels": ["cat"]}, {"labels": ["dog"]}])
    assert counters(job) == (JobStatus.IN_PROGRESS, 0, 2)
    tied = Task.objects.filter(job=job).order_by("id").first()
    with pytest.raises(InvalidInput) as exc:
        review.task_accept(task_id=tied.pk, user=reviewer)
    assert exc.value.code == "answer_required"
    with pytest.raises(InvalidInput) as exc:
        review.task_accept(task_id=tied.pk, user=reviewer, answer={"labels": ["cow"]})
    assert exc.value.code == "invalid_answer"

    accepted = review.task_accept(task_id=tied.pk, user=reviewer, answer={"labels": ["cat"]})

    assert (accepted.status, accepted.result["label"], accepted.reviewed_by) == ("accepted", "cat", reviewer)
    assert counters(job) == (JobStatus.IN_PROGRESS, 1, 1)
    # The job's labels are cat and dog: the old "dog" gives way, "outdoor" is not the job's to change.
    assert labels_of(job)["s3://b/0.jpg"] == ["cat", "outdoor"]
    written = ImageLabel.objects.filter(image__source_ref="s3://b/0.jpg", label__name="cat")
    assert set(written.values_list("origin", "origin_id")) == {(Origin.JOB, job.pk)}
    assert_counts_true(job.dataset)
    # Accepting again with another answer replaces what the job wrote.
    review.task_accept(task_id=tied.pk, user=reviewer, answer={"labels": ["dog"]})
    assert labels_of(job)["s3://b/0.jpg"] == ["dog", "outdoor"]
    assert counters(job) == (JobStatus.IN_PROGRESS, 1, 1)
    assert_counts_true(job.dataset)
    other = Task.objects.filter(job=job).order_by("id").last()
    review.task_accept(task_id=other.pk, user=reviewer, answer={"labels": ["dog"]})
    assert counters(job)[:2] == (JobStatus.COMPLETED, 2)
    assert labels_of(job)["s3://b/1.jpg"] == ["dog"]
    assert_counts_true(job.dataset)


def test_accepting_a_complete_task_keeps_its_answer_and_counts(project_with_roles):
    project = project_with_roles.project
    (worker,) = make_workers(project, 1)
    job = make_job(project, workers=[worker], drafts=[Draft("s3://b/0.jpg")])
    answer_all(job, [worker], [{"labels": ["cat"]}])
    task = Task.objects.get(job=job)
    accepted = review.task_accept(task_id=task.pk, user=project_with_roles.user("manager"))
    assert (accepted.status, accepted.result["label"]) == ("accepted", "cat")
    assert counters(job) == (JobStatus.COMPLETED, 1, 0)
    assert labels_of(job) == {"s3://b/0.jpg": ["cat"]}
    assert_counts_true(job.dataset)


def test_a_reviewer_replaces_the_jobs_boxes_and_keeps_the_others(project_with_roles):
    project = project_with_roles.project
    (worker,) = make_workers(project, 1)
    drafts = [Draft("s3://b/0.jpg", boxes=[Box("car"), Box("cat", left=0, top=0)])]
    job = make_job(project, workers=[worker], drafts=drafts, task_type="bounding_box")
    answer_all(job, [worker], [{"boxes": [{"label": "cat", "left": 5, "top": 5, "width": 20, "height": 20}]}])
    task = Task.objects.get(job=job)
    boxes = [{"label": "dog", "left": 100, "top": 100, "width": 50, "height": 60}]
    review.task_accept(task_id=task.pk, user=project_with_roles.user("reviewer"), answer={"boxes": boxes})
    stored = sorted(
        BoundingBox.objects.filter(image__dataset_id=job.dataset_id).values_list("label__name", "left", "width")
    )
    assert stored == [("car", 10, 50), ("dog", 100, 50)]
    assert_counts_true(job.dataset)


def test_sending_back_discards_the_answers_and_reopens_the_job_for_other_workers(project_with_roles):
    project = project_with_roles.project
    first, second, third = make_workers(project, 3)
    job = make_job(project, workers=[first, second, third], drafts=[Draft("s3://b/0.jpg")], workers_per_image=2)
    answer_all(job, [first, second], [{"labels": ["cat"]}, {"labels": ["cat"]}])
    task = Task.objects.get(job=job)
    assert counters(job) == (JobStatus.COMPLETED, 1, 0)
    review.task_accept(task_id=task.pk, user=project_with_roles.user("reviewer"))

    sent = review.task_send_back(task_id=task.pk, user=project_with_roles.user("reviewer"), reason="blurry")

    assert (sent.status, sent.slots_taken, sent.answer_count, sent.result, sent.review_note) == (
        "open",
        0,
        0,
        None,
        "blurry",
    )
    assert sorted(Assignment.objects.filter(task=task).values_list("status", flat=True)) == ["discarded"] * 2
    job.refresh_from_db()
    assert (job.status, job.completed_count, job.review_count, job.completed_at) == ("in_progress", 0, 0, None)
    # The earlier workers are not asked again; the third one gets it and can complete it alone... with a second.
    assert queue.assignment_claim_next(job=job, worker=first) is None
    lease = queue.assignment_claim_next(job=job, worker=third)
    assert lease.task_id == task.pk
    queue.assignment_submit(assignment_id=lease.pk, worker=third, answer={"labels": ["dog"]})
    assert counters(job) == (JobStatus.IN_PROGRESS, 0, 0)
    with pytest.raises(Conflict) as exc:
        review.task_send_back(task_id=task.pk, user=project_with_roles.user("reviewer"))
    assert exc.value.code == "task_open"
    with pytest.raises(Conflict) as exc:
        review.task_accept(task_id=task.pk, user=project_with_roles.user("reviewer"))
    assert exc.value.code == "task_open"
    assert_counts_true(job.dataset)


def test_sending_back_a_task_in_review_moves_it_out_of_the_review_count(project_with_roles):
    project = project_with_roles.project
    workers = make_workers(project, 4)
    job = make_job(project, workers=workers, drafts=[Draft("s3://b/0.jpg")], workers_per_image=2)
    answer_all(job, workers[:2], [{"labels": ["cat"]}, {"labels": ["dog"]}])
    task = Task.objects.get(job=job)
    assert counters(job) == (JobStatus.IN_PROGRESS, 0, 1)
    review.task_send_back(task_id=task.pk, user=project_with_roles.user("manager"))
    assert counters(job) == (JobStatus.IN_PROGRESS, 0, 0)
    answer_all(job, workers[2:], [{"labels": ["dog"]}, {"labels": ["dog"]}])
    task.refresh_from_db()
    assert (task.status, task.result["label"], task.result["votes"]) == ("complete", "dog", {"dog": 2})
    assert counters(job)[:2] == (JobStatus.COMPLETED, 1)
    assert labels_of(job) == {"s3://b/0.jpg": ["dog"]}
    assert_counts_true(job.dataset)


def test_an_expired_job_cannot_send_work_back(project_with_roles):
    project = project_with_roles.project
    (worker,) = make_workers(project, 1)
    job = make_job(project, workers=[worker], drafts=[Draft("s3://b/0.jpg")])
    answer_all(job, [worker], [{"labels": ["cat"]}])
    LabelingJob.objects.filter(pk=job.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(Conflict) as exc:
        review.task_send_back(task_id=Task.objects.get(job=job).pk, user=project_with_roles.user("manager"))
    assert exc.value.code == "job_expired"
