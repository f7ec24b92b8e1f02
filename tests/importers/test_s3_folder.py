import time

import pytest

from datasets.models import Dataset, Image, ImageLabel
from importers import services
from importers.models import ImportJob, ImportLineError
from tests.fixtures.datasets import assert_counts_true, make_dataset
from tests.fixtures.s3 import DEFAULT_BUCKET, drop_prefix, png_bytes

pytestmark = [pytest.mark.s3, pytest.mark.django_db]

KEYS = [
    "alexa-devices/img.png",
    "alexa-devices/echo/img.png",
    "alexa-devices/echo/2.JPG",
    "alexa-devices/echo-dot/img.jpeg",
    "alexa-devices/echo-dot/white-echo-dot/img.png",
    "alexa-devices/echo-dot-old/img.png",
    "alexa-devices/echo/readme.txt",
    "alexa-devices/echo/",
    "other/img.png",
]


@pytest.fixture
def bucket(s3, project_with_roles):
    """The KEYS in the drop folder of the test project (the server's bucket is read nowhere else)."""
    for key in KEYS:
        s3.put_in_drop(project_with_roles.project, key, b"" if key.endswith("/") else png_bytes())
    return s3


def import_folder(project, s3_uri, auto_label=True, dataset=None, connection=None):
    source = {"kind": "s3_folder", "s3_uri": s3_uri, "auto_label": auto_label, "connection": connection}
    if dataset is None:
        dataset, job = services.dataset_create_from_source(
            project_id=project.pk, name="folder", type="train", source=source, user=None
        )
    else:
        job = services.import_start(dataset_id=dataset.pk, source=source, user=None)
    services.import_run(job_id=job.pk)
    job.refresh_from_db()
    dataset.refresh_from_db()
    return dataset, job


def labels_by_key(dataset, s3):
    """The labels of each entry, by its key under the drop folder of the dataset's project."""
    result = {}
    for entry in Image.objects.filter(dataset=dataset):
        assert entry.source_ref.startswith(s3.drop_uri(dataset.project_id)), entry.source_ref
        key = entry.source_ref.removeprefix(s3.drop_uri(dataset.project_id))
        result[key] = sorted(ImageLabel.objects.filter(image=entry).values_list("label__name", flat=True))
    return result


def test_first_level_folder_names_become_labels(project_with_roles, bucket):
    dataset, job = import_folder(
        project_with_roles.project, bucket.drop_uri(project_with_roles.project, "alexa-devices/")
    )

    assert job.status == "succeeded", job.error_message
    assert labels_by_key(dataset, bucket) == {
        "alexa-devices/img.png": [],
        "alexa-devices/echo/img.png": ["echo"],
        "alexa-devices/echo/2.JPG": ["echo"],
        "alexa-devices/echo-dot/img.jpeg": ["echo-dot"],
        "alexa-devices/echo-dot/white-echo-dot/img.png": ["echo-dot"],
        "alexa-devices/echo-dot-old/img.png": ["echo-dot-old"],
    }
    assert (job.seen, job.imported, job.skipped) == (7, 6, 1)  # readme.txt skipped, the folder marker unseen
    assert dataset.status == "ready"
    assert_counts_true(dataset)


def test_a_deeper_prefix_without_slash_means_that_folder_only(project_with_roles, bucket):
    dataset, _ = import_folder(
        project_with_roles.project, bucket.drop_uri(project_with_roles.project, "alexa-devices/echo-dot")
    )

    assert labels_by_key(dataset, bucket) == {
        "alexa-devices/echo-dot/img.jpeg": [],
        "alexa-devices/echo-dot/white-echo-dot/img.png": ["white-echo-dot"],
    }


def test_the_whole_drop_folder_labels_by_its_top_level_folders(project_with_roles, bucket):
    dataset, _ = import_folder(project_with_roles.project, bucket.drop_uri(project_with_roles.project))

    labels = labels_by_key(dataset, bucket)
    assert labels["other/img.png"] == ["other"]
    assert labels["alexa-devices/echo/img.png"] == ["alexa-devices"]
    assert len(labels) == 7


