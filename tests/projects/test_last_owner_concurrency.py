import threading

import pytest
from django.db import connection

from core.errors import Conflict
from projects import services
from projects.models import Membership, Role
from tests.fixtures.api import create_user

pytestmark = pytest.mark.django_db(transaction=True)


def test_two_owners_demoting_each_other_at_once_leave_one_owner():
    first, second = create_user(), create_user()
    project = services.project_create(user=first, name="Race")
    Membership.objects.create(project=project, user=second, role=Role.OWNER)
    barrier = threading.Barrier(2)
    outcomes = []

    def demote(actor, target):
        try:
            barrier.wait(timeout=10)
            services.membership_change_role(
                project_id=project.id, actor=actor, actor_role=Role.OWNER, user_id=target.id, role=Role.VIEWER
            )
            outcomes.append("demoted")
        except Conflict as exc:
            outcomes.append(exc.code)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=demote, args=(first, second)),
        threading.Thread(target=demote, args=(second, first)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(outcomes) == ["demoted", "last_owner"]
    assert Membership.objects.filter(project=project, role=Role.OWNER).count() == 1
