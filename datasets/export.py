"""Streaming a dataset as a Ground Truth manifest, in bounded memory.

Entries are read in pages of 2,000 in id order and each page is written as one chunk of lines by
datasets/export_rows.py, straight from the row values (no drafts, no second validation). On PostgreSQL one
query returns one row per entry, its label links and boxes aggregated into arrays (merge-joined, one pass over
each table), read through a server-side cursor a page at a time: the driver builds a quarter of the rows a
join would give, and memory stays bounded. The whole export reads one snapshot (REPEATABLE READ): entries
changed while it streams are exported as they were when it began. Elsewhere (SQLite) a page is three queries
bounded by an id range, grouped in Python.
"""

from collections import defaultdict
from collections.abc import Iterator

from django.db import connection, transaction
from django.db.backends.utils import CursorWrapper
from psycopg import Connection as PsycopgConnection

from core.prefetch import prefetch
from datasets.export_rows import EntryRow, RowWriter
from datasets.models import BoundingBox, Image, ImageLabel, Label

PAGE = 2000
PREFETCH_PAGES = 2
ATTRIBUTE_PREFIX = "groundwork"


def updated_at_as_text() -> str:
    """SQL giving `updated_at` as an ISO date without zone: parsing timestamps in Python would cost a tenth of
    the export. SQLite already keeps them as UTC text."""
    if connection.vendor == "postgresql":
        return """to_char(entry.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US')"""
    return "replace(entry.updated_at, ' ', 'T')"


def _entries_statement() -> str:
    return f"""SELECT entry.id, entry.source_ref, entry.width, entry.height, {updated_at_as_text()}
        FROM {Image._meta.db_table} entry
        WHERE entry.dataset_id = %(dataset)s AND entry.id > %(after)s ORDER BY entry.id LIMIT %(page)s"""


def _postgresql_statement() -> str:
    """One row per entry: its fields, then its links' label ids and confidences, its boxes and their confidences.

    Links and boxes are read in index order over the dataset's id range and grouped by entry, merge-joined to
    the entries: one pass over each table, streamed. Ids of other datasets in the range find no entry."""
    image = Image._meta.db_table
    in_range = "image_id >= %(first)s AND image_id <= %(last)s"
    return f"""SELECT entry.source_ref, entry.width, entry.height, {updated_at_as_text()},
            links.label_ids, links.confidences, boxes.boxes, boxes.confidences
        FROM {image} entry
        LEFT JOIN (
            SELECT image_id, array_agg(label_id ORDER BY id) AS label_ids,
                array_agg(confidence ORDER BY id) AS confidences
            FROM {ImageLabel._meta.db_table} WHERE {in_range} GROUP BY image_id
        ) links ON links.image_id = entry.id
        LEFT JOIN (
            SELECT image_id, array_agg(ARRAY[label_id, "left", top, width, height] ORDER BY id) AS boxes,
                array_agg(confidence ORDER BY id) AS confidences
            FROM {BoundingBox._meta.db_table} WHERE {in_range} GROUP BY image_id
        ) boxes ON boxes.image_id = entry.id
        WHERE entry.dataset_id = %(dataset)s
        ORDER BY entry.id"""


def _postgresql_pages(raw: PsycopgConnection, dataset_id: int) -> Iterator[list[EntryRow]]:
    with raw.cursor() as cursor:
        cursor.execute(f"SELECT min(id), max(id) FROM {Image._meta.db_table} WHERE dataset_id = %s", [dataset_id])
        first, last = cursor.fetchone()
    if first is None:
        return
    # A server-side cursor: the database streams the one query, the driver holds one page at a time. The
    # range is passed as values (not subqueries) so the planner sees how many rows it covers.
    with raw.cursor(name="manifest_export") as cursor:
        cursor.execute(_postgresql_statement(), {"dataset": dataset_id, "first": first, "last": last})
        while rows := cursor.fetchmany(PAGE):
            yield rows


def _generic_pages(cursor: CursorWrapper, dataset_id: int) -> Iterator[list[EntryRow]]:
    # An id range on the link's own index, joined to keep only this dataset's entries.
    in_page = f"""JOIN {Image._meta.db_table} entry ON entry.id = row.image_id
        WHERE entry.dataset_id = %(dataset)s AND row.image_id > %(after)s AND row.image_id <= %(last)s
            AND entry.id > %(after)s AND entry.id <= %(last)s
        ORDER BY row.id"""
    labels_sql = f"SELECT row.image_id, row.label_id, row.confidence FROM {ImageLabel._meta.db_table} row {in_page}"
    boxes_sql = f"""SELECT row.image_id, row.label_id, row."left", row.top, row.width, row.height, row.confidence
        FROM {BoundingBox._meta.db_table} row {in_page}"""
    entries_sql = _entries_statement()
    params = {"dataset": dataset_id, "after": 0, "last": 0, "page": PAGE}
    while True:
        cursor.execute(entries_sql, params)
        rows = cursor.fetchall()
        if not rows:
            return
        params["last"] = rows[-1][0]
        links: dict[int, tuple[list, list]] = defaultdict(lambda: ([], []))
        boxes: dict[int, tuple[list, list]] = defaultdict(lambda: ([], []))
        cursor.execute(labels_sql, params)
        for image_id, label_id, confidence in cursor.fetchall():
            ids, confidences = links[image_id]
            ids.append(label_id)
            confidences.append(confidence)
        cursor.execute(boxes_sql, params)
        for image_id, label_id, left, top, width, height, confidence in cursor.fetchall():
            values, confidences = boxes[image_id]
            values.append((label_id, left, top, width, height))
            confidences.append(confidence)
        none = (None, None)
        yield [
            (source_ref, width, height, changed, *links.get(pk, none), *boxes.get(pk, none))
            for pk, source_ref, width, height, changed in rows
        ]
        params["after"] = params["last"]


def iter_entry_pages(*, dataset_id: int) -> Iterator[list[EntryRow]]:
    """Pages of entry rows (see datasets/export_rows.py), in id order."""
    if connection.vendor == "postgresql":
        # A thread fetches the next pages while this one writes lines: about half the time is spent waiting on
        # the server, which psycopg does without the GIL. The thread uses this connection (the snapshot's) and
        # nothing else does meanwhile.
        connection.ensure_connection()
        yield from prefetch(_postgresql_pages(connection.connection, dataset_id), depth=PREFETCH_PAGES)
    else:
        with connection.cursor() as cursor:
            yield from _generic_pages(cursor, dataset_id)


def iter_manifest_chunks(*, dataset_id: int, job_name: str) -> Iterator[bytes]:
    """The dataset's manifest as UTF-8 chunks of whole lines (one chunk per page of entries)."""
    # Only a transaction of our own can choose its isolation (inside another one, e.g. a test's, it is inherited).
    own_snapshot = connection.vendor == "postgresql" and not connection.in_atomic_block
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                if own_snapshot:
                    cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                # Pages are small: starting parallel workers for each would cost more than the page.
                cursor.execute("SET LOCAL max_parallel_workers_per_gather = 0")
                # Plan the cursor's query for all its rows (the default plans for the first tenth).
                cursor.execute("SET LOCAL cursor_tuple_fraction = 1")
        # Read in the snapshot, so every label a link or box of it names is here.
        names = dict(Label.objects.filter(dataset_id=dataset_id).values_list("pk", "name"))
        writer = RowWriter(label_names=names, attribute_prefix=ATTRIBUTE_PREFIX, job_name=job_name)
        for page in iter_entry_pages(dataset_id=dataset_id):
            yield writer.lines(page).encode()
