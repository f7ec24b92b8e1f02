"""The work queue: leasing a slot to a worker, releasing it, submitting an answer, and reclaiming leases.

Invariant: `Task.slots_taken` = live leases + submitted answers of the task, never above the job's
`workers_per_image`. Every change of it happens under the task's row lock (`SELECT … FOR UPDATE`, taken with
SKIP LOCKED by the queue so that concurrent workers pass each other instead of queueing on one row). On SQLite,
where `FOR UPDATE` does not exist, writes are serialised by the database. The partial unique indexes of
`Assignment` are the backstop: one worker never holds two slots of one image nor two leases in one job.

Lock order, the same everywhere: assignment rows, then task rows, then (consolidation) the dataset row.
"""

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from core.errors import Conflict, NotFound, PermissionDenied
from labeling.answers import clean_answer
from labeling.models import TAKEN, Assignment, AssignmentStatus, JobStatus, LabelingJob, Task, TaskStatus, Team
from labeling.queue_rows import assignment_with_image, locked_assignment
from labeling.services.results import task_consolidate

RECLAIM_BATCH = 500


def _return_slots(task_ids: Iterable[int]) -> None:
    """Give one slot back per occurrence of a task id (one UPDATE per distinct multiplicity, usually one)."""
    by_count: dict[int, list[int]] = defaultdict(list)
    for task_id, count in Counter(task_ids).items():
        by_count[count].append(task_id)
    for count, ids in by_count.items():
        Task.objects.filter(pk__in=ids).update(slots_taken=F("slots_taken") - count)


def leases_expire(*, now: datetime | None = None, job_id: int | None = None, limit: int = RECLAIM_BATCH) -> int:
    """Mark up to `limit` leases past their time limit expired and return their slots; returns how many.

    Leases locked by a concurrent submit or release are skipped (that transaction decides their fate). Must run
    inside a transaction when called from another service; on its own it opens one.
    """
    now = now or timezone.now()
    with transaction.atomic(savepoint=False):
        stale = Assignment.objects.filter(status=AssignmentStatus.LEASED, expires_at__lte=now)
        if job_id is not None:
            stale = stale.filter(job_id=job_id)
        rows = list(
            stale.order_by("expires_at").select_for_update(skip_locked=True).values_list("pk", "task_id")[:limit]
        )
        if not rows:
            return 0
        Assignment.objects.filter(pk__in=[pk for pk, _ in rows]).update(status=AssignmentStatus.EXPIRED)
        _return_slots(task_id for _, task_id in rows)
        return len(rows)


def jobs_expire(*, now: datetime | None = None) -> int:
    """Jobs past their lifetime that are not done become `expired` (their open tasks get no more workers)."""
    now = now or timezone.now()
    return LabelingJob.objects.filter(status=JobStatus.IN_PROGRESS, expires_at__lte=now).update(
        status=JobStatus.EXPIRED
    )


