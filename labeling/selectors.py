"""Reads of the labeling app, with their joins and counts applied (query counts bounded per list)."""

from collections import Counter, defaultdict
from dataclasses import dataclass
from statistics import median
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Count, IntegerField, OuterRef, Prefetch, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from labeling import consolidation, stored
from labeling.models import Assignment, AssignmentStatus, LabelingJob, Task, TaskStatus, Team


def teams_of_project(*, project_id: int) -> QuerySet[Team]:
    """The project's teams with their members (two queries per page)."""
    users = get_user_model().objects.order_by("username").only("id", "username")
    return Team.objects.filter(project_id=project_id).prefetch_related(Prefetch("members", queryset=users))


def _with_progress(jobs: QuerySet[LabelingJob]) -> QuerySet[LabelingJob]:
    # Images someone holds a lease on or has answered, but that are not consolidated yet.
    busy = (
        Task.objects.filter(job_id=OuterRef("pk"), status=TaskStatus.OPEN, slots_taken__gt=0)
        .order_by()
        .values("job_id")
        .annotate(n=Count("id"))
        .values("n")
    )
    return jobs.select_related("team", "dataset").annotate(
        in_progress=Coalesce(Subquery(busy, output_field=IntegerField()), Value(0))
    )


def jobs_of_project(*, project_id: int) -> QuerySet[LabelingJob]:
    return _with_progress(LabelingJob.objects.filter(project_id=project_id)).order_by("-id")


def jobs_with_progress() -> QuerySet[LabelingJob]:
    """Every job, with `in_progress` annotated; narrow it with the member filter before reading."""
    return _with_progress(LabelingJob.objects.all())


def review_tasks(*, job_id: int, status: str) -> QuerySet[Task]:
    """The job's tasks in `status` (review, complete or accepted), with their image and live answers (two queries
    per page)."""
    answers = (
        Assignment.objects.filter(status=AssignmentStatus.SUBMITTED)
        .select_related("worker")
        .only("id", "task_id", "answer", "seconds_spent", "worker__id", "worker__username")
        .order_by("id")
    )
    return (
        Task.objects.filter(job_id=job_id, status=status)
        .select_related("job", "image__connection")
        .prefetch_related(Prefetch("assignments", queryset=answers, to_attr="live_answers"))
    )


def job_answers(*, job_id: int, worker_id: int | None = None) -> QuerySet[Assignment]:
    """The job's submitted and discarded answers in id order, optionally one worker's (one query per page)."""
    answers = Assignment.objects.filter(
        job_id=job_id, status__in=[AssignmentStatus.SUBMITTED, AssignmentStatus.DISCARDED]
    )
    if worker_id is not None:
        answers = answers.filter(worker_id=worker_id)
    return answers.select_related("worker", "task__image").only(
        "id", "task_id", "answer", "status", "leased_at", "submitted_at", "seconds_spent",
        "worker__id", "worker__username", "task__id", "task__image__id", "task__image__source_ref",
    )  # fmt: skip


@dataclass(frozen=True)
class WorkerStats:
    worker: Any  # a user with id and username
    answered: int
    median_seconds: float | None
    agreement: float | None


STATS_CHUNK = 2000


def job_worker_stats(*, job: LabelingJob) -> list[WorkerStats]:
    """Per worker of the job's team or with answers: answers submitted (discarded ones left out), the median
    seconds per answer, and the mean `agreement` of their answers with the consolidated result, over images that
    have one (None when none). Three queries whatever the job's size: the answers are streamed in chunks with
    their task's result, and only per-worker sums and the seconds are kept."""
    answered: Counter[int] = Counter()
    seconds: dict[int, list[float]] = defaultdict(list)
    agreement_sum: Counter[int] = Counter()
    agreement_n: Counter[int] = Counter()
    rows = (
        Assignment.objects.filter(job_id=job.pk, status=AssignmentStatus.SUBMITTED)
        .order_by()
        .values_list("worker_id", "answer", "seconds_spent", "task__result", "task__confidence")
    )
    for worker_id, answer, spent, result, confidence in rows.iterator(chunk_size=STATS_CHUNK):
        answered[worker_id] += 1
        if spent is not None:
            seconds[worker_id].append(spent)
        if result is None:
            continue
        value = consolidation.agreement(
            stored.answer_value(job.task_type, answer), stored.result_value(job.task_type, result, confidence)
        )
        if value is not None:
            agreement_sum[worker_id] += value
            agreement_n[worker_id] += 1
    team_members = Team.members.through.objects.filter(team_id=job.team_id).values_list("user_id", flat=True)
    users = get_user_model().objects.filter(Q(pk__in=list(answered)) | Q(pk__in=team_members))
    return [
        WorkerStats(
            worker=user,
            answered=answered[user.pk],
            median_seconds=round(median(seconds[user.pk]), 3) if seconds[user.pk] else None,
            agreement=round(agreement_sum[user.pk] / agreement_n[user.pk], 4) if agreement_n[user.pk] else None,
        )
        for user in users.only("id", "username").order_by("username")
    ]


def review_task(*, task_id: int) -> Task:
    """One task as `review_tasks` gives it."""
    task = Task.objects.get(pk=task_id)
    return review_tasks(job_id=task.job_id, status=task.status).get(pk=task_id)
