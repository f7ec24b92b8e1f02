"""The server's bucket as an attacker sees it: a fresh account, a project of its own, and another tenant's
uploads in the same bucket. Every route that could read them is refused; the project's own drop folder and
its own uploads keep working.

Runs on S3 storage (moto over HTTP), as a deployment does: uploads then lie in the server's bucket.
"""

import io
import json

import pytest
import requests
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from PIL import Image as PILImage

from core.storage_layout import bucket_layout
from datasets.models import Dataset, Image
from importers import services as import_services
from importers.models import ImportJob, ImportLineError
from projects.credentials import encrypt_secret
from projects.models import StorageConnection
from tests.fixtures.api import create_user, token_client
from tests.fixtures.s3 import png_bytes

pytestmark = [pytest.mark.s3, pytest.mark.django_db]


def png(color=(200, 30, 30)) -> bytes:
    out = io.BytesIO()
    PILImage.new("RGB", (120, 80), color).save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def s3_storage(s3, settings):
    settings.STORAGE_BACKEND = "s3"
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "storages.backends.s3.S3Storage"}}
    return s3


class Tenant:
    def __init__(self, name: str):
        self.user = create_user()
        self.client = token_client(self.user)
        body = self.client.post("/api/v1/projects/", {"name": name}, format="json").json()
        self.project_id = body["id"]
        self.dataset_id = self.create_dataset("train")

    def create_dataset(self, name, source=None, expect=(201, 202)):
        payload = {"name": name, "type": "train"} | ({"source": source} if source else {})
        response = self.client.post(f"/api/v1/projects/{self.project_id}/datasets/", payload, format="json")
        assert response.status_code in expect, response.content
        return response.json()["id"] if response.status_code < 400 else response

    def upload(self, dataset_id, content, name="secret.png"):
        response = self.client.post(
            f"/api/v1/datasets/{dataset_id}/uploads/",
            {"files": [SimpleUploadedFile(name, content)]},
            format="multipart",
        )
        assert response.status_code == 201, response.content
        return response.json()["created"][0]

    def entries(self, dataset_id):
        return self.client.get(f"/api/v1/datasets/{dataset_id}/entries/").json()["results"]

    def send_lines(self, dataset_id, *lines):
        body = "\n".join(json.dumps(line) for line in lines).encode()
        return self.client.post(f"/api/v1/datasets/{dataset_id}/entries/", body, content_type="application/x-ndjson")

    def drop(self, bucket):
        return f"s3://{bucket}/projects/{self.project_id}/"


@pytest.fixture
def victim(s3_storage):
    tenant = Tenant("Victim")
    tenant.secret = tenant.upload(tenant.dataset_id, png((10, 200, 10)))
    return tenant


@pytest.fixture
def attacker(victim):
    return Tenant("Attacker")


def refused(response):
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "bucket_not_allowed", response.json()
    return response.json()["error"]["message"]


def run_job(job_id):
    import_services.import_run(job_id=job_id)
    return ImportJob.objects.get(pk=job_id)


def test_the_victims_upload_lies_in_the_servers_bucket(victim, s3_storage):
    bucket = s3_storage.bucket
    assert victim.secret["source_ref"].startswith(f"s3://{bucket}/uploads/")
    assert requests.get(victim.secret["image_url"], timeout=10).content == png((10, 200, 10))


@pytest.mark.parametrize(
    "folder", ["uploads/", "", "thumbnails/", "projects/", "projects/{victim}/", "imports/", "projects/{victim}"]
)
def test_an_s3_folder_import_of_the_servers_bucket_outside_the_drop_folder_is_refused(
    attacker, victim, s3_storage, folder
):
    s3_storage.put(f"projects/{victim.project_id}/theirs.png", png())
    uri = f"s3://{s3_storage.bucket}/" + folder.format(victim=victim.project_id)

    response = attacker.create_dataset("loot", {"kind": "s3_folder", "s3_uri": uri, "auto_label": True}, expect=(400,))

    message = refused(response)
    assert f"s3://{s3_storage.bucket}/projects/{attacker.project_id}/" in message  # where its own files go
    assert not Dataset.objects.filter(project_id=attacker.project_id, name="loot").exists()


def test_the_own_drop_folder_imports_and_serves_its_images(attacker, s3_storage):
    s3_storage.put(f"projects/{attacker.project_id}/cats/1.png", png())
    s3_storage.put(f"projects/{attacker.project_id}0/cats/2.png", png())  # project 10 of project 1: not its own

    dataset_id = attacker.create_dataset(
        "mine", {"kind": "s3_folder", "s3_uri": attacker.drop(s3_storage.bucket), "auto_label": True}
    )
    job = run_job(ImportJob.objects.get(dataset_id=dataset_id).pk)

    assert job.status == "succeeded", job.error_message
    (entry,) = attacker.entries(dataset_id)
    assert entry["source_ref"] == f"s3://{s3_storage.bucket}/projects/{attacker.project_id}/cats/1.png"
    assert entry["labels"] == ["cats"]
    assert requests.get(entry["image_url"], timeout=10).content == png()


