"""Hand-written statements of the hot paths: counted like ORM queries, prepared on PostgreSQL, rows read back
as the ORM reads them."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.raw_rows import PREPARE_THRESHOLD, ModelColumns, RowUpdate, hot_cursor, split_row, table
from projects.models import Membership, Project
from tests.fixtures.api import create_user

pytestmark = pytest.mark.django_db


def test_hot_statements_are_counted_and_prepared_on_postgresql():
    sql = f"SELECT count(*) FROM {table(Project)} WHERE name = %s"
    with CaptureQueriesContext(connection) as captured:
        for _ in range(PREPARE_THRESHOLD + 1):
            with hot_cursor() as cursor:
                cursor.execute(sql, ["nothing"])
                assert cursor.fetchone() == (0,)
    assert len(captured) == PREPARE_THRESHOLD + 1
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT statement FROM pg_prepared_statements")
            prepared = [row[0] for row in cursor.fetchall()]
        assert any("WHERE name = $1" in statement for statement in prepared), prepared


def test_rows_come_back_as_the_orm_makes_them_and_updates_go_in():
    owner = create_user()
    project = Project.objects.create(name="Raw", description="rows")
    Membership.objects.create(project=project, user=owner, role="owner")
    projects, memberships = ModelColumns(Project, "p"), ModelColumns(Membership, "m", only=("role", "created_at"))
    with hot_cursor() as cursor:
        cursor.execute(
            f"SELECT {projects.sql}, {memberships.sql} FROM {table(Project)} p "
            f"JOIN {table(Membership)} m ON m.project_id = p.id WHERE p.id = %s",
            [project.pk],
        )
        loaded, membership = split_row(cursor.fetchone(), projects, memberships)
    fields = [field.attname for field in Project._meta.concrete_fields]
    expected = Project.objects.get(pk=project.pk)
    assert [getattr(loaded, name) for name in fields] == [getattr(expected, name) for name in fields]
    assert membership.role == "owner"
    assert membership.created_at.tzinfo is not None
    assert membership.get_deferred_fields() == {"project_id", "user_id", "updated_at"}

    loaded.description = "changed"
    RowUpdate(Project, ("description",)).run(loaded)
    assert Project.objects.get(pk=project.pk).description == "changed"
