"""The labeling pages as the test client sees them: who gets which page, and what each role is offered."""

import pytest
from django.urls import reverse

from labeling.services.teams import team_create
from projects.models import Role
from tests.labeling.factories import make_job, make_workers

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(project_with_roles):
    roles = project_with_roles
    job = make_job(roles.project, workers=[roles.user("annotator")], name="cats")
    return roles, job


def page(client, user, name, *args):
    client.force_login(user)
    return client.get(reverse(f"frontend:{name}", args=args))


@pytest.mark.parametrize("name", ["teams", "jobs"])
def test_project_pages_are_404_for_outsiders_and_open_to_every_member(client, setup, name):
    roles, _ = setup
    assert page(client, roles.user("outsider"), name, roles.project.pk).status_code == 404
    assert page(client, roles.user("outsider"), name, 999_999).status_code == 404
    for role in ("owner", "manager", "reviewer", "annotator", "viewer"):
        assert page(client, roles.user(role), name, roles.project.pk).status_code == 200, role


@pytest.mark.parametrize("name", ["job", "workbench"])
def test_job_pages_are_404_for_outsiders_and_missing_jobs(client, setup, name):
    roles, job = setup
    assert page(client, roles.user("outsider"), name, job.pk).status_code == 404
    assert page(client, roles.user("owner"), name, 999_999).status_code == 404


def test_anonymous_visitors_are_sent_to_the_login_page(client, setup):
    _, job = setup
    response = client.get(reverse("frontend:workbench", args=[job.pk]))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("frontend:login"))


def test_viewers_may_not_open_the_workbench(client, setup):
    roles, job = setup
    assert page(client, roles.user("viewer"), "workbench", job.pk).status_code == 403


def test_the_workbench_of_a_job_of_another_team_gives_no_work(client, setup):
    roles, job = setup
    response = page(client, roles.user("reviewer"), "workbench", job.pk)
    assert response.status_code == 200
    assert b"You are not in that team" in response.content
    assert b'id="start"' not in response.content
    response = page(client, roles.user("annotator"), "workbench", job.pk)
    assert b'id="start"' in response.content
    assert b"workbench.js" in response.content


def test_team_forms_are_offered_to_managers_only(client, setup):
    roles, _ = setup
    team_create(project_id=roles.project.pk, name="night shift", members=[roles.user("annotator").username])
    manager = page(client, roles.user("manager"), "teams", roles.project.pk).content.decode()
    assert 'id="team-form"' in manager
    assert "night shift" in manager
    assert f'value="{roles.user("viewer").username}"' in manager, "every project member can be picked"
    for role in ("reviewer", "annotator", "viewer"):
        html = page(client, roles.user(role), "teams", roles.project.pk).content.decode()
        assert "night shift" in html
        assert 'id="team-form"' not in html, role
        assert "data-delete" not in html, role
        assert "teams.js" not in html, role


def test_the_new_job_form_is_for_managers_and_start_working_for_team_members(client, setup):
    roles, job = setup
    manager = page(client, roles.user("manager"), "jobs", roles.project.pk).content.decode()
    assert 'id="job-form"' in manager
    assert "cats" in manager
    assert "Start working" not in manager, "the manager is not in the job's team"
    annotator = page(client, roles.user("annotator"), "jobs", roles.project.pk).content.decode()
    assert 'id="job-form"' not in annotator
    assert reverse("frontend:workbench", args=[job.pk]) in annotator
    other = make_workers(roles.project, 1, role=Role.ANNOTATOR)[0]
    html = page(client, other, "jobs", roles.project.pk).content.decode()
    assert reverse("frontend:workbench", args=[job.pk]) not in html
    viewer = page(client, roles.user("viewer"), "jobs", roles.project.pk).content.decode()
    assert 'id="job-form"' not in viewer
    assert "Start working" not in viewer


def test_the_dashboard_offers_review_and_output_to_reviewers_and_managers_only(client, setup):
    roles, job = setup
    for role in ("owner", "manager", "reviewer"):
        html = page(client, roles.user(role), "job", job.pk).content.decode()
        assert "Download output manifest" in html, role
        assert 'id="review-list"' in html, role
    for role in ("annotator", "viewer"):
        response = page(client, roles.user(role), "job", job.pk)
        assert response.status_code == 200
        html = response.content.decode()
        assert "Download output manifest" not in html, role
        assert 'id="review-list"' not in html, role
        assert 'id="progress-bar"' in html


def test_the_jobs_page_reads_with_a_flat_query_count(client, setup, django_assert_max_num_queries):
    roles, _ = setup
    for i in range(5):
        make_job(roles.project, workers=[roles.user("annotator")], name=f"job{i}")
    client.force_login(roles.user("manager"))
    url = reverse("frontend:jobs", args=[roles.project.pk])
    with django_assert_max_num_queries(12):
        assert client.get(url).status_code == 200


def test_every_labeling_page_leads_back_to_its_project(client, setup):
    roles, job = setup
    project_url = reverse("frontend:project", args=[roles.project.pk])
    for name, arg in (("teams", roles.project.pk), ("jobs", roles.project.pk), ("job", job.pk), ("workbench", job.pk)):
        html = page(client, roles.user("annotator"), name, arg).content.decode()
        assert f'href="{project_url}"' in html, name
