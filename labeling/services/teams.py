"""Teams of a project: named groups of project members who work on the jobs given to them."""

from collections.abc import Sequence

from django.db import IntegrityError, transaction
from django.db.models import RestrictedError

from core.errors import Conflict, InvalidInput
from labeling.models import Team
from projects.models import Membership


def _team_name_taken(name: str) -> InvalidInput:
    return InvalidInput(
        f"This project already has a team called {name!r}.", code="team_name_taken", fields={"name": "Taken."}
    )


def _members(*, project_id: int, usernames: Sequence[str]) -> list[int]:
    """User ids of `usernames`, each a member of the project; one query. Raises InvalidInput `not_a_project_member`."""
    wanted = list(dict.fromkeys(usernames))
    found = dict(
        Membership.objects.filter(project_id=project_id, user__username__in=wanted).values_list(
            "user__username", "user_id"
        )
    )
    missing = [name for name in wanted if name not in found]
    if missing:
        raise InvalidInput(
            f"Not members of this project: {', '.join(missing)}.",
            code="not_a_project_member",
            fields={"members": f"Not members of this project: {', '.join(missing)}."},
        )
    return [found[name] for name in wanted]


@transaction.atomic
def team_create(*, project_id: int, name: str, members: Sequence[str]) -> Team:
    """Create a team of project members (by username). Raises InvalidInput `team_name_taken`,
    `not_a_project_member`."""
    user_ids = _members(project_id=project_id, usernames=members)
    try:
        with transaction.atomic():
            team = Team.objects.create(project_id=project_id, name=name)
    except IntegrityError as exc:
        if "team_unique_project_name" in str(exc) or Team.objects.filter(project_id=project_id, name=name).exists():
            raise _team_name_taken(name) from None
        raise
    team.members.set(user_ids)
    return team


@transaction.atomic
def team_update(*, team: Team, name: str | None = None, members: Sequence[str] | None = None) -> Team:
    """Rename a team and/or replace its members. Leases its removed members hold run out as usual."""
    if name is not None and name != team.name:
        if Team.objects.filter(project_id=team.project_id, name=name).exclude(pk=team.pk).exists():
            raise _team_name_taken(name)
        team.name = name
        team.save(update_fields=["name"])
    if members is not None:
        team.members.set(_members(project_id=team.project_id, usernames=members))
    return team


@transaction.atomic
def team_delete(*, team: Team) -> None:
    """Delete a team that no job uses. Raises Conflict `team_in_use`."""
    try:
        team.delete()
    except RestrictedError:
        raise Conflict("Labeling jobs use this team; it cannot be deleted.", code="team_in_use") from None
