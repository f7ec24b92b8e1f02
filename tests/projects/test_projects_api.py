import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from projects.models import Membership, Project
from tests.fixtures.api import create_user, token_client

pytestmark = pytest.mark.django_db

ROLES = ["owner", "manager", "reviewer", "annotator", "viewer"]


def url(project_id=None):
    return "/api/v1/projects/" if project_id is None else f"/api/v1/projects/{project_id}/"


def test_creator_becomes_owner():
    user = create_user()
    response = token_client(user).post(url(), {"name": "Shelf", "description": "Cans"}, format="json")

    assert response.status_code == 201
    body = response.json()
    assert body["name"] == "Shelf"
    assert body["role"] == "owner"
    assert Membership.objects.get(project_id=body["id"], user=user).role == "owner"


def test_list_shows_only_my_projects_with_my_role(project_with_roles):
    other = create_user()
    token_client(other).post(url(), {"name": "Not yours"}, format="json")

    response = project_with_roles.client("annotator").get(url())

    assert response.status_code == 200
    assert [(p["name"], p["role"]) for p in response.json()["results"]] == [("Echo devices", "annotator")]


def test_project_list_query_count_is_flat(make_user):
    user = make_user()
    client = token_client(user)
    for index in range(3):
        client.post(url(), {"name": f"P{index}"}, format="json")
    with CaptureQueriesContext(connection) as three:
        assert client.get(url()).status_code == 200
    for index in range(3, 12):
        client.post(url(), {"name": f"P{index}"}, format="json")
    with CaptureQueriesContext(connection) as twelve:
        response = client.get(url())

    assert len(response.json()["results"]) == 12
    assert len(twelve) == len(three)
    assert len(twelve) <= 4  # auth token, count, page


@pytest.mark.parametrize("role", ROLES)
def test_every_member_reads_the_project(project_with_roles, role):
    response = project_with_roles.client(role).get(url(project_with_roles.project.id))

    assert response.status_code == 200
    assert response.json()["role"] == role


@pytest.mark.parametrize(("role", "status"), [("owner", 200)] + [(r, 403) for r in ROLES[1:]] + [("outsider", 404)])
def test_only_owner_edits_the_project(project_with_roles, role, status):
    response = project_with_roles.client(role).patch(
        url(project_with_roles.project.id), {"description": "new"}, format="json"
    )

    assert response.status_code == status
    expected = "new" if status == 200 else ""
    assert Project.objects.get(pk=project_with_roles.project.id).description == expected


@pytest.mark.parametrize(("role", "status"), [("owner", 204)] + [(r, 403) for r in ROLES[1:]] + [("outsider", 404)])
def test_only_owner_deletes_the_project(project_with_roles, role, status):
    response = project_with_roles.client(role).delete(url(project_with_roles.project.id))

    assert response.status_code == status
    assert Project.objects.filter(pk=project_with_roles.project.id).exists() is (status != 204)


def test_outsider_gets_the_same_404_as_for_a_missing_project(project_with_roles):
    outsider = project_with_roles.client("outsider")

    hidden = outsider.get(url(project_with_roles.project.id))
    missing = outsider.get(url(999_999))

    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["error"]["code"] == missing.json()["error"]["code"] == "not_found"


def test_create_without_name_names_the_field(make_user):
    response = token_client(make_user()).post(url(), {"description": "x"}, format="json")

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "required"
    assert "name" in error["fields"]
    assert "name" in error["message"]
    assert Project.objects.count() == 0


def test_name_too_long_is_refused(make_user):
    response = token_client(make_user()).post(url(), {"name": "x" * 201}, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "max_length"
    assert Project.objects.count() == 0


def test_patch_with_wrong_types_changes_nothing(project_with_roles):
    response = project_with_roles.client("owner").patch(
        url(project_with_roles.project.id), {"name": ["not", "a", "string"]}, format="json"
    )

    assert response.status_code == 400
    assert Project.objects.get(pk=project_with_roles.project.id).name == "Echo devices"


def test_create_with_an_empty_training_dataset():
    user = create_user()

    response = token_client(user).post(
        url(), {"name": "Shelf", "training_dataset": {"name": "train", "source": {"kind": "empty"}}}, format="json"
    )

    assert response.status_code == 201
    body = response.json()
    assert body["training_dataset"]["name"] == "train"
    assert body["training_dataset"]["type"] == "train"
    assert body["training_dataset"]["status"] == "ready"
    assert body["import"] is None


def test_create_with_a_copied_training_dataset_starts_its_import(project_with_roles):
    from tests.fixtures.datasets import Draft, make_dataset

    source = make_dataset(project_with_roles.project, drafts=[Draft("s3://b/1.jpg", labels=["a"])])

    response = project_with_roles.client("viewer").post(
        url(),
        {"name": "Mine", "training_dataset": {"name": "train", "source": {"kind": "dataset", "dataset": source.id}}},
        format="json",
    )

    assert response.status_code == 201
    body = response.json()
    assert body["training_dataset"]["status"] == "creating"
    assert body["import"]["kind"] == "dataset"
    assert body["import"]["status"] == "queued"


def test_a_bad_training_dataset_creates_no_project():
    user = create_user()

    response = token_client(user).post(
        url(), {"name": "Shelf", "training_dataset": {"name": "", "source": {"kind": "empty"}}}, format="json"
    )

    assert response.status_code == 400
    assert "training_dataset.name" in response.json()["error"]["fields"]
    assert not Project.objects.exists()


def test_without_a_training_dataset_the_fields_are_null():
    response = token_client(create_user()).post(url(), {"name": "Plain"}, format="json")

    assert response.json()["training_dataset"] is None
    assert response.json()["import"] is None
