"""S3 out of reach while an import probes its images: no image is judged on an outage. The import stops with a
transient error (the task retries it later), and once S3 answers again the probing ends as it should have.
S3 is reached through a TCP proxy (tests/fixtures/tcp_proxy.py) that the test cuts mid-probing."""

import json

import pytest

from core.s3_clients import TRANSIENT_S3_ERRORS
from datasets.models import Image
from importers import probing, services
from importers.models import ImportLineError
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
