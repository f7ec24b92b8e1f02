import time

import pytest
import requests
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from datasets.models import Image
from tests.fixtures.datasets import Draft, make_dataset

pytestmark = pytest.mark.django_db


def entry_of(client, dataset, ref):
    body = client.get(f"/api/v1/datasets/{dataset.id}/entries/?source_ref_contains={ref}").json()
    (entry,) = body["results"]
    return entry


def test_local_files_get_a_signed_url_that_serves_them(project_with_roles, client):
    name = default_storage.save("uploads/test/signed.png", ContentFile(b"\x89PNG fake bytes"))
    dataset = make_dataset(project_with_roles.project, drafts=[Draft("upload://signed.png")])
    Image.objects.filter(dataset=dataset).update(storage_name=name)

    entry = entry_of(project_with_roles.client("viewer"), dataset, "signed")
    response = client.get(entry["image_url"])

    assert entry["image_url"].startswith("/files/")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"\x89PNG fake bytes"
    assert entry["thumbnail_url"] == entry["image_url"]  # no thumbnail yet: the image itself


def test_a_tampered_or_expired_link_serves_nothing(project_with_roles, client, settings):
    name = default_storage.save("uploads/test/secret.png", ContentFile(b"secret"))
    dataset = make_dataset(project_with_roles.project, drafts=[Draft("upload://secret.png")])
    Image.objects.filter(dataset=dataset).update(storage_name=name)
    url = entry_of(project_with_roles.client("viewer"), dataset, "secret")["image_url"]

    tampered = client.get(url[:-3] + "abc/")
    settings.AWS_QUERYSTRING_EXPIRE = 0
    time.sleep(1.1)
    expired = client.get(url)

    assert tampered.status_code == 404
    assert expired.status_code == 404


def test_a_forged_path_cannot_reach_other_files(client):
    assert client.get("/files/..%2F..%2Fetc%2Fpasswd/").status_code == 404


@pytest.mark.s3
def test_images_in_the_projects_drop_folder_get_a_presigned_get(project_with_roles, s3):
    project = project_with_roles.project
    ref = s3.put_in_drop(project, "shelf/0001.jpg", b"jpeg bytes")
    s3.put("shelf/0002.jpg", b"root bytes")  # at the root of the server's bucket, outside the drop folder
    dataset = make_dataset(
        project,
        drafts=[
            Draft(ref),
            Draft(f"s3://{s3.bucket}/shelf/0002.jpg"),  # a row stored before the rule (make_dataset skips it)
            Draft("s3://someone-elses-bucket/private.jpg"),
        ],
    )
    client = project_with_roles.client("viewer")

    ours = entry_of(client, dataset, "0001")
    root = entry_of(client, dataset, "0002")
    theirs = entry_of(client, dataset, "private")

    assert requests.get(ours["image_url"], timeout=10).content == b"jpeg bytes"
    assert "X-Amz-Expires=" in ours["image_url"]
    assert requests.get(ours["thumbnail_url"], timeout=10).content == b"jpeg bytes"  # no thumbnail: the image
    # The rule is judged at each signing: the server's bucket outside the project's folders is never signed.
    assert (root["image_url"], root["thumbnail_url"]) == (None, None)
    # Never sign another bucket with the server's credentials.
    assert theirs["image_url"] is None
