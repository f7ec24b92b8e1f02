"""The role matrix, written out here independently of projects/permissions.py, so a change there fails here."""

import pytest

from core.errors import PermissionDenied
from projects.models import Role
from projects.permissions import Capability as C
from projects.permissions import check_membership_change, role_allows

O, M, R, A, V = Role.OWNER, Role.MANAGER, Role.REVIEWER, Role.ANNOTATOR, Role.VIEWER  # noqa: E741 - one letter per role keeps the matrix readable

EXPECTED = {
    C.READ: {O, M, R, A, V},
    C.PROJECT_EDIT: {O},
    C.PROJECT_DELETE: {O},
    C.CONNECTIONS_MANAGE: {O},
    C.MEMBERS_MANAGE: {O, M},
    C.DATASETS_MANAGE: {O, M},
    C.LABELS_MANAGE: {O, M},
    C.TEAMS_MANAGE: {O, M},
    C.JOBS_MANAGE: {O, M},
    C.ENTRIES_EDIT: {O, M, R, A},
    C.JOBS_REVIEW: {O, M, R},
    C.JOBS_WORK: {O, M, R, A},
}


def test_every_capability_is_in_the_expected_matrix():
    assert set(EXPECTED) == set(C)


@pytest.mark.parametrize("capability", list(C))
@pytest.mark.parametrize("role", list(Role))
def test_role_matrix(role, capability):
    assert role_allows(role, capability) is (role in EXPECTED[capability])


@pytest.mark.parametrize("capability", list(C))
def test_no_role_allows_nothing(capability):
    assert role_allows(None, capability) is False


@pytest.mark.parametrize(
    ("actor", "target", "new", "allowed"),
    [
        (O, None, O, True),
        (O, None, M, True),
        (O, M, O, True),
        (O, O, V, True),
        (M, None, R, True),
        (M, None, A, True),
        (M, V, A, True),
        (M, A, None, True),
        (M, None, M, False),
        (M, None, O, False),
        (M, A, M, False),
        (M, O, V, False),
        (M, M, None, False),
        (R, None, V, False),
        (A, V, None, False),
        (V, None, V, False),
    ],
)
def test_who_may_manage_which_membership(actor, target, new, allowed):
    if allowed:
        check_membership_change(actor_role=actor, target_role=target, new_role=new, is_self=False)
    else:
        with pytest.raises(PermissionDenied):
            check_membership_change(actor_role=actor, target_role=target, new_role=new, is_self=False)


@pytest.mark.parametrize("role", list(Role))
def test_every_member_may_leave(role):
    check_membership_change(actor_role=role, target_role=role, new_role=None, is_self=True)


def test_a_manager_cannot_promote_themselves():
    with pytest.raises(PermissionDenied):
        check_membership_change(actor_role=M, target_role=M, new_role=O, is_self=True)
