"""Reads of the labeling app, with their joins and counts applied (query counts bounded per list)."""

from django.contrib.auth import get_user_model
from django.db.models import Count, IntegerField, OuterRef, Prefetch, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from labeling.models import LabelingJob, Task, TaskStatus, Team


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
