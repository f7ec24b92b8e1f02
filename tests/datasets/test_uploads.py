import io
import random
import subprocess
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image as PILImage

from datasets.models import Image
from tests.fixtures.datasets import assert_counts_true, make_dataset

pytestmark = pytest.mark.django_db


def image_bytes(fmt="PNG", size=(120, 80), color=(200, 30, 30), orientation=None):
    img = PILImage.new("RGB", size, color)
    out = io.BytesIO()
    if orientation and fmt == "JPEG":
        exif = PILImage.Exif()
        exif[0x0112] = orientation
        img.save(out, fmt, exif=exif)
    else:
        img.save(out, fmt)
    return out.getvalue()


def upload(client, dataset, files, labels=None):
    data = {"files": [SimpleUploadedFile(name, content) for name, content in files]}
    if labels is not None:
        data["labels"] = labels
    return client.post(f"/api/v1/datasets/{dataset.id}/uploads/", data, format="multipart")


@pytest.fixture
def dataset(project_with_roles):
    return make_dataset(project_with_roles.project)


def stored_files():
    root = Path(django_settings.MEDIA_ROOT)
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_images_are_checked_by_content_and_stored_with_thumbnails(project_with_roles, dataset, client):
    files = [
        ("red.png", image_bytes("PNG")),
        ("photo.jpg", image_bytes("JPEG", size=(200, 100), orientation=6)),
        ("fake.jpg", image_bytes("GIF")),
        ("tiny.png", image_bytes("PNG", size=(32, 32))),
        ("notes.png", b"just some text, not an image"),
        ("wide.png", image_bytes("PNG", size=(2100, 100))),
    ]

    response = upload(project_with_roles.client("manager"), dataset, files, labels="cat, dog")

    assert response.status_code == 201
    body = response.json()
    created = {e["width"]: e for e in body["created"]}
    assert sorted(created) == [120, 200]
    assert created[200]["format"] == "JPEG"
    assert created[200]["orientation"] == 6
    assert created[120]["labels"] == ["cat", "dog"]
    assert {(e["file"], e["code"]) for e in body["errors"]} == {
        ("fake.jpg", "unsupported_format"),
        ("tiny.png", "image_too_small"),
        ("notes.png", "unsupported_format"),
        ("wide.png", "aspect_ratio"),
    }
    thumbnail = client.get(created[200]["thumbnail_url"])
    thumb = PILImage.open(io.BytesIO(b"".join(thumbnail.streaming_content)))
    assert thumb.size[0] < thumb.size[1]  # shown upright: orientation 6 turns the 200x100 image on its side
    original = client.get(created[120]["image_url"])
    assert b"".join(original.streaming_content) == image_bytes("PNG")
    assert_counts_true(dataset)


def test_file_names_never_become_paths(project_with_roles, dataset):
    response = upload(project_with_roles.client("owner"), dataset, [("../../../etc/evil.png", image_bytes())])

    assert response.status_code == 201
    entry = Image.objects.get(dataset=dataset)
    assert "evil" not in entry.storage_name
    assert ".." not in entry.storage_name
    assert entry.storage_name.startswith(f"uploads/{dataset.id}/")
    assert entry.source_ref.startswith("s3://groundwork-local/uploads/")


def test_a_file_over_the_limit_is_cut_off_and_the_others_land(project_with_roles, dataset, settings):
    settings.UPLOAD_MAX_FILE_BYTES = 5000
    big = image_bytes("PNG", size=(1000, 1000), color=(1, 2, 3)) + b"\0" * 10_000

    response = upload(project_with_roles.client("owner"), dataset, [("big.png", big), ("ok.png", image_bytes())])

    body = response.json()
    assert response.status_code == 201
    assert len(body["created"]) == 1
    assert body["errors"] == [
        {"file": "big.png", "code": "file_too_large", "message": "big.png: the file is over 15 MB"}
    ]