def test_a_manifest_line_naming_another_tenants_upload_is_refused(attacker, victim, s3_storage):
    lines = [
        {"source-ref": victim.secret["source_ref"], "cls": 0, "cls-metadata": {"class-name": "x"}},
        {"source-ref": f"s3://{s3_storage.bucket}/thumbnails/x.jpg"},
        {"source-ref": f"s3://{s3_storage.bucket}/projects/{victim.project_id}/theirs.png"},
    ]
    # Enough good lines that the refused ones stay under the reference's 20% rule and the job succeeds.
    mine = [f"s3://{s3_storage.bucket}/projects/{attacker.project_id}/mine-{i}.png" for i in range(12)]
    lines += [{"source-ref": ref} for ref in mine]
    for i in range(12):
        s3_storage.put(f"projects/{attacker.project_id}/mine-{i}.png", png())
    s3_storage.put(
        f"projects/{attacker.project_id}/in.manifest", "\n".join(json.dumps(line) for line in lines).encode()
    )
    source = {"kind": "manifest", "s3_uri": f"{attacker.drop(s3_storage.bucket)}in.manifest"}

    job = run_job(ImportJob.objects.get(dataset_id=attacker.create_dataset("loot", source)).pk)

    codes = dict(ImportLineError.objects.filter(job=job).values_list("line", "code"))
    assert codes == {1: "ERROR_BUCKET_NOT_ALLOWED", 2: "ERROR_BUCKET_NOT_ALLOWED", 3: "ERROR_BUCKET_NOT_ALLOWED"}
    refs = [entry["source_ref"] for entry in attacker.entries(job.dataset_id)]
    assert (job.status, job.imported) == ("succeeded", 12)
    assert sorted(refs) == sorted(mine)


def test_a_manifest_file_in_the_platforms_folders_is_refused(attacker, s3_storage):
    s3_storage.put("imports/manifests/someone.manifest", b'{"source-ref": "s3://b/k.png"}\n')
    source = {"kind": "manifest", "s3_uri": f"s3://{s3_storage.bucket}/imports/manifests/someone.manifest"}

    refused(attacker.create_dataset("loot", source, expect=(400,)))


def test_an_entry_change_naming_another_tenants_upload_is_refused_and_stores_nothing(attacker, victim):
    response = attacker.send_lines(
        attacker.dataset_id, {"source-ref": "s3://acme/ok.png"}, {"source-ref": victim.secret["source_ref"]}
    )

    assert "line 2" in refused(response)
    assert attacker.entries(attacker.dataset_id) == []


def test_dot_segments_backslashes_and_empty_segments_are_refused(attacker, s3_storage):
    drop = attacker.drop(s3_storage.bucket)
    bad = [
        f"{drop}../{attacker.project_id + 1}/x.png",
        f"{drop}./x.png",
        f"{drop}a//x.png",
        f"{drop}a\\..\\x.png",
        f"s3://{s3_storage.bucket}//uploads/x.png",
    ]
    response = attacker.send_lines(attacker.dataset_id, *({"source-ref": ref} for ref in bad))

    assert response.status_code == 200, response.content
    errors = response.json()["errors"]
    assert [error["line"] for error in errors] == [1, 2, 3, 4, 5]
    assert {error["code"] for error in errors} == {"ERROR_INVALID_SOURCE_REF_FORMAT"}
    assert attacker.entries(attacker.dataset_id) == []
    folder = {"kind": "s3_folder", "s3_uri": f"{drop}a/../../", "auto_label": False}
    assert attacker.create_dataset("dots", folder, expect=(400,)).json()["error"]["code"] == "invalid_s3_uri"


def test_copying_another_tenants_dataset_answers_404(attacker, victim):
    response = attacker.create_dataset("copy", {"kind": "dataset", "dataset": victim.dataset_id}, expect=(404,))

    assert response.status_code == 404


def test_a_connection_to_the_servers_bucket_is_refused(attacker, s3_storage):
    response = attacker.client.post(
        f"/api/v1/projects/{attacker.project_id}/connections/",
        {"name": "sneaky", "bucket": s3_storage.bucket, "access_key_id": "AKIA", "secret_access_key": "s"},
        format="json",
    )

    refused(response)
    assert not StorageConnection.objects.filter(project_id=attacker.project_id).exists()


