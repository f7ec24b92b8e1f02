"""Teams and jobs for labeling tests, built through the services."""

from labeling.services import queue
from labeling.services.jobs import JobInput, job_create
from labeling.services.results import results_write_back
from labeling.services.teams import team_create
from projects.models import Membership, Role
from tests.fixtures.api import create_user
from tests.fixtures.datasets import Draft, make_dataset


def make_workers(project, count, role=Role.ANNOTATOR):
    users = [create_user() for _ in range(count)]
    Membership.objects.bulk_create([Membership(project=project, user=user, role=role) for user in users])
    return users


def make_job(
    project, *, workers, drafts=None, dataset=None, task_type="classification", labels=("cat", "dog"), **extra
):
    dataset = dataset or make_dataset(
        project, name=f"ds-{extra.get('name', 'job')}", drafts=drafts or [Draft(f"s3://b/{i}.jpg") for i in range(3)]
    )
    team = team_create(
        project_id=project.pk, name=f"team-{extra.get('name', 'job')}", members=[u.username for u in workers]
    )
    data = JobInput(
        name=extra.pop("name", "job"),
        dataset_id=dataset.pk,
        task_type=task_type,
        labels=list(labels),
        team_id=team.pk,
        **extra,
    )
    return job_create(project_id=project.pk, data=data, user=None)


def answer_all(job, workers, answers, *, write_back=True):
    """Each worker in turn answers every image it is given with `answers[worker index]`; then the job's results
    are written to the dataset, as its queued Celery task does (`write_back=False` leaves them waiting)."""
    for worker, answer in zip(workers, answers, strict=True):
        while (lease := queue.assignment_claim_next(job=job, worker=worker)) is not None:
            queue.assignment_submit(assignment_id=lease.pk, worker=worker, answer=answer)
    if write_back:
        results_write_back(job_id=job.pk)
