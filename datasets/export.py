"""Streaming a dataset as a Ground Truth manifest, in bounded memory.

Entries are read in keyset pages of id order: three queries per page of 2,000 entries, each bounded by an
id range, with raw cursors (this runs at tens of thousands of lines a second, where model iteration would
be most of the cost) and label names looked up in memory. A page is written as one chunk. On PostgreSQL the
whole export reads one snapshot (REPEATABLE READ): entries changed while it streams are exported as they
were when it began.
"""

from collections import defaultdict
from collections.abc import Iterator

from django.db import connection, transaction

from datasets.manifest import BoxDraft, EntryDraft, serialize_entry
from datasets.models import BoundingBox, Image, ImageLabel, Label

PAGE = 2000


def _changed_as_text() -> str:
    """SQL giving `updated_at` as an ISO date without zone: parsing timestamps in Python would cost a tenth of
    the export. SQLite already keeps them as UTC text."""
    if connection.vendor == "postgresql":
        return """to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US')"""
    return "replace(updated_at, ' ', 'T')"


def _page_statements() -> tuple[str, str, str]:
    image = Image._meta.db_table
    # An id range on the link's own index, joined to keep only this dataset's entries.
    in_page = f"""JOIN {image} entry ON entry.id = row.image_id
        WHERE entry.dataset_id = %(dataset)s AND row.image_id > %(after)s AND row.image_id <= %(last)s
            AND entry.id > %(after)s AND entry.id <= %(last)s
        ORDER BY row.id"""
    return (
        f"""SELECT id, source_ref, width, height, {_changed_as_text()} FROM {image}
            WHERE dataset_id = %(dataset)s AND id > %(after)s ORDER BY id LIMIT %(page)s""",
        f"""SELECT row.image_id, row.label_id, row.confidence FROM {ImageLabel._meta.db_table} row {in_page}""",
        f"""SELECT row.image_id, row.label_id, row."left", row.top, row.width, row.height, row.confidence
            FROM {BoundingBox._meta.db_table} row {in_page}""",
    )


def iter_entry_pages(*, dataset_id: int) -> Iterator[list[tuple[EntryDraft, str]]]:
    """Pages of (entry as a draft, its last change as an ISO date without zone), in id order."""
    names = dict(Label.objects.filter(dataset_id=dataset_id).values_list("pk", "name"))
    entries_sql, labels_sql, boxes_sql = _page_statements()
    params = {"dataset": dataset_id, "after": 0, "last": 0, "page": PAGE}
    with connection.cursor() as cursor:
        while True:
            cursor.execute(entries_sql, params)
            rows = cursor.fetchall()
            if not rows:
                return
            params["last"] = rows[-1][0]
            labels: dict[int, list[str]] = defaultdict(list)
            confidences: dict[int, dict[str, float]] = defaultdict(dict)
            boxes: dict[int, list[BoxDraft]] = defaultdict(list)
            cursor.execute(labels_sql, params)
            for image_id, label_id, confidence in cursor.fetchall():
                name = names[label_id]
                labels[image_id].append(name)
                if confidence is not None:
                    confidences[image_id][name] = confidence
            cursor.execute(boxes_sql, params)
            for image_id, label_id, left, top, width, height, confidence in cursor.fetchall():
                boxes[image_id].append(BoxDraft(names[label_id], left, top, width, height, confidence))
            empty: dict[str, float] = {}
            yield [
                (
                    EntryDraft(
                        source_ref,
                        labels.get(pk, []),
                        boxes.get(pk, []),
                        width,
                        height,
                        [],
                        confidences.get(pk, empty),
                    ),
                    updated_at,
                )
                for pk, source_ref, width, height, updated_at in rows
            ]
            params["after"] = params["last"]


def iter_manifest_chunks(*, dataset_id: int, job_name: str) -> Iterator[bytes]:
    """The dataset's manifest as UTF-8 chunks of whole lines (one chunk per page of entries)."""
    # Only a transaction of our own can choose its isolation (inside another one, e.g. a test's, it is inherited).
    own_snapshot = connection.vendor == "postgresql" and not connection.in_atomic_block
    with transaction.atomic():
        if own_snapshot:
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                # Pages are small: starting parallel workers for each would cost more than the page.
                cursor.execute("SET LOCAL max_parallel_workers_per_gather = 0")
        for page in iter_entry_pages(dataset_id=dataset_id):
            lines = [
                serialize_entry(
                    draft,
                    attribute_prefix="groundwork",
                    creation_date=changed,
                    job_name=job_name,
                )
                for draft, changed in page
            ]
            yield ("\n".join(lines) + "\n").encode()
