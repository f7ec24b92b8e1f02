"""Creating labeling jobs: one task per selected image, inserted with one set-based statement."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from core.errors import Conflict, InvalidInput
from datasets.models import BoundingBox, Dataset, DatasetStatus, Image, ImageLabel, Label
from datasets.validation import clean_label_name
from labeling.models import JobStatus, LabelingJob, Selection, Task, TaskStatus, TaskType, Team
from labeling.output_manifest import default_label_attribute, label_attribute_problem

MAX_LABELS = {TaskType.MULTI_LABEL: 50, TaskType.BOUNDING_BOX: 50}  # the reference's quotas (§6.2)
DEFAULT_MAX_LABELS = 1000
TASK_TIME_LIMIT_S = (30, 28_800)
LIFETIME_S = (60, 2_592_000)


@dataclass(frozen=True)
class JobInput:
    name: str
    dataset_id: int
    task_type: str
    labels: Sequence[str]
    team_id: int
    workers_per_image: int = 1
    task_time_limit_s: int = 300
    lifetime_s: int = 864_000
    selection: str = Selection.ALL
    selection_labels: Sequence[str] = field(default_factory=list)
    instructions: str = ""
    label_attribute_name: str | None = None


def _clean_labels(labels: Sequence[str], *, task_type: str) -> list[str]:
    if not labels:
        raise InvalidInput("A job needs at least one label.", code="labels_required", fields={"labels": "Empty."})
    cleaned = [clean_label_name(name, field=f"labels.{i}") for i, name in enumerate(labels)]
    if len(set(cleaned)) != len(cleaned):
        raise InvalidInput("Label names must be unique.", code="duplicate_label", fields={"labels": "Repeated."})
    limit = MAX_LABELS.get(task_type, DEFAULT_MAX_LABELS)
    if len(cleaned) > limit:
        raise InvalidInput(
            f"A {task_type} job has at most {limit} labels.", code="too_many_labels", fields={"labels": "Too many."}
        )
    return cleaned


def _check_range(value: int, bounds: tuple[int, int], name: str) -> None:
    low, high = bounds
    if not low <= value <= high:
        raise InvalidInput(
            f"{name} must be between {low} and {high}.", code=f"invalid_{name}", fields={name: "Out of range."}
        )


def _selected_entries(*, dataset_id: int, data: JobInput, labels_wanted: Sequence[int]) -> QuerySet:
    entries = Image.objects.filter(dataset_id=dataset_id)
    if data.selection == Selection.UNLABELED:
        entries = entries.filter(is_labeled=False)
    elif data.selection == Selection.WITH_LABELS:
        entries = entries.filter(
            Exists(ImageLabel.objects.filter(image_id=OuterRef("pk"), label_id__in=labels_wanted))
            | Exists(BoundingBox.objects.filter(image_id=OuterRef("pk"), label_id__in=labels_wanted))
        )
    return entries


def _tasks_insert(*, job: LabelingJob, entries: QuerySet, now: datetime) -> int:
    """INSERT … SELECT the tasks of `entries` in id order (the queue's order); returns the number inserted."""
    select_sql, params = entries.order_by("id").values_list("id").query.sql_with_params()
    sql = (
        f"INSERT INTO {Task._meta.db_table} (job_id, image_id, status, slots_taken, answer_count, created_at) "  # noqa: S608
        f"SELECT %s, selected.id, %s, 0, 0, %s FROM ({select_sql}) selected"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [job.pk, TaskStatus.OPEN, now, *params])
        return cursor.rowcount


@transaction.atomic
def job_create(
    *, project_id: int, data: JobInput, user: AbstractBaseUser | None, now: datetime | None = None
) -> LabelingJob:
    """Create a job and its tasks (one per selected entry, oldest entry first in the queue).

    Bounding-box jobs only take entries whose image size is known (the count left out is `skipped_count`).
    Raises InvalidInput `labels_required`, `duplicate_label`, `too_many_labels`, `invalid_label_name`,
    `invalid_workers_per_image`, `invalid_task_time_limit_s`, `invalid_lifetime_s`, `dataset_not_in_project`,
    `team_not_in_project`, `unknown_label` (with_labels), `invalid_label_attribute_name`, `job_name_taken`,
    `no_images_selected`; Conflict `dataset_not_ready` while the dataset is being imported into.
    """
    now = now or timezone.now()
    labels = _clean_labels(data.labels, task_type=data.task_type)
    _check_range(data.workers_per_image, (1, 9), "workers_per_image")
    _check_range(data.task_time_limit_s, TASK_TIME_LIMIT_S, "task_time_limit_s")
    _check_range(data.lifetime_s, LIFETIME_S, "lifetime_s")
    dataset = Dataset.objects.filter(pk=data.dataset_id, project_id=project_id).first()
    if dataset is None:
        raise InvalidInput(
            "The dataset is not one of this project's.", code="dataset_not_in_project", fields={"dataset": "Unknown."}
        )
    if dataset.status != DatasetStatus.READY:
        raise Conflict(f"The dataset is {dataset.status}; wait until it is ready.", code="dataset_not_ready")
    if not Team.objects.filter(pk=data.team_id, project_id=project_id).exists():
        raise InvalidInput(
            "The team is not one of this project's.", code="team_not_in_project", fields={"team": "Unknown."}
        )
    attribute = data.label_attribute_name or default_label_attribute(data.name)
    problem = label_attribute_problem(attribute)
    if problem is not None:
        raise InvalidInput(
            f"The label attribute name {attribute!r} {problem} (give label_attribute_name when the job's name "
            "does not qualify).",
            code="invalid_label_attribute_name",
            fields={"label_attribute_name": problem},
        )
    labels_wanted: list[int] = []
    selection_labels = list(dict.fromkeys(data.selection_labels)) if data.selection == Selection.WITH_LABELS else []
    if data.selection == Selection.WITH_LABELS:
        found = dict(Label.objects.filter(dataset_id=dataset.pk, name__in=selection_labels).values_list("name", "pk"))
        missing = [name for name in selection_labels if name not in found]
        if not selection_labels or missing:
            raise InvalidInput(
                f"The dataset has no label {missing[0]!r}." if missing else "Name the labels to select.",
                code="unknown_label",
                fields={"with_labels": "Unknown label." if missing else "Empty."},
            )
        labels_wanted = list(found.values())
    if LabelingJob.objects.filter(project_id=project_id, name__iexact=data.name).exists():
        raise InvalidInput(
            f"This project already has a job called {data.name!r}.", code="job_name_taken", fields={"name": "Taken."}
        )
    try:
        with transaction.atomic():
            job = LabelingJob.objects.create(
                project_id=project_id,
                dataset=dataset,
                name=data.name,
                task_type=data.task_type,
                labels=labels,
                instructions=data.instructions,
                team_id=data.team_id,
                workers_per_image=data.workers_per_image,
                task_time_limit_s=data.task_time_limit_s,
                lifetime_s=data.lifetime_s,
                selection=data.selection,
                selection_labels=selection_labels,
                label_attribute_name=attribute,
                created_by=user,
                created_at=now,
                expires_at=now + timedelta(seconds=data.lifetime_s),
            )
    except IntegrityError as exc:
        if "labelingjob_unique_project_name" in str(exc):
            raise InvalidInput(
                f"This project already has a job called {data.name!r}.",
                code="job_name_taken",
                fields={"name": "Taken."},
            ) from None
        raise
    entries = _selected_entries(dataset_id=dataset.pk, data=data, labels_wanted=labels_wanted)
    skipped = 0
    if data.task_type == TaskType.BOUNDING_BOX:
        unknown_size = Q(width__isnull=True) | Q(height__isnull=True)
        skipped = entries.filter(unknown_size).count()
        entries = entries.exclude(unknown_size)
    inserted = _tasks_insert(job=job, entries=entries, now=now)
    if inserted == 0:
        raise InvalidInput(
            "No entry of the dataset matches the job's selection"
            + (" (bounding-box jobs need images of known size)." if skipped else "."),
            code="no_images_selected",
        )
    LabelingJob.objects.filter(pk=job.pk).update(image_count=inserted, skipped_count=skipped)
    job.image_count, job.skipped_count = inserted, skipped
    job.status = JobStatus.IN_PROGRESS
    return job
