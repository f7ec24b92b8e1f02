"""The review API: permission matrix, review lists, accept and send-back, answers, per-worker statistics, the
output manifest (streamed with flat queries per page, and imported back as a dataset), query counts."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from datasets.models import BoundingBox, Image, ImageLabel
from importers import services as import_services
from labeling import output
from labeling.models import Task
from tests.fixtures.datasets import Draft, assert_counts_true, make_dataset
from tests.fixtures.s3 import png_bytes
from tests.labeling.factories import answer_all, make_job, make_workers

pytestmark = pytest.mark.django_db


def tied_job(roles, images=3):
    """A two-worker classification job whose every image is a tie (in review)."""
    workers = make_workers(roles.project, 2)
    job = make_job(
        roles.project, workers=workers, drafts=[Draft(f"s3://b/{i}.jpg") for i in range(images)], workers_per_image=2
    )
    answer_all(job, workers, [{"labels": ["cat"]}, {"labels": ["dog"]}])
    return job, workers


def streamed(response) -> list[dict]:
    return [json.loads(line) for line in b"".join(response.streaming_content).decode().splitlines()]


@pytest.mark.parametrize(
    "path",
    ["jobs/{job}/review/", "jobs/{job}/output/", "jobs/{job}/answers/", "jobs/{job}/workers/"],
)
def test_reading_results_is_for_reviewers_and_managers(project_with_roles, path):
    roles = project_with_roles
    job, _ = tied_job(roles, images=1)
    url = "/api/v1/" + path.format(job=job.pk)
    for role, expected in [
        ("owner", 200),
        ("manager", 200),
        ("reviewer", 200),
        ("annotator", 403),
        ("viewer", 403),
        ("outsider", 404),
    ]:
        assert roles.client(role).get(url).status_code == expected, role


@pytest.mark.parametrize("action", ["accept", "send-back"])
def test_deciding_on_a_task_is_for_reviewers_and_managers(project_with_roles, action):
    roles = project_with_roles
    job, _ = tied_job(roles, images=1)
    task = Task.objects.get(job=job)
    url = f"/api/v1/tasks/{task.pk}/{action}/"
    body = {"labels": ["cat"]}
    assert roles.client("outsider").post(url, body, format="json").status_code == 404
    assert roles.client("annotator").post(url, body, format="json").status_code == 403
    assert roles.client("viewer").post(url, body, format="json").status_code == 403
    assert roles.client("reviewer").post(url, body, format="json").status_code == 200


def test_the_review_list_shows_tasks_with_answers_in_flat_queries(project_with_roles, django_assert_max_num_queries):
    roles = project_with_roles
    job, workers = tied_job(roles, images=4)
    client = roles.client("reviewer")
    with django_assert_max_num_queries(6):
        response = client.get(f"/api/v1/jobs/{job.pk}/review/?page_size=3")
    body = response.json()
    assert len(body["results"]) == 3
    assert body["next"]
    task = body["results"][0]
    assert task["status"] == "review"
    assert task["needs_review"] is True
    assert task["result"] == {"labels": []}
    assert task["image"]["source_ref"] == "s3://b/0.jpg"
    assert task["image"]["width"] == 640
    assert set(task["image"]) == {"id", "source_ref", "image_url", "thumbnail_url", "width", "height"}
    assert [(a["worker"]["username"], a["answer"]) for a in task["answers"]] == [
        (workers[0].username, {"labels": ["cat"]}),
        (workers[1].username, {"labels": ["dog"]}),
    ]
    assert client.get(f"/api/v1/jobs/{job.pk}/review/?status=complete").json()["results"] == []
    bad = client.get(f"/api/v1/jobs/{job.pk}/review/?status=open")
    assert bad.status_code == 400
    assert client.get(f"/api/v1/jobs/{job.pk}/review/?page_size=500").status_code == 200


def test_accept_and_send_back_over_the_api(project_with_roles):
    roles = project_with_roles
    job, _ = tied_job(roles, images=2)
    first, second = Task.objects.filter(job=job).order_by("id")
    client = roles.client("reviewer")
    missing = client.post(f"/api/v1/tasks/{first.pk}/accept/", {}, format="json")
    assert (missing.status_code, missing.json()["error"]["code"]) == (400, "answer_required")
    accepted = client.post(f"/api/v1/tasks/{first.pk}/accept/", {"labels": ["dog"]}, format="json")
    assert accepted.status_code == 200, accepted.json()
    assert (accepted.json()["status"], accepted.json()["result"]) == ("accepted", {"labels": ["dog"]})
    assert [t["id"] for t in client.get(f"/api/v1/jobs/{job.pk}/review/?status=accepted").json()["results"]] == [
        first.pk
    ]
    sent = client.post(f"/api/v1/tasks/{second.pk}/send-back/", {"reason": "unclear"}, format="json")
    assert sent.status_code == 200, sent.json()
    assert (sent.json()["status"], sent.json()["result"], sent.json()["answers"]) == ("open", None, [])
    again = client.post(f"/api/v1/tasks/{second.pk}/send-back/", {}, format="json")
    assert (again.status_code, again.json()["error"]["code"]) == (409, "task_open")
    progress = client.get(f"/api/v1/jobs/{job.pk}/").json()["progress"]
    assert progress == {"images": 2, "completed": 1, "in_progress": 0, "review": 0}
    assert_counts_true(job.dataset)


def test_answers_are_listed_per_worker_with_discarded_ones_marked(project_with_roles, django_assert_max_num_queries):
    roles = project_with_roles
    job, workers = tied_job(roles, images=3)
    task = Task.objects.filter(job=job).order_by("id").first()
    roles.client("manager").post(f"/api/v1/tasks/{task.pk}/send-back/", {}, format="json")
    client = roles.client("reviewer")
    with django_assert_max_num_queries(5):
        everything = client.get(f"/api/v1/jobs/{job.pk}/answers/").json()["results"]
    assert len(everything) == 6
    mine = client.get(f"/api/v1/jobs/{job.pk}/answers/?worker={workers[0].pk}").json()["results"]
    assert [(a["worker"]["id"], a["answer"]) for a in mine] == [(workers[0].pk, {"labels": ["cat"]})] * 3
    assert [a["status"] for a in mine] == ["discarded", "submitted", "submitted"]
    first = mine[0]
    assert first["task"] == task.pk
    assert first["image"] == {"id": task.image_id, "source_ref": "s3://b/0.jpg"}
    assert set(first) == {"id", "task", "image", "worker", "answer", "status", "leased_at", "submitted_at", "seconds"}
    assert client.get(f"/api/v1/jobs/{job.pk}/answers/?worker=x").status_code == 400


def test_worker_statistics_agreement_and_median_in_flat_queries(project_with_roles, django_assert_max_num_queries):
    roles = project_with_roles
    workers = make_workers(roles.project, 4)
    job = make_job(
        roles.project, workers=workers, drafts=[Draft(f"s3://b/{i}.jpg") for i in range(4)], workers_per_image=3
    )
    # Three workers answer every image: two say cat, one dog; the fourth answers nothing.
    answer_all(job, workers[:3], [{"labels": ["cat"]}, {"labels": ["cat"]}, {"labels": ["dog"]}])
    from labeling.models import Assignment

    Assignment.objects.filter(worker=workers[0]).update(seconds_spent=4.0)
    Assignment.objects.filter(worker=workers[0], task__image__source_ref="s3://b/0.jpg").update(seconds_spent=10.0)
    client = roles.client("manager")
    with django_assert_max_num_queries(4):
        stats = client.get(f"/api/v1/jobs/{job.pk}/workers/").json()
    by_name = {row["worker"]["username"]: row for row in stats}
    assert by_name[workers[0].username] == {
        "worker": {"id": workers[0].pk, "username": workers[0].username},
        "answered": 4,
        "median_seconds": 4.0,
        "agreement": 1.0,
    }
    assert by_name[workers[2].username]["agreement"] == 0.0
    assert by_name[workers[3].username] == {
        "worker": {"id": workers[3].pk, "username": workers[3].username},
        "answered": 0,
        "median_seconds": None,
        "agreement": None,
    }


def test_output_streams_one_line_per_result_with_flat_queries_per_page(
    project_with_roles, monkeypatch, django_assert_max_num_queries
):
    roles = project_with_roles
    workers = make_workers(roles.project, 1)
    drafts = [Draft(f"s3://bkt/{i}.jpg", labels=["outdoor"] if i % 2 else []) for i in range(7)]
    job = make_job(roles.project, workers=workers, drafts=drafts, name="pets")
    answer_all(job, workers, [{"labels": ["dog"]}])
    task = Task.objects.filter(job=job).order_by("id").last()
    roles.client("manager").post(f"/api/v1/tasks/{task.pk}/send-back/", {}, format="json")  # no result: no line
    client = roles.client("reviewer")

    def lines_with_page(size, queries):
        monkeypatch.setattr(output, "PAGE", size)
        with django_assert_max_num_queries(queries):
            response = client.get(f"/api/v1/jobs/{job.pk}/output/")
            assert response["Content-Type"] == "application/x-ndjson"
            return streamed(response)

    # 6 tasks in pages of 2: three pages of three queries, one empty page, plus the request's own.
    small = lines_with_page(2, 6 + 3 * 3 + 1)
    big = lines_with_page(100, 6 + 3 + 1)
    assert small == big
    assert [line["source-ref"] for line in small] == [f"s3://bkt/{i}.jpg" for i in range(6)]
    line = small[1]
    assert line["pets"] == 1  # dog is the job's second label
    assert line["pets-metadata"]["class-name"] == "dog"
    assert line["pets-metadata"]["type"] == "groundtruth/image-classification"
    assert line["pets-metadata"]["job-name"] == "labeling-job/pets"
    assert line["groundwork-0-metadata"]["class-name"] == "outdoor"  # the entry's own label, not the job's
    assert "groundwork-1" not in line


@pytest.mark.s3
def test_a_finished_jobs_output_imports_back_as_a_dataset(project_with_roles, s3):
    roles = project_with_roles
    refs = [s3.put_in_drop(roles.project, f"pets/{i}.png", png_bytes(800, 600)) for i in range(3)]
    dataset = make_dataset(
        roles.project,
        name="source",
        drafts=[Draft(ref, labels=["indoor"], image_width=800, image_height=600) for ref in refs],
    )
    workers = make_workers(roles.project, 1)
    job = make_job(roles.project, workers=workers, dataset=dataset, task_type="bounding_box", name="boxes")
    box = {"label": "dog", "left": 10, "top": 20, "width": 100, "height": 80}
    answer_all(job, workers, [{"boxes": [box]}])
    job.refresh_from_db()
    assert job.status == "completed"
    client = roles.client("manager")
    body = b"".join(client.get(f"/api/v1/jobs/{job.pk}/output/").streaming_content)
    assert len(body.splitlines()) == 3

    target = make_dataset(roles.project, name="from-output")
    started = client.post(
        f"/api/v1/datasets/{target.pk}/imports/",
        {"manifest": SimpleUploadedFile("output.manifest", body)},
        format="multipart",
    )
    assert started.status_code == 202, started.json()
    import_services.import_run(job_id=started.json()["id"])

    entries = Image.objects.filter(dataset=target).order_by("source_ref")
    assert list(entries.values_list("source_ref", "has_errors")) == [(ref, False) for ref in refs]
    boxes = BoundingBox.objects.filter(image__dataset=target)
    assert sorted(boxes.values_list("image__source_ref", "label__name", "left", "top", "width", "height")) == [
        (ref, "dog", 10, 20, 100, 80) for ref in refs
    ]
    labels = ImageLabel.objects.filter(image__dataset=target).values_list("label__name", flat=True)
    assert sorted(labels) == ["indoor"] * 3
    assert_counts_true(target)