def test_many_files_in_one_request(project_with_roles, dataset):
    files = [(f"img{i}.png", image_bytes(color=(i, i, i))) for i in range(40)]

    response = upload(project_with_roles.client("owner"), dataset, files)

    assert len(response.json()["created"]) == 40
    dataset.refresh_from_db()
    assert dataset.total_entries == 40


def test_over_the_quota_nothing_is_stored(project_with_roles, dataset, settings):
    settings.DATASET_MAX_ENTRIES = 1
    settings.DATASET_MAX_ENTRIES_CLASSIFICATION = 1
    before = stored_files()

    response = upload(project_with_roles.client("owner"), dataset, [("a.png", image_bytes()), ("b.png", image_bytes())])

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "dataset_quota_exceeded"
    assert stored_files() == before
    assert not Image.objects.filter(dataset=dataset).exists()


def test_a_bad_label_refuses_the_whole_upload(project_with_roles, dataset):
    before = stored_files()

    response = upload(project_with_roles.client("owner"), dataset, [("a.png", image_bytes())], labels="x" * 300)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_label_name"
    assert stored_files() == before


def test_no_files_is_refused(project_with_roles, dataset):
    response = project_with_roles.client("owner").post(
        f"/api/v1/datasets/{dataset.id}/uploads/", {"labels": "a"}, format="multipart"
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "no_files"


@pytest.mark.parametrize(("role", "status"), [("annotator", 403), ("viewer", 403), ("outsider", 404)])
def test_who_may_upload(project_with_roles, dataset, role, status):
    response = upload(project_with_roles.client(role), dataset, [("a.png", image_bytes())])

    assert response.status_code == status
    assert not Image.objects.filter(dataset=dataset).exists()


@pytest.mark.s3
def test_uploads_go_to_s3_when_the_storage_is_s3(project_with_roles, dataset, s3, settings):
    import requests

    settings.STORAGE_BACKEND = "s3"
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "storages.backends.s3.S3Storage"}}

    response = upload(project_with_roles.client("owner"), dataset, [("a.png", image_bytes())])

    (entry,) = response.json()["created"]
    keys = [o["Key"] for o in s3.client.list_objects_v2(Bucket=s3.bucket)["Contents"]]
    stored = Image.objects.get(dataset=dataset)
    assert entry["source_ref"] == f"s3://{s3.bucket}/{stored.storage_name}"
    assert stored.storage_name in keys
    assert stored.thumbnail_name in keys
    assert requests.get(entry["image_url"], timeout=10).content == image_bytes()


@pytest.fixture
def small_disk(settings, tmp_path):
    """MEDIA_ROOT on a 300 KB tmpfs: a real disk that fills up (the tests run as root, as CI does)."""
    mount_point = tmp_path / "small-disk"
    mount_point.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=300k", "tmpfs", str(mount_point)], check=True)
    settings.MEDIA_ROOT = str(mount_point)
    yield mount_point
    subprocess.run(["umount", str(mount_point)], check=True)


def noise_png(side: int) -> bytes:
    """A PNG that does not compress: side x side x 3 bytes."""
    out = io.BytesIO()
    PILImage.frombytes("RGB", (side, side), random.Random(side).randbytes(side * side * 3)).save(out, "PNG")
    return out.getvalue()


def test_on_a_full_disk_the_files_that_fit_are_stored_and_the_others_refused(project_with_roles, dataset, small_disk):
    files = [("small-1.png", image_bytes("PNG")), ("big.png", noise_png(400)), ("small-2.png", image_bytes("PNG"))]
    assert len(files[1][1]) > 300 * 1024

    response = upload(project_with_roles.client("manager"), dataset, files)

    assert response.status_code == 201, response.json()
    body = response.json()
    assert len(body["created"]) == 2
    assert [(e["file"], e["code"]) for e in body["errors"]] == [("big.png", "storage_full")]
    names = sorted(p.relative_to(small_disk).parts[0] for p in small_disk.rglob("*") if p.is_file())
    assert names == ["thumbnails", "thumbnails", "uploads", "uploads"]  # no part of big.png left behind
    assert Image.objects.filter(dataset=dataset).count() == 2
    assert_counts_true(dataset)
