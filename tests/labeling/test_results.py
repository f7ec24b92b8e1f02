"""Submitted answers: validation per task type, consolidation, and write-back with exact dataset counts."""

import pytest

from core.errors import InvalidInput
from datasets.models import BoundingBox, Image, ImageLabel, Origin
from labeling.models import JobStatus, Task, TaskStatus
from labeling.services import queue
from tests.fixtures.datasets import Box, Draft, assert_counts_true
from tests.labeling.factories import answer_all, make_job, make_workers

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("task_type", "answer", "code"),
    [
        ("classification", {"labels": ["cat", "dog"]}, "invalid_answer"),
        ("classification", {"labels": []}, "invalid_answer"),
        ("classification", {"labels": ["cow"]}, "invalid_answer"),
        ("classification", {}, "invalid_answer"),
        ("multi_label", {"labels": ["cat", "cow"]}, "invalid_answer"),
        ("bounding_box", {"boxes": [{"label": "cow", "left": 1, "top": 1, "width": 5, "height": 5}]}, "invalid_answer"),
        ("bounding_box", {"boxes": [{"label": "cat", "left": 1, "top": 1, "width": 0, "height": 5}]}, "invalid_answer"),
        (
            "bounding_box",
            {"boxes": [{"label": "cat", "left": 600, "top": 1, "width": 50, "height": 5}]},
            "box_outside_image",
        ),
        ("verification", {}, "invalid_answer"),
        ("verification", {"verdict": "yes"}, "invalid_answer"),
    ],
)
def test_an_answer_that_does_not_fit_the_task_is_refused(project_with_roles, task_type, answer, code):
    (a,) = make_workers(project_with_roles.project, 1)
    job = make_job(project_with_roles.project, workers=[a], task_type=task_type)
    lease = queue.assignment_claim_next(job=job, worker=a)
    with pytest.raises(InvalidInput) as exc:
        queue.assignment_submit(assignment_id=lease.pk, worker=a, answer=answer)
    assert exc.value.code == code
    lease.refresh_from_db()
    assert lease.status == "leased"


def test_single_label_majority_is_written_back_with_the_job_as_provenance(project_with_roles):
    workers = make_workers(project_with_roles.project, 3)
    drafts = [Draft("s3://b/0.jpg", labels=["outdoor"]), Draft("s3://b/1.jpg"), Draft("s3://b/2.jpg", labels=["dog"])]
    job = make_job(project_with_roles.project, workers=workers, drafts=drafts, workers_per_image=3)
    answer_all(job, workers, [{"labels": ["cat"]}, {"labels": ["cat"]}, {"labels": ["dog"]}])
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED
    assert (job.completed_count, job.review_count) == (3, 0)
    by_ref = {
        ref: sorted(names)
        for ref, names in [
            (e.source_ref, list(e.image_labels.values_list("label__name", flat=True)))
            for e in Image.objects.filter(dataset_id=job.dataset_id)
        ]
    }
    # The job decides about its own labels (cat, dog) only: "outdoor" stays, the old "dog" gives way to "cat".
    assert by_ref == {"s3://b/0.jpg": ["cat", "outdoor"], "s3://b/1.jpg": ["cat"], "s3://b/2.jpg": ["cat"]}
    written = ImageLabel.objects.filter(image__dataset_id=job.dataset_id, label__name="cat")
    assert set(written.values_list("origin", "origin_id")) == {(Origin.JOB, job.pk)}
    task = Task.objects.filter(job=job).first()
    assert task.status == TaskStatus.COMPLETE
    assert task.result["label"] == "cat"
    assert task.confidence == pytest.approx(2 / 3)
    assert_counts_true(job.dataset)


