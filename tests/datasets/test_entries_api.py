import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from datasets.models import BoundingBox, Dataset, Image, ImageLabel, Label
from tests.fixtures.datasets import Box, Draft, Error, make_dataset

pytestmark = pytest.mark.django_db


def entries_url(dataset, entry_id=None, **query):
    url = f"/api/v1/datasets/{dataset.id}/entries/"
    if entry_id is not None:
        url += f"{entry_id}/"
    if query:
        url += "?" + "&".join(f"{k}={v}" for k, v in query.items())
    return url


def stats(dataset):
    dataset.refresh_from_db()
    return (dataset.total_entries, dataset.labeled_entries, dataset.error_entries, dataset.total_labels)


def true_stats(dataset):
    entries = Image.objects.filter(dataset=dataset)
    return (
        entries.count(),
        entries.filter(is_labeled=True).count(),
        entries.filter(has_errors=True).count(),
        Label.objects.filter(dataset=dataset).count(),
    )


@pytest.fixture
def shelf(project_with_roles):
    return make_dataset(
        project_with_roles.project,
        drafts=[
            Draft("s3://bucket/shelf/0001.jpg", labels=["bottle"]),
            Draft("s3://bucket/shelf/0002.jpg", boxes=[Box("can", 1, 2, 30, 40)]),
            Draft("s3://bucket/shelf/0003.jpg", labels=["bottle", "can"]),
            Draft("s3://bucket/street/0004.jpg"),
            Draft("s3://bucket/street/0005.jpg", errors=[Error("ERROR_INVALID_BOUNDING_BOX", "box 0 outside")]),
        ],
    )


def refs(response):
    return [entry["source_ref"].rsplit("/", 1)[1] for entry in response.json()["results"]]


def test_entry_shape(project_with_roles, shelf):
    response = project_with_roles.client("viewer").get(entries_url(shelf, source_ref_contains="0002"))

    (entry,) = response.json()["results"]
    assert entry["source_ref"] == "s3://bucket/shelf/0002.jpg"
    assert (entry["width"], entry["height"]) == (640, 480)
    assert entry["labels"] == []
    assert [{k: v for k, v in box.items() if k != "id"} for box in entry["boxes"]] == [
        {"label": "can", "left": 1, "top": 2, "width": 30, "height": 40}
    ]
    assert entry["errors"] == []
    assert {"id", "image_url", "thumbnail_url", "format", "updated_at"} <= set(entry)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, ["0001.jpg", "0002.jpg", "0003.jpg", "0004.jpg", "0005.jpg"]),
        ({"contains_labels": "bottle"}, ["0001.jpg", "0003.jpg"]),
        ({"contains_labels": "can"}, ["0002.jpg", "0003.jpg"]),
        ({"contains_labels": "bottle,can"}, ["0001.jpg", "0002.jpg", "0003.jpg"]),
        ({"contains_labels": "nothing"}, []),
        ({"labeled": "true"}, ["0001.jpg", "0002.jpg", "0003.jpg"]),
        ({"labeled": "false"}, ["0004.jpg", "0005.jpg"]),
        ({"has_errors": "true"}, ["0005.jpg"]),
        ({"has_errors": "false"}, ["0001.jpg", "0002.jpg", "0003.jpg", "0004.jpg"]),
        ({"source_ref_contains": "street/"}, ["0004.jpg", "0005.jpg"]),
        ({"source_ref_contains": "shelf", "contains_labels": "can", "labeled": "true"}, ["0002.jpg", "0003.jpg"]),
    ],
)
def test_filters(project_with_roles, shelf, query, expected):
    response = project_with_roles.client("viewer").get(entries_url(shelf, **query))

    assert response.status_code == 200
    assert refs(response) == expected


def test_more_than_ten_labels_in_a_filter_is_refused(project_with_roles, shelf):
    names = ",".join(f"l{i}" for i in range(11))

    response = project_with_roles.client("viewer").get(entries_url(shelf, contains_labels=names))

    assert response.status_code == 400
    assert "contains_labels" in response.json()["error"]["fields"]


