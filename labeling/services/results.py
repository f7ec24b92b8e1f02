"""Consolidating an image's answers and writing the result into its dataset entry with the job as provenance.

Entries change only through `datasets.services.annotations.entries_replace_annotations`, which locks the
dataset and keeps its stats and label counts exact. The last answer of an image consolidates it in the worker's
request; the complete results are written to their entries afterwards, in batches (`results_write_back`, a
Celery task queued by the consolidation and swept periodically), so that annotators' submissions never queue
on the dataset's lock and hundreds of results share one write.

The job decides about its own labels only: a classification or multi-label result replaces the entry's
image-level labels that are among the job's labels and keeps the others; a bounding-box result replaces the
entry's boxes of the job's labels. A verification result is stored on the task (for review and the output
manifest) and changes no label: verifiers judge labels, they do not edit them.

A result that needs review (a tie, a half-chosen label or box; see labeling.consolidation) writes nothing:
the task waits in `review` for a reviewer.
"""

import logging
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import asdict
from datetime import datetime
from statistics import fmean
from typing import Any

from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone

from core.errors import GroundworkError
from datasets.models import BoundingBox, Image, ImageLabel, Origin
from datasets.services.annotations import AnnotationChange, entries_replace_annotations
from datasets.services.stats import dataset_lock
from datasets.validation import BoxInput
from labeling import consolidation, queue_sql
from labeling.label_changes import resolve_result
from labeling.models import JobStatus, LabelingJob, Task, TaskStatus, TaskType

logger = logging.getLogger(__name__)

WRITE_BACK_BATCH = 500


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


def _result_labels(result: dict[str, Any]) -> list[str]:
    """The image-level labels of a classification or multi-label result (a deleted label is None)."""
    if "labels" in result:
        return result["labels"]
    return [result["label"]] if result["label"] is not None else []


def _changes(*, job: LabelingJob, results: Mapping[int, dict[str, Any]]) -> list[AnnotationChange]:
    """The entry changes of results by image id: each entry keeps what is not the job's and takes the result
    (two queries at most, whatever the number of images)."""
    own = set(job.labels)
    ids = list(results)
    if job.task_type in (TaskType.CLASSIFICATION, TaskType.MULTI_LABEL):
        kept: dict[int, list[str]] = defaultdict(list)
        links = ImageLabel.objects.filter(image_id__in=ids).order_by("id").values_list("image_id", "label__name")
        for image_id, name in links:
            if name not in own:
                kept[image_id].append(name)
        return [
            AnnotationChange(image_id, labels=[*kept[image_id], *_result_labels(r)]) for image_id, r in results.items()
        ]
    if job.task_type == TaskType.BOUNDING_BOX:
        kept_boxes: dict[int, list[BoxInput]] = defaultdict(list)
        for box in BoundingBox.objects.filter(image_id__in=ids).select_related("label").order_by("id"):
            if box.label.name not in own:
                kept_boxes[box.image_id].append(
                    BoxInput(box.label.name, box.left, box.top, box.width, box.height, box.confidence)
                )
        return [
            AnnotationChange(
                image_id,
                boxes=[
                    *kept_boxes[image_id],
                    *(
                        BoxInput(b["label"], b["left"], b["top"], b["width"], b["height"], b["confidence"])
                        for b in r["boxes"]
                    ),
                ],
            )
            for image_id, r in results.items()
        ]
    return []  # a verification result changes no label


@transaction.atomic
def write_back_many(*, job: LabelingJob, results: Mapping[int, dict[str, Any]]) -> dict[int, GroundworkError]:
    """Write results (by image id) into their entries with the job as provenance, replacing the entries' labels
    or boxes of the job's labels; returns the dataset's refusals by image id (those entries are unchanged).

    What each entry keeps is read under the dataset's lock, with the job's labels as they are then: an edit,
    rename, merge or delete acknowledged before the write is never undone by it."""
    dataset_lock(dataset_id=job.dataset_id)
    job.labels, renames = LabelingJob.objects.values_list("labels", "label_renames").get(pk=job.pk)
    results = {
        image_id: resolve_result(task_type=job.task_type, result=result, renames=renames)
        for image_id, result in results.items()
    }
    changes = _changes(job=job, results=results)
    if not changes:
        return {}
    return entries_replace_annotations(dataset_id=job.dataset_id, changes=changes, origin=Origin.JOB, origin_id=job.pk)


def write_back(*, job: LabelingJob, image: Image, result: dict[str, Any]) -> None:
    """Write one result at once (a reviewer's decision). Raises the dataset's InvalidInput codes."""
    refused = write_back_many(job=job, results={image.pk: result})
    if image.pk in refused:
        raise refused[image.pk]


def job_complete_if_done(*, job_id: int, now: datetime) -> None:
    """Done when every task is complete or accepted and written (a task in review holds the job open, and so
    does a result waiting for the write-back)."""
    pending = Task.objects.filter(job_id=OuterRef("pk"), status=TaskStatus.COMPLETE, written_at__isnull=True)
    LabelingJob.objects.filter(pk=job_id, completed_count__gte=F("image_count")).exclude(
        status=JobStatus.COMPLETED
    ).exclude(Exists(pending)).update(status=JobStatus.COMPLETED, completed_at=now)


