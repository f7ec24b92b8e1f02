import json
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from datasets.models import BoundingBox, Image, ImageLabel
from importers import manifest_source, services
from importers.models import ImportJob, ImportLineError
from tests.fixtures.datasets import Draft, assert_counts_true, make_dataset
from tests.fixtures.s3 import DEFAULT_BUCKET, drop_prefix, png_bytes

pytestmark = [pytest.mark.s3, pytest.mark.django_db]


def classification(ref, name="tabby"):
    return {
        "source-ref": ref,
        "animal": 0,
        "animal-metadata": {"class-name": name, "confidence": 0.9, "type": "groundtruth/image-classification",
                            "human-annotated": "yes", "creation-date": "2024-03-01T10:15:00"},
    }  # fmt: skip


def boxes(ref):
    return {
        "source-ref": ref,
        "b": {"image_size": [{"width": 800, "height": 600, "depth": 3}],
              "annotations": [{"class_id": 0, "left": 10, "top": 10, "width": 100, "height": 80},
                              {"class_id": 0, "left": 790, "top": 10, "width": 100, "height": 80}]},
        "b-metadata": {"objects": [{"confidence": 0.9}, {"confidence": 0.8}], "class-map": {"0": "can"},
                       "type": "groundtruth/object-detection", "human-annotated": "yes",
                       "creation-date": "2024-03-01T10:15:00"},
    }  # fmt: skip


def manifest(*lines) -> bytes:
    return "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines).encode()


def put_images(s3, body: bytes) -> None:
    """A real image at every key of our bucket that the manifest names."""
    for ref in set(re.findall(rf"s3://{s3.bucket}/[^\"]+", body.decode(errors="replace"))):
        s3.put(ref.removeprefix(f"s3://{s3.bucket}/"), png_bytes(800, 600))


def run(project, s3, body: bytes, *, dataset=None, key="gt/output.manifest"):
    """Import the manifest `body`, put at `key` in the project's drop folder, with the images it names."""
    put_images(s3, body)
    source = {"kind": "manifest", "s3_uri": s3.put_in_drop(project, key, body)}
    if dataset is None:
        dataset, job = services.dataset_create_from_source(
            project_id=project.pk, name="from-manifest", type="train", source=source, user=None
        )
    else:
        job = services.import_start(dataset_id=dataset.pk, source=source, user=None)
    services.import_run(job_id=job.pk)
    job.refresh_from_db()
    dataset.refresh_from_db()
    return dataset, job


def test_lines_become_entries_and_bad_lines_are_reported_with_numbers(project_with_roles, s3):
    ref = s3.drop_uri(project_with_roles.project, "img")
    body = manifest(
        classification(f"{ref}/1.jpg"),
        boxes(f"{ref}/2.jpg"),
        '{"source-ref": "s3://x/y.jpg",',
        {"animal": 1},
        classification("https://example.com/3.jpg"),
        classification(f"{ref}/1.jpg", name="dup"),
        "",
        classification("s3://someone-elses-bucket/4.jpg"),
        *[classification(f"{ref}/ok{i}.jpg") for i in range(20)],
    )

    dataset, job = run(project_with_roles.project, s3, body)

    assert job.status == "succeeded", job.error_message
    assert (job.seen, job.imported, job.skipped, job.failed) == (27, 22, 0, 5)
    errors = list(ImportLineError.objects.filter(job=job).values_list("line", "code"))
    assert errors == [
        (2, "ERROR_INVALID_BOUNDING_BOX"),
        (3, "ERROR_INVALID_JSON_LINE"),
        (4, "ERROR_MISSING_SOURCE_REF"),
        (5, "ERROR_INVALID_SOURCE_REF_FORMAT"),
        (6, "ERROR_DUPLICATE_SOURCE_REF"),
        (8, "ERROR_BUCKET_NOT_ALLOWED"),
    ]
    first = Image.objects.get(dataset=dataset, source_ref=f"{ref}/1.jpg")
    assert list(ImageLabel.objects.filter(image=first).values_list("label__name", flat=True)) == ["tabby"]
    boxed = Image.objects.get(dataset=dataset, source_ref=f"{ref}/2.jpg")
    assert (boxed.width, boxed.height, boxed.has_errors) == (800, 600, True)
    assert BoundingBox.objects.filter(image=boxed).count() == 1
    assert_counts_true(dataset)
    # What the progress bar reads: the manifest's size, how far it was read, how many images were probed.
    assert job.params["size"] == job.checkpoint["offset"] == len(body)
    assert job.checkpoint["probed"] == 22


