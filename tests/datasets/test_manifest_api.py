"""UpdateDatasetEntries (POST entries as JSON Lines) and the manifest export, through the API."""

import json

import pytest

from datasets.models import BoundingBox, Image, ImageLabel
from tests.fixtures.datasets import Box, Draft, assert_counts_true, make_dataset
from tests.fixtures.s3 import DEFAULT_BUCKET, drop_prefix

pytestmark = pytest.mark.django_db

CLASSIFICATION = {
    "source-ref": "s3://acme-img/pets/p001.jpg",
    "animal": 2,
    "animal-metadata": {
        "class-name": "tabby",
        "confidence": 0.91,
        "type": "groundtruth/image-classification",
        "job-name": "labeling-job/animal",
        "human-annotated": "yes",
        "creation-date": "2024-03-01T10:15:00.000000",
    },
}
BOXES = {
    "source-ref": "s3://acme-img/shelf/0007.jpg",
    "boxes": {
        "image_size": [{"width": 1024, "height": 768, "depth": 3}],
        "annotations": [
            {"class_id": 0, "left": 40, "top": 52, "width": 200, "height": 310},
            {"class_id": 4, "left": 600, "top": 120, "width": 96, "height": 80},
            {"class_id": 4, "left": 1000, "top": 120, "width": 96, "height": 80},
        ],
    },
    "boxes-metadata": {
        "objects": [{"confidence": 0.93}, {"confidence": 0.71}, {"confidence": 0.5}],
        "class-map": {"0": "bottle", "4": "can"},
        "type": "groundtruth/object-detection",
        "human-annotated": "yes",
        "creation-date": "2024-03-01T10:15:00.000000",
        "job-name": "labeling-job/boxes",
    },
}


def ndjson(*objects) -> bytes:
    return "\n".join(o if isinstance(o, str) else json.dumps(o) for o in objects).encode()


def post_lines(client, dataset, body: bytes):
    return client.generic("POST", f"/api/v1/datasets/{dataset.id}/entries/", body, content_type="application/x-ndjson")


@pytest.fixture
def dataset(project_with_roles):
    return make_dataset(project_with_roles.project, drafts=[Draft("s3://acme-img/pets/p001.jpg", labels=["old"])])


def test_lines_add_and_replace_entries_by_source_ref(project_with_roles, dataset):
    response = post_lines(project_with_roles.client("manager"), dataset, ndjson(CLASSIFICATION, BOXES))

    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["created"], body["updated"]) == (1, 1)
    replaced = Image.objects.get(dataset=dataset, source_ref="s3://acme-img/pets/p001.jpg")
    assert list(ImageLabel.objects.filter(image=replaced).values_list("label__name", "confidence")) == [("tabby", 0.91)]
    shelf = Image.objects.get(dataset=dataset, source_ref="s3://acme-img/shelf/0007.jpg")
    assert (shelf.width, shelf.height) == (1024, 768)
    assert sorted(BoundingBox.objects.filter(image=shelf).values_list("label__name", "left")) == [
        ("bottle", 40),
        ("can", 600),
    ]
    # The box outside the image was dropped and is reported, with its line, as kept-with-errors.
    assert shelf.has_errors is True
    assert [(e["line"], e["code"], e["rejected"]) for e in body["errors"]] == [(2, "ERROR_INVALID_BOUNDING_BOX", False)]
    assert_counts_true(dataset)


def test_bad_lines_are_reported_with_their_numbers_and_the_rest_lands(project_with_roles, dataset):
    lines = ndjson(
        CLASSIFICATION,
        '{"source-ref": "s3://acme-img/a.jpg", "x": ',
        {"source-ref": "https://example.com/a.jpg"},
        {"animal": 1},
        "",
        {**CLASSIFICATION, "source-ref": "s3://acme-img/new.jpg"},
        {**CLASSIFICATION, "source-ref": "s3://acme-img/new.jpg"},
    )

    body = post_lines(project_with_roles.client("owner"), dataset, lines).json()

    assert (body["created"], body["updated"]) == (1, 1)
    assert [(e["line"], e["code"]) for e in body["errors"]] == [
        (2, "ERROR_INVALID_JSON_LINE"),
        (3, "ERROR_INVALID_SOURCE_REF_FORMAT"),
        (4, "ERROR_MISSING_SOURCE_REF"),
        (7, "ERROR_DUPLICATE_SOURCE_REF"),
    ]
    assert all(e["rejected"] for e in body["errors"])
    assert all(e["message"].startswith(f"line {e['line']}:") for e in body["errors"])
    assert Image.objects.filter(dataset=dataset).count() == 2


