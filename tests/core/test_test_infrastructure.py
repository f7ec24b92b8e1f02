"""The fixtures later tests stand on: a real S3 endpoint over HTTP, and a suite that refuses missing services."""

import os
import subprocess
import sys

import boto3
import pytest
import requests
from django.conf import settings

from tests.fixtures.s3 import DEFAULT_BUCKET


@pytest.mark.s3
def test_s3_fixture_is_a_real_http_endpoint_on_loopback(s3):
    s3.put("alexa-devices/echo/1.jpg", b"abc")
    other_client = boto3.client("s3", endpoint_url=s3.endpoint_url, region_name="us-east-1")

    listed = other_client.list_objects_v2(Bucket=DEFAULT_BUCKET, Prefix="alexa-devices/")
    signed = s3.client.generate_presigned_url(
        "get_object", Params={"Bucket": DEFAULT_BUCKET, "Key": "alexa-devices/echo/1.jpg"}, ExpiresIn=60
    )
    raw = requests.get(signed, timeout=10)

    assert s3.endpoint_url.startswith("http://127.0.0.1:")
    assert [item["Key"] for item in listed["Contents"]] == ["alexa-devices/echo/1.jpg"]
    assert (raw.status_code, raw.content) == (200, b"abc")
    assert s3.endpoint_url == settings.AWS_S3_ENDPOINT_URL


@pytest.mark.s3
def test_s3_fixture_starts_empty(s3):
    assert s3.client.list_objects_v2(Bucket=DEFAULT_BUCKET).get("KeyCount") == 0


def test_suite_fails_instead_of_skipping_when_a_required_service_is_missing(tmp_path):
    env = dict(os.environ)
    env.update(
        GROUNDWORK_REQUIRE_SERVICES="1",
        DATABASE_URL="postgres://postgres@127.0.0.1:1/nothing",
        CELERY_BROKER_URL="redis://127.0.0.1:1/0",
    )
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/core/test_settings.py", "-q", "-p", "no:cacheprovider"],
        env=env, capture_output=True, text=True, cwd=settings.BASE_DIR, timeout=120,
    )  # fmt: skip

    assert result.returncode == 3, result.stdout + result.stderr
    output = result.stdout + result.stderr
    assert "PostgreSQL at 127.0.0.1:1 is unreachable" in output
    assert "Celery broker redis://127.0.0.1:1/0 is unreachable" in output
