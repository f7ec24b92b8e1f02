"""The project pages through Django's test client: who sees what, who may do what (outsiders get 404)."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from datasets.models import Dataset
from datasets.services.datasets import dataset_create
from importers.models import ImportJob, ImportLineError
from projects.models import Membership, StorageConnection
from projects.services import connection_create
from tests.fixtures.datasets import Draft, add_entries

pytestmark = pytest.mark.django_db


def client_of(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def roles(project_with_roles):
    return project_with_roles


@pytest.fixture
def dataset(roles):
    return dataset_create(project_id=roles.project.pk, name="train", type="train", user=None)


def test_anonymous_visitors_are_sent_to_the_login_page(roles):
    response = Client().get(reverse("frontend:project", kwargs={"project_id": roles.project.pk}))
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("frontend:project", "project"),
        ("frontend:dataset_new", "project"),
        ("frontend:dataset_upload", "dataset"),
        ("frontend:import", "import"),
        ("frontend:import_errors_csv", "import"),
    ],
)
def test_an_outsider_gets_404_on_every_page(roles, dataset, name, kwargs):
    job = ImportJob.objects.create(dataset=dataset, kind="s3_folder")
    values = {
        "project": {"project_id": roles.project.pk},
        "dataset": {"dataset_id": dataset.pk},
        "import": {"import_id": job.pk},
    }[kwargs]
    assert client_of(roles.user("outsider")).get(reverse(name, kwargs=values)).status_code == 404


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("frontend:member_add", {"username": "x", "role": "viewer"}),
        ("frontend:distribute", {}),
        ("frontend:connection_add", {}),
    ],
)
def test_an_outsider_posting_gets_404_and_changes_nothing(roles, name, kwargs):
    url = reverse(name, kwargs={"project_id": roles.project.pk})
    assert client_of(roles.user("outsider")).post(url, kwargs).status_code == 404


def test_a_viewer_sees_the_project_but_no_controls_to_change_it(roles, dataset):
    response = client_of(roles.user("viewer")).get(reverse("frontend:project", kwargs={"project_id": roles.project.pk}))
    html = response.content.decode()
    assert response.status_code == 200
    assert "train" in html
    assert "Members" in html
    assert "New dataset" not in html
    assert "Invite a member" not in html
    assert "Change role" not in html
    assert 'id="connections"' not in html
    assert reverse("frontend:dataset_delete", kwargs={"dataset_id": dataset.pk}) not in html
    assert ">Leave<" in html  # anyone may leave


@pytest.mark.parametrize("role", ["viewer", "annotator", "reviewer"])
def test_roles_without_dataset_rights_get_403_on_the_dataset_pages(roles, dataset, role):
    client = client_of(roles.user(role))
    assert client.get(reverse("frontend:dataset_new", kwargs={"project_id": roles.project.pk})).status_code == 403
    assert client.get(reverse("frontend:dataset_upload", kwargs={"dataset_id": dataset.pk})).status_code == 403
    assert client.post(reverse("frontend:dataset_delete", kwargs={"dataset_id": dataset.pk})).status_code == 403
    assert Dataset.objects.filter(pk=dataset.pk).exists()


def test_a_manager_manages_datasets_but_not_connections(roles):
    client = client_of(roles.user("manager"))
    html = client.get(reverse("frontend:project", kwargs={"project_id": roles.project.pk})).content.decode()
    assert "New dataset" in html
    assert 'id="connections"' in html
    assert "Add a storage connection" not in html
    response = client.post(
        reverse("frontend:connection_add", kwargs={"project_id": roles.project.pk}),
        {"name": "n", "bucket": "some-bucket", "access_key_id": "a", "secret_access_key": "s"},
    )
    assert response.status_code == 403
    assert not StorageConnection.objects.exists()


def test_a_manager_is_offered_only_the_roles_a_manager_may_give(roles):
    html = (
        client_of(roles.user("manager"))
        .get(reverse("frontend:project", kwargs={"project_id": roles.project.pk}))
        .content.decode()
    )
    invite = html[html.index("Invite a member") :]
    assert '<option value="annotator"' in invite
    assert '<option value="owner"' not in invite
    # The owner's row cannot be changed by a manager; the annotator's can.
    owner = roles.user("owner")
    assert f'id="role-{owner.pk}"' not in html
    assert f'id="role-{roles.user("annotator").pk}"' in html


def test_a_manager_cannot_make_anyone_owner(roles):
    annotator = roles.user("annotator")
    url = reverse("frontend:member_change", kwargs={"project_id": roles.project.pk, "user_id": annotator.pk})
    assert client_of(roles.user("manager")).post(url, {"role": "owner"}).status_code == 403
    assert Membership.objects.get(project=roles.project, user=annotator).role == "annotator"


def test_an_owner_invites_changes_and_removes_a_member(roles, make_user):
    newcomer = make_user("newcomer")
    client = client_of(roles.user("owner"))
    project_id = roles.project.pk
    response = client.post(
        reverse("frontend:member_add", kwargs={"project_id": project_id}), {"username": "newcomer", "role": "viewer"}
    )
    assert response.status_code == 302
    assert Membership.objects.get(project=roles.project, user=newcomer).role == "viewer"
    url = reverse("frontend:member_change", kwargs={"project_id": project_id, "user_id": newcomer.pk})
    client.post(url, {"role": "reviewer"})
    assert Membership.objects.get(project=roles.project, user=newcomer).role == "reviewer"
    client.post(url, {"role": "reviewer", "remove": "1"})
    assert not Membership.objects.filter(project=roles.project, user=newcomer).exists()


def test_inviting_an_unknown_user_shows_the_error_next_to_the_username(roles):
    response = client_of(roles.user("owner")).post(
        reverse("frontend:member_add", kwargs={"project_id": roles.project.pk}),
        {"username": "nobody", "role": "viewer"},
    )
    assert response.status_code == 200
    assert 'class="field-error" id="id_username_error">Unknown user.' in response.content.decode()


def test_a_connection_secret_is_never_shown_again(roles):
    client = client_of(roles.user("owner"))
    response = client.post(
        reverse("frontend:connection_add", kwargs={"project_id": roles.project.pk}),
        {
            "name": "archive",
            "bucket": "photo-archive",
            "access_key_id": "AKIAEXAMPLE",
            "secret_access_key": "s3cr3t-value",
        },
    )
    assert response.status_code == 302
    html = client.get(reverse("frontend:project", kwargs={"project_id": roles.project.pk})).content.decode()
    assert "photo-archive" in html
    assert "AKIAEXAMPLE" in html
    assert "s3cr3t-value" not in html


def test_the_connection_form_shows_a_bad_region_next_to_its_field(roles):
    response = client_of(roles.user("owner")).post(
        reverse("frontend:connection_add", kwargs={"project_id": roles.project.pk}),
        {"name": "archive", "bucket": "photo-archive", "region": "eu central", "access_key_id": "A",
         "secret_access_key": "s"},
    )  # fmt: skip

    assert response.status_code == 200
    assert 'id="id_region_error">not an AWS region name' in response.content.decode()
    assert not StorageConnection.objects.exists()


def test_new_project_with_an_empty_training_dataset(roles):
    owner = roles.user("owner")
    response = client_of(owner).post(
        reverse("frontend:project_new"),
        {"name": "Kitchen", "description": "", "first_dataset": "empty", "dataset_name": "train"},
    )
    project = Membership.objects.get(user=owner, project__name="Kitchen").project
    assert response["Location"] == reverse("frontend:project", kwargs={"project_id": project.pk})
    assert list(project.datasets.values_list("name", "type")) == [("train", "train")]


def test_a_bucket_that_is_not_allowed_is_shown_next_to_the_location(roles):
    response = client_of(roles.user("manager")).post(
        reverse("frontend:dataset_new", kwargs={"project_id": roles.project.pk}),
        {"name": "photos", "type": "train", "source": "s3_folder", "s3_uri": "s3://someone-elses-bucket/photos/"},
    )
    assert response.status_code == 200
    assert 'id="id_s3_uri_error">Bucket not allowed.' in response.content.decode()
    assert not Dataset.objects.filter(name="photos").exists()


def test_distribute_is_offered_only_with_a_labeled_training_and_an_empty_test_dataset(roles, dataset):
    client = client_of(roles.user("owner"))
    url = reverse("frontend:project", kwargs={"project_id": roles.project.pk})
    assert "Distribute into test" not in client.get(url).content.decode()
    add_entries(dataset, [Draft(f"s3://b/{i}.png", labels=["a" if i % 2 else "b"]) for i in range(10)])
    dataset_create(project_id=roles.project.pk, name="test", type="test", user=None)
    assert "Distribute into test" in client.get(url).content.decode()
    assert "Distribute into test" not in client_of(roles.user("viewer")).get(url).content.decode()


def test_the_error_list_downloads_as_csv_for_every_member(roles, dataset):
    job = ImportJob.objects.create(dataset=dataset, kind="manifest")
    ImportLineError.objects.create(job=job, line=3, source_ref="s3://b/a,b.png", code="ERROR_X", message='bad "x"')
    response = client_of(roles.user("viewer")).get(reverse("frontend:import_errors_csv", kwargs={"import_id": job.pk}))
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="import-{job.pk}-errors.csv"'
    body = b"".join(response.streaming_content).decode()
    assert body.splitlines() == ["line,source_ref,code,message", '3,"s3://b/a,b.png",ERROR_X,"bad ""x"""']


