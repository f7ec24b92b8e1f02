"""Model instances from hand-written SQL, for the few statements on a hot path.

The ORM spends more CPU building a simple statement than PostgreSQL spends running it; the queue and the token
check run on every request of every annotator. There the SQL is written once from the models' metadata and
the rows are turned into instances the way the ORM does it: each field's database converters, then
`Model.from_db`. On PostgreSQL they run as prepared statements (`hot_cursor`): planning them cost more than
running them. Their fixed values (statuses) are written into the SQL, not bound, so that the plan PostgreSQL
keeps for the prepared statement can use the partial indexes made for those values.
"""

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from django.db import connection
from django.db.backends.utils import CursorWrapper
from django.db.models import Field, Model
from django.utils.functional import cached_property

# A connection prepares a hot statement the second time it runs it; PostgreSQL then plans it once per connection.
PREPARE_THRESHOLD = 2


class ModelColumns:
    """The concrete columns of `model` under the table alias `alias`, and how to read them back."""

    def __init__(self, model: type[Model], alias: str, *, only: Iterable[str] | None = None) -> None:
        wanted = set(only) if only is not None else None
        self.model = model
        self.fields: list[Field] = [
            field
            for field in model._meta.concrete_fields
            if wanted is None or field.attname in wanted or field.primary_key
        ]
        self.names = [field.attname for field in self.fields]
        quote = connection.ops.quote_name
        self.sql = ", ".join(f"{alias}.{quote(field.column)}" for field in self.fields)
        self._converters: list[tuple[Any, list[Callable]]] = []
        for field in self.fields:
            column = field.get_col(model._meta.db_table)
            converters = connection.ops.get_db_converters(column) + field.get_db_converters(connection)
            self._converters.append((column, converters))

    def __len__(self) -> int:
        return len(self.fields)

    def instance(self, values: Sequence[Any]) -> Model:
        """The model instance of these values (in the order of the columns); fields left out are deferred."""
        converted = []
        for value, (column, converters) in zip(values, self._converters, strict=True):
            for convert in converters:
                value = convert(value, column, connection)
            converted.append(value)
        return self.model.from_db(connection.alias, self.names, converted)


class RowUpdate:
    """`UPDATE <table> SET <these columns> WHERE id = %s`, run as a hot statement with an instance's values."""

    def __init__(self, model: type[Model], names: Sequence[str]) -> None:
        self.fields = [model._meta.get_field(name) for name in names]
        self.model = model

    @cached_property
    def sql(self) -> str:
        quote = connection.ops.quote_name
        columns = ", ".join(f"{quote(field.column)} = %s" for field in self.fields)
        return f"UPDATE {table(self.model)} SET {columns} WHERE {quote(self.model._meta.pk.column)} = %s"  # noqa: S608

    def run(self, instance: Model) -> None:
        values = [field.get_db_prep_save(getattr(instance, field.attname), connection) for field in self.fields]
        with hot_cursor() as cursor:
            cursor.execute(self.sql, [*values, instance.pk])


def split_row(row: Sequence[Any], *parts: ModelColumns) -> list[Model]:
    """Instances of consecutive column groups of one row; whatever follows them is left out."""
    instances, start = [], 0
    for part in parts:
        instances.append(part.instance(row[start : start + len(part)]))
        start += len(part)
    return instances


def table(model: type[Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


@contextmanager
def hot_cursor() -> Iterator[CursorWrapper]:
    """A cursor whose statements are prepared once per database connection on PostgreSQL (psycopg's server-side
    binding cursor, which Django only uses when told to for all queries); a plain cursor elsewhere. Statements
    still go through Django's cursor wrapper: they are logged and counted like any other."""
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            yield cursor
        return
    from django.db.backends.postgresql.base import ServerBindingCursor

    connection.ensure_connection()
    connection.validate_thread_sharing()
    raw = connection.connection
    if raw.prepare_threshold is None:  # Django turns preparing off; only this cursor kind prepares at all
        raw.prepare_threshold = PREPARE_THRESHOLD
    cursor = ServerBindingCursor(raw)
    wrapped = connection.make_debug_cursor(cursor) if connection.queries_logged else connection.make_cursor(cursor)
    try:
        yield wrapped
    finally:
        wrapped.close()
