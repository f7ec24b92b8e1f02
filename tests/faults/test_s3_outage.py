"""S3 out of reach while an import probes its images: no image is judged on an outage. The import stops with a
transient error (the task retries it later), and once S3 answers again the probing ends as it should have.
S3 is reached through a TCP proxy (tests/fixtures/tcp_proxy.py) that the test cuts mid-probing."""

import json

import pytest
from botocore.awsrequest import AWSResponse
from botocore.config import Config

from core.s3_clients import TRANSIENT_S3_ERRORS
from datasets.models import Image
from importers import probing, services
from importers.models import ImportLineError
from projects import s3 as projects_s3
from tests.fixtures.datasets import assert_counts_true, make_dataset
from tests.fixtures.s3 import png_bytes

pytestmark = [pytest.mark.s3, pytest.mark.django_db]

GOOD, BAD = 40, 3


def line(ref: str) -> str:
    return json.dumps({
        "source-ref": ref, "animal": 0,
        "animal-metadata": {"class-name": "cat", "confidence": 0.9, "type": "groundtruth/image-classification",
                            "human-annotated": "yes", "creation-date": "2024-03-01T10:15:00"},
    })  # fmt: skip


def test_an_s3_outage_while_probing_flags_no_image_and_probing_resumes_once_s3_is_back(
    project_with_roles, s3, s3_proxy, settings, monkeypatch
):
    project = project_with_roles.project
    refs = [s3.put_in_drop(project, f"outage/{index:03}.png", png_bytes()) for index in range(GOOD)]
    # The images that are not images come last: probed after the outage, they get their verdict then.
    refs += [s3.put_in_drop(project, f"outage/z{index}.png", b"not an image") for index in range(BAD)]
    uri = s3.put_in_drop(project, "outage.manifest", "\n".join(line(ref) for ref in refs).encode())
    settings.AWS_S3_ENDPOINT_URL = s3_proxy.endpoint_url
    monkeypatch.setattr(probing, "PROBE_PAGE", 10)
    written = []
    write_results = probing._write_results

    def write_then_cut(*args, **kwargs):
        job = write_results(*args, **kwargs)
        written.append(job.checkpoint["probed"])
        s3_proxy.cut()  # S3 goes down after the first page is written
        return job

    monkeypatch.setattr(probing, "_write_results", write_then_cut)
    dataset = make_dataset(project)
    job = services.import_start(dataset_id=dataset.pk, source={"kind": "manifest", "s3_uri": uri}, user=None)

    with pytest.raises(TRANSIENT_S3_ERRORS):
        services.import_run(job_id=job.pk)

    job.refresh_from_db()
    assert job.status == "running"  # the task's retry policy decides what comes next
    assert (job.imported, job.failed, job.checkpoint["probed"]) == (GOOD + BAD, 0, written[-1])
    assert written[-1] < GOOD + BAD
    assert not Image.objects.filter(dataset=dataset, has_errors=True).exists()
    assert not ImportLineError.objects.filter(job=job).exists()

    s3_proxy.restore()
    monkeypatch.setattr(probing, "_write_results", write_results)
    services.import_run(job_id=job.pk)  # what the retry does

    job.refresh_from_db()
    assert (job.status, job.imported, job.failed, job.checkpoint["probed"]) == (
        "succeeded",
        GOOD + BAD,
        BAD,
        GOOD + BAD,
    )
    flagged = Image.objects.filter(dataset=dataset, has_errors=True)
    assert sorted(flagged.values_list("source_ref", flat=True)) == refs[GOOD:]
    assert not Image.objects.filter(dataset=dataset, has_errors=False, format="").exists()  # every good one probed
    assert not ImportLineError.objects.filter(job=job, message__icontains="connect").exists()
    assert_counts_true(dataset)


class SlowDown:
    """Every request of the platform's S3 clients answered 503 SlowDown while `down`, without retries."""

    def __init__(self) -> None:
        self.down = True

    def __call__(self, request, **kwargs):
        if not self.down:
            return None
        xml = b"<?xml version='1.0' encoding='UTF-8'?><Error><Code>SlowDown</Code><Message>later</Message></Error>"
        return AWSResponse(request.url, 503, {"Content-Type": "application/xml"}, _Body(xml))


class _Body:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **kwargs):
        yield self.data


@pytest.fixture
def slow_down(s3, s3_proxy, settings, monkeypatch):
    settings.AWS_S3_ENDPOINT_URL = s3_proxy.endpoint_url  # clients of their own: they are cached by endpoint
    config = projects_s3.s3_client_config
    monkeypatch.setattr(projects_s3, "s3_client_config", lambda n: config(n).merge(Config(retries={"max_attempts": 1})))
    answer = SlowDown()
    client = projects_s3.BucketAccess.client

    def answering_client(self, **kwargs):
        made = client(self, **kwargs)
        made.meta.events.register("before-send.s3", answer, unique_id="test-slow-down")
        return made

    monkeypatch.setattr(projects_s3.BucketAccess, "client", answering_client)
    return answer


@pytest.mark.parametrize("kind", ["s3_folder", "manifest"])
def test_a_503_while_listing_or_reading_is_an_outage_not_a_failed_import(project_with_roles, s3, slow_down, kind):
    project = project_with_roles.project
    refs = [s3.put_in_drop(project, f"slow/{index}.png", png_bytes()) for index in range(3)]
    if kind == "s3_folder":
        source = {"kind": kind, "s3_uri": s3.drop_uri(project, "slow/"), "auto_label": False}
    else:
        source = {"kind": kind, "s3_uri": s3.put_in_drop(project, "slow.manifest", "\n".join(map(line, refs)).encode())}
    dataset = make_dataset(project)
    job = services.import_start(dataset_id=dataset.pk, source=source, user=None)

    with pytest.raises(TRANSIENT_S3_ERRORS):
        services.import_run(job_id=job.pk)
    job.refresh_from_db()
    assert (job.status, job.error_code, job.imported) == ("running", "", 0)

    slow_down.down = False
    services.import_run(job_id=job.pk)

    job.refresh_from_db()
    assert (job.status, job.imported, job.failed) == ("succeeded", 3, 0)
