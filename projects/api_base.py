"""The base of every API view that touches a project's objects.

Each view declares the capability of each of its methods in `capabilities`; a method that names none is
refused before it runs (a method the view does not implement answers 405). Objects are loaded through
`member_get`, so an object of another project answers 404 and a missing right answers 403, always in the same
way.
"""

from collections.abc import Mapping
from typing import Any, TypeVar

from django.db.models import Model, QuerySet
from rest_framework.exceptions import MethodNotAllowed
from rest_framework.request import Request
from rest_framework.views import APIView

from core.errors import PermissionDenied
from projects.models import Project
from projects.permissions import Access, Capability, member_get

M = TypeVar("M", bound=Model)


class ProjectScopedApi(APIView):
    capabilities: Mapping[str, Capability] = {}

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        method = "get" if request.method == "HEAD" else request.method.lower()
        if method not in self.http_method_names or not hasattr(self, method):
            # No handler at all (PUT where only PATCH exists): 405 as DRF answers it, not a denial.
            raise MethodNotAllowed(request.method)
        if method != "options" and method not in self.capabilities:
            raise PermissionDenied(f"{request.method} on this endpoint names no capability and is denied.")

    @property
    def capability(self) -> Capability:
        method = "get" if self.request.method == "HEAD" else self.request.method.lower()
        return self.capabilities[method]

    def get_project(self, project_id: int) -> tuple[Project, Access]:
        """The project, if the caller is a member whose role has this method's capability."""
        project, access = member_get(
            Project.objects.all(), pk=project_id, user=self.request.user, capability=self.capability, project_path=""
        )
        project.my_role = access.role
        return project, access

    def get_member_object(self, queryset: QuerySet[M], pk: Any, *, project_path: str = "project") -> tuple[M, Access]:
        """An object of a project the caller is in, checked against this method's capability."""
        return member_get(
            queryset, pk=pk, user=self.request.user, capability=self.capability, project_path=project_path
        )
