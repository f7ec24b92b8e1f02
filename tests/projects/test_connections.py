import pytest
import requests

from core.errors import InvalidInput
from datasets.models import Image
from projects.models import StorageConnection
from projects.s3 import bucket_access
from tests.fixtures.datasets import Draft, make_dataset
from tests.fixtures.s3 import drop_prefix

pytestmark = pytest.mark.django_db

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def connections_url(project, connection_id=None):
    url = f"/api/v1/projects/{project.id}/connections/"
    return url if connection_id is None else f"{url}{connection_id}/"


def create(client, project, **overrides):
    body = {
        "name": "partner",
        "bucket": "partner-images",
        "prefix": "shared/",
        "access_key_id": "AKIAPARTNER",
        "secret_access_key": SECRET,
        **overrides,
    }
    return client.post(connections_url(project), body, format="json")


@pytest.mark.parametrize(("role", "status"), [("owner", 201), ("manager", 403), ("viewer", 403), ("outsider", 404)])
def test_only_owners_register_connections(project_with_roles, role, status):
    response = create(project_with_roles.client(role), project_with_roles.project)

    assert response.status_code == status
    assert StorageConnection.objects.exists() is (status == 201)


def test_the_secret_is_write_only_and_stored_encrypted(project_with_roles):
    created = create(project_with_roles.client("owner"), project_with_roles.project)
    listed = project_with_roles.client("manager").get(connections_url(project_with_roles.project))

    assert SECRET not in created.content.decode()
    assert SECRET not in listed.content.decode()
    assert listed.json()["results"][0]["bucket"] == "partner-images"
    stored = StorageConnection.objects.get()
    assert SECRET not in stored.secret_access_key_encrypted


@pytest.mark.parametrize("role", ["reviewer", "annotator", "viewer"])
def test_other_roles_cannot_list_connections(project_with_roles, role):
    create(project_with_roles.client("owner"), project_with_roles.project)

    assert project_with_roles.client(role).get(connections_url(project_with_roles.project)).status_code == 403


def test_bad_bucket_names_are_refused(project_with_roles):
    response = create(project_with_roles.client("owner"), project_with_roles.project, bucket="169.254.169.254")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_bucket"


@pytest.mark.parametrize(
    "region", ["", "us-east-1", "eu-central-2", "ap-southeast-4", "us-gov-west-1", "cn-north-1", "us-isob-east-1"]
)
def test_real_region_names_or_none_are_accepted(project_with_roles, region):
    response = create(project_with_roles.client("owner"), project_with_roles.project, region=region)

    assert response.status_code == 201, response.json()
    assert StorageConnection.objects.get().region == region


@pytest.mark.parametrize("region", ["us east 1", "US-EAST-1", "useast1", "us-east", "eu-central-2a", "http://x"])
def test_a_region_that_is_no_aws_region_name_is_refused_and_nothing_saved(project_with_roles, region):
    response = create(project_with_roles.client("owner"), project_with_roles.project, region=region)

    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], list(error["fields"])) == ("invalid_region", ["region"])
    assert not StorageConnection.objects.exists()


def test_the_admin_refuses_a_region_that_is_no_aws_region_name(project_with_roles, admin_client):
    connection_id = create(project_with_roles.client("owner"), project_with_roles.project).json()["id"]
    url = f"/admin/projects/storageconnection/{connection_id}/change/"
    form = {"project": project_with_roles.project.pk, "name": "partner", "prefix": "shared/", "region": "us east 1"}

    response = admin_client.post(url, form)

    assert response.status_code == 200  # the form again, with the error
    assert "not an AWS region name" in response.content.decode()
    assert StorageConnection.objects.get().region == ""


def test_a_connection_in_use_cannot_be_deleted(project_with_roles):
    project = project_with_roles.project
    connection_id = create(project_with_roles.client("owner"), project).json()["id"]
    dataset = make_dataset(project, drafts=[Draft("s3://partner-images/shared/a.jpg")])
    Image.objects.filter(dataset=dataset).update(connection_id=connection_id)
    client = project_with_roles.client("owner")

    refused = client.delete(connections_url(project, connection_id))
    dataset.delete()
    deleted = client.delete(connections_url(project, connection_id))

    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "connection_in_use"
    assert deleted.status_code == 204