def _claim_open_task(*, job: LabelingJob, worker_id: int, skip_released: bool) -> int | None:
    """Lock and return the oldest open task with a free slot that the worker has not taken; None when none is.

    With `skip_released`, tasks the worker gave back are passed over too, so that "skip" shows another image
    while there is one. Plain SQL: on the queue's hot path the ORM spends more time building this statement
    than the database spends running it.
    """
    taken = [*TAKEN, *((AssignmentStatus.RELEASED,) if skip_released else ())]
    tasks, assignments = Task._meta.db_table, Assignment._meta.db_table
    lock = " FOR UPDATE OF t SKIP LOCKED" if connection.features.has_select_for_update_skip_locked else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT t.id FROM {tasks} t
                WHERE t.job_id = %s AND t.status = %s AND t.slots_taken < %s
                  AND NOT EXISTS (SELECT 1 FROM {assignments} a WHERE a.task_id = t.id AND a.worker_id = %s
                                    AND a.status IN ({", ".join(["%s"] * len(taken))}))
                ORDER BY t.id LIMIT 1{lock}""",  # noqa: S608 - table names from model metadata
            [job.pk, TaskStatus.OPEN, job.workers_per_image, worker_id, *taken],
        )
        row = cursor.fetchone()
    return None if row is None else row[0]


def _queue_state(*, job: LabelingJob, worker_id: int, now: datetime) -> tuple[bool, int | None, bool]:
    """Whether the worker is in the job's team, the id of their live lease in the job if any, and whether any
    lease of the job is past its time (one query)."""
    members, assignments = Team.members.through._meta.db_table, Assignment._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT EXISTS (SELECT 1 FROM {members} WHERE team_id = %s AND user_id = %s),
                       (SELECT id FROM {assignments} WHERE job_id = %s AND worker_id = %s AND status = %s
                          AND expires_at > %s),
                       EXISTS (SELECT 1 FROM {assignments} WHERE status = %s AND expires_at <= %s AND job_id = %s)""",  # noqa: S608 - table names from model metadata
            [
                job.team_id,
                worker_id,
                job.pk,
                worker_id,
                AssignmentStatus.LEASED,
                now,
                AssignmentStatus.LEASED,
                now,
                job.pk,
            ],
        )
        in_team, held, stale = cursor.fetchone()
    return bool(in_team), held, bool(stale)


