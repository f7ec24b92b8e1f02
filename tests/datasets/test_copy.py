import time

import pytest

from datasets.models import BoundingBox, Dataset, Image, ImageLabel, Label
from datasets.services.copy import dataset_copy_entries
from projects import services as project_services
from tests.fixtures.datasets import Box, Draft, Error, assert_counts_true, make_dataset

SOURCE_DRAFTS = [
    Draft("s3://b/1.jpg", labels=["cat"]),
    Draft("s3://b/2.jpg", labels=["cat", "kitten"], boxes=[Box("cat", 1, 2, 3, 4, 0.5)]),
    Draft("s3://b/3.jpg", boxes=[Box("dog"), Box("dog", 200)]),
    Draft("s3://b/4.jpg", errors=[Error("ERROR_INVALID_IMAGE", "too small")]),
    Draft("s3://b/5.jpg", image_width=None, image_height=None),
]


def snapshot(dataset):
    entries = {
        e.source_ref: (e.width, e.height, e.errors, e.has_errors, e.is_labeled)
        for e in Image.objects.filter(dataset=dataset)
    }
    links = sorted(ImageLabel.objects.filter(image__dataset=dataset).values_list("image__source_ref", "label__name"))
    boxes = sorted(
        BoundingBox.objects.filter(image__dataset=dataset).values_list(
            "image__source_ref", "label__name", "left", "top", "width", "height", "confidence"
        )
    )
    labels = sorted(Label.objects.filter(dataset=dataset).values_list("name", flat=True))
    dataset.refresh_from_db()
    stats = (dataset.total_entries, dataset.labeled_entries, dataset.error_entries, dataset.total_labels)
    return entries, links, boxes, labels, stats


@pytest.mark.django_db
def test_copy_reproduces_every_entry_label_and_box(project_with_roles):
    source = make_dataset(project_with_roles.project, name="source", drafts=SOURCE_DRAFTS)
    target = make_dataset(project_with_roles.project, name="target")

    copied = dataset_copy_entries(source_id=source.pk, target_id=target.pk, origin_id=None, user=None)

    assert copied == 5
    assert snapshot(target) == snapshot(source)
    assert set(Image.objects.filter(dataset=target).values_list("origin", flat=True)) == {"copy"}
    assert_counts_true(target)


@pytest.mark.django_db
def test_copy_is_independent_of_its_source(project_with_roles):
    source = make_dataset(project_with_roles.project, name="source", drafts=SOURCE_DRAFTS)
    target = make_dataset(project_with_roles.project, name="target")
    dataset_copy_entries(source_id=source.pk, target_id=target.pk, origin_id=None, user=None)
    before = snapshot(source)

    client = project_with_roles.client("owner")
    entry = Image.objects.get(dataset=target, source_ref="s3://b/2.jpg")
    client.patch(f"/api/v1/datasets/{target.id}/entries/{entry.id}/", {"labels": ["other"], "boxes": []}, format="json")
    client.delete(f"/api/v1/datasets/{target.id}/labels/dog/")

    assert snapshot(source) == before


@pytest.mark.django_db
def test_copy_into_a_non_empty_dataset_is_refused(project_with_roles):
    from core.errors import Conflict

    source = make_dataset(project_with_roles.project, name="source", drafts=SOURCE_DRAFTS)
    target = make_dataset(project_with_roles.project, name="target", drafts=[Draft("s3://b/x.jpg")])

    with pytest.raises(Conflict) as refused:
        dataset_copy_entries(source_id=source.pk, target_id=target.pk, origin_id=None, user=None)

    assert refused.value.code == "dataset_not_empty"
    assert Image.objects.filter(dataset=target).count() == 1


@pytest.mark.django_db
def test_copy_over_the_quota_adds_nothing(project_with_roles, settings):
    from core.errors import Conflict

    settings.DATASET_MAX_ENTRIES = 4
    settings.DATASET_MAX_ENTRIES_CLASSIFICATION = 4
    source = make_dataset(project_with_roles.project, name="source", drafts=SOURCE_DRAFTS)
    target = make_dataset(project_with_roles.project, name="target")

    with pytest.raises(Conflict) as refused:
        dataset_copy_entries(source_id=source.pk, target_id=target.pk, origin_id=None, user=None)

    assert refused.value.code == "dataset_quota_exceeded"
    assert not Image.objects.filter(dataset=target).exists()


def wait_for_import(client, job_id, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/api/v1/imports/{job_id}/").json()
        if job["status"] in {"succeeded", "failed", "canceled"}:
            return job
        time.sleep(0.2)
    raise AssertionError(f"import {job_id} did not finish: {job}")


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_copy_through_the_api_runs_in_the_worker(project_with_roles, celery_worker):
    source = make_dataset(project_with_roles.project, name="source", drafts=SOURCE_DRAFTS)
    client = project_with_roles.client("manager")

    response = client.post(
        f"/api/v1/projects/{project_with_roles.project.id}/datasets/",
        {"name": "copy", "type": "test", "source": {"kind": "dataset", "dataset": source.id}},
        format="json",
    )

    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "creating"
    assert body["import"]["kind"] == "dataset"
    job = wait_for_import(client, body["import"]["id"])
    assert job["status"] == "succeeded", job
    assert job["counts"]["imported"] == 5
    copy = Dataset.objects.get(pk=body["id"])
    assert copy.status == "ready"
    assert snapshot(copy) == snapshot(source)


@pytest.mark.django_db
def test_copying_a_dataset_you_cannot_read_is_404(project_with_roles, make_user):
    stranger = make_user()
    hidden_project = project_services.project_create(user=stranger, name="Hidden")
    hidden = make_dataset(hidden_project, name="secret", drafts=SOURCE_DRAFTS)

    response = project_with_roles.client("owner").post(
        f"/api/v1/projects/{project_with_roles.project.id}/datasets/",
        {"name": "stolen", "source": {"kind": "dataset", "dataset": hidden.id}},
        format="json",
    )

    assert response.status_code == 404
    assert not Dataset.objects.filter(name="stolen").exists()


@pytest.mark.django_db
def test_copy_from_another_of_my_projects(project_with_roles):
    owner = project_with_roles.user("owner")
    other_project = project_services.project_create(user=owner, name="Other")
    other = make_dataset(other_project, name="elsewhere", drafts=SOURCE_DRAFTS)

    response = project_with_roles.client("owner").post(
        f"/api/v1/projects/{project_with_roles.project.id}/datasets/",
        {"name": "borrowed", "source": {"kind": "dataset", "dataset": other.id}},
        format="json",
    )

    assert response.status_code == 202