def test_cursor_pagination_walks_every_entry_once(project_with_roles, shelf):
    client = project_with_roles.client("viewer")
    seen, url = [], entries_url(shelf, page_size=2)
    while url:
        body = client.get(url).json()
        seen += [entry["source_ref"] for entry in body["results"]]
        url = body["next"]

    assert len(seen) == len(set(seen)) == 5


def test_page_size_is_capped_at_500(project_with_roles, shelf):
    response = project_with_roles.client("viewer").get(entries_url(shelf, page_size=100000))

    assert response.status_code == 200
    assert len(response.json()["results"]) == 5


def test_queries_per_page_do_not_grow_with_the_page(project_with_roles):
    dataset = make_dataset(
        project_with_roles.project,
        drafts=[Draft(f"s3://b/{i:04}.jpg", labels=["a", "b"], boxes=[Box("c"), Box("d")]) for i in range(60)],
    )
    client = project_with_roles.client("viewer")

    def count(**query):
        with CaptureQueriesContext(connection) as queries:
            response = client.get(entries_url(dataset, **query))
        assert response.status_code == 200
        return len(queries), len(response.json()["results"])

    small, small_page = count(page_size=2)
    large, large_page = count(page_size=60)
    filtered, _ = count(page_size=60, contains_labels="a,c", labeled="true")

    assert (small_page, large_page) == (2, 60)
    assert small == large == filtered
    assert large <= 6  # token, dataset access, entries, labels, boxes (+1 slack)


def test_outsider_gets_404_for_entries(project_with_roles, shelf):
    entry = Image.objects.filter(dataset=shelf).first()
    client = project_with_roles.client("outsider")

    assert client.get(entries_url(shelf)).status_code == 404
    assert client.get(entries_url(shelf, entry.id)).status_code == 404
    assert client.patch(entries_url(shelf, entry.id), {"labels": ["x"]}, format="json").status_code == 404


def test_an_entry_of_another_dataset_is_not_found_through_this_one(project_with_roles, shelf):
    other = make_dataset(project_with_roles.project, name="other", drafts=[Draft("s3://b/x.jpg")])
    foreign = Image.objects.get(dataset=other)

    response = project_with_roles.client("owner").get(entries_url(shelf, foreign.id))

    assert response.status_code == 404


@pytest.mark.parametrize(
    ("role", "status"),
    [("owner", 200), ("manager", 200), ("reviewer", 200), ("annotator", 200), ("viewer", 403), ("outsider", 404)],
)
def test_who_may_edit_an_entry(project_with_roles, shelf, role, status):
    entry = Image.objects.get(dataset=shelf, source_ref__endswith="0004.jpg")

    response = project_with_roles.client(role).patch(entries_url(shelf, entry.id), {"labels": ["cat"]}, format="json")

    assert response.status_code == status
    assert ImageLabel.objects.filter(image=entry).exists() is (status == 200)


