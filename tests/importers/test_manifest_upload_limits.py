"""An uploaded manifest is limited by MANIFEST_MAX_BYTES, not by the image limit, wherever it is sent from
(the API with a token or a browser session, or the create-dataset page), and one over the limit is cut off
while it streams in: 413 ERROR_MANIFEST_SIZE_TOO_LARGE, no job, no file left behind."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from importers.models import ImportJob
from tests.fixtures.datasets import make_dataset

pytestmark = pytest.mark.django_db

LINE = b'{"source-ref": "s3://bucket/projects/1/images/000000.jpg", "animal": 0}\n'


def manifest_of(size: int) -> bytes:
    return (LINE * (size // len(LINE) + 1))[:size]


def session_client(user, *, csrf: bool) -> APIClient:
    """A browser's session: with CSRF checks, so the session authentication reads the body before the view."""
    client = APIClient(enforce_csrf_checks=csrf)
    client.force_login(user)
    if csrf:
        secret = "a" * 32
        client.cookies["csrftoken"] = secret
        client.defaults["HTTP_X_CSRFTOKEN"] = secret
    return client


@pytest.fixture
def temp_dir(settings, tmp_path):
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path)
    return tmp_path


@pytest.mark.parametrize("auth", ["token", "session"])
def test_a_manifest_over_the_image_limit_is_taken_whole(project_with_roles, temp_dir, auth):
    """16 MB: over the 15 MB of an image, far under the manifest's 1 GB (the defaults)."""
    dataset = make_dataset(project_with_roles.project)
    manager = project_with_roles.user("manager")
    client = project_with_roles.client("manager") if auth == "token" else session_client(manager, csrf=True)
    body = manifest_of(16 * 1024 * 1024)

    response = client.post(
        f"/api/v1/datasets/{dataset.id}/imports/",
        {"manifest": SimpleUploadedFile("output.manifest", body)},
        format="multipart",
    )

    assert response.status_code == 202, response.json()
    job = ImportJob.objects.get(pk=response.json()["id"])
    assert job.params["size"] == len(body)


@pytest.mark.parametrize("auth", ["token", "session"])
def test_a_manifest_over_its_limit_is_cut_off_with_413(project_with_roles, settings, temp_dir, auth):
    settings.MANIFEST_MAX_BYTES = 2 * 1024 * 1024
    dataset = make_dataset(project_with_roles.project)
    manager = project_with_roles.user("manager")
    client = project_with_roles.client("manager") if auth == "token" else session_client(manager, csrf=True)

    response = client.post(
        f"/api/v1/datasets/{dataset.id}/imports/",
        {"manifest": SimpleUploadedFile("output.manifest", manifest_of(3 * 1024 * 1024))},
        format="multipart",
    )

    assert response.status_code == 413
    error = response.json()["error"]
    assert error["code"] == "ERROR_MANIFEST_SIZE_TOO_LARGE"
    assert "2.0 MB" in error["message"]
    assert not ImportJob.objects.filter(dataset=dataset).exists()
    assert list(temp_dir.iterdir()) == []  # the part received was deleted when it was cut off


def test_the_page_takes_a_manifest_over_the_image_limit(project_with_roles, s3, temp_dir):
    client = Client()
    client.force_login(project_with_roles.user("manager"))
    body = manifest_of(16 * 1024 * 1024)

    response = client.post(
        reverse("frontend:dataset_new", kwargs={"project_id": project_with_roles.project.pk}),
        {"name": "big", "type": "train", "source": "manifest", "manifest_from": "file",
         "manifest_file": SimpleUploadedFile("output.manifest", body)},
    )  # fmt: skip

    job = ImportJob.objects.get(dataset__name="big")
    assert response.status_code == 302
    assert response["Location"] == reverse("frontend:import", kwargs={"import_id": job.pk})
    assert job.params["size"] == len(body)


def test_the_page_says_a_manifest_is_over_its_limit(project_with_roles, settings, temp_dir):
    settings.MANIFEST_MAX_BYTES = 1024 * 1024
    client = Client()
    client.force_login(project_with_roles.user("manager"))

    response = client.post(
        reverse("frontend:dataset_new", kwargs={"project_id": project_with_roles.project.pk}),
        {"name": "big", "type": "train", "source": "manifest", "manifest_from": "file",
         "manifest_file": SimpleUploadedFile("output.manifest", manifest_of(2 * 1024 * 1024))},
    )  # fmt: skip

    assert response.status_code == 200
    assert "The manifest file is over 1.0 MB; it was not received." in response.content.decode()
    assert not ImportJob.objects.filter(dataset__name="big").exists()
    assert list(temp_dir.iterdir()) == []
