"""The queue's statements, written by hand: every annotator's `next` and `submit` run them.

On this path the ORM spent more CPU building statements than PostgreSQL spent running them, and PostgreSQL
spent more planning them than running them. So they are plain SQL, written once from the models' metadata, run
as prepared statements (core.raw_rows.hot_cursor), with their statuses written in as literals so that the
plan kept for a prepared statement can use the partial indexes made for those statuses. Rows come back as
model instances, as the ORM makes them. The rules (who gets what, when) stay in labeling.services.queue.
"""

import re
from collections.abc import Iterable
from datetime import datetime, timedelta
from functools import cache
from typing import Any, NamedTuple

from django.db import connection

from core.raw_rows import ModelColumns, RowUpdate, hot_cursor, split_row, table
from datasets.models import Image
from labeling.models import Assignment, AssignmentStatus, LabelingJob, Task, TaskStatus, Team
from projects.models import Membership

JOB_FIELDS_FOR_ANSWERS = ("task_type", "labels", "workers_per_image", "dataset_id", "project_id")
LEASED = AssignmentStatus.LEASED


def literal(value: str) -> str:
    """A status as an SQL literal (statuses are lowercase words, never user input)."""
    if not re.fullmatch(r"[a-z_]+", value):
        raise ValueError(f"not a status: {value!r}")
    return f"'{value}'"


def literals(values: Iterable[str]) -> str:
    return ", ".join(literal(value) for value in values)


def _fetch_one(sql: str, params: list[Any]) -> tuple | None:
    with hot_cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def _role_join(job_alias: str) -> str:
    """A LEFT JOIN of the caller's membership in the job's project (the caller's id is its first parameter)."""
    return f"LEFT JOIN {table(Membership)} m ON m.project_id = {job_alias}.project_id AND m.user_id = %s"


# --- reads ---------------------------------------------------------------------------------------------


class QueueState(NamedTuple):
    in_team: bool  # the worker is in the job's team
    held: int | None  # the id of the worker's live lease in the job
    stale: bool  # some lease of the job is past its time


def _queue_state_columns(job_alias: str) -> str:
    """The QueueState of a job row (parameters: the worker's id twice, then the time twice)."""
    members, assignments = table(Team.members.through), table(Assignment)
    return f"""EXISTS (SELECT 1 FROM {members} WHERE team_id = {job_alias}.team_id AND user_id = %s),
               (SELECT id FROM {assignments} WHERE job_id = {job_alias}.id AND worker_id = %s
                  AND status = {literal(LEASED)} AND expires_at > %s),
               EXISTS (SELECT 1 FROM {assignments} WHERE status = {literal(LEASED)} AND expires_at <= %s
                         AND job_id = {job_alias}.id)"""  # noqa: S608


@cache
def _job_for_worker() -> tuple[str, ModelColumns]:
    job = ModelColumns(LabelingJob, "j")
    sql = (
        f"SELECT {job.sql}, m.role, {_queue_state_columns('j')} FROM {table(LabelingJob)} j "  # noqa: S608
        f"{_role_join('j')} WHERE j.id = %s"
    )
    return sql, job


def job_for_worker(
    *, job_id: int, user_id: int | None, now: datetime
) -> tuple[LabelingJob | None, str | None, QueueState | None]:
    """The job, the caller's role in its project (None when not a member) and the caller's QueueState in it at
    `now`, in one statement; (None, None, None) for no such job."""
    sql, job = _job_for_worker()
    row = _fetch_one(sql, [user_id, user_id, now, now, user_id, job_id])
    if row is None:
        return None, None, None
    split = len(job)
    in_team, held, stale = row[split + 1 :]
    return job.instance(row[:split]), row[split], QueueState(bool(in_team), held, bool(stale))


@cache
def _queue_state() -> str:
    return f"SELECT {_queue_state_columns('j')} FROM {table(LabelingJob)} j WHERE j.id = %s"  # noqa: S608


def queue_state(*, job: LabelingJob, worker_id: int, now: datetime) -> QueueState:
    """The worker's QueueState in the job at `now`."""
    in_team, held, stale = _fetch_one(_queue_state(), [worker_id, worker_id, now, now, job.pk])
    return QueueState(bool(in_team), held, bool(stale))


@cache
def _take_open_slot(passed_over: tuple[str, ...], wait: bool) -> str:
    if not connection.features.has_select_for_update_skip_locked:
        lock = ""
    else:
        lock = " FOR UPDATE OF t" if wait else " FOR UPDATE OF t SKIP LOCKED"
    tasks = table(Task)
    return f"""UPDATE {tasks} SET slots_taken = slots_taken + 1 WHERE id = (
                   SELECT t.id FROM {tasks} t
                   WHERE t.job_id = %s AND t.status = {literal(TaskStatus.OPEN)} AND t.slots_taken < %s
                     AND NOT EXISTS (SELECT 1 FROM {table(Assignment)} a WHERE a.task_id = t.id AND a.worker_id = %s
                                       AND a.status IN ({literals(passed_over)}))
                   ORDER BY t.id LIMIT 1{lock})
               RETURNING id"""  # noqa: S608


def take_open_slot(*, job: LabelingJob, worker_id: int, passed_over: tuple[str, ...], wait: bool = False) -> int | None:
    """Take a slot of the oldest open task of the job with a free one and no assignment of the worker in the
    `passed_over` statuses, and return the task's id (its row stays locked); None when there is none. Tasks
    locked by other workers are skipped, unless `wait`: then the statement waits for them and sees them as
    their transactions left them."""
    row = _fetch_one(_take_open_slot(passed_over, wait), [job.pk, job.workers_per_image, worker_id])
    return None if row is None else row[0]


