"""The gallery and image-view pages (Django test client) and the select-all-matching action."""

import pytest
from django.test import Client
from django.urls import reverse

from datasets.models import ImageLabel
from tests.fixtures.datasets import Draft, Error, assert_counts_true, make_dataset

pytestmark = pytest.mark.django_db


def page_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def dataset(project_with_roles):
    drafts = [Draft(f"s3://b/kitchen/{i}.png", labels=["cat"] if i < 3 else []) for i in range(6)]
    drafts.append(Draft("s3://b/hall/bad.png", errors=[Error("ERROR_INVALID_IMAGE", "bad bytes")]))
    return make_dataset(project_with_roles.project, drafts=drafts)


def test_an_outsider_gets_404_for_the_gallery_and_the_image_view(project_with_roles, dataset):
    client = page_client(project_with_roles.user("outsider"))
    entry = dataset.entries.first()
    assert client.get(reverse("frontend:dataset", args=[dataset.pk])).status_code == 404
    assert client.get(reverse("frontend:entry", args=[dataset.pk, entry.pk])).status_code == 404


def test_a_viewer_sees_the_gallery_without_edit_controls(project_with_roles, dataset):
    html = page_client(project_with_roles.user("viewer")).get(reverse("frontend:dataset", args=[dataset.pk]))
    text = html.content.decode()
    assert html.status_code == 200
    assert "cat" in text
    assert 'id="grid"' in text
    assert 'data-action="rename"' not in text
    assert 'id="label-add"' not in text
    assert 'id="selection-bar"' not in text
    entry = dataset.entries.first()
    view = page_client(project_with_roles.user("viewer")).get(reverse("frontend:entry", args=[dataset.pk, entry.pk]))
    assert view.status_code == 200
    assert 'id="save"' not in view.content.decode()


def test_a_manager_sees_label_tools_and_an_annotator_only_the_selection_bar(project_with_roles, dataset):
    manager = page_client(project_with_roles.user("manager")).get(reverse("frontend:dataset", args=[dataset.pk]))
    assert 'data-action="delete"' in manager.content.decode()
    annotator = page_client(project_with_roles.user("annotator")).get(reverse("frontend:dataset", args=[dataset.pk]))
    text = annotator.content.decode()
    assert 'id="selection-bar"' in text
    assert 'data-action="delete"' not in text


def test_the_filtered_gallery_counts_matching_entries_from_its_query(project_with_roles, dataset):
    client = page_client(project_with_roles.user("viewer"))
    response = client.get(reverse("frontend:dataset", args=[dataset.pk]), {"contains_labels": "cat"})
    assert response.context["matching"] == 3
    response = client.get(reverse("frontend:dataset", args=[dataset.pk]), {"has_errors": "true"})
    assert response.context["matching"] == 1


def test_the_image_view_links_next_and_previous_within_the_filter(project_with_roles, dataset):
    ids = list(dataset.entries.order_by("pk").values_list("pk", flat=True))
    client = page_client(project_with_roles.user("viewer"))
    response = client.get(reverse("frontend:entry", args=[dataset.pk, ids[1]]), {"contains_labels": "cat"})
    assert response.context["previous_url"].endswith(f"/entries/{ids[0]}/?contains_labels=cat")
    assert response.context["next_url"].endswith(f"/entries/{ids[2]}/?contains_labels=cat")
    last = client.get(reverse("frontend:entry", args=[dataset.pk, ids[2]]), {"contains_labels": "cat"})
    assert last.context["next_url"] is None


def selection_url(dataset) -> str:
    return reverse("frontend:dataset-selection-labels", args=[dataset.pk])


def test_select_all_matching_labels_every_matching_entry_in_a_fixed_number_of_queries(
    project_with_roles, dataset, django_assert_num_queries
):
    client = project_with_roles.client("annotator")
    body = {"label": "kitchen", "action": "add", "all_matching": True, "filter": {"source_ref_contains": "kitchen/"}}
    # Token, dataset + membership, savepoint, lock, label lookup/create/lookup, count, INSERT … SELECT,
    # is_labeled, label count, dataset stats, release: the same 13 for 6 entries or 250,000.
    with django_assert_num_queries(13):
        response = client.post(selection_url(dataset), body, format="json")
    assert response.status_code == 200, response.content
    assert response.json() == {"label": "kitchen", "action": "add", "changed": 6}
    kitchen = set(ImageLabel.objects.filter(label__name="kitchen").values_list("image__source_ref", flat=True))
    assert kitchen == {f"s3://b/kitchen/{i}.png" for i in range(6)}
    assert_counts_true(dataset)
    # Again: nothing is duplicated.
    assert client.post(selection_url(dataset), body, format="json").json()["changed"] == 0
    assert_counts_true(dataset)


def test_removing_a_label_from_all_matching_keeps_it_elsewhere(project_with_roles, dataset):
    client = project_with_roles.client("annotator")
    body = {"label": "cat", "action": "remove", "all_matching": True, "filter": {"source_ref_contains": "/1.png"}}
    assert client.post(selection_url(dataset), body, format="json").json()["changed"] == 1
    cats = set(ImageLabel.objects.filter(label__name="cat").values_list("image__source_ref", flat=True))
    assert cats == {"s3://b/kitchen/0.png", "s3://b/kitchen/2.png"}
    assert_counts_true(dataset)


def test_picked_entries_of_another_dataset_are_left_alone(project_with_roles, dataset):
    other = make_dataset(project_with_roles.project, name="other", drafts=[Draft("s3://b/x.png")])
    mine = list(dataset.entries.order_by("pk").values_list("pk", flat=True)[3:5])
    body = {"label": "dog", "action": "add", "entry_ids": [*mine, other.entries.get().pk]}
    response = project_with_roles.client("annotator").post(selection_url(dataset), body, format="json")
    assert response.json()["changed"] == 2
    assert set(ImageLabel.objects.filter(label__name="dog").values_list("image_id", flat=True)) == set(mine)
    assert_counts_true(dataset)
    assert_counts_true(other)


@pytest.mark.parametrize(("role", "status"), [("viewer", 403), ("outsider", 404), ("reviewer", 200)])
def test_the_selection_action_needs_the_right_to_edit_entries(project_with_roles, dataset, role, status):
    body = {"label": "dog", "action": "add", "all_matching": True}
    response = project_with_roles.client(role).post(selection_url(dataset), body, format="json")
    assert response.status_code == status
    assert ImageLabel.objects.filter(label__name="dog").exists() == (status == 200)


def test_the_selection_action_needs_entries_or_all_matching(project_with_roles, dataset):
    response = project_with_roles.client("owner").post(
        selection_url(dataset), {"label": "dog", "action": "add"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"entry_ids": "Pick entries, or set all_matching."}
