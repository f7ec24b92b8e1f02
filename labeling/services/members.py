"""What a project member's leaving means for labeling (called by projects.services when a membership ends)."""

from django.db import transaction

from labeling.models import Team
from labeling.services.queue import leases_release_of_worker


@transaction.atomic
def project_member_left(*, project_id: int, user_id: int) -> None:
    """User `user_id` is no member of project `project_id` any more: they leave every team of the project, and the
    leases they hold in its jobs go back to the queue at once, instead of when their time runs out.

    Runs in the caller's transaction (the projects service holds the project's row lock), so that the membership
    and the teams change together.
    """
    Team.members.through.objects.filter(team__project_id=project_id, user_id=user_id).delete()
    leases_release_of_worker(project_id=project_id, worker_id=user_id)
