"""The work queue: leasing a slot to a worker, releasing it, submitting an answer, and reclaiming leases.

Invariant: `Task.slots_taken` = live leases + submitted answers of the task, never above the job's
`workers_per_image`. Every change of it happens under the task's row lock (`SELECT … FOR UPDATE`, taken with
SKIP LOCKED by the queue so that concurrent workers pass each other instead of queueing on one row). On SQLite,
where `FOR UPDATE` does not exist, writes are serialised by the database. The partial unique indexes of
`Assignment` are the backstop: one worker never holds two slots of one image nor two leases in one job.

Lock order, the same everywhere: assignment rows, then task rows, then (counters) the job row. The dataset is
not touched here: results reach it through the batched write-back of labeling.services.results.
"""

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from core.errors import Conflict, NotFound, PermissionDenied
from labeling import queue_sql
from labeling.answers import clean_answer
from labeling.models import TAKEN, Assignment, AssignmentStatus, JobStatus, LabelingJob, Task, TaskStatus
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


def leases_release_of_worker(*, project_id: int, worker_id: int) -> int:
    """Give back every lease `worker_id` holds in the project's jobs, at once (they left the project); returns how
    many. A lease being submitted this instant is waited for, and left alone once submitted. Must run inside a
    transaction when called from another service; on its own it opens one.
    """
    with transaction.atomic(savepoint=False):
        # Lock order as everywhere here: the assignment rows (only those: `of`), then the tasks' slots.
        rows = list(
            Assignment.objects.filter(worker_id=worker_id, status=AssignmentStatus.LEASED, job__project_id=project_id)
            .select_for_update(of=("self",))
            .values_list("pk", "task_id")
        )
        if not rows:
            return 0
        Assignment.objects.filter(pk__in=[pk for pk, _ in rows]).update(status=AssignmentStatus.RELEASED)
        _return_slots(task_id for _, task_id in rows)
        return len(rows)


def jobs_expire(*, now: datetime | None = None) -> int:
    """Jobs past their lifetime that are not done become `expired` (their open tasks get no more workers)."""
    now = now or timezone.now()
    return LabelingJob.objects.filter(status=JobStatus.IN_PROGRESS, expires_at__lte=now).update(
        status=JobStatus.EXPIRED
    )


@transaction.atomic
def assignment_claim_next(
    *,
    job: LabelingJob,
    worker: AbstractBaseUser,
    now: datetime | None = None,
    state: queue_sql.QueueState | None = None,
) -> Assignment | None:
    """A lease on one slot of the oldest open task that `worker` has not answered or held; None when none is left.

    A worker already holding a live lease in the job gets that one back. Leases of the job past their time are
    reclaimed first. Images the worker released come back to them only when nothing else is left. Raises
    PermissionDenied `not_in_team` for a project member outside the job's team, Conflict `job_expired` past the
    job's lifetime. The returned assignment has its task and image loaded.

    This is the hot path of every annotator (see labeling.queue_sql): `state` is the worker's QueueState at
    `now` when the caller read it with the job; the lease goes in with ON CONFLICT DO NOTHING rather than a
    savepoint.
    """
    now = now or timezone.now()
    in_team, held, stale = state or queue_sql.queue_state(job=job, worker_id=worker.pk, now=now)
    if not in_team:
        raise PermissionDenied("Only members of the job's team get its work.", code="not_in_team")
    if job.status == JobStatus.EXPIRED or (job.status == JobStatus.IN_PROGRESS and job.expires_at <= now):
        raise Conflict("The job's lifetime is over: it hands out no more work.", code="job_expired")
    if job.status != JobStatus.IN_PROGRESS:
        return None
    if held is not None:
        return queue_sql.assignment_with_image(held)
    if stale:
        leases_expire(now=now, job_id=job.pk)
    # Images the worker gave back are passed over while there is another one.
    task_id = queue_sql.take_open_slot(job=job, worker_id=worker.pk, passed_over=(*TAKEN, AssignmentStatus.RELEASED))
    if task_id is None:
        task_id = queue_sql.take_open_slot(job=job, worker_id=worker.pk, passed_over=TAKEN)
    if task_id is None:
        # Every candidate may be locked by other workers this instant (SKIP LOCKED passed them): "nothing left"
        # must mean nothing is left, so the last look waits for those locks (only at the tail of a job).
        task_id = queue_sql.take_open_slot(job=job, worker_id=worker.pk, passed_over=TAKEN, wait=True)
    if task_id is None:
        return None
    assignment_id = queue_sql.insert_lease(job=job, task_id=task_id, worker_id=worker.pk, now=now)
    if assignment_id is None:  # the same worker asked twice at once: the other request's lease stands
        _return_slots([task_id])
        held = queue_sql.queue_state(job=job, worker_id=worker.pk, now=now).held
        return None if held is None else queue_sql.assignment_with_image(held)
    return queue_sql.assignment_with_image(assignment_id)


# Checks the caller's access to an assignment from its project and the caller's role there (None when not a
# member), raising NotFound or PermissionDenied: the view's rule (projects.permissions.member_access), run on the
# row the service loads and locks, so that the lock and the check take one statement.
AccessCheck = Callable[[int | None, str | None], None]


def _locked_assignment(*, assignment_id: int, worker: AbstractBaseUser, check_access: AccessCheck | None) -> Assignment:
    assignment, role = queue_sql.locked_assignment(assignment_id=assignment_id, user_id=worker.pk)
    if check_access is not None:
        check_access(assignment and assignment.job.project_id, role)
    if assignment is None:
        raise NotFound(f"Assignment {assignment_id} not found.")
    if assignment.worker_id != worker.pk:
        raise PermissionDenied("This assignment is another worker's.", code="not_your_assignment")
    return assignment


@transaction.atomic
def assignment_release(
    *, assignment_id: int, worker: AbstractBaseUser, check_access: AccessCheck | None = None
) -> Assignment:
    """Give a leased slot back to the queue at once. Raises Conflict `assignment_not_leased`."""
    assignment = _locked_assignment(assignment_id=assignment_id, worker=worker, check_access=check_access)
    if assignment.status != AssignmentStatus.LEASED:
        raise Conflict(f"This assignment is {assignment.status}, not leased.", code="assignment_not_leased")
    Assignment.objects.filter(pk=assignment.pk).update(status=AssignmentStatus.RELEASED)
    _return_slots([assignment.task_id])
    assignment.status = AssignmentStatus.RELEASED
    return assignment


@transaction.atomic
def assignment_submit(
    *,
    assignment_id: int,
    worker: AbstractBaseUser,
    answer: Mapping[str, Any],
    now: datetime | None = None,
    check_access: AccessCheck | None = None,
) -> Assignment:
    """Store the worker's answer; the image's last answer consolidates it and writes the result back.

    Raises PermissionDenied `not_your_assignment`; Conflict `lease_expired` (past the time limit, or reclaimed),
    `already_submitted`, `assignment_not_leased` (released); InvalidInput `invalid_answer`, `box_outside_image`.
    """
    now = now or timezone.now()
    assignment = _locked_assignment(assignment_id=assignment_id, worker=worker, check_access=check_access)
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
    queue_sql.record_answer(assignment)
    answer_count, task_status = queue_sql.count_answer(assignment.task_id)
    task = Task(pk=assignment.task_id, answer_count=answer_count, status=task_status)
    if task.answer_count >= job.workers_per_image and task.status == TaskStatus.OPEN:
        task_consolidate(task=task, job=job, now=now)
    return assignment
