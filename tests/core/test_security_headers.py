"""Defence in depth in the responses: a Content-Security-Policy on every page (no inline script or style in our
templates), images allowed from the S3 endpoint, and HSTS only behind TLS."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from tests.core.test_settings import run_settings
from tests.fixtures.api import create_user

pytestmark = pytest.mark.django_db

TEMPLATES = Path(settings.BASE_DIR, "frontend", "templates")


def policy(response) -> dict[str, list[str]]:
    directives = (part.strip().split() for part in response["Content-Security-Policy"].split(";"))
    return {name: sources for name, *sources in directives}


@pytest.mark.parametrize("url", ["/login/", "/admin/login/", "/api/docs/", "/api/v1/me/", "/no-such-page/"])
def test_every_answer_carries_the_policy(url):
    csp = policy(Client().get(url))

    assert csp["default-src"] == ["'self'"]
    assert csp["script-src"] == ["'self'"]
    assert csp["style-src"] == ["'self'"]
    assert csp["object-src"] == ["'none'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert "'unsafe-inline'" not in " ".join(" ".join(sources) for sources in csp.values())


def test_the_pages_signed_in_carry_the_policy_too():
    client = Client()
    client.force_login(create_user())

    assert policy(client.get("/"))["script-src"] == ["'self'"]


def test_images_may_come_from_the_s3_endpoint_of_the_settings(settings):
    settings.AWS_S3_ENDPOINT_URL = "https://minio.example.com:9000/"

    assert policy(Client().get("/login/"))["img-src"] == ["'self'", "https://minio.example.com:9000"]


def test_images_may_come_from_aws_without_an_endpoint(settings):
    settings.AWS_S3_ENDPOINT_URL = None

    assert policy(Client().get("/login/"))["img-src"] == ["'self'", "https://*.amazonaws.com"]


def test_only_the_api_docs_allow_data_images_and_their_script_is_a_file():
    docs = Client().get("/api/docs/")

    assert "data:" in policy(docs)["img-src"]
    assert "data:" not in policy(Client().get("/login/"))["img-src"]
    assert re.search(r"<script>|<style>", docs.content.decode()) is None
    assert Client().get("/api/docs/?script=")["Content-Type"].startswith("application/javascript")


def test_our_templates_have_no_inline_script_event_handler_or_style():
    found = []
    for path in TEMPLATES.rglob("*.html"):
        text = path.read_text()
        # json_script writes <script type="application/json">: data, never run, and allowed by the policy.
        for pattern in (r"<script(?![^>]*\bsrc=)[^>]*>", r"\son[a-z]+\s*=", r"\sstyle\s*=", r"<style"):
            found += [f"{path.name}: {match}" for match in re.findall(pattern, text)]
    assert list(TEMPLATES.rglob("*.html")), "no templates found"
    assert found == []


def test_hsts_is_sent_on_secure_requests_behind_the_proxy(settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = False

    secure = Client().get("/login/", HTTP_X_FORWARDED_PROTO="https")
    plain = Client().get("/login/")

    assert secure["Strict-Transport-Security"] == "max-age=31536000"
    assert "Strict-Transport-Security" not in plain


def read_hsts(env: dict[str, str]) -> str:
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.SECURE_HSTS_SECONDS, s.SECURE_HSTS_INCLUDE_SUBDOMAINS)"
    )
    result = run_settings(env, code=code)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_hsts_is_on_for_a_year_only_with_secure_proxy_ssl():
    assert read_hsts({"SECURE_PROXY_SSL": "true"}) == "31536000 False"
    assert read_hsts({"SECURE_PROXY_SSL": "true", "SECURE_HSTS_INCLUDE_SUBDOMAINS": "true"}) == "31536000 True"
    assert read_hsts({"SECURE_PROXY_SSL": "true", "SECURE_HSTS_SECONDS": "600"}) == "600 False"
    assert read_hsts({"SECURE_PROXY_SSL": "false", "SECURE_HSTS_SECONDS": "600"}) == "0 False"