def _lease(*, job: LabelingJob, task_id: int, worker_id: int, now: datetime) -> int | None:
    """Insert the lease; None when a unique index refuses it (the same worker asked twice at once)."""
    table = Assignment._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO {table} (task_id, job_id, worker_id, status, leased_at, expires_at)
                VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING id""",  # noqa: S608 - as above
            [task_id, job.pk, worker_id, AssignmentStatus.LEASED, now, now + timedelta(seconds=job.task_time_limit_s)],
        )
        row = cursor.fetchone()
    return None if row is None else row[0]


@transaction.atomic
def assignment_claim_next(
    *, job: LabelingJob, worker: AbstractBaseUser, now: datetime | None = None
) -> Assignment | None:
    """A lease on one slot of the oldest open task that `worker` has not answered or held; None when none is left.

    A worker already holding a live lease in the job gets that one back. Leases of the job past their time are
    reclaimed first. Images the worker released come back to them only when nothing else is left. Raises
    PermissionDenied `not_in_team` for a project member outside the job's team, Conflict `job_expired` past the
    job's lifetime. The returned assignment has its task and image loaded.

    This is the hot path of every annotator: its statements select ids only, and the lease goes in with
    ON CONFLICT DO NOTHING rather than a savepoint.
    """
    now = now or timezone.now()
    in_team, held, stale = _queue_state(job=job, worker_id=worker.pk, now=now)
    if not in_team:
        raise PermissionDenied("Only members of the job's team get its work.", code="not_in_team")
    if job.status == JobStatus.EXPIRED or (job.status == JobStatus.IN_PROGRESS and job.expires_at <= now):
        raise Conflict("The job's lifetime is over: it hands out no more work.", code="job_expired")
    if job.status != JobStatus.IN_PROGRESS:
        return None
    if held is not None:
        return assignment_with_image(held)
    if stale:
        leases_expire(now=now, job_id=job.pk)
    task_id = _claim_open_task(job=job, worker_id=worker.pk, skip_released=True)
    if task_id is None:
        task_id = _claim_open_task(job=job, worker_id=worker.pk, skip_released=False)
    if task_id is None:
        return None
    assignment_id = _lease(job=job, task_id=task_id, worker_id=worker.pk, now=now)
    if assignment_id is None:
        _, held, _ = _queue_state(job=job, worker_id=worker.pk, now=now)
        return None if held is None else assignment_with_image(held)
    _take_slot(task_id)
    return assignment_with_image(assignment_id)


def _take_slot(task_id: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {Task._meta.db_table} SET slots_taken = slots_taken + 1 WHERE id = %s", [task_id])  # noqa: S608


def _count_answer(task_id: int) -> Task:
    """Add one answer to the task and lock its row until the transaction ends (one statement: the count that
    decides whether this answer completes the image is the one this transaction wrote)."""
    table = Task._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET answer_count = answer_count + 1 WHERE id = %s RETURNING answer_count, status",  # noqa: S608 - table name from model metadata
            [task_id],
        )
        answer_count, status = cursor.fetchone()
    return Task(pk=task_id, answer_count=answer_count, status=status)


def _locked_assignment(*, assignment_id: int, worker: AbstractBaseUser) -> Assignment:
    assignment = locked_assignment(assignment_id)
    if assignment is None:
        raise NotFound(f"Assignment {assignment_id} not found.")
    if assignment.worker_id != worker.pk:
        raise PermissionDenied("This assignment is another worker's.", code="not_your_assignment")
    return assignment


def _record_answer(assignment: Assignment) -> None:
    """Store the submitted answer (status, answer, times) in one plain UPDATE."""
    columns = ("status", "answer", "submitted_at", "seconds_spent")
    fields = [Assignment._meta.get_field(name) for name in columns]
    values = [field.get_db_prep_save(getattr(assignment, field.attname), connection) for field in fields]
    assignments = Assignment._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {assignments} SET {', '.join(f'{f.column} = %s' for f in fields)} WHERE id = %s",  # noqa: S608
            [*values, assignment.pk],
        )


@transaction.atomic
def assignment_release(*, assignment_id: int, worker: AbstractBaseUser) -> Assignment:
    """Give a leased slot back to the queue at once. Raises Conflict `assignment_not_leased`."""
    assignment = _locked_assignment(assignment_id=assignment_id, worker=worker)
    if assignment.status != AssignmentStatus.LEASED:
        raise Conflict(f"This assignment is {assignment.status}, not leased.", code="assignment_not_leased")
    Assignment.objects.filter(pk=assignment.pk).update(status=AssignmentStatus.RELEASED)
    _return_slots([assignment.task_id])
    assignment.status = AssignmentStatus.RELEASED
    return assignment


@transaction.atomic
def assignment_submit(
    *, assignment_id: int, worker: AbstractBaseUser, answer: Mapping[str, Any], now: datetime | None = None
) -> Assignment:
    """Store the worker's answer; the image's last answer consolidates it and writes the result back.

    Raises PermissionDenied `not_your_assignment`; Conflict `lease_expired` (past the time limit, or reclaimed),
    `already_submitted`, `assignment_not_leased` (released); InvalidInput `invalid_answer`, `box_outside_image`.
    """
    now = now or timezone.now()
    assignment = _locked_assignment(assignment_id=assignment_id, worker=worker)
    if assignment.status == AssignmentStatus.SUBMITTED:
        raise Conflict("This assignment was submitted already.", code="already_submitted")
    if assignment.status == AssignmentStatus.EXPIRED or (
        assignment.status == AssignmentStatus.LEASED and assignment.expires_at <= now
    ):
        raise Conflict("The lease ran out before the answer came; ask for new work.", code="lease_expired")
    if assignment.status != AssignmentStatus.LEASED:
        raise Conflict(f"This assignment is {assignment.status}, not leased.", code="assignment_not_leased")
    job, image = assignment.job, assignment.task.image
    cleaned = clean_answer(
        answer, task_type=job.task_type, job_labels=job.labels, image_width=image.width, image_height=image.height
    )
    assignment.status = AssignmentStatus.SUBMITTED
    assignment.answer = cleaned
    assignment.submitted_at = now
    assignment.seconds_spent = round((now - assignment.leased_at).total_seconds(), 3)
    _record_answer(assignment)
    task = _count_answer(assignment.task_id)
    if task.answer_count >= job.workers_per_image and task.status == TaskStatus.OPEN:
        task_consolidate(task=task, job=job, now=now)
    return assignment
