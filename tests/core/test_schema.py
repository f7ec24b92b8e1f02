import re

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def schema(django_db_blocker):
    with django_db_blocker.unblock():
        response = APIClient().get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    return response.json()


def test_schema_describes_every_api_endpoint(schema):
    from django.urls import get_resolver

    def walk(patterns, prefix=""):
        for pattern in patterns:
            if hasattr(pattern, "url_patterns"):
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            else:
                yield prefix + str(pattern.pattern)

    api_routes = [route for route in walk(get_resolver().url_patterns) if route.startswith("api/v1/")]
    documented = set(schema["paths"])
    for route in api_routes:
        path = "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)
        assert path in documented, f"{path} is not in the OpenAPI schema"


def test_schema_documents_the_error_envelope(schema):
    operation = schema["paths"]["/api/v1/projects/{project_id}/"]["delete"]
    assert {"403", "404"} <= set(operation["responses"])
    ref = operation["responses"]["404"]["content"]["application/json"]["schema"]["$ref"]
    assert ref.endswith("/Error")


def test_swagger_ui_is_served_without_a_cdn(client):
    response = client.get("/api/docs/")

    assert response.status_code == 200
    page = response.content.decode()
    assert "swagger-ui" in page
    assert "cdn.jsdelivr.net" not in page
    assert "unpkg.com" not in page


def test_schema_generates_without_warnings(tmp_path):
    from django.core.management import call_command

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yml"))

    assert (tmp_path / "schema.yml").read_text().startswith("openapi: 3")