def task_consolidate(*, task: Task, job: LabelingJob, now: datetime) -> Task:
    """Consolidate the task's submitted answers and count the task complete or in review.

    The caller holds the task's row lock. A complete result is written to its entry by the job's batched
    write-back (`results_write_back`), queued here; a verification result has nothing to write.
    """
    answers = queue_sql.submitted_answers(task.pk)
    result, confidence, needs_review = consolidate_answers(task_type=job.task_type, answers=answers)
    status = TaskStatus.REVIEW if needs_review else TaskStatus.COMPLETE
    written_at = now if status == TaskStatus.COMPLETE and job.task_type == TaskType.VERIFICATION else None
    task.status, task.result, task.confidence, task.completed_at = status, result, confidence, now
    task.written_at = written_at
    queue_sql.store_result(task)
    queue_sql.count_result(job_id=job.pk, complete=status == TaskStatus.COMPLETE)
    if status == TaskStatus.REVIEW:
        return task
    if written_at is None:
        write_back_queue(job_id=job.pk)
    else:
        job_complete_if_done(job_id=job.pk, now=now)
    return task


def write_back_queue(*, job_id: int) -> None:
    """Queue the job's write-back once the transaction commits, unless one is queued already."""
    if queue_sql.mark_write_back_queued(job_id):
        from labeling.tasks import write_back_results  # the task module imports the services

        delay = settings.LABELING_WRITE_BACK_DELAY_S
        # Robust: the answer is stored whatever the broker does; a lost message is the periodic sweep's.
        transaction.on_commit(lambda: write_back_results.apply_async((job_id,), countdown=delay), robust=True)


def results_write_back(*, job_id: int, limit: int = WRITE_BACK_BATCH, now: datetime | None = None) -> int:
    """Write up to `limit` complete results of the job into their entries, in one transaction and one dataset
    lock; returns how many tasks it settled. A result the dataset refuses (say, more than 50 boxes on the
    entry) puts its task in review with the error in its result, as a reviewer must decide."""
    now = now or timezone.now()
    with transaction.atomic():
        # The dataset's lock first: waiting for it (behind PATCHes) while holding the job's row would hold up
        # every submit, which counts its result on that row.
        dataset_id = LabelingJob.objects.values_list("dataset_id", flat=True).filter(pk=job_id).first()
        if dataset_id is None:
            return 0
        dataset_lock(dataset_id=dataset_id)
        LabelingJob.objects.filter(pk=job_id, write_back_queued=True).update(write_back_queued=False)
        pending = list(
            Task.objects.filter(job_id=job_id, status=TaskStatus.COMPLETE, written_at__isnull=True)
            .order_by("id")
            .select_for_update(skip_locked=True)
            .values_list("pk", "image_id", "result")[:limit]
        )
        if not pending:
            return 0
        job = LabelingJob.objects.get(pk=job_id)
        results = {image_id: result for _, image_id, result in pending}
        try:
            refused = write_back_many(job=job, results=results)  # a savepoint: an error undoes this write only
        except (OperationalError, InterfaceError):
            raise  # the database out of reach: the sweep writes the batch later
        except Exception:
            logger.exception(
                "Labeling job %s: a write-back of %s results failed; writing them one by one", job_id, len(results)
            )
            refused = _write_back_each(job=job, results=results)
        written = [pk for pk, image_id, _ in pending if image_id not in refused]
        Task.objects.filter(pk__in=written).update(written_at=now)
        for pk, image_id, result in pending:
            if image_id in refused:
                error = refused[image_id]
                Task.objects.filter(pk=pk).update(
                    status=TaskStatus.REVIEW,
                    result={**result, "write_error": {"code": error.code, "message": error.message}},
                )
        if refused:
            LabelingJob.objects.filter(pk=job_id).update(
                completed_count=F("completed_count") - len(refused), review_count=F("review_count") + len(refused)
            )
        job_complete_if_done(job_id=job_id, now=now)
        return len(pending)


def _write_back_each(*, job: LabelingJob, results: Mapping[int, dict[str, Any]]) -> dict[int, GroundworkError]:
    """Write results one at a time, so that one result that cannot be written (a bug) holds back no other: it
    goes to review with `internal_error`, never retried for ever, never blocking the job's end."""
    refused: dict[int, GroundworkError] = {}
    for image_id, result in results.items():
        try:
            refused.update(write_back_many(job=job, results={image_id: result}))
        except (OperationalError, InterfaceError):
            raise
        except Exception:
            logger.exception("Labeling job %s: the result of image %s could not be written", job.pk, image_id)
            refused[image_id] = GroundworkError(
                "The result could not be written (an unexpected error; the worker's log has the traceback).",
                code="internal_error",
            )
    return refused


def jobs_with_pending_write_back(*, older_than: datetime) -> list[int]:
    """Jobs with complete results waiting since before `older_than` (for the periodic sweep)."""
    return list(
        Task.objects.filter(status=TaskStatus.COMPLETE, written_at__isnull=True, completed_at__lte=older_than)
        .order_by("job_id")
        .values_list("job_id", flat=True)
        .distinct()
    )