def test_bucket_rules(project_with_roles, settings):
    settings.AWS_STORAGE_BUCKET_NAME = "groundwork-default"
    project = project_with_roles.project
    drop = drop_prefix(project)
    connection_id = create(project_with_roles.client("owner"), project).json()["id"]
    # A row stored before the rule (the API refuses to register one): a connection naming the server's bucket.
    server_connection = StorageConnection.objects.create(
        project=project, name="server", bucket="groundwork-default", access_key_id="A", secret_access_key_encrypted="x"
    )

    # The server's bucket: only the project's drop folder, with the server's credentials.
    for prefix, folder in [
        (drop, True),
        (drop + "cats/", True),
        (drop + "cats", True),
        (drop + "gt/out.manifest", False),
    ]:
        access = bucket_access(project_id=project.id, bucket="groundwork-default", key_prefix=prefix, folder=folder)
        assert (access.bucket, access.connection) == ("groundwork-default", None), prefix
    assert (
        bucket_access(
            project_id=project.id, bucket="partner-images", key_prefix="shared/cats/", connection_id=connection_id
        ).connection.pk
        == connection_id
    )
    for bucket, prefix, connection, folder in [
        ("someone-else", "", None, True),
        ("partner-images", "", None, True),
        ("partner-images", "private/", connection_id, True),
        ("partner-images", "shared-old/", connection_id, True),
        ("groundwork-default", "", connection_id, True),  # the partner connection is for another bucket
        ("groundwork-default", "", None, True),  # the whole server bucket
        ("groundwork-default", "cats/", None, True),  # a folder at its root
        ("groundwork-default", "gt/out.manifest", None, False),  # an object at its root
        ("groundwork-default", "projects/", None, True),  # every project's drop folder
        ("groundwork-default", drop.rstrip("/"), None, False),  # the drop folder's name, as an object
        ("groundwork-default", f"projects/{project.id}0/", None, True),  # a folder beginning with the same digits
        ("groundwork-default", f"projects/{project.id + 1}/", None, True),  # another project's drop folder
        ("groundwork-default", "uploads/", None, True),  # the platform's own files
        ("groundwork-default", f"{drop}../{project.id + 1}/", None, True),  # out of the drop folder by ".."
        ("groundwork-default", f"{drop}a//b/", None, True),  # an empty segment
        ("groundwork-default", drop, server_connection.pk, True),  # never through a connection
        ("groundwork-default", "", server_connection.pk, True),
    ]:
        with pytest.raises(InvalidInput) as refused:
            bucket_access(
                project_id=project.id, bucket=bucket, key_prefix=prefix, connection_id=connection, folder=folder
            )
        assert refused.value.code == "bucket_not_allowed", (bucket, prefix, connection)


def test_a_connection_naming_the_server_bucket_is_refused(project_with_roles, settings):
    settings.AWS_STORAGE_BUCKET_NAME = "groundwork-default"

    response = create(
        project_with_roles.client("owner"), project_with_roles.project, bucket="groundwork-default", prefix=""
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bucket_not_allowed"
    assert not StorageConnection.objects.exists()


@pytest.mark.parametrize("prefix", ["shared/../private/", "a//b/", "./shared/", "shared\\x/"])
def test_a_connection_prefix_with_dot_or_empty_segments_is_refused(project_with_roles, prefix):
    response = create(project_with_roles.client("owner"), project_with_roles.project, prefix=prefix)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_prefix"
    assert not StorageConnection.objects.exists()


def test_a_connection_of_another_project_cannot_be_used(project_with_roles, make_user):
    from projects.services import project_create

    other = project_create(user=make_user(), name="Other")
    foreign = StorageConnection.objects.create(
        project=other, name="x", bucket="partner-images", access_key_id="A", secret_access_key_encrypted="x"
    )

    with pytest.raises(InvalidInput) as refused:
        bucket_access(project_id=project_with_roles.project.id, bucket="partner-images", connection_id=foreign.pk)

    assert refused.value.code == "connection_not_found"


@pytest.mark.s3
def test_entries_of_a_connection_get_urls_signed_with_its_key(project_with_roles, s3):
    s3.client.create_bucket(Bucket="partner-images")
    s3.put("shared/a.jpg", b"partner bytes", bucket="partner-images")
    project = project_with_roles.project
    connection_id = create(project_with_roles.client("owner"), project).json()["id"]
    dataset = make_dataset(project, drafts=[Draft("s3://partner-images/shared/a.jpg")])
    Image.objects.filter(dataset=dataset).update(connection_id=connection_id)

    (entry,) = project_with_roles.client("viewer").get(f"/api/v1/datasets/{dataset.id}/entries/").json()["results"]

    assert "AKIAPARTNER" in entry["image_url"]
    assert requests.get(entry["image_url"], timeout=10).content == b"partner bytes"
