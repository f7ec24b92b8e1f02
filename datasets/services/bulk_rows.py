"""Inserting many new rows fast: COPY on PostgreSQL, `bulk_create` elsewhere, from the same value tuples.

Django's `bulk_create` builds a model instance and prepares every value in Python: for imports of a quarter
of a million entries with their labels and boxes that is most of the time. COPY streams the values as they
are. `insert_rows` needs new rows (COPY has no ON CONFLICT): callers hold the dataset lock and insert only what
they checked is absent; `insert_new_rows` skips the taken ones itself and says which rows went in.
"""

import json
from collections.abc import Iterable, Sequence

from django.db import connection
from django.db.models import JSONField, Model

BATCH_SIZE = 2000


def insert_rows(model: type[Model], columns: Sequence[str], rows: Iterable[tuple]) -> None:
    """Insert rows of values for `columns` (attnames, e.g. `image_id`) into the model's table."""
    if connection.vendor != "postgresql":
        model.objects.bulk_create(
            [model(**dict(zip(columns, row, strict=True))) for row in rows], batch_size=BATCH_SIZE
        )
        return
    by_attname = {field.attname: field for field in model._meta.concrete_fields}
    fields = [by_attname[column] for column in columns]
    as_json = [isinstance(field, JSONField) for field in fields]
    names = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    with connection.cursor() as cursor, cursor.copy(f"COPY {model._meta.db_table} ({names}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([json.dumps(v) if dump else v for v, dump in zip(row, as_json, strict=True)])


def insert_new_rows(
    model: type[Model], columns: Sequence[str], rows: Iterable[tuple], *, unique: Sequence[str], returning: str
) -> dict[object, int]:
    """Insert the rows whose `unique` columns are not taken yet; {value of `returning`: id} of those inserted.

    PostgreSQL only: COPY into a temporary table, then one INSERT ... SELECT ... ON CONFLICT DO NOTHING
    RETURNING, so a caller learns which rows are new and their ids in one statement instead of a lookup
    before and another after. The temporary table is dropped again (and with a rolled-back transaction).
    """
    assert connection.vendor == "postgresql"
    by_attname = {field.attname: field for field in model._meta.concrete_fields}
    fields = [by_attname[column] for column in columns]
    as_json = [isinstance(field, JSONField) for field in fields]
    quote = connection.ops.quote_name
    names = ", ".join(quote(field.column) for field in fields)
    conflict = ", ".join(quote(by_attname[column].column) for column in unique)
    table = quote(model._meta.db_table)
    with connection.cursor() as cursor:
        # Dropped first too: a failed call outside a transaction may have left it in the session.
        cursor.execute("DROP TABLE IF EXISTS _gw_new_rows")
        # Identifiers only, from the model's metadata and quoted; the values travel by COPY.
        cursor.execute(f"CREATE TEMPORARY TABLE _gw_new_rows AS SELECT {names} FROM {table} WITH NO DATA")  # noqa: S608
        with cursor.copy(f"COPY _gw_new_rows ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([json.dumps(v) if dump else v for v, dump in zip(row, as_json, strict=True)])
        cursor.execute(
            f"INSERT INTO {table} ({names}) SELECT {names} FROM _gw_new_rows "  # noqa: S608
            f"ON CONFLICT ({conflict}) DO NOTHING RETURNING {quote(by_attname[returning].column)}, "
            f"{quote(model._meta.pk.column)}"
        )
        inserted = dict(cursor.fetchall())
        cursor.execute("DROP TABLE _gw_new_rows")
    return inserted