def test_json_body_with_changes_works_too(project_with_roles, dataset):
    response = project_with_roles.client("owner").post(
        f"/api/v1/datasets/{dataset.id}/entries/", {"changes": ndjson(BOXES).decode()}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["created"] == 1


def test_lines_in_the_server_bucket_outside_the_drop_folder_are_refused_and_nothing_is_stored(
    project_with_roles, dataset, settings
):
    settings.AWS_STORAGE_BUCKET_NAME = DEFAULT_BUCKET
    drop = f"s3://{DEFAULT_BUCKET}/{drop_prefix(project_with_roles.project)}"
    lines = ndjson(
        {**CLASSIFICATION, "source-ref": f"{drop}pets/ok.jpg"},  # the project's drop folder: readable
        {**CLASSIFICATION, "source-ref": "s3://acme-img/pets/unread.jpg"},  # a foreign bucket: an unread reference
        {**CLASSIFICATION, "source-ref": f"s3://{DEFAULT_BUCKET}/pets/root.jpg"},  # the server's bucket, at its root
    )
    client = project_with_roles.client("manager")

    refused = post_lines(client, dataset, lines)

    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "bucket_not_allowed"
    assert refused.json()["error"]["fields"]["source-ref"].startswith("line 3:")
    assert list(Image.objects.filter(dataset=dataset).values_list("source_ref", flat=True)) == [
        "s3://acme-img/pets/p001.jpg"
    ]

    accepted = post_lines(client, dataset, b"\n".join(lines.splitlines()[:2]))

    assert accepted.status_code == 200, accepted.json()
    assert (accepted.json()["created"], accepted.json()["updated"]) == (2, 0)
    assert set(Image.objects.filter(dataset=dataset).values_list("source_ref", flat=True)) == {
        "s3://acme-img/pets/p001.jpg",
        f"{drop}pets/ok.jpg",
        "s3://acme-img/pets/unread.jpg",
    }
    assert_counts_true(dataset)


def test_a_body_over_5_mb_is_refused_and_changes_nothing(project_with_roles, dataset, settings):
    settings.MAX_NDJSON_BODY_BYTES = 1000
    body = ndjson(*[{**CLASSIFICATION, "source-ref": f"s3://acme-img/{i}.jpg"} for i in range(20)])

    response = post_lines(project_with_roles.client("owner"), dataset, body)

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    assert Image.objects.filter(dataset=dataset).count() == 1


def test_over_the_quota_nothing_is_added(project_with_roles, dataset, settings):
    settings.DATASET_MAX_ENTRIES = 2
    settings.DATASET_MAX_ENTRIES_CLASSIFICATION = 2
    body = ndjson(*[{**CLASSIFICATION, "source-ref": f"s3://acme-img/{i}.jpg"} for i in range(2)])

    response = post_lines(project_with_roles.client("owner"), dataset, body)

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "dataset_quota_exceeded"
    assert Image.objects.filter(dataset=dataset).count() == 1


@pytest.mark.parametrize(("role", "status"), [("manager", 200), ("annotator", 403), ("viewer", 403), ("outsider", 404)])
def test_who_may_update_entries(project_with_roles, dataset, role, status):
    response = post_lines(project_with_roles.client(role), dataset, ndjson(BOXES))

    assert response.status_code == status


def export(client, dataset):
    response = client.get(f"/api/v1/datasets/{dataset.id}/manifest/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/x-ndjson"
    return b"".join(response.streaming_content).decode().splitlines()


def test_export_writes_every_entry_with_labels_and_boxes(project_with_roles):
    drafts = [
        Draft("s3://bkt/1.jpg", labels=["cat", "kitten"]),
        Draft("s3://bkt/2.jpg", boxes=[Box("cat", 1, 2, 30, 40, 0.5)], image_width=100, image_height=80),
        Draft("s3://bkt/3.jpg"),
    ]
    dataset = make_dataset(project_with_roles.project, drafts=drafts)

    lines = [json.loads(line) for line in export(project_with_roles.client("viewer"), dataset)]

    assert [line["source-ref"] for line in lines] == ["s3://bkt/1.jpg", "s3://bkt/2.jpg", "s3://bkt/3.jpg"]
    classes = sorted(v["class-name"] for k, v in lines[0].items() if k.endswith("-metadata"))
    assert classes == ["cat", "kitten"]
    box_attribute = next(v for k, v in lines[1].items() if isinstance(v, dict) and "annotations" in v)
    assert box_attribute["image_size"][0]["width"] == 100
    assert box_attribute["annotations"][0] == {"class_id": 0, "left": 1, "top": 2, "width": 30, "height": 40}
    assert set(lines[2]) == {"source-ref"}


def test_export_then_update_entries_is_lossless(project_with_roles):
    drafts = [
        Draft("s3://bkt/1.jpg", labels=["cat", "dog"]),
        Draft("s3://bkt/2.jpg", labels=["dog"], boxes=[Box("cat", 1, 2, 30, 40, 0.5), Box("bird", 5, 5, 9, 9, 0.25)]),
        Draft("s3://bkt/3.jpg"),
    ]
    source = make_dataset(project_with_roles.project, name="source", drafts=drafts)
    target = make_dataset(project_with_roles.project, name="target")
    client = project_with_roles.client("owner")

    manifest = "\n".join(export(client, source)).encode()
    result = post_lines(client, target, manifest).json()

    assert result["created"] == 3
    assert result["errors"] == []

    def content(dataset):
        entries = client.get(f"/api/v1/datasets/{dataset.id}/entries/").json()["results"]
        return [
            (
                e["source_ref"],
                e["labels"],
                [(b["label"], b["left"], b["top"], b["width"], b["height"]) for b in e["boxes"]],
            )
            for e in entries
        ]

    def without_job_and_date(lines):
        parsed = [json.loads(line) for line in lines]
        for line in parsed:
            for value in line.values():
                if isinstance(value, dict):
                    value.pop("job-name", None)
                    value.pop("creation-date", None)
        return parsed

    assert content(target) == content(source)
    assert without_job_and_date(export(client, target)) == without_job_and_date(export(client, source))


def test_export_query_count_does_not_grow_with_the_dataset(project_with_roles, django_assert_max_num_queries):
    dataset = make_dataset(
        project_with_roles.project,
        drafts=[Draft(f"s3://bkt/{i}.jpg", labels=["a"], boxes=[Box("b")]) for i in range(300)],
    )
    client = project_with_roles.client("viewer")

    with django_assert_max_num_queries(12):
        lines = export(client, dataset)

    assert len(lines) == 300


def test_outsider_cannot_export(project_with_roles, dataset):
    response = project_with_roles.client("outsider").get(f"/api/v1/datasets/{dataset.id}/manifest/")

    assert response.status_code == 404


def test_export_manifest_command_writes_the_same_manifest(project_with_roles, tmp_path):
    from django.core.management import call_command

    dataset = make_dataset(
        project_with_roles.project, drafts=[Draft(f"s3://bkt/{i}.jpg", labels=["a"]) for i in range(5)]
    )
    output = tmp_path / "out.manifest"

    call_command("export_manifest", str(dataset.id), "--output", str(output), "--quiet")

    written = [json.loads(line)["source-ref"] for line in output.read_text().splitlines()]
    assert written == [f"s3://bkt/{i}.jpg" for i in range(5)]
