"""Every API error answers {"error": {"code", "message", "fields"}}."""

import pytest
from rest_framework.test import APIClient

from tests.fixtures.api import create_user, token_client

pytestmark = pytest.mark.django_db


def assert_envelope(response, status, code):
    assert response.status_code == status
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "fields"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    return body["error"]


def test_400_names_the_fields():
    error = assert_envelope(token_client(create_user()).post("/api/v1/projects/", {}, format="json"), 400, "required")
    assert error["fields"] == {"name": "This field is required."}


def test_400_for_a_json_array_instead_of_an_object():
    response = token_client(create_user()).post("/api/v1/projects/", [1, 2], format="json")
    assert_envelope(response, 400, "invalid")


def test_401():
    assert_envelope(APIClient().get("/api/v1/projects/"), 401, "not_authenticated")


def test_403(project_with_roles):
    response = project_with_roles.client("viewer").delete(f"/api/v1/projects/{project_with_roles.project.id}/")
    assert_envelope(response, 403, "permission_denied")


def test_404_for_an_object(project_with_roles):
    response = project_with_roles.client("outsider").get(f"/api/v1/projects/{project_with_roles.project.id}/")
    assert_envelope(response, 404, "not_found")


def test_404_for_an_unknown_api_path():
    assert_envelope(APIClient().get("/api/v1/no-such-thing/"), 404, "not_found")


def test_405():
    error = assert_envelope(
        token_client(create_user()).put("/api/v1/projects/", {}, format="json"), 405, "method_not_allowed"
    )
    assert "PUT" in error["message"]


@pytest.mark.urls("tests.core.urls_failing")
def test_500_from_an_api_view_leaks_nothing(caplog):
    response = APIClient().get("/api/v1/failing/")

    assert_envelope(response, 500, "server_error")
    assert "secret-internal-detail" not in response.content.decode()
    assert "Traceback" not in response.content.decode()
    assert "secret-internal-detail" in caplog.text  # logged for the operators


@pytest.mark.urls("tests.core.urls_failing")
def test_500_from_a_plain_view_under_the_api_is_an_envelope_too(client):
    client.raise_request_exception = False

    response = client.get("/api/v1/failing-plain/")

    assert_envelope(response, 500, "server_error")
    assert "secret-internal-detail" not in response.content.decode()


def test_health_endpoint_needs_no_login(client):
    response = client.get("/healthz/")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