@pytest.mark.parametrize(
    "folder",
    [
        "",  # the whole bucket, without a slash
        "/",  # the whole bucket
        "alexa-devices/",  # a folder at the root
        "projects/",  # every project's drop folder
        "uploads/",  # the platform's own files
    ],
)
def test_the_server_buckets_root_and_its_folders_outside_the_drop_folder_are_refused(
    project_with_roles, bucket, folder
):
    bucket.put("alexa-devices/echo/img.png", png_bytes())  # at the root: not the project's to read
    uri = f"s3://{DEFAULT_BUCKET}{folder}" if folder in ("", "/") else f"s3://{DEFAULT_BUCKET}/{folder}"

    response = project_with_roles.client("manager").post(
        f"/api/v1/projects/{project_with_roles.project.id}/datasets/",
        {"name": "x", "source": {"kind": "s3_folder", "s3_uri": uri}},
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bucket_not_allowed"
    assert not Dataset.objects.filter(name="x").exists()
    assert not ImportJob.objects.exists()


def test_without_auto_label_nothing_is_labeled(project_with_roles, bucket):
    dataset, _ = import_folder(
        project_with_roles.project, bucket.drop_uri(project_with_roles.project, "alexa-devices/"), auto_label=False
    )

    assert set(map(tuple, labels_by_key(dataset, bucket).values())) == {()}
    assert dataset.labeled_entries == 0


def test_keys_the_dataset_has_already_are_skipped_not_overwritten(project_with_roles, bucket):
    from tests.fixtures.datasets import Draft

    ref = bucket.drop_uri(project_with_roles.project, "alexa-devices/echo/img.png")
    dataset = make_dataset(project_with_roles.project, drafts=[Draft(ref, labels=["mine"])])

    dataset, job = import_folder(
        project_with_roles.project, bucket.drop_uri(project_with_roles.project, "alexa-devices/"), dataset=dataset
    )

    assert labels_by_key(dataset, bucket)["alexa-devices/echo/img.png"] == ["mine"]
    assert (job.imported, job.skipped) == (5, 2)
    assert_counts_true(dataset)


def test_a_bucket_that_is_not_allowed_is_refused_before_anything_is_created(project_with_roles, bucket):
    response = project_with_roles.client("manager").post(
        f"/api/v1/projects/{project_with_roles.project.id}/datasets/",
        {"name": "x", "source": {"kind": "s3_folder", "s3_uri": "s3://someone-elses-bucket/photos/"}},
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bucket_not_allowed"
    assert not Dataset.objects.filter(name="x").exists()


@pytest.mark.parametrize("uri", ["https://bucket.s3.amazonaws.com/x/", "s3://", "s3://UPPER/x", "s3://two words/x"])
def test_bad_uris_are_refused(project_with_roles, bucket, uri):
    response = project_with_roles.client("manager").post(
        f"/api/v1/projects/{project_with_roles.project.id}/datasets/",
        {"name": "x", "source": {"kind": "s3_folder", "s3_uri": uri}},
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_s3_uri"


def test_a_missing_bucket_fails_the_job_and_leaves_nothing(project_with_roles, bucket, settings):
    settings.AWS_STORAGE_BUCKET_NAME = "not-created-yet"

    dataset, job = import_folder(
        project_with_roles.project, f"s3://not-created-yet/{drop_prefix(project_with_roles.project)}photos/"
    )

    assert job.status == "failed"
    assert job.error_code == "bucket_not_found"
    assert dataset.status == "failed"
    assert not Image.objects.filter(dataset=dataset).exists()


def test_a_folder_name_that_cannot_be_a_label_is_reported(project_with_roles, bucket):
    bucket.put_in_drop(project_with_roles.project, "weird/" + "x" * 300 + "/a.png", png_bytes())

    dataset, job = import_folder(project_with_roles.project, bucket.drop_uri(project_with_roles.project, "weird/"))

    assert Image.objects.filter(dataset=dataset, is_labeled=False).count() == 1
    assert ImportLineError.objects.get(job=job).code == "invalid_folder_label"


def test_quota_failure_undoes_the_import(project_with_roles, bucket, settings):
    settings.DATASET_MAX_ENTRIES = 3
    settings.DATASET_MAX_ENTRIES_CLASSIFICATION = 3

    dataset, job = import_folder(
        project_with_roles.project, bucket.drop_uri(project_with_roles.project, "alexa-devices/")
    )

    assert job.error_code == "dataset_quota_exceeded"
    assert not Image.objects.filter(dataset=dataset).exists()
    assert_counts_true(dataset)


def test_the_quota_counts_the_entries_of_earlier_pages(project_with_roles, s3, settings, monkeypatch):
    from importers import s3_folder

    for index in range(25):
        s3.put_in_drop(project_with_roles.project, f"quota/{index:03}.png", png_bytes())
    monkeypatch.setattr(s3_folder, "LIST_PAGE_SIZE", 10)
    settings.DATASET_MAX_ENTRIES = settings.DATASET_MAX_ENTRIES_CLASSIFICATION = 15

    dataset, job = import_folder(project_with_roles.project, s3.drop_uri(project_with_roles.project, "quota/"))

    assert job.error_code == "dataset_quota_exceeded"
    assert not Image.objects.filter(dataset=dataset).exists()


def test_listing_resumes_from_the_checkpoint_with_exact_counters(project_with_roles, s3, monkeypatch):
    from importers import s3_folder

    for index in range(25):
        s3.put_in_drop(project_with_roles.project, f"many/{'cat' if index % 2 else 'dog'}/{index:03}.png", png_bytes())
    monkeypatch.setattr(s3_folder, "LIST_PAGE_SIZE", 10)
    source = {"kind": "s3_folder", "s3_uri": s3.drop_uri(project_with_roles.project, "many/"), "auto_label": True}
    dataset, job = services.dataset_create_from_source(
        project_id=project_with_roles.project.pk, name="many", type="train", source=source, user=None
    )
    calls = {"n": 0}
    real = s3_folder._register_page

    def crash_on_second_page(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise ConnectionError("worker killed")  # what a SIGKILL looks like to the database: no commit
        return real(*args, **kwargs)

    monkeypatch.setattr(s3_folder, "_register_page", crash_on_second_page)
    with pytest.raises(ConnectionError):
        services.import_run(job_id=job.pk)
    job.refresh_from_db()
    assert (job.status, job.imported) == ("running", 10)

    services.import_run(job_id=job.pk)  # the redelivered task

    job.refresh_from_db()
    assert (job.status, job.seen, job.imported, job.skipped) == ("succeeded", 25, 25, 0)
    assert Image.objects.filter(dataset=dataset).count() == 25
    assert_counts_true(dataset)


def test_cancel_stops_between_pages(project_with_roles, s3, monkeypatch):
    from importers import s3_folder

    for index in range(30):
        s3.put_in_drop(project_with_roles.project, f"slow/{index:03}.png", png_bytes())
    monkeypatch.setattr(s3_folder, "LIST_PAGE_SIZE", 10)
    source = {"kind": "s3_folder", "s3_uri": s3.drop_uri(project_with_roles.project, "slow/"), "auto_label": False}
    dataset, job = services.dataset_create_from_source(
        project_id=project_with_roles.project.pk, name="slow", type="train", source=source, user=None
    )
    real = s3_folder._register_page

    def cancel_after_first_page(*args, **kwargs):
        result = real(*args, **kwargs)
        ImportJob.objects.filter(pk=job.pk).update(cancel_requested=True)
        return result

    monkeypatch.setattr(s3_folder, "_register_page", cancel_after_first_page)
    services.import_run(job_id=job.pk)

    job.refresh_from_db()
    dataset.refresh_from_db()
    assert job.status == "canceled"
    assert job.imported == 10
    assert (dataset.status, dataset.total_entries) == ("ready", 10)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_folder_import_through_the_api_and_the_worker(project_with_roles, bucket, celery_worker):
    client = project_with_roles.client("manager")

    response = client.post(
        f"/api/v1/projects/{project_with_roles.project.id}/datasets/",
        {
            "name": "devices",
            "source": {
                "kind": "s3_folder",
                "s3_uri": bucket.drop_uri(project_with_roles.project, "alexa-devices"),
                "auto_label": True,
            },
        },
        format="json",
    )

    assert response.status_code == 202
    job_id = response.json()["import"]["id"]
    deadline = time.monotonic() + 60
    while (job := client.get(f"/api/v1/imports/{job_id}/").json())["status"] not in {"succeeded", "failed"}:
        assert time.monotonic() < deadline, job
        time.sleep(0.2)
    assert job["status"] == "succeeded", job
    assert job["counts"] == {"seen": 7, "imported": 6, "skipped": 1, "failed": 0}
    labels = {
        label["name"]: label["entry_count"]
        for label in client.get(f"/api/v1/datasets/{response.json()['id']}/labels/").json()["results"]
    }
    assert labels == {"echo": 2, "echo-dot": 2, "echo-dot-old": 1}


def test_outsider_cannot_import_into_a_dataset(project_with_roles, bucket):
    dataset = make_dataset(project_with_roles.project)

    response = project_with_roles.client("outsider").post(
        f"/api/v1/datasets/{dataset.id}/imports/",
        {"kind": "s3_folder", "s3_uri": bucket.drop_uri(project_with_roles.project, "alexa-devices/")},
        format="json",
    )

    assert response.status_code == 404
    assert not ImportJob.objects.exists()


def test_broken_and_tiny_images_become_entries_with_errors(project_with_roles, s3):
    s3.put_in_drop(project_with_roles.project, "probe/ok.png", png_bytes())
    s3.put_in_drop(project_with_roles.project, "probe/broken.png", b"not an image at all")
    s3.put_in_drop(project_with_roles.project, "probe/tiny.png", png_bytes(32, 32))

    dataset, job = import_folder(project_with_roles.project, s3.drop_uri(project_with_roles.project, "probe/"))

    assert (job.status, job.imported, job.failed) == ("succeeded", 3, 2)
    entries = {e.source_ref.rsplit("/", 1)[1]: e for e in Image.objects.filter(dataset=dataset)}
    assert (entries["ok.png"].width, entries["ok.png"].height, entries["ok.png"].format) == (96, 64, "PNG")
    assert entries["broken.png"].errors[0]["code"] == "ERROR_INVALID_IMAGE"
    assert entries["tiny.png"].errors[0]["code"] == "ERROR_INVALID_IMAGE"
    assert dataset.error_entries == 2
    codes = sorted(ImportLineError.objects.filter(job=job).values_list("code", flat=True))
    assert codes == ["ERROR_INVALID_IMAGE", "ERROR_INVALID_IMAGE"]


def test_the_listing_resumes_after_the_last_page_written(project_with_roles, s3, monkeypatch):
    from importers import s3_folder

    for index in range(30):
        s3.put_in_drop(project_with_roles.project, f"resume/{index:03}.png", png_bytes())
    monkeypatch.setattr(s3_folder, "LIST_PAGE_SIZE", 10)
    real, pages = s3_folder._register_page, []

    def crash_on_the_second_page(*args, **kwargs):
        pages.append(args[2])
        if len(pages) == 2:
            raise RuntimeError("worker lost")
        return real(*args, **kwargs)

    monkeypatch.setattr(s3_folder, "_register_page", crash_on_the_second_page)
    with pytest.raises(RuntimeError):
        import_folder(project_with_roles.project, s3.drop_uri(project_with_roles.project, "resume/"), auto_label=False)
    job = ImportJob.objects.get()
    assert (job.seen, job.imported) == (10, 10)

    monkeypatch.setattr(s3_folder, "_register_page", real)
    services.import_run(job_id=job.pk)  # the task, delivered again

    job.refresh_from_db()
    assert (job.status, job.seen, job.imported, job.skipped) == ("succeeded", 30, 30, 0)
    assert Image.objects.filter(dataset_id=job.dataset_id).count() == 30


def test_a_page_another_delivery_wrote_meanwhile_counts_once(project_with_roles, s3, monkeypatch):
    from importers import s3_folder

    for index in range(30):
        s3.put_in_drop(project_with_roles.project, f"twice/{index:03}.png", png_bytes())
    monkeypatch.setattr(s3_folder, "LIST_PAGE_SIZE", 10)
    real = s3_folder._register_page

    def another_delivery_writes_the_second_page(job_id, access, page, *, token):
        job = real(job_id, access, page, token=token)
        if token is None:  # while this delivery lists the second page ahead, the other one writes it
            following = job.checkpoint["continuation_token"]
            folder = drop_prefix(project_with_roles.project) + "twice/"
            second = s3_folder._list_page(access.client(), access.bucket, folder, following)
            job = real(job_id, access, second, token=following)
        return job

    monkeypatch.setattr(s3_folder, "_register_page", another_delivery_writes_the_second_page)
    dataset, job = import_folder(
        project_with_roles.project, s3.drop_uri(project_with_roles.project, "twice/"), auto_label=False
    )

    assert (job.status, job.seen, job.imported, job.skipped) == ("succeeded", 30, 30, 0)
    assert Image.objects.filter(dataset=dataset).count() == 30


def test_probing_resumes_after_the_last_page_written(project_with_roles, s3, monkeypatch):
    from importers import probing

    for index in range(7):
        s3.put_in_drop(
            project_with_roles.project, f"pages/{index}.png", b"not an image" if index in (1, 4) else png_bytes()
        )
    monkeypatch.setattr(probing, "PROBE_PAGE", 2)
    real, writes = probing._write_results, []

    def crash_on_the_second_page(*args, **kwargs):
        writes.append(args[1])
        if len(writes) == 2:
            raise RuntimeError("worker lost")
        return real(*args, **kwargs)

    monkeypatch.setattr(probing, "_write_results", crash_on_the_second_page)
    with pytest.raises(RuntimeError):
        import_folder(project_with_roles.project, s3.drop_uri(project_with_roles.project, "pages/"), auto_label=False)
    job = ImportJob.objects.get()
    assert job.checkpoint["probed"] == 2

    monkeypatch.setattr(probing, "_write_results", real)
    services.import_run(job_id=job.pk)  # the task, delivered again

    job.refresh_from_db()
    assert (job.status, job.imported, job.failed, job.checkpoint["probed"]) == ("succeeded", 7, 2, 7)
    entries = {e.source_ref.rsplit("/", 1)[1]: e for e in Image.objects.filter(dataset_id=job.dataset_id)}
    assert [len(entries[f"{i}.png"].errors) for i in range(7)] == [0, 1, 0, 0, 1, 0, 0]
    assert {entries[f"{i}.png"].format for i in (0, 2, 3, 5, 6)} == {"PNG"}
    assert ImportLineError.objects.filter(job=job).count() == 2


def test_cancel_stops_probing_after_the_page_being_written(project_with_roles, s3, monkeypatch):
    from importers import probing

    for index in range(8):
        s3.put_in_drop(project_with_roles.project, f"cancel/{index}.png", png_bytes())
    monkeypatch.setattr(probing, "PROBE_PAGE", 2)
    real = probing._write_results

    def cancel_after_the_first_page(*args, **kwargs):
        job = real(*args, **kwargs)
        ImportJob.objects.filter(pk=job.pk).update(cancel_requested=True)
        return job

    monkeypatch.setattr(probing, "_write_results", cancel_after_the_first_page)
    _, job = import_folder(
        project_with_roles.project, s3.drop_uri(project_with_roles.project, "cancel/"), auto_label=False
    )

    assert (job.status, job.imported, job.checkpoint["probed"]) == ("canceled", 8, 2)


def test_stalled_jobs_are_enqueued_again(project_with_roles, s3, monkeypatch):
    from datetime import timedelta

    from django.utils import timezone

    from importers import tasks

    dataset = make_dataset(project_with_roles.project)
    old = timezone.now() - timedelta(minutes=30)
    stalled = ImportJob.objects.create(dataset=dataset, kind="s3_folder", status="running", heartbeat_at=old)
    alive = ImportJob.objects.create(dataset=dataset, kind="s3_folder", status="running", heartbeat_at=timezone.now())
    ImportJob.objects.create(dataset=dataset, kind="s3_folder", status="succeeded", heartbeat_at=old)
    sent = []
    monkeypatch.setattr(tasks.run_import, "delay", sent.append)

    requeued = services.imports_requeue_stalled(older_than_s=600)

    assert requeued == sent == [stalled.pk]
    assert alive.pk not in sent


def test_a_job_run_twice_after_a_stall_counts_once(project_with_roles, bucket):
    dataset, job = import_folder(
        project_with_roles.project, bucket.drop_uri(project_with_roles.project, "alexa-devices/")
    )
    ImportJob.objects.filter(pk=job.pk).update(status="running")  # as if the first run had been lost

    services.import_run(job_id=job.pk)

    job.refresh_from_db()
    assert (job.status, job.seen, job.imported) == ("succeeded", 7, 6)
    assert Image.objects.filter(dataset=dataset).count() == 6


def test_listed_keys_with_dot_or_empty_segments_or_a_backslash_are_reported_and_not_imported(project_with_roles, s3):
    project = project_with_roles.project
    good = s3.put_in_drop(project, "odd/ok.png", png_bytes())
    odd = ["odd/a//b.png", "odd/x/./y.png", "odd/x/../y.png", "odd/c\\d.png"]
    for key in odd:
        s3.put_in_drop(project, key, png_bytes())
    listed = s3.client.list_objects_v2(Bucket=s3.bucket, Prefix=drop_prefix(project) + "odd/")["Contents"]
    assert {item["Key"] for item in listed} == {drop_prefix(project) + key for key in ["odd/ok.png", *odd]}

    dataset, job = import_folder(project, s3.drop_uri(project, "odd/"), auto_label=False)

    assert (job.status, job.seen, job.imported, job.skipped) == ("succeeded", 5, 1, 4)
    assert list(Image.objects.filter(dataset=dataset).values_list("source_ref", flat=True)) == [good]
    problems = ImportLineError.objects.filter(job=job)
    assert sorted(problems.values_list("source_ref", "code")) == sorted(
        (s3.drop_uri(project, key), "bucket_not_allowed") for key in odd
    )
