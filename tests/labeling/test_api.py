"""The labeling API: permission matrix, job creation and validation codes, the worker's calls, query counts."""

import pytest

from labeling.models import Assignment, LabelingJob, Task
from labeling.serializers import AssignmentOutputSerializer, WorkSerializer
from labeling.services.results import results_write_back
from tests.fixtures.datasets import Draft, make_dataset
from tests.labeling.factories import make_job, make_workers

pytestmark = pytest.mark.django_db


def job_body(dataset, team, **extra):
    return {
        "name": "cats",
        "dataset": dataset.pk,
        "task_type": "classification",
        "labels": ["cat", "dog"],
        "team": team,
        "workers_per_image": 2,
        "task_time_limit_s": 300,
        "lifetime_s": 86400,
        **extra,
    }


def make_team(roles, members=("annotator",)):
    response = roles.client("manager").post(
        f"/api/v1/projects/{roles.project.pk}/teams/",
        {"name": "crew", "members": [roles.user(role).username for role in members]},
        format="json",
    )
    assert response.status_code == 201, response.json()
    return response.json()["id"]


def test_teams_are_managed_by_managers_and_hold_project_members_only(project_with_roles):
    roles = project_with_roles
    url = f"/api/v1/projects/{roles.project.pk}/teams/"
    team = make_team(roles, members=("annotator", "reviewer"))
    assert roles.client("annotator").post(url, {"name": "x"}, format="json").status_code == 403
    assert roles.client("outsider").get(url).status_code == 404
    listed = roles.client("viewer").get(url).json()["results"]
    assert [(t["name"], sorted(t["members"])) for t in listed] == [
        ("crew", sorted([roles.user("annotator").username, roles.user("reviewer").username]))
    ]
    bad = roles.client("manager").post(
        url, {"name": "other", "members": [roles.user("outsider").username]}, format="json"
    )
    assert (bad.status_code, bad.json()["error"]["code"]) == (400, "not_a_project_member")
    taken = roles.client("manager").post(url, {"name": "crew"}, format="json")
    assert taken.json()["error"]["code"] == "team_name_taken"
    patched = roles.client("manager").patch(f"/api/v1/teams/{team}/", {"members": []}, format="json")
    assert patched.json()["members"] == []
    assert roles.client("outsider").delete(f"/api/v1/teams/{team}/").status_code == 404
    assert roles.client("manager").delete(f"/api/v1/teams/{team}/").status_code == 204


def test_team_list_query_count_is_flat(project_with_roles, django_assert_max_num_queries):
    roles = project_with_roles
    from labeling.services.teams import team_create

    for i in range(5):
        team_create(project_id=roles.project.pk, name=f"t{i}", members=[roles.user("annotator").username])
    client = roles.client("viewer")
    with django_assert_max_num_queries(6):
        response = client.get(f"/api/v1/projects/{roles.project.pk}/teams/")
    assert len(response.json()["results"]) == 5