def test_a_single_label_tie_goes_to_review_and_writes_nothing(project_with_roles):
    workers = make_workers(project_with_roles.project, 2)
    job = make_job(project_with_roles.project, workers=workers, drafts=[Draft("s3://b/0.jpg")], workers_per_image=2)
    answer_all(job, workers, [{"labels": ["cat"]}, {"labels": ["dog"]}])
    task = Task.objects.get(job=job)
    assert task.status == TaskStatus.REVIEW
    assert task.result["tied"] == ["cat", "dog"]
    assert not ImageLabel.objects.filter(image__dataset_id=job.dataset_id).exists()
    job.refresh_from_db()
    assert (job.status, job.completed_count, job.review_count) == (JobStatus.IN_PROGRESS, 0, 1)
    assert_counts_true(job.dataset)


def test_multi_label_keeps_the_labels_most_workers_chose(project_with_roles):
    workers = make_workers(project_with_roles.project, 3)
    job = make_job(
        project_with_roles.project,
        workers=workers,
        drafts=[Draft("s3://b/0.jpg")],
        task_type="multi_label",
        labels=("cat", "dog", "bird"),
        workers_per_image=3,
    )
    answer_all(job, workers, [{"labels": ["cat", "dog"]}, {"labels": ["cat"]}, {"labels": ["cat", "dog", "bird"]}])
    entry = Image.objects.get(dataset_id=job.dataset_id)
    assert sorted(entry.image_labels.values_list("label__name", flat=True)) == ["cat", "dog"]
    assert entry.is_labeled
    assert_counts_true(job.dataset)


def test_boxes_are_consolidated_and_replace_only_the_jobs_labels(project_with_roles):
    workers = make_workers(project_with_roles.project, 2)
    drafts = [Draft("s3://b/0.jpg", boxes=[Box("tree", 0, 0, 20, 20), Box("cat", 300, 300, 10, 10)])]
    job = make_job(
        project_with_roles.project,
        workers=workers,
        drafts=drafts,
        task_type="bounding_box",
        labels=("cat",),
        workers_per_image=2,
    )
    answer_all(
        job,
        workers,
        [
            {"boxes": [{"label": "cat", "left": 10, "top": 10, "width": 100, "height": 100}]},
            {"boxes": [{"label": "cat", "left": 12, "top": 10, "width": 100, "height": 100}]},
        ],
    )
    boxes = {
        (b.label.name, b.left, b.top, b.width, b.height, b.origin)
        for b in BoundingBox.objects.filter(image__dataset_id=job.dataset_id).select_related("label")
    }
    assert boxes == {("tree", 0, 0, 20, 20, Origin.IMPORT), ("cat", 11, 10, 100, 100, Origin.JOB)}, (
        "kept boxes keep theirs"
    )
    assert_counts_true(job.dataset)


def test_bounding_box_jobs_skip_images_of_unknown_size(project_with_roles):
    (a,) = make_workers(project_with_roles.project, 1)
    drafts = [Draft("s3://b/0.jpg"), Draft("s3://b/1.jpg", image_width=None, image_height=None)]
    job = make_job(project_with_roles.project, workers=[a], drafts=drafts, task_type="bounding_box")
    assert (job.image_count, job.skipped_count) == (1, 1)


def test_verification_stores_the_verdict_and_changes_no_label(project_with_roles):
    workers = make_workers(project_with_roles.project, 3)
    drafts = [Draft("s3://b/0.jpg", labels=["cat"])]
    job = make_job(
        project_with_roles.project, workers=workers, drafts=drafts, task_type="verification", workers_per_image=3
    )
    answer_all(
        job,
        workers,
        [{"verdict": False, "comment": " not a cat "}, {"verdict": False, "comment": ""}, {"verdict": True}],
    )
    task = Task.objects.get(job=job)
    assert (task.status, task.result) == (TaskStatus.COMPLETE, {"verdict": False, "comments": ["not a cat"]})
    assert list(ImageLabel.objects.filter(image__dataset_id=job.dataset_id).values_list("origin", flat=True)) == [
        Origin.IMPORT
    ]
    assert_counts_true(job.dataset)