def test_an_uploaded_manifest_is_imported(project_with_roles, s3):
    dataset = make_dataset(project_with_roles.project)
    body = manifest(*[classification(s3.drop_uri(project_with_roles.project, f"u/{i}.jpg")) for i in range(3)])
    put_images(s3, body)

    response = project_with_roles.client("manager").post(
        f"/api/v1/datasets/{dataset.id}/imports/",
        {"manifest": SimpleUploadedFile("output.manifest", body)},
        format="multipart",
    )
    assert response.status_code == 202
    services.import_run(job_id=response.json()["id"])

    job = ImportJob.objects.get(pk=response.json()["id"])
    assert (job.status, job.imported) == ("succeeded", 3)
    detail = project_with_roles.client("viewer").get(f"/api/v1/imports/{job.pk}/").json()
    assert detail["progress"] == {"phase": "finished", "done": None, "total": None, "fraction": None}
    dataset.refresh_from_db()
    assert (dataset.status, dataset.total_entries) == ("ready", 3)


@pytest.mark.parametrize(
    ("body", "setting", "code"),
    [
        (b"", {}, "ERROR_EMPTY_MANIFEST"),
        (b"\n\n", {}, "ERROR_EMPTY_MANIFEST"),
        (None, {"MANIFEST_MAX_LINES": 5}, "ERROR_MANIFEST_ROWS_EXCEEDS_MAXIMUM"),
        (None, {"MANIFEST_MAX_BYTES": 100}, "ERROR_MANIFEST_SIZE_TOO_LARGE"),
        (
            b"not json\n" * 3 + b'{"source-ref": "DROP/a.jpg"}\n',  # DROP: the project's drop folder
            {},
            "ERROR_TOO_MANY_RECORDS_IN_ERROR",
        ),
    ],
)
def test_terminal_errors_leave_the_dataset_as_it_was(
    project_with_roles, s3, settings, monkeypatch, body, setting, code
):
    monkeypatch.setattr(manifest_source, "BATCH_LINES", 2)  # earlier batches are written before the failure
    for name, value in setting.items():
        setattr(settings, name, value)
    kept = s3.drop_uri(project_with_roles.project, "kept.jpg")
    existing = make_dataset(project_with_roles.project, drafts=[Draft(kept, labels=["old"])])
    if body is None:
        body = manifest(*[classification(s3.drop_uri(project_with_roles.project, f"t/{i}.jpg")) for i in range(8)])
    body = body.replace(b"DROP/", s3.drop_uri(project_with_roles.project).encode())

    dataset, job = run(project_with_roles.project, s3, body, dataset=existing)

    assert (job.status, job.error_code) == ("failed", code)
    assert list(Image.objects.filter(dataset=dataset).values_list("source_ref", flat=True)) == [kept]
    assert dataset.status == "ready"  # the dataset existed before: it stays usable, unchanged
    assert_counts_true(dataset)


@pytest.mark.parametrize("uploaded", [False, True])
def test_a_manifest_over_the_line_limit_fails_before_any_entry_is_written(
    project_with_roles, s3, settings, monkeypatch, uploaded
):
    monkeypatch.setattr(manifest_source, "BATCH_LINES", 2)
    settings.MANIFEST_MAX_LINES = 5
    written = []
    monkeypatch.setattr(manifest_source, "_write_batch", lambda job_id, batch: written.append(batch))
    body = manifest(*[classification(s3.drop_uri(project_with_roles.project, f"l/{i}.jpg")) for i in range(6)])
    if uploaded:
        dataset = make_dataset(project_with_roles.project)
        response = project_with_roles.client("manager").post(
            f"/api/v1/datasets/{dataset.id}/imports/",
            {"manifest": SimpleUploadedFile("output.manifest", body)},
            format="multipart",
        )
        services.import_run(job_id=response.json()["id"])
        job = ImportJob.objects.get(pk=response.json()["id"])
    else:
        dataset, job = run(project_with_roles.project, s3, body)

    assert (job.status, job.error_code) == ("failed", "ERROR_MANIFEST_ROWS_EXCEEDS_MAXIMUM")
    assert written == []  # not one batch reached the database, so there was nothing to undo
    assert (job.seen, job.imported, job.checkpoint.get("line")) == (0, 0, None)
    assert not Image.objects.filter(dataset=dataset).exists()


