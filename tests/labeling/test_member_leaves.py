"""A member who leaves a project, or is removed from it, leaves its labeling teams and gives back their leases."""

import pytest

from labeling.models import Assignment, AssignmentStatus, Task, Team
from labeling.services import queue
from projects import services as project_services
from projects.models import Membership, Role
from tests.fixtures.api import token_client
from tests.fixtures.datasets import Draft
from tests.labeling.factories import make_job, make_workers

pytestmark = pytest.mark.django_db


def member_url(project, user):
    return f"/api/v1/projects/{project.pk}/members/{user.pk}/"


def teams_of(user):
    return sorted(Team.objects.filter(members=user).values_list("name", flat=True))


@pytest.fixture
def crew(project_with_roles):
    """One job of one image per worker slot; two annotators in its team, the first holding a lease."""
    project = project_with_roles.project
    leaver, stayer = make_workers(project, 2)
    job = make_job(project, name="pets", workers=[leaver, stayer], drafts=[Draft("s3://b/only.jpg")])
    lease = token_client(leaver).post(f"/api/v1/jobs/{job.pk}/next/").json()
    return project_with_roles, job, leaver, stayer, lease


@pytest.mark.parametrize("remover", ["self", "manager", "owner"])
def test_a_leaving_member_leaves_the_projects_teams_and_gives_back_their_lease(crew, remover):
    roles, job, leaver, stayer, lease = crew
    client = token_client(leaver) if remover == "self" else roles.client(remover)
    assert Task.objects.get(job=job).slots_taken == 1

    response = client.delete(member_url(roles.project, leaver))

    assert response.status_code == 204
    assert teams_of(leaver) == []
    assert teams_of(stayer) == ["team-pets"]
    assert Assignment.objects.get(pk=lease["id"]).status == AssignmentStatus.RELEASED
    assert Task.objects.get(job=job).slots_taken == 0
    taken_over = token_client(stayer).post(f"/api/v1/jobs/{job.pk}/next/")
    assert (taken_over.status_code, taken_over.json()["image"]["id"]) == (200, lease["image"]["id"])


def test_who_left_gets_no_more_work_even_after_coming_back(crew):
    roles, job, leaver, _, _ = crew
    token_client(leaver).delete(member_url(roles.project, leaver))

    gone = token_client(leaver).post(f"/api/v1/jobs/{job.pk}/next/")
    Membership.objects.create(project=roles.project, user=leaver, role=Role.ANNOTATOR)
    back = token_client(leaver).post(f"/api/v1/jobs/{job.pk}/next/")

    assert gone.status_code == 404
    assert (back.status_code, back.json()["error"]["code"]) == (403, "not_in_team")


def test_leaving_one_project_keeps_the_teams_and_leases_of_another(crew, make_user):
    roles, _, leaver, _, _ = crew
    other = project_services.project_create(user=make_user(), name="Other project")
    Membership.objects.create(project=other, user=leaver, role=Role.ANNOTATOR)
    other_job = make_job(other, name="birds", workers=[leaver], drafts=[Draft("s3://b/bird.jpg")])
    other_lease = queue.assignment_claim_next(job=other_job, worker=leaver)

    token_client(leaver).delete(member_url(roles.project, leaver))

    assert teams_of(leaver) == ["team-birds"]
    assert Assignment.objects.get(pk=other_lease.pk).status == AssignmentStatus.LEASED
    assert Task.objects.get(job=other_job).slots_taken == 1


def test_submitted_answers_stay_when_their_worker_leaves(project_with_roles):
    project = project_with_roles.project
    (worker,) = make_workers(project, 1)
    job = make_job(project, name="pets", workers=[worker], drafts=[Draft(f"s3://b/{i}.jpg") for i in range(2)])
    answered = queue.assignment_claim_next(job=job, worker=worker)
    queue.assignment_submit(assignment_id=answered.pk, worker=worker, answer={"labels": ["cat"]})
    held = queue.assignment_claim_next(job=job, worker=worker)

    token_client(worker).delete(member_url(project, worker))

    statuses = dict(Assignment.objects.filter(job=job).values_list("pk", "status"))
    assert statuses == {answered.pk: AssignmentStatus.SUBMITTED, held.pk: AssignmentStatus.RELEASED}
    assert sorted(Task.objects.filter(job=job).values_list("slots_taken", flat=True)) == [0, 1]


def test_a_refused_removal_changes_no_team(project_with_roles):
    roles = project_with_roles
    owner = roles.user("owner")
    make_job(roles.project, name="pets", workers=[owner], drafts=[Draft("s3://b/only.jpg")])

    response = token_client(owner).delete(member_url(roles.project, owner))  # the last owner

    assert (response.status_code, response.json()["error"]["code"]) == (409, "last_owner")
    assert teams_of(owner) == ["team-pets"]