def test_an_old_connection_to_the_servers_bucket_reads_nothing(attacker, victim, s3_storage):
    connection = StorageConnection.objects.create(
        project_id=attacker.project_id, name="old", bucket=s3_storage.bucket, access_key_id="k",
        secret_access_key_encrypted=encrypt_secret("s"),
    )  # fmt: skip
    source = {"kind": "s3_folder", "s3_uri": f"s3://{s3_storage.bucket}/uploads/", "connection": connection.pk}

    refused(attacker.create_dataset("loot", source, expect=(400,)))
    Image.objects.create(dataset_id=attacker.dataset_id, source_ref=victim.secret["source_ref"], connection=connection)
    (entry,) = attacker.entries(attacker.dataset_id)
    assert entry["image_url"] is None
    assert entry["thumbnail_url"] is None


def test_an_old_row_naming_another_tenants_upload_is_never_signed_and_is_listed(attacker, victim, s3_storage):
    # Stored before the rule existed (the way an import used to write it).
    Image.objects.create(dataset_id=attacker.dataset_id, source_ref=victim.secret["source_ref"])
    Image.objects.create(
        dataset_id=attacker.dataset_id, source_ref=f"s3://{s3_storage.bucket}/projects/{victim.project_id}/t.png"
    )

    entries = attacker.entries(attacker.dataset_id)
    out = io.StringIO()
    call_command("list_unscoped_entries", stdout=out)

    assert [(entry["image_url"], entry["thumbnail_url"]) for entry in entries] == [(None, None), (None, None)]
    report = out.getvalue()
    assert f"project {attacker.project_id}" in report
    assert "2 entries" in report
    assert f"project {victim.project_id}" not in report  # its own upload breaks no rule
    # The listed rows can be deleted by the operator, with the dataset's counts kept true.
    call_command("list_unscoped_entries", "--delete", stdout=io.StringIO())
    assert attacker.entries(attacker.dataset_id) == []
    assert len(victim.entries(victim.dataset_id)) == 1


def test_the_own_uploads_survive_export_and_reimport_and_copy(victim, attacker):
    manifest = b"".join(victim.client.get(f"/api/v1/datasets/{victim.dataset_id}/manifest/").streaming_content).decode()
    again = victim.create_dataset("again")
    copy = victim.create_dataset("copy", {"kind": "dataset", "dataset": victim.dataset_id})
    run_job(ImportJob.objects.get(dataset_id=copy).pk)

    response = victim.client.post(
        f"/api/v1/datasets/{again}/entries/", manifest.encode(), content_type="application/x-ndjson"
    )

    assert response.status_code == 200, response.content
    assert response.json()["created"] == 1
    for dataset_id in (again, copy):
        (entry,) = victim.entries(dataset_id)
        assert entry["source_ref"] == victim.secret["source_ref"]
        assert requests.get(entry["image_url"], timeout=10).content == png((10, 200, 10))
        assert entry["thumbnail_url"] is not None
    # The same manifest is another tenant's file for the attacker.
    refused(
        attacker.client.post(
            f"/api/v1/datasets/{attacker.dataset_id}/entries/", manifest.encode(), content_type="application/x-ndjson"
        )
    )


def test_an_uploaded_manifest_of_the_own_uploads_imports_them_again(victim):
    manifest = b"".join(victim.client.get(f"/api/v1/datasets/{victim.dataset_id}/manifest/").streaming_content)
    dataset_id = victim.create_dataset("reimport")
    response = victim.client.post(
        f"/api/v1/datasets/{dataset_id}/imports/", {"manifest": SimpleUploadedFile("m", manifest)}, format="multipart"
    )
    assert response.status_code == 202, response.content

    job = run_job(response.json()["id"])

    assert (job.status, job.imported, job.failed) == ("succeeded", 1, 0)
    (entry,) = victim.entries(dataset_id)
    assert requests.get(entry["image_url"], timeout=10).content == png((10, 200, 10))


def test_a_shared_prefix_is_readable_by_every_project_but_never_the_platforms_folders(attacker, s3_storage, settings):
    settings.SERVER_BUCKET_SHARED_PREFIXES = ["public-samples/"]
    s3_storage.put("public-samples/dogs/1.png", png_bytes())
    source = {"kind": "s3_folder", "s3_uri": f"s3://{s3_storage.bucket}/public-samples/", "auto_label": True}

    job = run_job(ImportJob.objects.get(dataset_id=attacker.create_dataset("shared", source)).pk)

    assert (job.status, job.imported) == ("succeeded", 1)
    for shared in (["uploads/"], ["uploads/a/"], ["thumbnails"], [""], ["projects/"], ["projects/7/"], ["/"]):
        with pytest.raises(ValueError, match=r"overlaps|whole bucket"):
            bucket_layout(location="", project_prefix="projects/", shared=shared)
    with pytest.raises(ValueError, match="overlaps the platform"):
        bucket_layout(location="", project_prefix="uploads/p", shared=[])
