"""The queue's reads, written by hand: every annotator's `next` and `submit` run them (see core.raw_rows).

Each returns model instances as the ORM would, with only the columns the queue uses where said so.
"""

from functools import cache
from typing import Any

from django.db import connection

from core.raw_rows import ModelColumns, split_row, table
from datasets.models import Image
from labeling.models import Assignment, LabelingJob, Task
from projects.models import Membership

JOB_FIELDS_FOR_ANSWERS = ("task_type", "labels", "workers_per_image", "dataset_id", "project_id")


def _fetch_one(sql: str, params: list[Any]) -> tuple | None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def _role_join(job_alias: str) -> str:
    """A LEFT JOIN of the caller's membership in the job's project (the caller's id is its first parameter)."""
    return f"LEFT JOIN {table(Membership)} m ON m.project_id = {job_alias}.project_id AND m.user_id = %s"


@cache
def _job_with_role() -> tuple[str, ModelColumns]:
    job = ModelColumns(LabelingJob, "j")
    return f"SELECT {job.sql}, m.role FROM {table(LabelingJob)} j {_role_join('j')} WHERE j.id = %s", job  # noqa: S608


def job_with_role(*, job_id: int, user_id: int | None) -> tuple[LabelingJob | None, str | None]:
    """The job and the caller's role in its project (None when not a member); (None, None) for no such job."""
    sql, job = _job_with_role()
    row = _fetch_one(sql, [user_id, job_id])
    if row is None:
        return None, None
    return job.instance(row[: len(job)]), row[len(job)]


@cache
def _assignment_project_and_role() -> str:
    return (
        f"SELECT j.project_id, m.role FROM {table(Assignment)} a JOIN {table(LabelingJob)} j ON j.id = a.job_id "  # noqa: S608
        f"{_role_join('j')} WHERE a.id = %s"
    )


def assignment_project_and_role(*, assignment_id: int, user_id: int | None) -> tuple[int | None, str | None]:
    """The project of the assignment's job and the caller's role there; (None, None) for no such assignment."""
    row = _fetch_one(_assignment_project_and_role(), [user_id, assignment_id])
    return (None, None) if row is None else (row[0], row[1])


@cache
def _locked_assignment() -> tuple[str, ModelColumns, ModelColumns, ModelColumns, ModelColumns]:
    assignment = ModelColumns(Assignment, "a")
    job = ModelColumns(LabelingJob, "j", only=JOB_FIELDS_FOR_ANSWERS)
    task = ModelColumns(Task, "t", only=("image_id",))
    image = ModelColumns(Image, "i", only=("width", "height"))
    lock = " FOR UPDATE OF a" if connection.features.has_select_for_update_of else ""
    sql = (
        f"SELECT {assignment.sql}, {job.sql}, {task.sql}, {image.sql} FROM {table(Assignment)} a "  # noqa: S608
        f"JOIN {table(LabelingJob)} j ON j.id = a.job_id JOIN {table(Task)} t ON t.id = a.task_id "
        f"JOIN {table(Image)} i ON i.id = t.image_id WHERE a.id = %s{lock}"
    )
    return sql, assignment, job, task, image


def locked_assignment(assignment_id: int) -> Assignment | None:
    """The assignment, its row locked until the transaction ends, with `job` (the fields answers are checked
    against) and `task.image` (its size)."""
    sql, *columns = _locked_assignment()
    row = _fetch_one(sql, [assignment_id])
    if row is None:
        return None
    assignment, job, task, image = split_row(row, *columns)
    task.image = image
    assignment.job, assignment.task = job, task
    return assignment


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
