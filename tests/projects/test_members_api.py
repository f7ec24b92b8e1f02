import pytest

from projects.models import Membership, Role
from tests.fixtures.api import create_user

pytestmark = pytest.mark.django_db

ROLES = ["owner", "manager", "reviewer", "annotator", "viewer"]
MANAGED_BY_MANAGER = {"reviewer", "annotator", "viewer"}


def members_url(project, user_id=None):
    base = f"/api/v1/projects/{project.id}/members/"
    return base if user_id is None else f"{base}{user_id}/"


def role_of(project, user):
    membership = Membership.objects.filter(project=project, user=user).first()
    return membership.role if membership else None


@pytest.mark.parametrize("role", ROLES)
def test_every_member_lists_members(project_with_roles, role):
    response = project_with_roles.client(role).get(members_url(project_with_roles.project))

    assert response.status_code == 200
    listed = {m["username"]: m["role"] for m in response.json()["results"]}
    assert listed == {project_with_roles.user(r).username: r for r in ROLES}


def test_member_list_query_count_is_flat(project_with_roles, django_assert_max_num_queries):
    client = project_with_roles.client("viewer")
    for _ in range(10):
        Membership.objects.create(project=project_with_roles.project, user=create_user(), role=Role.VIEWER)

    with django_assert_max_num_queries(4):
        response = client.get(members_url(project_with_roles.project))

    assert len(response.json()["results"]) == 15


def test_outsider_cannot_list_members(project_with_roles):
    response = project_with_roles.client("outsider").get(members_url(project_with_roles.project))

    assert response.status_code == 404


def expected_add_status(actor, new_role):
    if actor == "outsider":
        return 404
    if actor == "owner":
        return 201
    if actor == "manager" and new_role in MANAGED_BY_MANAGER:
        return 201
    return 403


@pytest.mark.parametrize("new_role", ROLES)
@pytest.mark.parametrize("actor", [*ROLES, "outsider"])
def test_who_may_add_which_role(project_with_roles, actor, new_role):
    newcomer = create_user()
    response = project_with_roles.client(actor).post(
        members_url(project_with_roles.project), {"username": newcomer.username, "role": new_role}, format="json"
    )

    status = expected_add_status(actor, new_role)
    assert response.status_code == status
    assert role_of(project_with_roles.project, newcomer) == (new_role if status == 201 else None)


def expected_change_status(actor, target, new_role):
    if actor == "outsider":
        return 404
    if actor == "owner":
        return 200
    if actor == "manager" and target in MANAGED_BY_MANAGER and new_role in MANAGED_BY_MANAGER:
        return 200
    return 403


# Pairs of (actor, another member's role); acting on oneself has tests of its own below.
OTHERS = [(a, t) for a in [*ROLES, "outsider"] for t in ["manager", "reviewer", "annotator", "viewer"] if a != t]


@pytest.mark.parametrize(("actor", "target"), OTHERS)
def test_who_may_change_whose_role(project_with_roles, actor, target):
    new_role = "viewer" if target != "viewer" else "annotator"
    target_user = project_with_roles.user(target)

    response = project_with_roles.client(actor).patch(
        members_url(project_with_roles.project, target_user.id), {"role": new_role}, format="json"
    )

    status = expected_change_status(actor, target, new_role)
    assert response.status_code == status
    assert role_of(project_with_roles.project, target_user) == (new_role if status == 200 else target)


@pytest.mark.parametrize(("actor", "target"), OTHERS)
def test_who_may_remove_whom(project_with_roles, actor, target):
    target_user = project_with_roles.user(target)

    response = project_with_roles.client(actor).delete(members_url(project_with_roles.project, target_user.id))

    if actor == "outsider":
        expected = 404
    elif actor == "owner" or (actor == "manager" and target in MANAGED_BY_MANAGER):
        expected = 204
    else:
        expected = 403
    assert response.status_code == expected
    assert (role_of(project_with_roles.project, target_user) is None) is (expected == 204)


@pytest.mark.parametrize("role", ["manager", "reviewer", "annotator", "viewer"])
def test_a_member_may_leave(project_with_roles, role):
    user = project_with_roles.user(role)

    response = project_with_roles.client(role).delete(members_url(project_with_roles.project, user.id))

    assert response.status_code == 204
    assert role_of(project_with_roles.project, user) is None


