"""Writes of the projects app: one function per use case, each in one transaction."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError

from core.errors import Conflict, InvalidInput, NotFound
from core.s3_names import bucket_name_problem, key_segment_problem
from core.s3_regions import region_name_problem
from labeling.services.members import project_member_left
from projects.credentials import encrypt_secret
from projects.models import Membership, Project, Role, StorageConnection
from projects.permissions import check_membership_change
from projects.s3 import drop_folder_uri, is_server_bucket


@transaction.atomic
def project_create(*, user: AbstractBaseUser, name: str, description: str = "") -> Project:
    """Create a project; its creator becomes its owner."""
    project = Project.objects.create(name=name, description=description, created_by=user)
    Membership.objects.create(project=project, user=user, role=Role.OWNER)
    return project


@transaction.atomic
def project_update(*, project: Project, name: str | None = None, description: str | None = None) -> Project:
    changed = []
    if name is not None:
        project.name = name
        changed.append("name")
    if description is not None:
        project.description = description
        changed.append("description")
    if changed:
        project.save(update_fields=[*changed, "updated_at"])
    return project


@transaction.atomic
def project_delete(*, project: Project) -> None:
    """Delete a project with everything in it (memberships, and later datasets and jobs, cascade)."""
    project.delete()


def _lock_project(project_id: int) -> Project:
    # Membership changes of one project are serialized on its row, so that two owners demoting each
    # other at the same moment cannot leave the project without an owner.
    return Project.objects.select_for_update().get(pk=project_id)


def _ensure_not_last_owner(*, project: Project, membership: Membership) -> None:
    if membership.role != Role.OWNER:
        return
    other_owners = Membership.objects.filter(project=project, role=Role.OWNER).exclude(pk=membership.pk)
    if not other_owners.exists():
        raise Conflict(
            "The project's last owner cannot be removed or demoted; make another member owner first.",
            code="last_owner",
        )


def _membership_of(*, project: Project, user_id: int) -> Membership:
    membership = Membership.objects.select_related("user").filter(project=project, user_id=user_id).first()
    if membership is None:
        raise NotFound(f"User {user_id} is not a member of this project.")
    return membership


@transaction.atomic
def membership_add(
    *, project_id: int, actor: AbstractBaseUser, actor_role: Role, username: str, role: Role
) -> Membership:
    """Add the user named `username` to the project with `role`.

    Raises InvalidInput `unknown_user` / `already_member`, PermissionDenied when the actor may not give `role`.
    """
    check_membership_change(actor_role=actor_role, target_role=None, new_role=role, is_self=False)
    project = _lock_project(project_id)
    user = get_user_model().objects.filter(username=username, is_active=True).first()
    if user is None:
        raise InvalidInput(
            f"No active user is called {username!r}.", code="unknown_user", fields={"username": "Unknown user."}
        )
    if Membership.objects.filter(project=project, user=user).exists():
        raise InvalidInput(
            f"{username} is already a member of this project.",
            code="already_member",
            fields={"username": "Already a member."},
        )
    try:
        with transaction.atomic():
            return Membership.objects.create(project=project, user=user, role=role)
    except IntegrityError as exc:
        if "membership_unique_project_user" in str(exc):
            raise InvalidInput(
                f"{username} is already a member of this project.",
                code="already_member",
                fields={"username": "Already a member."},
            ) from exc
        raise


@transaction.atomic
def membership_change_role(
    *, project_id: int, actor: AbstractBaseUser, actor_role: Role, user_id: int, role: Role
) -> Membership:
    """Give member `user_id` the role `role`. Raises Conflict `last_owner` when it would leave no owner."""
    project = _lock_project(project_id)
    membership = _membership_of(project=project, user_id=user_id)
    check_membership_change(
        actor_role=actor_role, target_role=Role(membership.role), new_role=role, is_self=user_id == actor.pk
    )
    if membership.role == role:
        return membership
    if role != Role.OWNER:
        _ensure_not_last_owner(project=project, membership=membership)
    membership.role = role
    membership.save(update_fields=["role", "updated_at"])
    return membership


@transaction.atomic
def membership_remove(*, project_id: int, actor: AbstractBaseUser, actor_role: Role, user_id: int) -> None:
    """Remove member `user_id` (any member may remove themselves): they also leave the project's labeling teams and
    give back their leases in its jobs. Raises Conflict `last_owner`."""
    project = _lock_project(project_id)
    membership = _membership_of(project=project, user_id=user_id)
    check_membership_change(
        actor_role=actor_role, target_role=Role(membership.role), new_role=None, is_self=user_id == actor.pk
    )
    _ensure_not_last_owner(project=project, membership=membership)
    membership.delete()
    # Teams and leases are labeling's data: it is told, and changes them in this transaction.
    project_member_left(project_id=project.pk, user_id=user_id)


@transaction.atomic
def connection_create(
    *,
    project_id: int,
    user: AbstractBaseUser,
    name: str,
    bucket: str,
    access_key_id: str,
    secret_access_key: str,
    prefix: str = "",
    region: str = "",
) -> StorageConnection:
    """Register access to an external bucket; the secret is stored encrypted. Raises InvalidInput
    `connection_name_taken`, `invalid_bucket`, `invalid_region`, `invalid_prefix`, `bucket_not_allowed` (the
    server's bucket)."""
    problem = bucket_name_problem(bucket)
    if problem:
        raise InvalidInput(f"Bucket name {bucket!r} {problem}.", code="invalid_bucket", fields={"bucket": problem})
    if is_server_bucket(bucket):  # whatever keys it holds: the server's bucket is never read through one
        raise InvalidInput(
            f"{bucket!r} is the server's own bucket; put files in this project's drop folder "
            f"{drop_folder_uri(project_id)} and import them from there, without a connection.",
            code="bucket_not_allowed",
            fields={"bucket": "The server's bucket."},
        )
    if key_segment_problem(prefix.lstrip("/"), folder=True):
        raise InvalidInput(
            f"The prefix {prefix!r} {key_segment_problem(prefix.lstrip('/'), folder=True)}.",
            code="invalid_prefix",
            fields={"prefix": "Not a plain key prefix."},
        )
    # Checked here, not when a job builds its S3 client: boto3 raises then, inside a worker.
    problem = region_name_problem(region)
    if problem:
        raise InvalidInput(f"Region {region!r} is {problem}.", code="invalid_region", fields={"region": problem})
    if StorageConnection.objects.filter(project_id=project_id, name=name).exists():
        raise InvalidInput(
            f"The project has a connection called {name!r} already.",
            code="connection_name_taken",
            fields={"name": "Already used."},
        )
    return StorageConnection.objects.create(
        project_id=project_id,
        name=name,
        bucket=bucket,
        prefix=prefix.lstrip("/"),
        region=region,
        access_key_id=access_key_id,
        secret_access_key_encrypted=encrypt_secret(secret_access_key),
        created_by=user,
    )


@transaction.atomic
def connection_delete(*, project_id: int, connection_id: int) -> None:
    """Delete a connection. Raises NotFound, Conflict `connection_in_use` while entries are read through it."""
    connection = StorageConnection.objects.filter(project_id=project_id, pk=connection_id).first()
    if connection is None:
        raise NotFound(f"The project has no storage connection {connection_id}.")
    try:
        with transaction.atomic():
            connection.delete()
    except ProtectedError as exc:
        raise Conflict(
            f"Entries are read through connection {connection.name!r}; delete those datasets first.",
            code="connection_in_use",
        ) from exc
