"""The queue's rules, through the services: who gets which slot, leases, release, expiry, lifetime."""

from datetime import timedelta

import pytest
from django.utils import timezone

from core.errors import Conflict, PermissionDenied
from labeling.models import Assignment, AssignmentStatus, JobStatus, LabelingJob, Task
from labeling.services import queue
from labeling.services.results import results_write_back
from labeling.tasks import expire_leases
from tests.labeling.factories import make_job, make_workers

pytestmark = pytest.mark.django_db


def slots_are_exact(job):
    """slots_taken = live leases + submitted answers, answer_count = submitted, for every task."""
    for task in Task.objects.filter(job=job):
        live = Assignment.objects.filter(task=task, status__in=["leased", "submitted"]).count()
        submitted = Assignment.objects.filter(task=task, status="submitted").count()
        assert (task.slots_taken, task.answer_count) == (live, submitted), task
        assert task.slots_taken <= job.workers_per_image


def test_oldest_task_first_and_one_lease_per_worker(project_with_roles):
    a, b = make_workers(project_with_roles.project, 2)
    job = make_job(project_with_roles.project, workers=[a, b], workers_per_image=2)
    first = queue.assignment_claim_next(job=job, worker=a)
    tasks = list(Task.objects.filter(job=job).order_by("id"))
    assert first.task_id == tasks[0].pk
    # Asking again while holding a live lease gives the same one back.
    assert queue.assignment_claim_next(job=job, worker=a).pk == first.pk
    # The second worker gets the other slot of the same (oldest) image.
    assert queue.assignment_claim_next(job=job, worker=b).task_id == tasks[0].pk
    slots_are_exact(job)


def test_a_worker_never_gets_an_image_twice_and_slots_are_capped(project_with_roles):
    workers = make_workers(project_with_roles.project, 3)
    job = make_job(project_with_roles.project, workers=workers, workers_per_image=2)
    a, b, c = workers
    seen = []
    while (lease := queue.assignment_claim_next(job=job, worker=a)) is not None:
        seen.append(lease.task_id)
        queue.assignment_submit(assignment_id=lease.pk, worker=a, answer={"labels": ["cat"]})
    assert len(seen) == len(set(seen)) == 3
    got_b = queue.assignment_claim_next(job=job, worker=b)
    # Every image has one slot left; b takes the oldest, c the next one (b's is full).
    got_c = queue.assignment_claim_next(job=job, worker=c)
    assert got_b.task_id == seen[0]
    assert got_c.task_id == seen[1]
    slots_are_exact(job)


def test_nothing_left_gives_none(project_with_roles):
    (a,) = make_workers(project_with_roles.project, 1)
    job = make_job(project_with_roles.project, workers=[a], workers_per_image=1)
    for _ in range(3):
        lease = queue.assignment_claim_next(job=job, worker=a)
        queue.assignment_submit(assignment_id=lease.pk, worker=a, answer={"labels": ["dog"]})
    assert queue.assignment_claim_next(job=job, worker=a) is None
    job.refresh_from_db()
    # Every image is answered and counted; the job is completed once the results are in the dataset.
    assert (job.status, job.completed_count, job.image_count) == (JobStatus.IN_PROGRESS, 3, 3)
    assert results_write_back(job_id=job.pk) == 3
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED


def test_release_returns_the_slot_at_once(project_with_roles):
    a, b = make_workers(project_with_roles.project, 2)
    job = make_job(project_with_roles.project, workers=[a, b], workers_per_image=1)
    lease = queue.assignment_claim_next(job=job, worker=a)
    other = queue.assignment_claim_next(job=job, worker=b)
    assert other.task_id != lease.task_id
    queue.assignment_release(assignment_id=other.pk, worker=b)
    queue.assignment_release(assignment_id=lease.pk, worker=a)
    slots_are_exact(job)
    # The released image is open again; the worker who released it may take it again.
    assert queue.assignment_claim_next(job=job, worker=b).task_id == lease.task_id
    with pytest.raises(Conflict) as exc:
        queue.assignment_release(assignment_id=lease.pk, worker=a)
    assert exc.value.code == "assignment_not_leased"


def test_a_skipped_image_comes_back_to_its_worker_only_when_nothing_else_is_left(project_with_roles):
    (a,) = make_workers(project_with_roles.project, 1)
    job = make_job(project_with_roles.project, workers=[a], workers_per_image=1)
    tasks = list(Task.objects.filter(job=job).order_by("id").values_list("pk", flat=True))
    skipped = queue.assignment_claim_next(job=job, worker=a)
    assert skipped.task_id == tasks[0]
    queue.assignment_release(assignment_id=skipped.pk, worker=a)
    handed = []
    while (lease := queue.assignment_claim_next(job=job, worker=a)) is not None:
        handed.append(lease.task_id)
        queue.assignment_submit(assignment_id=lease.pk, worker=a, answer={"labels": ["cat"]})
    assert handed == [tasks[1], tasks[2], tasks[0]]
    slots_are_exact(job)