def test_patch_replaces_labels_creates_new_ones_and_keeps_stats_true(project_with_roles, shelf):
    entry = Image.objects.get(dataset=shelf, source_ref__endswith="0004.jpg")
    before = stats(shelf)

    response = project_with_roles.client("annotator").patch(
        entries_url(shelf, entry.id), {"labels": ["cat", "bottle", "cat"]}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["labels"] == ["cat", "bottle"]
    assert stats(shelf) == true_stats(shelf) == (before[0], before[1] + 1, before[2], before[3] + 1)
    link = ImageLabel.objects.filter(image=entry).first()
    assert (link.origin, link.created_by) == ("user", project_with_roles.user("annotator"))


def test_patch_replaces_boxes(project_with_roles, shelf):
    entry = Image.objects.get(dataset=shelf, source_ref__endswith="0002.jpg")
    boxes = [
        {"label": "can", "left": 0, "top": 0, "width": 640, "height": 480},
        {"label": "lid", "left": 5, "top": 6, "width": 7, "height": 8},
    ]

    response = project_with_roles.client("reviewer").patch(
        entries_url(shelf, entry.id), {"boxes": boxes}, format="json"
    )

    assert response.status_code == 200
    assert [(b["label"], b["left"], b["width"]) for b in response.json()["boxes"]] == [("can", 0, 640), ("lid", 5, 7)]
    assert BoundingBox.objects.filter(image=entry).count() == 2
    assert stats(shelf) == true_stats(shelf)


def test_clearing_labels_and_boxes_makes_the_entry_unlabeled(project_with_roles, shelf):
    entry = Image.objects.get(dataset=shelf, source_ref__endswith="0002.jpg")

    response = project_with_roles.client("owner").patch(
        entries_url(shelf, entry.id), {"labels": [], "boxes": []}, format="json"
    )

    assert response.status_code == 200
    entry.refresh_from_db()
    assert entry.is_labeled is False
    assert stats(shelf) == true_stats(shelf)


@pytest.mark.parametrize(
    ("box", "code"),
    [
        ({"label": "can", "left": 600, "top": 0, "width": 41, "height": 10}, "box_outside_image"),
        ({"label": "can", "left": 0, "top": 470, "width": 10, "height": 11}, "box_outside_image"),
        ({"label": "can", "left": -1, "top": 0, "width": 10, "height": 10}, "min_value"),
        ({"label": "can", "left": 0, "top": 0, "width": 0, "height": 10}, "min_value"),
        ({"label": "can", "left": 0, "top": 0, "width": 1, "height": 10}, "box_too_small"),
        ({"label": " ", "left": 0, "top": 0, "width": 1, "height": 1}, "blank"),
        ({"label": "a\x07b", "left": 0, "top": 0, "width": 5, "height": 5}, "invalid_label_name"),
    ],
)
def test_bad_boxes_are_refused_and_nothing_changes(project_with_roles, shelf, box, code):
    entry = Image.objects.get(dataset=shelf, source_ref__endswith="0002.jpg")
    before = list(BoundingBox.objects.filter(image=entry).values_list("left", "top", "width", "height"))

    response = project_with_roles.client("owner").patch(entries_url(shelf, entry.id), {"boxes": [box]}, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    assert any(key.startswith("boxes.0") for key in response.json()["error"]["fields"])
    assert list(BoundingBox.objects.filter(image=entry).values_list("left", "top", "width", "height")) == before


def test_too_many_labels_is_refused(project_with_roles, shelf):
    entry = Image.objects.get(dataset=shelf, source_ref__endswith="0004.jpg")

    response = project_with_roles.client("owner").patch(
        entries_url(shelf, entry.id), {"labels": [f"l{i}" for i in range(51)]}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "too_many_labels"
    assert not Label.objects.filter(name="l0").exists()


@pytest.mark.parametrize(("role", "status"), [("owner", 204), ("manager", 204), ("annotator", 403), ("outsider", 404)])
def test_who_may_delete_an_entry(project_with_roles, shelf, role, status):
    entry = Image.objects.get(dataset=shelf, source_ref__endswith="0005.jpg")

    response = project_with_roles.client(role).delete(entries_url(shelf, entry.id))

    assert response.status_code == status
    assert Image.objects.filter(pk=entry.pk).exists() is (status != 204)
    assert stats(shelf) == true_stats(shelf)


def test_deleting_entries_keeps_stats_true(project_with_roles, shelf):
    client = project_with_roles.client("owner")
    for entry in Image.objects.filter(dataset=shelf):
        assert client.delete(entries_url(shelf, entry.id)).status_code == 204
        assert stats(shelf) == true_stats(shelf)
    assert stats(shelf) == (0, 0, 0, 2)


def test_stats_never_drift_from_the_rows(project_with_roles, shelf):
    assert isinstance(shelf, Dataset)
    assert stats(shelf) == true_stats(shelf) == (5, 3, 1, 2)


def test_boxes_on_an_image_of_unknown_size_are_refused(project_with_roles):
    dataset = make_dataset(
        project_with_roles.project, drafts=[Draft("s3://b/new.jpg", image_width=None, image_height=None)]
    )
    entry = Image.objects.get(dataset=dataset)
    box = {"label": "can", "left": 0, "top": 0, "width": 5, "height": 5}

    response = project_with_roles.client("owner").patch(entries_url(dataset, entry.id), {"boxes": [box]}, format="json")
    labels_only = project_with_roles.client("owner").patch(
        entries_url(dataset, entry.id), {"labels": ["can"]}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "image_size_unknown"
    assert labels_only.status_code == 200
