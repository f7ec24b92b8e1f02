import pytest

from datasets.models import Dataset
from tests.fixtures.datasets import Box, Draft, Error, make_dataset

pytestmark = pytest.mark.django_db

ROLES = ["owner", "manager", "reviewer", "annotator", "viewer"]
MANAGERS = {"owner", "manager"}


def datasets_url(project):
    return f"/api/v1/projects/{project.id}/datasets/"


def test_create_an_empty_dataset(project_with_roles):
    response = project_with_roles.client("manager").post(
        datasets_url(project_with_roles.project), {"name": "train", "type": "train"}, format="json"
    )

    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "ready"
    assert body["import"] is None
    assert body["stats"] == {"total_entries": 0, "labeled_entries": 0, "error_entries": 0, "total_labels": 0}
    assert body["project"] == project_with_roles.project.id


@pytest.mark.parametrize("role", [*ROLES, "outsider"])
def test_who_may_create_a_dataset(project_with_roles, role):
    response = project_with_roles.client(role).post(
        datasets_url(project_with_roles.project), {"name": "x"}, format="json"
    )

    expected = 201 if role in MANAGERS else 404 if role == "outsider" else 403
    assert response.status_code == expected
    assert Dataset.objects.filter(name="x").exists() is (expected == 201)


@pytest.mark.parametrize("role", ROLES)
def test_every_member_lists_and_reads_datasets(project_with_roles, role):
    dataset = make_dataset(project_with_roles.project, drafts=[Draft("s3://b/a.jpg", labels=["cat"])])
    client = project_with_roles.client(role)

    listed = client.get(datasets_url(project_with_roles.project))
    detail = client.get(f"/api/v1/datasets/{dataset.id}/")

    assert listed.status_code == detail.status_code == 200
    assert [d["id"] for d in listed.json()["results"]] == [dataset.id]
    assert detail.json()["stats"] == {"total_entries": 1, "labeled_entries": 1, "error_entries": 0, "total_labels": 1}


def test_outsider_cannot_see_a_dataset(project_with_roles):
    dataset = make_dataset(project_with_roles.project)

    response = project_with_roles.client("outsider").get(f"/api/v1/datasets/{dataset.id}/")

    assert response.status_code == 404


def test_names_are_unique_per_project(project_with_roles):
    make_dataset(project_with_roles.project, name="train")

    response = project_with_roles.client("owner").post(
        datasets_url(project_with_roles.project), {"name": "train", "type": "test"}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "dataset_name_taken"
    assert Dataset.objects.filter(project=project_with_roles.project).count() == 1


def test_unknown_type_and_source_are_refused(project_with_roles):
    client = project_with_roles.client("owner")
    url = datasets_url(project_with_roles.project)

    bad_type = client.post(url, {"name": "a", "type": "validation"}, format="json")
    bad_source = client.post(url, {"name": "a", "source": {"kind": "ftp"}}, format="json")

    assert bad_type.json()["error"]["code"] == "unknown_dataset_type"
    assert bad_source.json()["error"]["code"] == "unknown_source_kind"
    assert "source.kind" in bad_source.json()["error"]["fields"]
    assert not Dataset.objects.exists()


@pytest.mark.parametrize(("role", "status"), [("owner", 200), ("manager", 200), ("annotator", 403), ("outsider", 404)])
def test_rename_a_dataset(project_with_roles, role, status):
    dataset = make_dataset(project_with_roles.project)

    response = project_with_roles.client(role).patch(
        f"/api/v1/datasets/{dataset.id}/", {"name": "renamed"}, format="json"
    )

    assert response.status_code == status
    dataset.refresh_from_db()
    assert (dataset.name == "renamed") is (status == 200)


@pytest.mark.parametrize(("role", "status"), [("owner", 204), ("manager", 204), ("reviewer", 403), ("outsider", 404)])
def test_delete_a_dataset(project_with_roles, role, status):
    dataset = make_dataset(project_with_roles.project, drafts=[Draft("s3://b/a.jpg", boxes=[Box("cat")])])

    response = project_with_roles.client(role).delete(f"/api/v1/datasets/{dataset.id}/")

    assert response.status_code == status
    assert Dataset.objects.filter(pk=dataset.id).exists() is (status != 204)


def test_a_busy_dataset_cannot_be_deleted(project_with_roles):
    dataset = make_dataset(project_with_roles.project, status="creating")

    response = project_with_roles.client("owner").delete(f"/api/v1/datasets/{dataset.id}/")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "dataset_busy"


def test_dataset_list_query_count_is_flat(project_with_roles, django_assert_max_num_queries):
    for index in range(8):
        make_dataset(
            project_with_roles.project,
            name=f"d{index}",
            drafts=[Draft(f"s3://b/{index}.jpg", errors=[Error("E", "m")])],
        )

    client = project_with_roles.client("viewer")

    with django_assert_max_num_queries(4):  # token, project access, count, page
        response = client.get(datasets_url(project_with_roles.project))

    assert len(response.json()["results"]) == 8
