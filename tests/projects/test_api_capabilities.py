"""Every API endpoint that reaches into a project names the capability of each of its methods."""

from django.urls import URLPattern, URLResolver, get_resolver

from projects.api_base import ProjectScopedApi

# Endpoints that are about the caller, not about one project's objects.
NOT_PROJECT_SCOPED = {"auth-token", "me", "project-list"}


def api_patterns(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from api_patterns(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern) and (prefix + str(pattern.pattern)).startswith("api/v1/"):
            yield pattern


def implemented_methods(view_class):
    return {m for m in view_class.http_method_names if m not in {"options", "head"} and hasattr(view_class, m)}


def test_every_project_endpoint_declares_a_capability_per_method():
    checked = 0
    for pattern in api_patterns(get_resolver().url_patterns):
        view_class = pattern.callback.cls
        if pattern.name in NOT_PROJECT_SCOPED:
            continue
        assert issubclass(view_class, ProjectScopedApi), f"{pattern.name} must derive from ProjectScopedApi"
        missing = implemented_methods(view_class) - set(view_class.capabilities)
        assert not missing, f"{pattern.name} names no capability for {sorted(missing)}"
        checked += 1
    assert checked >= 3


def test_a_method_without_a_capability_is_denied(rf, project_with_roles):
    from rest_framework.response import Response
    from rest_framework.test import force_authenticate

    class Careless(ProjectScopedApi):
        capabilities = {"get": "read"}

        def get(self, request, project_id):
            return Response({"ok": True})

        def post(self, request, project_id):
            return Response({"ok": True})

    owner = project_with_roles.user("owner")
    request = rf.post("/x/", {}, content_type="application/json")
    force_authenticate(request, user=owner)

    response = Careless.as_view()(request, project_id=project_with_roles.project.id)

    assert response.status_code == 403
