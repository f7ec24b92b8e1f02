"""How the pages resolve a project's objects: through projects.permissions, as the API does.

An object of a project the user is not in answers 404 (the same as a missing one); a member whose role
lacks the capability gets 403. The pages only offer what a role allows, so a 403 here means a hand-made request.
"""

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest

from core.errors import NotFound, PermissionDenied
from datasets.models import Dataset
from importers.models import ImportJob
from projects.models import Project
from projects.permissions import Access, Capability, member_get


def object_for(
    queryset: QuerySet, *, request: HttpRequest, pk: int, capability: Capability, project_path: str = "project"
) -> tuple[Any, Access]:
    """`member_get` for pages: Django's 404 outside the project, its 403 for a role without the capability."""
    try:
        return member_get(queryset, pk=pk, user=request.user, capability=capability, project_path=project_path)
    except NotFound as exc:
        raise Http404(exc.message) from None
    except PermissionDenied as exc:
        raise DjangoPermissionDenied(exc.message) from None


def project_for(request: HttpRequest, project_id: int, capability: Capability) -> tuple[Project, Access]:
    project, access = object_for(
        Project.objects.all(), request=request, pk=project_id, capability=capability, project_path=""
    )
    project.my_role = access.role
    return project, access


def dataset_for(request: HttpRequest, dataset_id: int, capability: Capability) -> tuple[Dataset, Access]:
    return object_for(
        Dataset.objects.select_related("project"),
        request=request,
        pk=dataset_id,
        capability=capability,
        project_path="project",
    )


def import_for(request: HttpRequest, import_id: int, capability: Capability) -> tuple[ImportJob, Access]:
    return object_for(
        ImportJob.objects.select_related("dataset__project"),
        request=request,
        pk=import_id,
        capability=capability,
        project_path="dataset__project",
    )