def test_only_the_worker_may_release_or_submit(project_with_roles):
    a, b = make_workers(project_with_roles.project, 2)
    job = make_job(project_with_roles.project, workers=[a, b])
    lease = queue.assignment_claim_next(job=job, worker=a)
    for call in (
        lambda: queue.assignment_release(assignment_id=lease.pk, worker=b),
        lambda: queue.assignment_submit(assignment_id=lease.pk, worker=b, answer={"labels": ["cat"]}),
    ):
        with pytest.raises(PermissionDenied) as exc:
            call()
        assert exc.value.code == "not_your_assignment"


def test_an_expired_lease_returns_its_slot_and_cannot_be_submitted(project_with_roles):
    a, b = make_workers(project_with_roles.project, 2)
    job = make_job(project_with_roles.project, workers=[a, b], workers_per_image=1, task_time_limit_s=60)
    lease = queue.assignment_claim_next(job=job, worker=a)
    later = lease.expires_at + timedelta(seconds=1)
    # b, asking after the time limit, gets the oldest image back (reclaimed as work is handed out).
    assert queue.assignment_claim_next(job=job, worker=b, now=later).task_id == lease.task_id
    assert Assignment.objects.get(pk=lease.pk).status == AssignmentStatus.EXPIRED
    with pytest.raises(Conflict) as exc:
        queue.assignment_submit(assignment_id=lease.pk, worker=a, answer={"labels": ["cat"]}, now=later)
    assert exc.value.code == "lease_expired"
    slots_are_exact(job)


def test_a_lease_past_its_time_is_refused_before_any_reclaim(project_with_roles):
    (a,) = make_workers(project_with_roles.project, 1)
    job = make_job(project_with_roles.project, workers=[a], task_time_limit_s=60)
    lease = queue.assignment_claim_next(job=job, worker=a)
    with pytest.raises(Conflict) as exc:
        queue.assignment_submit(
            assignment_id=lease.pk, worker=a, answer={"labels": ["cat"]}, now=lease.expires_at + timedelta(seconds=1)
        )
    assert exc.value.code == "lease_expired"
    # Before the limit the same answer goes in, and the seconds spent are recorded.
    done = queue.assignment_submit(
        assignment_id=lease.pk, worker=a, answer={"labels": ["cat"]}, now=lease.leased_at + timedelta(seconds=12)
    )
    assert done.status == AssignmentStatus.SUBMITTED
    assert done.seconds_spent == 12.0


def test_the_periodic_task_reclaims_expired_leases(project_with_roles):
    a, b = make_workers(project_with_roles.project, 2)
    job = make_job(project_with_roles.project, workers=[a, b], workers_per_image=1)
    lease = queue.assignment_claim_next(job=job, worker=a)
    keep = queue.assignment_claim_next(job=job, worker=b)
    Assignment.objects.filter(pk=lease.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert expire_leases() == {"leases": 1, "jobs": 0}
    assert Assignment.objects.get(pk=lease.pk).status == AssignmentStatus.EXPIRED
    assert Assignment.objects.get(pk=keep.pk).status == AssignmentStatus.LEASED
    slots_are_exact(job)
    assert Task.objects.get(pk=lease.task_id).slots_taken == 0


def test_past_its_lifetime_a_job_hands_out_no_work(project_with_roles):
    (a,) = make_workers(project_with_roles.project, 1)
    job = make_job(project_with_roles.project, workers=[a], lifetime_s=3600)
    with pytest.raises(Conflict) as exc:
        queue.assignment_claim_next(job=job, worker=a, now=job.expires_at)
    assert exc.value.code == "job_expired"
    assert queue.jobs_expire(now=job.expires_at) == 1
    job.refresh_from_db()
    assert job.status == JobStatus.EXPIRED
    with pytest.raises(Conflict):
        queue.assignment_claim_next(job=job, worker=a)


def test_only_team_members_get_work(project_with_roles):
    a, outsider = make_workers(project_with_roles.project, 2)
    job = make_job(project_with_roles.project, workers=[a])
    with pytest.raises(PermissionDenied) as exc:
        queue.assignment_claim_next(job=job, worker=outsider)
    assert exc.value.code == "not_in_team"
    assert not Assignment.objects.exists()


def test_the_database_refuses_a_second_live_slot_for_one_worker(project_with_roles):
    from django.db import IntegrityError, transaction

    (a,) = make_workers(project_with_roles.project, 1)
    job = make_job(project_with_roles.project, workers=[a], workers_per_image=3)
    lease = queue.assignment_claim_next(job=job, worker=a)
    queue.assignment_submit(assignment_id=lease.pk, worker=a, answer={"labels": ["cat"]})
    now = timezone.now()
    with pytest.raises(IntegrityError), transaction.atomic():
        Assignment.objects.create(
            task_id=lease.task_id, job=job, worker=a, status="leased", leased_at=now, expires_at=now
        )
    assert LabelingJob.objects.get(pk=job.pk).status == JobStatus.IN_PROGRESS


def test_the_beat_schedule_names_the_registered_expiry_task(settings):
    from config.celery import app

    entry = settings.CELERY_BEAT_SCHEDULE["expire-labeling-leases"]
    assert entry["task"] == expire_leases.name == "labeling.expire_leases"
    app.loader.import_default_modules()
    assert entry["task"] in app.tasks
