"""Consolidating an image's answers and writing the result into its dataset entry with the job as provenance.

The entry changes only through `datasets.services.entries.entry_update` (which locks the dataset and keeps its
stats and label counts exact). The job decides about its own labels only: a classification or multi-label
result replaces the entry's image-level labels that are among the job's labels and keeps the others; a
bounding-box result replaces the entry's boxes of the job's labels. A verification result is stored on the
task (for review and the output manifest) and changes no label: verifiers judge labels, they do not edit them.

A result that needs review (a tie, a half-chosen label or box; see labeling.consolidation) writes nothing:
the task waits in `review` for a reviewer.
"""

from dataclasses import asdict
from datetime import datetime
from statistics import fmean
from typing import Any

from django.db import transaction
from django.db.models import F

from core.errors import GroundworkError
from datasets.models import BoundingBox, Image, ImageLabel, Origin
from datasets.services.entries import entry_update
from datasets.validation import BoxInput
from labeling import consolidation
from labeling.models import Assignment, AssignmentStatus, JobStatus, LabelingJob, Task, TaskStatus, TaskType


def consolidate_answers(*, task_type: str, answers: list[dict[str, Any]]) -> tuple[dict[str, Any], float | None, bool]:
    """(result JSON, confidence, needs review) of the stored answers of one image."""
    if task_type == TaskType.CLASSIFICATION:
        single = consolidation.consolidate_single_label([a["labels"][0] for a in answers])
        result = {"label": single.label, "votes": single.votes, "tied": list(single.tied)}
        return result, single.confidence, single.needs_review
    if task_type == TaskType.MULTI_LABEL:
        multi = consolidation.consolidate_multi_label([a["labels"] for a in answers])
        result = {"labels": list(multi.labels), "confidences": multi.confidences}
        confidence = min((multi.confidences[label] for label in multi.labels), default=None)
        return result, confidence, multi.needs_review
    if task_type == TaskType.BOUNDING_BOX:
        boxes = consolidation.consolidate_boxes([[consolidation.Box(**box) for box in a["boxes"]] for a in answers])
        result = {"boxes": [asdict(box) for box in boxes.boxes]}
        confidence = fmean(box.confidence for box in boxes.boxes) if boxes.boxes else None
        return result, confidence, boxes.needs_review
    verification = consolidation.consolidate_verification([(a["verdict"], a.get("comment")) for a in answers])
    result = {"verdict": verification.verdict, "comments": list(verification.comments)}
    return result, verification.confidence, verification.needs_review


def write_back(*, job: LabelingJob, image: Image, result: dict[str, Any]) -> None:
    """Write a result with an answer into the image's entry, replacing the entry's labels or boxes of the job's
    labels (a verification result writes nothing). Raises the dataset's InvalidInput codes."""
    own = set(job.labels)
    if job.task_type in (TaskType.CLASSIFICATION, TaskType.MULTI_LABEL):
        kept = [
            name
            for name in ImageLabel.objects.filter(image_id=image.pk)
            .order_by("id")
            .values_list("label__name", flat=True)
            if name not in own
        ]
        new = [result["label"]] if job.task_type == TaskType.CLASSIFICATION else result["labels"]
        labels = [*kept, *new]
        entry_update(
            dataset_id=job.dataset_id, entry_id=image.pk, user=None, labels=labels, origin=Origin.JOB, origin_id=job.pk
        )
    elif job.task_type == TaskType.BOUNDING_BOX:
        kept_boxes = [
            BoxInput(box.label.name, box.left, box.top, box.width, box.height, box.confidence)
            for box in BoundingBox.objects.filter(image_id=image.pk).select_related("label").order_by("id")
            if box.label.name not in own
        ]
        new_boxes = [
            BoxInput(box["label"], box["left"], box["top"], box["width"], box["height"], box["confidence"])
            for box in result["boxes"]
        ]
        entry_update(
            dataset_id=job.dataset_id,
            entry_id=image.pk,
            user=None,
            boxes=[*kept_boxes, *new_boxes],
            origin=Origin.JOB,
            origin_id=job.pk,
        )


def job_complete_if_done(*, job_id: int, now: datetime) -> None:
    """Done when every task is complete or accepted (a task in review holds the job open)."""
    LabelingJob.objects.filter(pk=job_id, completed_count__gte=F("image_count")).exclude(
        status=JobStatus.COMPLETED
    ).update(status=JobStatus.COMPLETED, completed_at=now)


def task_consolidate(*, task: Task, job: LabelingJob, image: Image, now: datetime) -> Task:
    """Consolidate the task's submitted answers, write the result back, and count the task done or in review.

    The caller holds the task's row lock. A write the dataset refuses (say, more than 50 boxes on the entry)
    puts the task in review with the error in its result instead of failing the worker's submission.
    """
    answers = list(
        Assignment.objects.filter(task_id=task.pk, status=AssignmentStatus.SUBMITTED)
        .order_by("id")
        .values_list("answer", flat=True)
    )
    result, confidence, needs_review = consolidate_answers(task_type=job.task_type, answers=answers)
    status = TaskStatus.REVIEW if needs_review else TaskStatus.COMPLETE
    if status == TaskStatus.COMPLETE:
        try:
            with transaction.atomic():
                write_back(job=job, image=image, result=result)
        except GroundworkError as exc:
            status = TaskStatus.REVIEW
            result["write_error"] = {"code": exc.code, "message": exc.message}
    Task.objects.filter(pk=task.pk).update(status=status, result=result, confidence=confidence, completed_at=now)
    task.status, task.result, task.confidence, task.completed_at = status, result, confidence, now
    if status == TaskStatus.COMPLETE:
        LabelingJob.objects.filter(pk=job.pk).update(completed_count=F("completed_count") + 1)
        job_complete_if_done(job_id=job.pk, now=now)
    else:
        LabelingJob.objects.filter(pk=job.pk).update(review_count=F("review_count") + 1)
    return task