@cache
def _locked_assignment() -> tuple[str, ModelColumns, ModelColumns, ModelColumns, ModelColumns]:
    assignment = ModelColumns(Assignment, "a")
    job = ModelColumns(LabelingJob, "j", only=JOB_FIELDS_FOR_ANSWERS)
    task = ModelColumns(Task, "t", only=("image_id",))
    image = ModelColumns(Image, "i", only=("width", "height"))
    lock = " FOR UPDATE OF a" if connection.features.has_select_for_update_of else ""
    sql = (
        f"SELECT {assignment.sql}, {job.sql}, {task.sql}, {image.sql}, m.role FROM {table(Assignment)} a "  # noqa: S608
        f"JOIN {table(LabelingJob)} j ON j.id = a.job_id JOIN {table(Task)} t ON t.id = a.task_id "
        f"JOIN {table(Image)} i ON i.id = t.image_id {_role_join('j')} WHERE a.id = %s{lock}"
    )
    return sql, assignment, job, task, image


def locked_assignment(*, assignment_id: int, user_id: int | None) -> tuple[Assignment | None, str | None]:
    """The assignment, its row locked until the transaction ends, with `job` (the fields answers are checked
    against and its project) and `task.image` (its size); and the caller's role in the job's project."""
    sql, *columns = _locked_assignment()
    row = _fetch_one(sql, [user_id, assignment_id])
    if row is None:
        return None, None
    assignment, job, task, image = split_row(row, *columns)
    task.image = image
    assignment.job, assignment.task = job, task
    return assignment, row[-1]


@cache
def _assignment_with_image() -> tuple[str, ModelColumns, ModelColumns, ModelColumns]:
    assignment, task, image = ModelColumns(Assignment, "a"), ModelColumns(Task, "t"), ModelColumns(Image, "i")
    sql = (
        f"SELECT {assignment.sql}, {task.sql}, {image.sql} FROM {table(Assignment)} a "  # noqa: S608
        f"JOIN {table(Task)} t ON t.id = a.task_id JOIN {table(Image)} i ON i.id = t.image_id WHERE a.id = %s"
    )
    return sql, assignment, task, image


def assignment_with_image(assignment_id: int) -> Assignment:
    """The assignment with its task and the task's image loaded."""
    sql, *columns = _assignment_with_image()
    assignment, task, image = split_row(_fetch_one(sql, [assignment_id]), *columns)
    task.image = image
    assignment.task = task
    return assignment


# --- writes --------------------------------------------------------------------------------------------


@cache
def _insert_lease() -> str:
    return f"""INSERT INTO {table(Assignment)} (task_id, job_id, worker_id, status, leased_at, expires_at)
               VALUES (%s, %s, %s, {literal(LEASED)}, %s, %s) ON CONFLICT DO NOTHING RETURNING id"""  # noqa: S608


def insert_lease(*, job: LabelingJob, task_id: int, worker_id: int, now: datetime) -> int | None:
    """The new lease's id; None when a unique index refuses it (the same worker asked twice at once)."""
    expires_at = now + timedelta(seconds=job.task_time_limit_s)
    row = _fetch_one(_insert_lease(), [task_id, job.pk, worker_id, now, expires_at])
    return None if row is None else row[0]


def count_answer(task_id: int) -> tuple[int, str]:
    """Add one answer to the task, locking its row until the transaction ends; (answer count, status) after."""
    sql = f"UPDATE {table(Task)} SET answer_count = answer_count + 1 WHERE id = %s RETURNING answer_count, status"  # noqa: S608
    return _fetch_one(sql, [task_id])


_RECORD_ANSWER = RowUpdate(Assignment, ("status", "answer", "submitted_at", "seconds_spent"))


def record_answer(assignment: Assignment) -> None:
    """Store the assignment's status, answer, submission time and seconds spent."""
    _RECORD_ANSWER.run(assignment)


# --- consolidation (the last answer of an image) -------------------------------------------------------


@cache
def _submitted_answers() -> tuple[str, ModelColumns]:
    answer = ModelColumns(Assignment, "a", only=("answer",))
    sql = (
        f"SELECT {answer.sql} FROM {table(Assignment)} a WHERE a.task_id = %s "  # noqa: S608
        f"AND a.status = {literal(AssignmentStatus.SUBMITTED)} ORDER BY a.id"
    )
    return sql, answer


def submitted_answers(task_id: int) -> list[dict[str, Any]]:
    """The task's submitted answers, oldest first."""
    sql, answer = _submitted_answers()
    with hot_cursor() as cursor:
        cursor.execute(sql, [task_id])
        return [answer.instance(row).answer for row in cursor.fetchall()]


_STORE_RESULT = RowUpdate(Task, ("status", "result", "confidence", "completed_at", "written_at"))


def store_result(task: Task) -> None:
    """Store the task's status, result, confidence, completion and write-back times."""
    _STORE_RESULT.run(task)


def count_result(*, job_id: int, complete: bool) -> None:
    """One more task of the job complete (or in review)."""
    column = "completed_count" if complete else "review_count"
    with hot_cursor() as cursor:
        cursor.execute(f"UPDATE {table(LabelingJob)} SET {column} = {column} + 1 WHERE id = %s", [job_id])  # noqa: S608


def mark_write_back_queued(job_id: int) -> bool:
    """Mark the job's write-back queued; False when it was already."""
    with hot_cursor() as cursor:
        cursor.execute(
            f"UPDATE {table(LabelingJob)} SET write_back_queued = %s WHERE id = %s AND write_back_queued = %s",  # noqa: S608
            [True, job_id, False],
        )
        return cursor.rowcount == 1
