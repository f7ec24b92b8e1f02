import pytest

from datasets.models import BoundingBox, Image, ImageLabel, Label
from tests.fixtures.datasets import Box, Draft, assert_counts_true, make_dataset

pytestmark = pytest.mark.django_db


def labels_url(dataset, name=None):
    url = f"/api/v1/datasets/{dataset.id}/labels/"
    return url if name is None else f"{url}{name}/"


def stats(dataset):
    dataset.refresh_from_db()
    return {"total": dataset.total_entries, "labeled": dataset.labeled_entries, "labels": dataset.total_labels}


@pytest.fixture
def pets(project_with_roles):
    return make_dataset(
        project_with_roles.project,
        drafts=[
            Draft("s3://b/1.jpg", labels=["cat"]),
            Draft("s3://b/2.jpg", labels=["cat", "kitten"]),
            Draft("s3://b/3.jpg", labels=["kitten"], boxes=[Box("cat"), Box("cat", 100)]),
            Draft("s3://b/4.jpg", boxes=[Box("dog")]),
            Draft("s3://b/5.jpg", labels=["dog"], boxes=[Box("dog")]),
        ],
    )


def counts(response):
    return {label["name"]: (label["entry_count"], label["bounding_box_count"]) for label in response.json()["results"]}


def test_label_counts(project_with_roles, pets):
    response = project_with_roles.client("viewer").get(labels_url(pets))

    assert response.status_code == 200
    # entry_count: entries using the label either way; bounding_box_count: entries with a box of it.
    assert counts(response) == {"cat": (3, 1), "dog": (2, 2), "kitten": (2, 0)}


def test_label_list_query_count_is_flat(project_with_roles, pets, django_assert_max_num_queries):
    for index in range(20):
        Label.objects.create(dataset=pets, name=f"extra{index}")
    client = project_with_roles.client("viewer")

    with django_assert_max_num_queries(4):
        response = client.get(labels_url(pets))

    assert len(response.json()["results"]) == 23


@pytest.mark.parametrize(
    ("role", "status"), [("owner", 201), ("manager", 201), ("reviewer", 403), ("annotator", 403), ("outsider", 404)]
)
def test_who_may_create_a_label(project_with_roles, pets, role, status):
    response = project_with_roles.client(role).post(labels_url(pets), {"name": "bird"}, format="json")

    assert response.status_code == status
    assert Label.objects.filter(dataset=pets, name="bird").exists() is (status == 201)


def test_created_label_counts_in_stats(project_with_roles, pets):
    response = project_with_roles.client("owner").post(labels_url(pets), {"name": "  bird "}, format="json")

    assert response.json() == {"name": "bird", "entry_count": 0, "bounding_box_count": 0}
    assert stats(pets)["labels"] == 4


def test_duplicate_label_is_a_conflict(project_with_roles, pets):
    response = project_with_roles.client("owner").post(labels_url(pets), {"name": "cat"}, format="json")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "label_exists"


def test_rename_a_label(project_with_roles, pets):
    response = project_with_roles.client("manager").patch(
        labels_url(pets, "kitten"), {"name": "young cat"}, format="json"
    )

    assert response.status_code == 200
    assert response.json() == {"name": "young cat", "entry_count": 2, "bounding_box_count": 0}
    assert not Label.objects.filter(dataset=pets, name="kitten").exists()


def test_renaming_onto_an_existing_label_merges(project_with_roles, pets):
    before = stats(pets)

    response = project_with_roles.client("owner").patch(labels_url(pets, "kitten"), {"name": "cat"}, format="json")

    assert response.status_code == 200
    assert response.json() == {"name": "cat", "entry_count": 3, "bounding_box_count": 1}
    cat = Label.objects.get(dataset=pets, name="cat")
    assert ImageLabel.objects.filter(label=cat).count() == 3  # 2.jpg had both: one link is kept
    assert BoundingBox.objects.filter(label=cat).count() == 2
    assert stats(pets) == {**before, "labels": before["labels"] - 1}
    assert_counts_true(pets)


def test_label_names_with_slashes_and_unicode(project_with_roles, pets):
    client = project_with_roles.client("owner")
    client.post(labels_url(pets), {"name": "échos/dot"}, format="json")

    response = client.get(labels_url(pets, "échos/dot"))

    assert response.status_code == 200
    assert response.json()["name"] == "échos/dot"


def test_delete_removes_the_label_from_every_entry(project_with_roles, pets):
    response = project_with_roles.client("owner").delete(labels_url(pets, "dog"))

    assert response.status_code == 204
    assert not Label.objects.filter(dataset=pets, name="dog").exists()
    assert not BoundingBox.objects.filter(image__dataset=pets, label__name="dog").exists()
    assert Image.objects.get(dataset=pets, source_ref="s3://b/4.jpg").is_labeled is False
    assert Image.objects.get(dataset=pets, source_ref="s3://b/5.jpg").is_labeled is False
    assert stats(pets) == {"total": 5, "labeled": 3, "labels": 2}
    assert_counts_true(pets)


def test_unknown_label_is_404(project_with_roles, pets):
    response = project_with_roles.client("owner").delete(labels_url(pets, "unicorn"))

    assert response.status_code == 404
