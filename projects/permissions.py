"""Who may do what: the only module that decides it.

Every API view names the capability its action needs and resolves the object through `member_get`,
which answers 404 for a project the caller is not in (whether or not it exists) and 403 for a member
whose role lacks the capability. A capability that is not in a role's set is denied: nothing is allowed
by default. Team membership (for working on a labeling job) is a further rule of the labeling app.
"""

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import F, Model, Q, QuerySet

from core.errors import NotFound, PermissionDenied
from projects.models import Role


class Capability(StrEnum):
    # Every member: the project, its members, datasets, entries, labels, jobs, imports, manifests.
    READ = "read"
    PROJECT_EDIT = "project.edit"
    PROJECT_DELETE = "project.delete"
    MEMBERS_MANAGE = "members.manage"  # further limited by ASSIGNABLE_ROLES
    CONNECTIONS_MANAGE = "connections.manage"
    DATASETS_MANAGE = "datasets.manage"  # create, import, copy, split, delete
    LABELS_MANAGE = "labels.manage"
    ENTRIES_EDIT = "entries.edit"  # image-level labels and boxes
    TEAMS_MANAGE = "teams.manage"
    JOBS_MANAGE = "jobs.manage"
    JOBS_REVIEW = "jobs.review"
    JOBS_WORK = "jobs.work"  # only on jobs of the teams the user is in


_MANAGER = frozenset(
    {
        Capability.READ,
        Capability.MEMBERS_MANAGE,
        Capability.DATASETS_MANAGE,
        Capability.LABELS_MANAGE,
        Capability.ENTRIES_EDIT,
        Capability.TEAMS_MANAGE,
        Capability.JOBS_MANAGE,
        Capability.JOBS_REVIEW,
        Capability.JOBS_WORK,
    }
)

ROLE_CAPABILITIES: dict[Role, frozenset[Capability]] = {
    Role.OWNER: frozenset(Capability),
    Role.MANAGER: _MANAGER,
    Role.REVIEWER: frozenset({Capability.READ, Capability.ENTRIES_EDIT, Capability.JOBS_REVIEW, Capability.JOBS_WORK}),
    Role.ANNOTATOR: frozenset({Capability.READ, Capability.ENTRIES_EDIT, Capability.JOBS_WORK}),
    Role.VIEWER: frozenset({Capability.READ}),
}

# The roles a member may give, change or take away (on others and on themselves).
ASSIGNABLE_ROLES: dict[Role, frozenset[Role]] = {
    Role.OWNER: frozenset(Role),
    Role.MANAGER: frozenset({Role.REVIEWER, Role.ANNOTATOR, Role.VIEWER}),
    Role.REVIEWER: frozenset(),
    Role.ANNOTATOR: frozenset(),
    Role.VIEWER: frozenset(),
}


def role_allows(role: Role | str | None, capability: Capability) -> bool:
    if role is None:
        return False
    return capability in ROLE_CAPABILITIES.get(Role(role), frozenset())


def require(role: Role | str, capability: Capability) -> None:
    """Raise 403 unless `role` has `capability`."""
    if not role_allows(role, capability):
        raise PermissionDenied(f"Your role ({role}) does not allow this action ({capability}).")


def check_membership_change(
    *, actor_role: Role, target_role: Role | None, new_role: Role | None, is_self: bool
) -> None:
    """Whether `actor_role` may add (target_role None), change, or remove (new_role None) a membership.

    Any member may leave a project; the last-owner rule is a state rule checked by the service.
    """
    if is_self and new_role is None:
        return
    require(actor_role, Capability.MEMBERS_MANAGE)
    allowed = ASSIGNABLE_ROLES[Role(actor_role)]
    for role in (target_role, new_role):
        if role is not None and role not in allowed:
            raise PermissionDenied(
                f"A {actor_role} may not manage members with the role {role}.", code="role_not_assignable"
            )


@dataclass(frozen=True)
class Access:
    """What a request may do in one project: resolved once, carried through the view."""

    project_id: int
    role: Role

    def allows(self, capability: Capability) -> bool:
        return role_allows(self.role, capability)

    def require(self, capability: Capability) -> None:
        require(self.role, capability)


M = TypeVar("M", bound=Model)


def member_filter(user: AbstractBaseUser | AnonymousUser, *, project_path: str = "project") -> Q:
    """A filter keeping only rows of projects `user` is a member of (`project_path` leads to the project)."""
    if not user.is_authenticated:
        return Q(pk__in=[])
    prefix = f"{project_path}__" if project_path else ""
    return Q(**{f"{prefix}memberships__user": user})


def member_get(
    queryset: QuerySet[M],
    *,
    pk: Any,
    user: AbstractBaseUser | AnonymousUser,
    capability: Capability,
    project_path: str = "project",
) -> tuple[M, Access]:
    """Load one object of a project the user is in, in one query, and check the capability.

    Raises NotFound when the object does not exist or lies in a project the user is not a member of
    (the two are indistinguishable on purpose), PermissionDenied when the role lacks the capability.
    """
    prefix = f"{project_path}__" if project_path else ""
    obj = (
        queryset.filter(member_filter(user, project_path=project_path), pk=pk)
        .annotate(_member_role=F(f"{prefix}memberships__role"), _member_project_id=F(f"{prefix}id"))
        .first()
    )
    label = queryset.model._meta.verbose_name.capitalize()
    if obj is None:
        raise NotFound(f"{label} {pk} not found.")
    return obj, member_access(
        project_id=obj._member_project_id, role=obj._member_role, capability=capability, label=label, pk=pk
    )


def member_access(*, project_id: int, role: str | None, capability: Capability, label: str, pk: Any) -> Access:
    """The rule of `member_get` for an object loaded with the caller's role in its project by other means (the
    queue's hand-written statements): no role answers 404 like a missing object, a role without the
    capability 403."""
    if role is None:
        raise NotFound(f"{label} {pk} not found.")
    access = Access(project_id=project_id, role=Role(role))
    access.require(capability)
    return access