def test_the_import_page_offers_cancel_only_to_who_may_cancel(roles, dataset):
    job = ImportJob.objects.create(dataset=dataset, kind="s3_folder", status="running")
    url = reverse("frontend:import", kwargs={"import_id": job.pk})
    assert "Cancel import" in client_of(roles.user("manager")).get(url).content.decode()
    assert "Cancel import" not in client_of(roles.user("viewer")).get(url).content.decode()


def test_an_owner_can_delete_a_connection_and_a_dataset(roles, dataset):
    owner = roles.user("owner")
    connection = connection_create(
        project_id=roles.project.pk,
        user=owner,
        name="c",
        bucket="some-bucket",
        access_key_id="a",
        secret_access_key="s",
    )
    client = client_of(owner)
    client.post(
        reverse("frontend:connection_delete", kwargs={"project_id": roles.project.pk, "connection_id": connection.pk})
    )
    client.post(reverse("frontend:dataset_delete", kwargs={"dataset_id": dataset.pk}))
    assert not StorageConnection.objects.exists()
    assert not Dataset.objects.filter(pk=dataset.pk).exists()


def test_the_project_page_lists_teams_and_jobs_with_links_to_their_pages(roles):
    from tests.labeling.factories import make_job, make_workers

    workers = make_workers(roles.project, 2)
    job = make_job(roles.project, workers=workers, name="pets")
    url = reverse("frontend:project", kwargs={"project_id": roles.project.pk})

    manager_page = client_of(roles.user("manager")).get(url).content.decode()
    assert "team-pets" in manager_page
    assert reverse("frontend:job", kwargs={"job_id": job.pk}) in manager_page
    assert "Manage teams" in manager_page
    assert "Manage jobs" in manager_page
    assert f"0 / {job.image_count}" in manager_page

    annotator_page = client_of(roles.user("annotator")).get(url).content.decode()
    assert reverse("frontend:jobs", kwargs={"project_id": roles.project.pk}) in annotator_page
    assert "Manage teams" not in annotator_page
    assert "Manage jobs" not in annotator_page

    client = client_of(roles.user("manager"))
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for extra in range(10):  # more teams and jobs than the page lists: the query count stays the same
        make_job(roles.project, workers=workers, name=f"more{extra}")
    with CaptureQueriesContext(connection) as many:
        page = client.get(url).content.decode()
    assert len(many.captured_queries) == len(few.captured_queries)
    assert "The newest 8 jobs" in page
    assert "The first 8 teams" in page
