"""Reads of the projects app, with the caller's visibility applied."""

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import F, QuerySet

from core.errors import NotFound
from projects.models import Membership, Project, StorageConnection
from projects.permissions import member_filter


def projects_visible_to(*, user: AbstractBaseUser) -> QuerySet[Project]:
    """Projects `user` is a member of, each annotated with `my_role` (one query per page)."""
    return (
        Project.objects.filter(member_filter(user, project_path=""))
        .annotate(my_role=F("memberships__role"))
        .order_by("name", "id")
    )


def project_memberships(*, project_id: int) -> QuerySet[Membership]:
    """Members of a project with their users loaded (one query per page)."""
    return Membership.objects.filter(project_id=project_id).select_related("user").order_by("user__username")


def project_membership(*, project_id: int, user_id: int) -> Membership:
    """One member of a project; NotFound when the user is not a member."""
    membership = project_memberships(project_id=project_id).filter(user_id=user_id).first()
    if membership is None:
        raise NotFound(f"User {user_id} is not a member of this project.")
    return membership


def project_connections(*, project_id: int) -> QuerySet[StorageConnection]:
    return StorageConnection.objects.filter(project_id=project_id).order_by("name")
