"""Inserting many new rows fast: COPY on PostgreSQL, `bulk_create` elsewhere, from the same value tuples.

Django's `bulk_create` builds a model instance and prepares every value in Python: for imports of a quarter
of a million entries with their labels and boxes that is most of the time. COPY streams the values as they
are. `insert_rows` needs new rows (COPY has no ON CONFLICT): callers hold the dataset lock and insert only what
they checked is absent (entries_bulk.entries_add_staged stages rows that may be taken).
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
