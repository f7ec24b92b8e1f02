"""A reviewer's decisions on a consolidated task: accept it (with their own answer if they like) or send it back.

Lock order as in labeling.services.queue: assignment rows, then the task row, then (write-back) the dataset row.
The job's counters stay exact: `completed_count` counts complete and accepted tasks, `review_count` tasks in
review; a job is completed when every task is complete or accepted, and in progress again when one is sent back.
"""

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from core.errors import Conflict, InvalidInput
from labeling import stored
from labeling.answers import clean_answer
from labeling.models import Assignment, AssignmentStatus, JobStatus, LabelingJob, Task, TaskStatus
from labeling.services.results import job_complete_if_done, write_back

MAX_NOTE_CHARS = 2000


def _not_consolidated(task: Task) -> Conflict:
    return Conflict("This task has no consolidated answers yet: wait for its workers.", code="task_open")


@transaction.atomic
def task_accept(
    *, task_id: int, user: AbstractBaseUser, answer: Mapping[str, Any] | None = None, now: datetime | None = None
) -> Task:
    """Accept a consolidated task: write its answer (the reviewer's `answer`, else the consolidated one) to the
    dataset entry with the job as provenance, replacing what the job wrote there before, and mark it accepted.

    Accepting an accepted task again writes again (a reviewer may change their answer). Raises Conflict
    `task_open`; InvalidInput `answer_required` (a tie has no answer of its own), `invalid_answer`,
    `box_outside_image`, and the dataset's refusals (`too_many_boxes`, ...), with nothing written.
    """
    now = now or timezone.now()
    task = Task.objects.select_for_update(of=("self",)).select_related("job", "image").get(pk=task_id)
    job, image = task.job, task.image
    if task.status == TaskStatus.OPEN:
        raise _not_consolidated(task)
    if answer is not None:
        cleaned = clean_answer(
            answer, task_type=job.task_type, job_labels=job.labels, image_width=image.width, image_height=image.height
        )
        result, confidence = stored.reviewed_result(job.task_type, cleaned, previous=task.result)
    elif stored.has_answer(job.task_type, task.result):
        result = {key: value for key, value in task.result.items() if key != "write_error"}
        confidence = task.confidence
    else:
        raise InvalidInput(
            "The workers tied: give the answer to accept.", code="answer_required", fields={"answer": "Required."}
        )
    write_back(job=job, image=image, result=result)
    was = task.status
    task.status, task.result, task.confidence = TaskStatus.ACCEPTED, result, confidence
    task.reviewed_by, task.reviewed_at, task.review_note = user, now, ""
    task.completed_at, task.written_at = task.completed_at or now, now
    task.save(
        update_fields=[
            "status",
            "result",
            "confidence",
            "reviewed_by",
            "reviewed_at",
            "review_note",
            "completed_at",
            "written_at",
        ]
    )
    if was == TaskStatus.REVIEW:
        LabelingJob.objects.filter(pk=job.pk).update(
            review_count=F("review_count") - 1, completed_count=F("completed_count") + 1
        )
        job_complete_if_done(job_id=job.pk, now=now)
    return task


@transaction.atomic
def task_send_back(*, task_id: int, user: AbstractBaseUser, reason: str = "", now: datetime | None = None) -> Task:
    """Set the task's answers aside and give all its slots back to the queue, for workers who have not answered it.

    The answers stay stored, `discarded`: they count no more in consolidation or statistics, and their workers
    are not given the task again. What the job wrote to the entry stays until the new answers replace it. The
    job is in progress again. Raises Conflict `task_open`, `job_expired` (no one could answer it any more);
    InvalidInput `invalid_reason`.
    """
    now = now or timezone.now()
    if len(reason) > MAX_NOTE_CHARS:
        raise InvalidInput(
            f"A reason has at most {MAX_NOTE_CHARS} characters.", code="invalid_reason", fields={"reason": "Too long."}
        )
    answers = list(
        Assignment.objects.select_for_update()
        .filter(task_id=task_id, status=AssignmentStatus.SUBMITTED)
        .values_list("pk", flat=True)
    )
    task = Task.objects.select_for_update(of=("self",)).select_related("job").get(pk=task_id)
    job = task.job
    if task.status == TaskStatus.OPEN:
        raise _not_consolidated(task)
    if job.status == JobStatus.EXPIRED or job.expires_at <= now:
        raise Conflict("The job's lifetime is over: no one could answer the task again.", code="job_expired")
    Assignment.objects.filter(pk__in=answers).update(status=AssignmentStatus.DISCARDED)
    was = task.status
    Task.objects.filter(pk=task.pk).update(
        status=TaskStatus.OPEN,
        slots_taken=F("slots_taken") - len(answers),
        answer_count=F("answer_count") - len(answers),
        result=None,
        confidence=None,
        completed_at=None,
        written_at=None,
        reviewed_by=user,
        reviewed_at=now,
        review_note=reason,
    )
    counter = "review_count" if was == TaskStatus.REVIEW else "completed_count"
    LabelingJob.objects.filter(pk=job.pk).update(**{counter: F(counter) - 1})
    LabelingJob.objects.filter(pk=job.pk, status=JobStatus.COMPLETED).update(
        status=JobStatus.IN_PROGRESS, completed_at=None
    )
    task.refresh_from_db()
    return task