def test_a_job_is_created_with_its_tasks_and_progress(project_with_roles):
    roles = project_with_roles
    dataset = make_dataset(
        roles.project, drafts=[Draft(f"s3://b/{i}.jpg", labels=["x"] if i < 2 else []) for i in range(5)]
    )
    team = make_team(roles)
    url = f"/api/v1/projects/{roles.project.pk}/jobs/"
    response = roles.client("manager").post(url, job_body(dataset, team, only_unlabeled=True), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "in_progress"
    assert body["progress"] == {"images": 3, "completed": 0, "in_progress": 0, "review": 0}
    assert body["only_unlabeled"] is True
    assert body["label_attribute_name"] == "cats"
    assert Task.objects.filter(job_id=body["id"]).count() == 3
    detail = roles.client("viewer").get(f"/api/v1/jobs/{body['id']}/")
    assert detail.json()["progress"]["images"] == 3
    assert roles.client("outsider").get(f"/api/v1/jobs/{body['id']}/").status_code == 404
    assert roles.client("annotator").post(url, job_body(dataset, team, name="b"), format="json").status_code == 403
    with_labels = roles.client("manager").post(url, job_body(dataset, team, name="b", with_labels=["x"]), format="json")
    assert with_labels.json()["progress"]["images"] == 2


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"labels": []}, "labels_required"),
        ({"labels": ["cat", "cat"]}, "duplicate_label"),
        ({"workers_per_image": 10}, "invalid_workers_per_image"),
        ({"workers_per_image": 0}, "invalid_workers_per_image"),
        ({"task_time_limit_s": 5}, "invalid_task_time_limit_s"),
        ({"with_labels": ["nope"]}, "unknown_label"),
        ({"label_attribute_name": "ends-metadata"}, "invalid_label_attribute_name"),
        ({"team": "other-project"}, "team_not_in_project"),
        ({"dataset": "other-project"}, "dataset_not_in_project"),
    ],
)
def test_job_validation_codes(project_with_roles, make_user, change, code):
    from labeling.services.teams import team_create
    from projects import services as project_services

    roles = project_with_roles
    dataset = make_dataset(roles.project, drafts=[Draft("s3://b/0.jpg")])
    team = make_team(roles)
    other = project_services.project_create(user=make_user(), name="Other", description="")
    if change.get("team") == "other-project":
        change = {"team": team_create(project_id=other.pk, name="t", members=[]).pk}
    if change.get("dataset") == "other-project":
        change = {"dataset": make_dataset(other, drafts=[Draft("s3://b/0.jpg")]).pk}
    response = roles.client("manager").post(
        f"/api/v1/projects/{roles.project.pk}/jobs/", {**job_body(dataset, team), **change}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    assert not LabelingJob.objects.exists()


def test_work_is_for_team_members_only(project_with_roles):
    roles = project_with_roles
    (worker,) = make_workers(roles.project, 1)
    job = make_job(roles.project, workers=[worker])
    url = f"/api/v1/jobs/{job.pk}/next/"
    assert roles.client("outsider").post(url).status_code == 404
    assert roles.client("viewer").post(url).status_code == 403  # the role may not work
    refused = roles.client("annotator").post(url)  # may work, but not in the job's team
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "not_in_team")
    from tests.fixtures.api import token_client

    given = token_client(worker).post(url)
    assert given.status_code == 200
    lease = given.json()
    assert lease["image"]["width"] == 640
    assert lease["task_type"] == "classification"
    assert lease["labels"] == ["cat", "dog"]
    submit = f"/api/v1/assignments/{lease['id']}/submit/"
    assert roles.client("outsider").post(submit, {"labels": ["cat"]}, format="json").status_code == 404
    other = roles.client("owner").post(submit, {"labels": ["cat"]}, format="json")
    assert (other.status_code, other.json()["error"]["code"]) == (403, "not_your_assignment")
    assert roles.client("viewer").post(submit, {"labels": ["cat"]}, format="json").status_code == 403
    missing = token_client(worker).post(
        f"/api/v1/assignments/{lease['id'] + 1000}/submit/", {"labels": ["cat"]}, format="json"
    )
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "not_found")
    assert token_client(worker).post(f"/api/v1/jobs/{job.pk + 1000}/next/").status_code == 404


def test_the_worker_flow_over_the_api_with_flat_query_counts(
    project_with_roles, client_for, django_assert_max_num_queries
):
    roles = project_with_roles
    (worker,) = make_workers(roles.project, 1)
    job = make_job(roles.project, workers=[worker], drafts=[Draft(f"s3://b/{i}.jpg") for i in range(4)])
    client = client_for(worker)
    for _ in range(3):
        with django_assert_max_num_queries(10):
            lease = client.post(f"/api/v1/jobs/{job.pk}/next/").json()
        # The image's last answer consolidates and queues the job's write-back (the dataset is not touched here).
        with django_assert_max_num_queries(12):
            done = client.post(f"/api/v1/assignments/{lease['id']}/submit/", {"labels": ["cat"]}, format="json")
        assert done.status_code == 200, done.json()
        assert done.json()["status"] == "submitted"
    lease = client.post(f"/api/v1/jobs/{job.pk}/next/").json()
    released = client.post(f"/api/v1/assignments/{lease['id']}/release/")
    assert released.json()["status"] == "released"
    again = client.post(f"/api/v1/assignments/{lease['id']}/release/")
    assert (again.status_code, again.json()["error"]["code"]) == (409, "assignment_not_leased")
    lease = client.post(f"/api/v1/jobs/{job.pk}/next/").json()
    client.post(f"/api/v1/assignments/{lease['id']}/submit/", {"labels": ["dog"]}, format="json")
    assert client.post(f"/api/v1/jobs/{job.pk}/next/").status_code == 204
    assert client.get(f"/api/v1/jobs/{job.pk}/").json()["status"] == "in_progress"
    assert results_write_back(job_id=job.pk) == 4
    detail = client.get(f"/api/v1/jobs/{job.pk}/").json()
    assert detail["status"] == "completed"
    assert detail["progress"] == {"images": 4, "completed": 4, "in_progress": 0, "review": 0}
    assert Assignment.objects.filter(status="submitted").count() == 4


