"""Page shells of the labeling workforce: teams, labeling jobs, the annotator workbench and the job dashboard.

The pages read through the labeling selectors and decide what to offer through `projects/permissions.py`; every
change goes through the REST API from the page scripts. Outsiders get 404, a member without the capability 403.
"""

from django.contrib.auth.decorators import login_required
from django.db.models import Model
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from datasets.selectors import datasets_visible_to
from frontend.access import object_for, project_for
from labeling import selectors
from labeling.models import JobStatus, LabelingJob, TaskType, Team
from projects.permissions import Access, Capability
from projects.selectors import project_memberships

MAX_ROWS = 500


def _progress(job: LabelingJob) -> dict[str, float]:
    """Widths (percent) of the segments of a job's progress bar."""
    total = job.image_count or 1
    return {
        "done": 100 * job.completed_count / total,
        "review": 100 * job.review_count / total,
        "busy": 100 * job.in_progress / total,
    }


def _team_ids_of(user: Model, project_id: int) -> set[int]:
    return set(Team.objects.filter(project_id=project_id, members=user).values_list("pk", flat=True))


@login_required
def teams(request: HttpRequest, project_id: int) -> HttpResponse:
    project, access = project_for(request, project_id, Capability.READ)
    can_manage = access.allows(Capability.TEAMS_MANAGE)
    team_list = list(selectors.teams_of_project(project_id=project.pk)[:MAX_ROWS])
    members = [m.user.username for m in project_memberships(project_id=project.pk)[:MAX_ROWS]] if can_manage else []
    config = {
        "projectId": project.pk,
        "teams": [{"id": t.pk, "name": t.name, "members": [u.username for u in t.members.all()]} for t in team_list],
    }
    context = {"project": project, "role": access.role, "teams": team_list, "members": members, "config": config}
    context["can_manage"] = can_manage
    return render(request, "frontend/teams.html", context)


@login_required
def jobs(request: HttpRequest, project_id: int) -> HttpResponse:
    project, access = project_for(request, project_id, Capability.READ)
    can_manage = access.allows(Capability.JOBS_MANAGE)
    my_teams = _team_ids_of(request.user, project.pk) if access.allows(Capability.JOBS_WORK) else set()
    job_list = list(selectors.jobs_of_project(project_id=project.pk)[:MAX_ROWS])
    for job in job_list:
        job.can_work = job.team_id in my_teams and job.status == JobStatus.IN_PROGRESS
        job.bar = _progress(job)
    context = {
        "project": project,
        "role": access.role,
        "jobs": job_list,
        "can_manage": can_manage,
        "can_see_dashboard": access.allows(Capability.JOBS_REVIEW) or can_manage,
        "task_types": TaskType.choices,
        "config": {"projectId": project.pk, "jobUrl": reverse("frontend:job", args=[0])},
    }
    if can_manage:
        context["datasets"] = list(datasets_visible_to(user=request.user, project_id=project.pk)[:MAX_ROWS])
        context["teams"] = list(Team.objects.filter(project_id=project.pk).order_by("name")[:MAX_ROWS])
    return render(request, "frontend/jobs.html", context)


def _job(request: HttpRequest, job_id: int, capability: Capability) -> tuple[LabelingJob, Access]:
    return object_for(selectors.jobs_with_progress(), request=request, pk=job_id, capability=capability)


@login_required
def workbench(request: HttpRequest, job_id: int) -> HttpResponse:
    job, _ = _job(request, job_id, Capability.JOBS_WORK)
    in_team = job.team_id in _team_ids_of(request.user, job.project_id)
    config = {
        "jobId": job.pk,
        "datasetId": job.dataset_id,
        "taskType": job.task_type,
        "labels": job.labels,
        "jobsUrl": reverse("frontend:jobs", args=[job.project_id]),
    }
    context = {"job": job, "in_team": in_team, "config": config, "project": job.project}
    return render(request, "frontend/workbench.html", context)


@login_required
def job_dashboard(request: HttpRequest, job_id: int) -> HttpResponse:
    job, access = _job(request, job_id, Capability.READ)
    can_review = access.allows(Capability.JOBS_REVIEW) or access.allows(Capability.JOBS_MANAGE)
    can_work = access.allows(Capability.JOBS_WORK) and job.team_id in _team_ids_of(request.user, job.project_id)
    config = {
        "jobId": job.pk,
        "taskType": job.task_type,
        "labels": job.labels,
        "canReview": can_review,
        "canAccept": access.allows(Capability.JOBS_REVIEW),
    }
    context = {
        "job": job,
        "project": job.project,
        "role": access.role,
        "can_review": can_review,
        "can_work": can_work and job.status == JobStatus.IN_PROGRESS,
        "config": config,
    }
    return render(request, "frontend/job.html", context)
