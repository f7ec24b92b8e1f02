"""Every malformed request is a 4xx with a stable code, never a 500.

A walker sends every endpoint of the OpenAPI schema, with real ids in its path, each malformed body and query
(deep JSON, NUL and lone surrogates, a body over Django's limit, a forged cursor, control characters) with
each method the schema lists, as the project's owner and as a platform admin who is not a member; then the
targeted tests pin the status and code of each case.
"""

import json
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from core.errors import GroundworkError
from core.parsers import MAX_JSON_DEPTH, check_json_value
from datasets.models import Image
from importers.models import ImportJob, ImportLineError
from labeling.models import Task
from labeling.services import queue
from projects import services as project_services
from projects.models import Membership, Role
from tests.fixtures.api import create_user, token_client
from tests.fixtures.datasets import Draft, make_dataset
from tests.labeling.factories import make_job

pytestmark = pytest.mark.django_db

# Small limits keep the walker fast: a "huge" body is then some kilobytes, not megabytes.
BODY_LIMIT = 20_000


@pytest.fixture
def small_limits(settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = BODY_LIMIT
    settings.MAX_NDJSON_BODY_BYTES = BODY_LIMIT // 2
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 50
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 3
    return settings


@pytest.fixture(scope="module")
def schema(django_db_blocker):
    with django_db_blocker.unblock():
        response = APIClient().get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    return response.json()


class World:
    """A project with one of everything, so every path parameter has a real id."""

    def __init__(self):
        self.owner = create_user()
        self.admin = create_user(is_staff=True, is_superuser=True)
        project = project_services.project_create(user=self.owner, name="Echo devices", description="")
        member = create_user()
        Membership.objects.create(project=project, user=member, role=Role.ANNOTATOR)
        dataset = make_dataset(project, drafts=[Draft(f"s3://bucket-one/{i}.png", labels=["cat"]) for i in range(3)])
        busy = make_dataset(project, name="imported")
        import_job = ImportJob.objects.create(dataset=busy, kind="manifest", params={}, status="failed")
        ImportLineError.objects.create(job=import_job, line=1, source_ref="", code="E", message="bad")
        connection = project_services.connection_create(
            project_id=project.pk,
            user=self.owner,
            name="theirs",
            bucket="external-bucket",
            access_key_id="AKIAEXAMPLE",
            secret_access_key="secret",
        )
        job = make_job(project, workers=[member], name="walk")
        assignment = queue.assignment_claim_next(job=job, worker=member)
        self.ids = {
            "project_id": project.pk,
            "dataset_id": dataset.pk,
            "entry_id": Image.objects.filter(dataset=dataset).first().pk,
            "name": "cat",
            "user_id": member.pk,
            "connection_id": connection.pk,
            "team_id": job.team_id,
            "assignment_id": assignment.pk,
            "task_id": Task.objects.filter(job=job).first().pk,
        }
        self.import_job_id = import_job.pk
        self.labeling_job_id = job.pk

    def path(self, template: str, **override: str) -> str:
        def value(match: re.Match) -> str:
            name = match.group(1)
            if name in override:
                return override[name]
            if name == "job_id":  # imports and labeling jobs share the parameter's name
                return str(self.import_job_id if template.startswith("/api/v1/imports/") else self.labeling_job_id)
            return str(self.ids[name])

        return re.sub(r"\{(\w+)\}", value, template)


def client_for(user) -> APIClient:
    client = token_client(user)
    client.force_login(user)  # the pages in the schema sign in with a session
    return client


DEEP = b"[" * 100_000
DEEP_OBJECT = b'{"a":' * (MAX_JSON_DEPTH + 5) + b"1" + b"}" * (MAX_JSON_DEPTH + 5)
NUL_JSON = json.dumps({"name": "a\u0000b", "source": {"kind": "empty\u0000"}, "labels": ["x\u0000"]}).encode()
SURROGATE_JSON = b'{"name": "a\\ud800b", "\\udfff": 1, "labels": ["\\ud800"], "changes": "\\ud800"}'
NUL_LINES = b'{"source-ref": "s3://bucket-one/new.png"}\n{"source-ref": "s3://bucket-one/\\u0000.png"}\n'
SURROGATE_LINES = b'{"source-ref": "s3://bucket-one/\\ud800.png", "k\\udfff": {"class-name": "\\ud800"}}\n'
HUGE_JSON = b'{"name": "' + b"a" * (BODY_LIMIT + 100) + b'"}'

JSON_BODIES = [DEEP, DEEP_OBJECT, NUL_JSON, SURROGATE_JSON, HUGE_JSON, b"{", b"\xff\xfe"]
NDJSON_BODIES = [DEEP, NUL_LINES, SURROGATE_LINES, HUGE_JSON, b"\x00\n\xff"]
BAD_QUERIES = [
    "cursor=garbage",
    "cursor=cD1hYmM%3D",  # p=abc
    "cursor=cD0xMjM0NTY3ODkwMTIzNDU2Nzg5MDEyMw%3D%3D",  # p=1234567890123456789012
    "page=abc&page_size=-1",
    "page_size=abc&limit=x&offset=y",
    "source_ref_contains=a%00b",
    "contains_labels=a%1fb&labeled=maybe",
    "worker=abc&status=%00",
]


def multipart_bodies():
    yield {"files": [SimpleUploadedFile("a\u0000.png", b"\x89PNG")], "labels": "cat\u0000"}
    yield {"files": [SimpleUploadedFile(f"{i}.png", b"x") for i in range(5)]}
    yield {f"field{i}": "1" for i in range(60)}
    yield {"manifest": SimpleUploadedFile("m.manifest", NUL_LINES + SURROGATE_LINES)}


def requests_for(path: str, method: str, content_types: list[str]):
    """(label, kwargs for the client's method) of every malformed request for one operation."""
    if method == "get":
        for query in BAD_QUERIES:
            yield query, {"path": f"{path}?{query}"}
        return
    for body in JSON_BODIES:
        yield f"json {body[:20]!r}", {"path": path, "data": body, "content_type": "application/json"}
    if "application/x-ndjson" in content_types:
        for body in NDJSON_BODIES:
            yield f"ndjson {body[:20]!r}", {"path": path, "data": body, "content_type": "application/x-ndjson"}
    if "multipart/form-data" in content_types:
        for body in multipart_bodies():
            yield f"multipart {sorted(body)[:2]}", {"path": path, "data": body, "format": "multipart"}
    for content_type in ("application/json; charset=utf-16", "application/json; charset=nope", "multipart/form-data"):
        yield content_type, {"path": path, "data": b'{"a": 1}', "content_type": content_type}
    yield "control character in query", {"path": f"{path}?q=%00", "data": b"{}", "content_type": "application/json"}


def operations(schema):
    """(path, method, request content types), deletes last (deepest first) so every other call has its object,
    and the token's own revocation at the very end."""
    ops = []
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in {"get", "post", "patch", "put", "delete"}:
                types = list((operation.get("requestBody") or {}).get("content", {}))
                ops.append((path, method, types))
    return sorted(ops, key=lambda op: (op[1] == "delete", op[0] == "/api/v1/auth/token/", -len(op[0]), op[0]))


def assert_not_a_server_error(response, what):
    assert response.status_code < 500, f"{what}: {response.status_code} {response.content[:300]!r}"
    if response.status_code >= 400 and response.wsgi_request.path.startswith("/api/"):
        body = response.json()
        assert set(body) == {"error"}, f"{what}: not the error envelope: {body}"
        assert body["error"]["code"], f"{what}: no code: {body}"


@pytest.mark.parametrize("who", ["owner", "admin"])
def test_no_malformed_request_to_any_endpoint_is_a_server_error(schema, small_limits, who):
    world = World()
    client = client_for(getattr(world, who))
    sent = 0
    for template, method, types in operations(schema):
        path = world.path(template)
        for label, kwargs in requests_for(path, method, types):
            response = getattr(client, method)(**kwargs)
            assert_not_a_server_error(response, f"{method.upper()} {path} with {label}")
            sent += 1
        if "{" in template:
            for name in re.findall(r"\{(\w+)\}", template):
                for bad in ("1%00", "a%7f", "99999999999999999999", "-1", "%ed%a0%80"):
                    bad_path = world.path(template, **{name: bad})
                    body = {} if method == "get" else {"data": b"{}", "content_type": "application/json"}
                    response = getattr(client, method)(bad_path, **body)
                    assert_not_a_server_error(response, f"{method.upper()} {bad_path}")
                    sent += 1
    assert sent > 300


def test_put_is_405_on_every_endpoint_of_the_schema(schema):
    world = World()
    client = client_for(world.owner)
    for template, item in schema["paths"].items():
        if "put" in item:
            continue
        response = client.put(world.path(template), {"name": "x"}, format="json")
        assert response.status_code == 405, f"PUT {template}: {response.status_code} {response.content[:200]!r}"
        if template.startswith("/api/"):
            assert response.json()["error"]["code"] == "method_not_allowed"


FORM_FIELDS = [
    *("name", "description", "username", "password", "role", "type", "kind", "source_kind", "s3_uri"),
    *("auto_label", "connection", "bucket", "prefix", "access_key_id", "secret_access_key", "region"),
    *("training_dataset", "test_dataset", "test_fraction", "seed", "labels", "members", "dataset", "team"),
    *("task_type", "workers_per_image", "task_time_limit_s", "lifetime_s", "only_unlabeled", "instructions", "next"),
]


def page_routes():
    """Every route outside /api/ and the Django admin, as a template with {name} parameters."""
    from django.urls import URLResolver, get_resolver

    def walk(patterns, prefix=""):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            else:
                yield prefix + str(pattern.pattern)

    routes = {"/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route) for route in walk(get_resolver().url_patterns)}
    routes = [route for route in routes if not route.startswith(("/api/", "/admin/"))]
    # Deleting pages and signing out last, so every other page still has its objects and its session.
    return sorted(routes, key=lambda route: ("delete" in route, route == "/logout/", -len(route), route))


def page_bodies():
    yield {name: "a\u0000b" for name in FORM_FIELDS}
    yield {name: "99999999999999999999" for name in FORM_FIELDS}
    yield {name: ["1", "-1", "abc"] for name in FORM_FIELDS}
    yield {"name": "a" * (BODY_LIMIT + 1)}
    yield {f"field{i}": "1" for i in range(60)}


@pytest.mark.parametrize("who", ["owner", "admin"])
def test_no_malformed_request_to_any_page_is_a_server_error(small_limits, who):
    world = World()
    world.ids |= {"import_id": world.import_job_id, "token": "forged.token:value"}
    client = client_for(getattr(world, who))
    for template in page_routes():
        path = world.path(template)
        for query in BAD_QUERIES:
            response = client.get(f"{path}?{query}")
            assert response.status_code < 500, f"GET {path}?{query}: {response.status_code}"
        for body in page_bodies():
            response = client.post(path, body)
            assert response.status_code < 500, f"POST {path} with {sorted(body)[:2]}: {response.status_code}"
        for body in (DEEP, NUL_JSON, SURROGATE_JSON):
            response = client.post(path, body, content_type="application/json")
            assert response.status_code < 500, f"POST {path} with JSON {body[:20]!r}: {response.status_code}"
        if template != "/logout/":
            client.force_login(getattr(world, who))


# --- the exact answers ---------------------------------------------------------------------------------


@pytest.fixture
def owner_client(project_with_roles):
    return project_with_roles.client("owner")


def error_of(response, status, code):
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert error["code"] == code, error
    return error


@pytest.mark.parametrize("body", [b"[" * 100_000, b'{"a":' * 100_000, b"[" * 200 + b"]" * 200])
def test_json_nested_too_deeply_is_400_malformed_json(owner_client, body):
    response = owner_client.post("/api/v1/projects/", body, content_type="application/json")

    error = error_of(response, 400, "malformed_json")
    assert str(MAX_JSON_DEPTH) in error["message"]


def test_json_within_the_depth_limit_is_parsed():
    check_json_value(json.loads("[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH))
    with pytest.raises(GroundworkError):
        check_json_value(json.loads("[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1)))


def test_nul_in_a_nested_json_string_is_400_naming_the_field(owner_client, project_with_roles):
    body = {"name": "train", "type": "train", "source": {"kind": "manifest", "s3_uri": "s3://bucket-one/a\u0000"}}

    response = owner_client.post(f"/api/v1/projects/{project_with_roles.project.id}/datasets/", body, format="json")

    error = error_of(response, 400, "null_characters_not_allowed")
    assert error["fields"] == {"source.s3_uri": "Null characters are not allowed."}


def test_a_lone_surrogate_in_a_json_key_is_400_and_the_answer_renders(owner_client):
    response = owner_client.post("/api/v1/projects/", b'{"name": "ok", "x\\ud800": 1}', content_type="application/json")

    error = error_of(response, 400, "surrogate_characters_not_allowed")
    assert error["fields"] == {"x\\ud800": "Surrogate characters are not allowed: U+D800."}


def test_a_body_over_djangos_limit_is_413_request_too_large(owner_client, settings):
    body = b'{"name": "' + b"a" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1) + b'"}'

    response = owner_client.post("/api/v1/projects/", body, content_type="application/json")

    error = error_of(response, 413, "request_too_large")
    assert f"{settings.DATA_UPLOAD_MAX_MEMORY_SIZE:,}" in error["message"]


def test_a_form_over_djangos_limit_on_a_page_is_413_not_500(client, small_limits):
    response = client.post("/login/", {"username": "a" * (BODY_LIMIT + 1), "password": "x"})

    assert response.status_code == 413
    assert b"20,000" in response.content


def test_too_many_form_fields_on_a_page_is_400(client, small_limits):
    response = client.post("/login/", {f"field{i}": "1" for i in range(60)})

    assert response.status_code == 400


def test_too_many_files_in_one_upload_is_413_naming_the_limit(owner_client, project_with_roles, small_limits):
    dataset = make_dataset(project_with_roles.project)
    files = [SimpleUploadedFile(f"{i}.png", b"x") for i in range(4)]

    response = owner_client.post(f"/api/v1/datasets/{dataset.pk}/uploads/", {"files": files}, format="multipart")

    error = error_of(response, 413, "too_many_files")
    assert "3" in error["message"]


def test_too_many_form_fields_in_one_upload_is_400_naming_the_limit(owner_client, project_with_roles, small_limits):
    dataset = make_dataset(project_with_roles.project)
    fields = {f"field{i}": "1" for i in range(60)}

    response = owner_client.post(f"/api/v1/datasets/{dataset.pk}/uploads/", fields, format="multipart")

    error = error_of(response, 400, "too_many_fields")
    assert "50" in error["message"]


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        "cD1hYmM=",  # p=abc: not an id
        "cD0xMjM0NTY3ODkwMTIzNDU2Nzg5MDEyMw==",  # p=1234567890123456789012: past any id
        "bz0tMSZwPTE=",  # o=-1&p=1
        "w6k=",  # not ASCII once decoded
    ],
)
def test_a_malformed_or_forged_cursor_is_400_invalid_cursor(owner_client, project_with_roles, cursor):
    dataset = make_dataset(project_with_roles.project)

    response = owner_client.get(f"/api/v1/datasets/{dataset.pk}/entries/", {"cursor": cursor})

    error_of(response, 400, "invalid_cursor")


def test_a_cursor_the_api_gave_out_still_pages(owner_client, project_with_roles):
    dataset = make_dataset(project_with_roles.project, drafts=[Draft(f"s3://bucket-one/{i}.png") for i in range(3)])

    first = owner_client.get(f"/api/v1/datasets/{dataset.pk}/entries/", {"page_size": 2}).json()
    second = owner_client.get(first["next"]).json()

    assert len(first["results"]) == 2
    assert len(second["results"]) == 1


def test_a_bad_page_number_is_4xx(owner_client):
    assert owner_client.get("/api/v1/projects/", {"page": "abc"}).status_code == 404
    assert owner_client.get("/api/v1/projects/", {"page_size": "abc"}).status_code == 200


@pytest.mark.parametrize("char", ["%00", "%01", "%0a", "%1f", "%7f"])
def test_a_control_character_in_a_query_parameter_is_400(owner_client, project_with_roles, char):
    dataset = make_dataset(project_with_roles.project)

    response = owner_client.get(f"/api/v1/datasets/{dataset.pk}/entries/?source_ref_contains=a{char}b")

    error = error_of(response, 400, "control_characters_not_allowed")
    assert "source_ref_contains" in error["fields"]


def test_a_nul_in_the_path_is_400(owner_client, project_with_roles):
    dataset = make_dataset(project_with_roles.project, drafts=[Draft("s3://bucket-one/a.png", labels=["cat"])])

    response = owner_client.get(f"/api/v1/datasets/{dataset.pk}/labels/ca%00t/")

    error = error_of(response, 400, "control_characters_not_allowed")
    assert "path" in error["message"]


def test_a_control_character_on_a_page_is_a_plain_400(client):
    assert client.get("/login/?next=%00").status_code == 400
    response = client.get("/projects/1%01/")
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/plain")


def test_too_many_query_parameters_is_400_naming_the_limit(owner_client, client, small_limits):
    query = "&".join(f"f{i}=1" for i in range(60))

    error = error_of(owner_client.get(f"/api/v1/projects/?{query}"), 400, "too_many_fields")
    assert "50" in error["message"]
    assert client.get(f"/login/?{query}").status_code == 400


def test_a_tab_free_query_with_unicode_passes(owner_client):
    assert owner_client.get("/api/v1/projects/", {"q": "caf\u00e9 \u732b"}).status_code == 200


@pytest.mark.parametrize("role", ["owner", "outsider"])
def test_put_where_only_patch_exists_is_405(project_with_roles, role):
    client = project_with_roles.client(role)

    response = client.put(f"/api/v1/projects/{project_with_roles.project.id}/", {"name": "x"}, format="json")

    error = error_of(response, 405, "method_not_allowed")
    assert "PUT" in error["message"]


def test_put_without_a_token_is_still_401():
    response = APIClient().put("/api/v1/projects/1/", {"name": "x"}, format="json")

    assert response.status_code == 401


def test_a_line_with_a_lone_surrogate_is_a_line_error_and_the_other_lines_are_stored(owner_client, project_with_roles):
    dataset = make_dataset(project_with_roles.project)
    body = (
        b'{"source-ref": "s3://bucket-one/good.png"}\n'
        b'{"source-ref": "s3://bucket-one/\\ud800.png"}\n'
        b'{"source-ref": "s3://bucket-one/\\u0000.png"}\n'
    )

    response = owner_client.post(f"/api/v1/datasets/{dataset.pk}/entries/", body, content_type="application/x-ndjson")

    assert response.status_code == 200, response.content
    result = response.json()
    assert result["created"] == 1
    assert [(e["line"], e["code"]) for e in result["errors"]] == [
        (2, "ERROR_INVALID_SOURCE_REF_FORMAT"),
        (3, "ERROR_INVALID_SOURCE_REF_FORMAT"),
    ]
    assert "\\ud800" in result["errors"][0]["message"]
    assert "\\x00" in result["errors"][1]["message"]
    assert list(Image.objects.filter(dataset=dataset).values_list("source_ref", flat=True)) == [
        "s3://bucket-one/good.png"
    ]


def test_a_label_with_a_lone_surrogate_is_dropped_and_the_entry_kept_with_a_sendable_error(
    owner_client, project_with_roles
):
    dataset = make_dataset(project_with_roles.project)
    line = {
        "source-ref": "s3://bucket-one/a.png",
        "animal": 0,
        "animal-metadata": {"class-name": "\ud800", "type": "groundtruth/image-classification"},
        "x\ud800": 1,  # an extra key: ignored
    }
    body = json.dumps(line).encode()  # ensure_ascii writes the surrogates as \ud800 escapes

    response = owner_client.post(f"/api/v1/datasets/{dataset.pk}/entries/", body, content_type="application/x-ndjson")

    assert response.status_code == 200, response.content
    assert response.json()["created"] == 1, response.json()
    entry = Image.objects.get(dataset=dataset)
    assert entry.errors
    json.dumps(entry.errors, ensure_ascii=False).encode("utf-8")  # what was stored can be sent


def test_an_unpaired_key_with_a_lone_surrogate_is_a_rejection_that_renders(owner_client, project_with_roles):
    dataset = make_dataset(project_with_roles.project)
    body = json.dumps({"source-ref": "s3://bucket-one/a.png", "x\ud800": {"class-name": "cat"}}).encode()

    response = owner_client.post(f"/api/v1/datasets/{dataset.pk}/entries/", body, content_type="application/x-ndjson")

    assert response.status_code == 200, response.content
    [error] = response.json()["errors"]
    assert error["message"] == 'line 1: attribute "x\\ud800" has no "x\\ud800-metadata"'


@pytest.mark.parametrize("username", ["a\u0000b", "a b", "\u00e9\u732b\t"])
def test_a_sign_in_with_any_username_is_an_answer_not_an_error(client, username):
    response = client.post("/login/", {"username": username, "password": "wrong"})

    assert response.status_code in (200, 400), response.status_code