def test_job_list_query_count_is_flat(project_with_roles, django_assert_max_num_queries):
    roles = project_with_roles
    workers = make_workers(roles.project, 1)
    for i in range(4):
        make_job(roles.project, workers=workers, name=f"j{i}")
    client = roles.client("viewer")
    with django_assert_max_num_queries(6):
        response = client.get(f"/api/v1/projects/{roles.project.pk}/jobs/")
    assert len(response.json()["results"]) == 4


# Counts include the SAVEPOINT / RELEASE statements of the request's and the services' transactions.
def test_a_submit_that_does_not_complete_the_image_is_cheap(
    project_with_roles, client_for, django_assert_max_num_queries
):
    roles = project_with_roles
    workers = make_workers(roles.project, 2)
    job = make_job(
        roles.project, workers=workers, workers_per_image=2, drafts=[Draft(f"s3://b/{i}.jpg") for i in range(6)]
    )
    client = client_for(workers[0])
    for _ in range(3):
        with django_assert_max_num_queries(10):
            lease = client.post(f"/api/v1/jobs/{job.pk}/next/").json()
        with django_assert_max_num_queries(7):
            done = client.post(f"/api/v1/assignments/{lease['id']}/submit/", {"labels": ["cat"]}, format="json")
        assert done.status_code == 200


def test_the_queues_plain_responses_are_what_their_documented_serializers_give(project_with_roles, client_for):
    roles = project_with_roles
    (worker,) = make_workers(roles.project, 1)
    job = make_job(roles.project, workers=[worker])
    client = client_for(worker)
    lease = client.post(f"/api/v1/jobs/{job.pk}/next/").json()
    assignment = Assignment.objects.select_related("job").get(pk=lease["id"])
    assignment.work_image = lease["image"]
    assert lease == WorkSerializer(assignment).data

    done = client.post(f"/api/v1/assignments/{lease['id']}/submit/", {"labels": ["cat"]}, format="json").json()
    assert done == AssignmentOutputSerializer(Assignment.objects.get(pk=lease["id"])).data
    assert done["answer"] == {"labels": ["cat"]}
    assert done["seconds_spent"] is not None

    lease = client.post(f"/api/v1/jobs/{job.pk}/next/").json()
    released = client.post(f"/api/v1/assignments/{lease['id']}/release/").json()
    assert released == AssignmentOutputSerializer(Assignment.objects.get(pk=lease["id"])).data


@pytest.mark.parametrize(
    "body",
    [["cat"], {"labels": "cat"}, {"labels": [1]}, {}, {"labels": ["cat", "dog"]}],
    ids=["a list", "labels a string", "labels not names", "no labels", "two labels"],
)
def test_a_malformed_answer_is_400_and_the_lease_stays(project_with_roles, client_for, body):
    roles = project_with_roles
    (worker,) = make_workers(roles.project, 1)
    job = make_job(roles.project, workers=[worker])
    client = client_for(worker)
    lease = client.post(f"/api/v1/jobs/{job.pk}/next/").json()
    refused = client.post(f"/api/v1/assignments/{lease['id']}/submit/", body, format="json")
    assert (refused.status_code, refused.json()["error"]["code"]) == (400, "invalid_answer")
    assert Assignment.objects.get(pk=lease["id"]).status == "leased"


def test_a_box_with_a_coordinate_in_a_string_is_400(project_with_roles, client_for):
    roles = project_with_roles
    (worker,) = make_workers(roles.project, 1)
    job = make_job(roles.project, workers=[worker], task_type="bounding_box")
    client = client_for(worker)
    lease = client.post(f"/api/v1/jobs/{job.pk}/next/").json()
    box = {"label": "cat", "left": "10", "top": 10, "width": 20, "height": 20}
    refused = client.post(f"/api/v1/assignments/{lease['id']}/submit/", {"boxes": [box]}, format="json")
    assert (refused.status_code, refused.json()["error"]["code"]) == (400, "invalid_answer")
    assert refused.json()["error"]["fields"] == {"boxes.0.left": "Must be a finite number."}


def test_a_team_that_a_job_uses_cannot_be_deleted(project_with_roles):
    job = make_job(project_with_roles.project, workers=make_workers(project_with_roles.project, 1))

    response = project_with_roles.client("owner").delete(f"/api/v1/teams/{job.team_id}/")

    assert response.status_code == 409, response.content
    assert response.json()["error"]["code"] == "team_in_use"
    assert LabelingJob.objects.filter(pk=job.pk).exists()


def test_a_project_with_a_labeling_job_can_be_deleted(project_with_roles):
    project = project_with_roles.project
    job = make_job(project, workers=make_workers(project, 1))

    response = project_with_roles.client("owner").delete(f"/api/v1/projects/{project.pk}/")

    assert response.status_code == 204, response.content
    assert not LabelingJob.objects.filter(pk=job.pk).exists()