def test_a_manager_cannot_make_themselves_owner(project_with_roles):
    manager = project_with_roles.user("manager")

    response = project_with_roles.client("manager").patch(
        members_url(project_with_roles.project, manager.id), {"role": "owner"}, format="json"
    )

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "role_not_assignable"
    assert role_of(project_with_roles.project, manager) == "manager"


def test_the_last_owner_cannot_leave(project_with_roles):
    owner = project_with_roles.user("owner")

    response = project_with_roles.client("owner").delete(members_url(project_with_roles.project, owner.id))

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "last_owner"
    assert role_of(project_with_roles.project, owner) == "owner"


def test_the_last_owner_cannot_be_demoted(project_with_roles):
    owner = project_with_roles.user("owner")

    response = project_with_roles.client("owner").patch(
        members_url(project_with_roles.project, owner.id), {"role": "manager"}, format="json"
    )

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "last_owner"
    assert role_of(project_with_roles.project, owner) == "owner"


def test_an_owner_may_step_down_once_there_is_another_owner(project_with_roles):
    project, owner, manager = (
        project_with_roles.project,
        project_with_roles.user("owner"),
        project_with_roles.user("manager"),
    )
    client = project_with_roles.client("owner")

    promoted = client.patch(members_url(project, manager.id), {"role": "owner"}, format="json")
    demoted = client.patch(members_url(project, owner.id), {"role": "viewer"}, format="json")
    last = project_with_roles.client("manager").delete(members_url(project, manager.id))

    assert (promoted.status_code, demoted.status_code, last.status_code) == (200, 200, 409)
    assert role_of(project, owner) == "viewer"
    assert role_of(project, manager) == "owner"


def test_owner_can_remove_another_owner(project_with_roles):
    project = project_with_roles.project
    second = create_user()
    Membership.objects.create(project=project, user=second, role=Role.OWNER)

    response = project_with_roles.client("owner").delete(members_url(project, second.id))

    assert response.status_code == 204
    assert role_of(project, second) is None


def post_member(project_with_roles, body, **kwargs):
    return project_with_roles.client("owner").post(members_url(project_with_roles.project), body, **kwargs)


def test_unknown_role_is_refused_with_its_code(project_with_roles):
    newcomer = create_user()

    response = post_member(project_with_roles, {"username": newcomer.username, "role": "boss"}, format="json")

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "unknown_role"
    assert "role" in error["fields"]
    assert "role" in error["message"]
    assert role_of(project_with_roles.project, newcomer) is None


def test_unknown_user_is_refused_with_its_code(project_with_roles):
    response = post_member(project_with_roles, {"username": "nobody-here", "role": "viewer"}, format="json")

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "unknown_user"
    assert "username" in error["fields"]
    assert "nobody-here" in error["message"]


def test_duplicate_membership_is_refused_and_keeps_the_role(project_with_roles):
    annotator = project_with_roles.user("annotator")

    response = post_member(project_with_roles, {"username": annotator.username, "role": "viewer"}, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "already_member"
    assert role_of(project_with_roles.project, annotator) == "annotator"


def test_malformed_json_is_refused(project_with_roles):
    response = post_member(project_with_roles, '{"username": "x", "role": ', content_type="application/json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_json"
    assert Membership.objects.filter(project=project_with_roles.project).count() == 5


def test_wrong_content_type_is_refused(project_with_roles):
    response = post_member(project_with_roles, "username=x&role=viewer", content_type="text/plain")

    assert response.status_code == 415
    error = response.json()["error"]
    assert error["code"] == "unsupported_media_type"
    assert "text/plain" in error["message"]


def test_changing_a_non_member_answers_404(project_with_roles):
    stranger = create_user()

    response = project_with_roles.client("owner").patch(
        members_url(project_with_roles.project, stranger.id), {"role": "viewer"}, format="json"
    )

    assert response.status_code == 404
    assert role_of(project_with_roles.project, stranger) is None


def test_member_detail(project_with_roles):
    reviewer = project_with_roles.user("reviewer")

    response = project_with_roles.client("viewer").get(members_url(project_with_roles.project, reviewer.id))

    assert response.status_code == 200
    assert response.json()["role"] == "reviewer"
    assert response.json()["username"] == reviewer.username