def test_a_manifest_at_the_line_limit_is_imported_and_its_count_kept(project_with_roles, s3, settings):
    settings.MANIFEST_MAX_LINES = 5
    body = manifest(*[classification(s3.drop_uri(project_with_roles.project, f"k/{i}.jpg")) for i in range(5)])

    _, job = run(project_with_roles.project, s3, body)

    assert (job.status, job.imported, job.checkpoint["lines_total"]) == ("succeeded", 5, 5)


def test_a_missing_manifest_is_inaccessible(project_with_roles, s3):
    source = {"kind": "manifest", "s3_uri": s3.drop_uri(project_with_roles.project, "nowhere.manifest")}
    _, job = services.dataset_create_from_source(
        project_id=project_with_roles.project.pk, name="m", type="train", source=source, user=None
    )

    services.import_run(job_id=job.pk)

    job.refresh_from_db()
    assert job.error_code == "ERROR_MANIFEST_INACCESSIBLE_OR_UNSUPPORTED_FORMAT"


def test_a_killed_import_resumes_after_the_last_batch_written(project_with_roles, s3, monkeypatch):
    monkeypatch.setattr(manifest_source, "BATCH_LINES", 4)
    body = manifest(
        *[classification(s3.drop_uri(project_with_roles.project, f"r/{i}.jpg")) for i in range(10)], {"animal": 1}
    )
    put_images(s3, body)
    source = {"kind": "manifest", "s3_uri": s3.put_in_drop(project_with_roles.project, "gt/r.manifest", body)}
    dataset, job = services.dataset_create_from_source(
        project_id=project_with_roles.project.pk, name="r", type="train", source=source, user=None
    )
    real, calls = manifest_source._write_batch, {"n": 0}

    def crash_on_second_batch(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise ConnectionError("worker killed")
        return real(*args, **kwargs)

    monkeypatch.setattr(manifest_source, "_write_batch", crash_on_second_batch)
    with pytest.raises(ConnectionError):
        services.import_run(job_id=job.pk)
    services.import_run(job_id=job.pk)

    job.refresh_from_db()
    assert (job.status, job.seen, job.imported, job.failed) == ("succeeded", 11, 10, 1)
    assert list(ImportLineError.objects.filter(job=job).values_list("line", flat=True)) == [11]
    assert Image.objects.filter(dataset=dataset).count() == 10


def test_source_refs_the_dataset_has_are_skipped(project_with_roles, s3):
    ref = s3.drop_uri(project_with_roles.project, "s/1.jpg")
    existing = make_dataset(project_with_roles.project, drafts=[Draft(ref, labels=["mine"])])

    dataset, job = run(
        project_with_roles.project, s3, manifest(classification(ref), classification(ref + "x")), dataset=existing
    )

    assert (job.imported, job.skipped) == (1, 1)
    entry = Image.objects.get(dataset=dataset, source_ref=ref)
    assert list(ImageLabel.objects.filter(image=entry).values_list("label__name", flat=True)) == ["mine"]


def test_probing_keeps_a_box_lines_image_size_and_records_format_and_bytes(project_with_roles, s3):
    image = png_bytes(96, 64)
    boxed_ref = s3.put_in_drop(project_with_roles.project, "sized/boxed.jpg", image)
    plain_ref = s3.put_in_drop(project_with_roles.project, "sized/plain.jpg", image)
    manifest_uri = s3.put_in_drop(
        project_with_roles.project, "gt/sized.manifest", manifest(boxes(boxed_ref), classification(plain_ref))
    )
    source = {"kind": "manifest", "s3_uri": manifest_uri}
    dataset, job = services.dataset_create_from_source(
        project_id=project_with_roles.project.pk, name="sized", type="train", source=source, user=None
    )

    services.import_run(job_id=job.pk)

    entries = {e.source_ref.rsplit("/", 1)[1]: e for e in Image.objects.filter(dataset=dataset)}
    boxed, plain = entries["boxed.jpg"], entries["plain.jpg"]
    # The manifest's image_size is trusted for a box line; the probe gives the rest, and a plain line's size.
    assert (boxed.width, boxed.height, boxed.format, boxed.byte_size) == (800, 600, "PNG", len(image))
    assert (plain.width, plain.height, plain.format, plain.byte_size) == (96, 64, "PNG", len(image))
    assert (boxed.orientation, plain.orientation, plain.has_errors) == (1, 1, False)


def test_a_source_ref_repeated_in_a_later_batch_is_reported_and_the_first_kept(project_with_roles, s3, monkeypatch):
    monkeypatch.setattr(manifest_source, "BATCH_LINES", 2)
    ref = s3.drop_uri(project_with_roles.project, "rep")
    existing = make_dataset(project_with_roles.project, drafts=[Draft(f"{ref}/old.jpg", labels=["mine"])])
    body = manifest(
        classification(f"{ref}/1.jpg", name="first"),
        boxes(f"{ref}/2.jpg"),
        classification(f"{ref}/old.jpg"),
        classification(f"{ref}/1.jpg", name="second"),
        boxes(f"{ref}/2.jpg"),
        *[classification(f"{ref}/ok{i}.jpg") for i in range(10)],  # within the 20% rule
    )

    dataset, job = run(project_with_roles.project, s3, body, dataset=existing)

    assert (job.status, job.seen, job.imported, job.skipped, job.failed) == ("succeeded", 15, 12, 1, 2)
    repeats = ImportLineError.objects.filter(job=job, code="ERROR_DUPLICATE_SOURCE_REF").order_by("line")
    assert [(error.line, error.message) for error in repeats] == [
        (4, f"line 4: {ref}/1.jpg repeats an earlier line; the first is kept"),
        (5, f"line 5: {ref}/2.jpg repeats an earlier line; the first is kept"),
    ]
    first = Image.objects.get(dataset=dataset, source_ref=f"{ref}/1.jpg")
    assert list(ImageLabel.objects.filter(image=first).values_list("label__name", flat=True)) == ["first"]
    assert BoundingBox.objects.filter(image__source_ref=f"{ref}/2.jpg").count() == 1
    assert_counts_true(dataset)


@pytest.mark.parametrize(
    "key",
    [
        "gt/output.manifest",  # at the root of the server's bucket
        "projects/gt/output.manifest",  # beside the drop folders, in none
        "uploads/output.manifest",  # the platform's own files
        "DROP/../gt/output.manifest",  # out of the drop folder by a ".." segment
    ],
)
def test_a_manifest_in_the_server_bucket_outside_the_drop_folder_is_refused(project_with_roles, s3, key):
    key = key.replace("DROP/", drop_prefix(project_with_roles.project))
    s3.put(key, manifest(classification(s3.drop_uri(project_with_roles.project, "1.jpg"))))

    response = project_with_roles.client("manager").post(
        f"/api/v1/projects/{project_with_roles.project.id}/datasets/",
        {"name": "x", "source": {"kind": "manifest", "s3_uri": f"s3://{DEFAULT_BUCKET}/{key}"}},
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == ("invalid_s3_uri" if ".." in key else "bucket_not_allowed")
    assert not ImportJob.objects.exists()


def test_lines_in_the_server_bucket_outside_the_drop_folder_are_refused_and_not_imported(project_with_roles, s3):
    inside = [s3.drop_uri(project_with_roles.project, f"in/{i}.jpg") for i in range(5)]
    outside = f"s3://{s3.bucket}/in/5.jpg"
    s3.put("in/5.jpg", png_bytes(800, 600))  # it exists, at the root: still not the project's to read
    body = manifest(*[classification(ref) for ref in inside], classification(outside))

    dataset, job = run(project_with_roles.project, s3, body)

    assert (job.status, job.seen, job.imported, job.failed) == ("succeeded", 6, 5, 1)
    assert list(ImportLineError.objects.filter(job=job).values_list("line", "code")) == [
        (6, "ERROR_BUCKET_NOT_ALLOWED")
    ]
    assert set(Image.objects.filter(dataset=dataset).values_list("source_ref", flat=True)) == set(inside)
    assert_counts_true(dataset)
