"""Copying a dataset: every entry, label and box, in set-based INSERT ... SELECT statements.

Nothing passes through Python row by row. New entry ids are drawn up front into a temporary map
(old id -> new id), so links and boxes are copied with integer joins instead of matching source refs.
Copies share the stored image files of the source (files are only deleted when no entry uses them).
"""

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.utils import timezone

from core.errors import Conflict
from core.fault_points import fault_point
from datasets.models import BoundingBox, Dataset, Image, ImageLabel, Label, Origin
from datasets.services.datasets import ensure_quota
from datasets.services.stats import dataset_lock, dataset_refresh_stats

MAP = "groundwork_copy_map"


def _map_statement(vendor: str) -> str:
    image = Image._meta.db_table
    if vendor == "postgresql":
        # nextval in the outer query over an ordered subquery: new ids follow the source's order.
        return f"""CREATE TEMPORARY TABLE {MAP} AS
            SELECT old_id, nextval(pg_get_serial_sequence('{image}', 'id')) AS new_id
            FROM (SELECT id AS old_id FROM {image} WHERE dataset_id = %(source)s ORDER BY id) ordered"""
    # SQLite: writers are serialized (the transaction holds the write lock), so the ids above the highest
    # ever used are free.
    return f"""CREATE TEMPORARY TABLE {MAP} AS
        SELECT id AS old_id, (
            SELECT max(coalesce((SELECT max(id) FROM {image}), 0),
                       coalesce((SELECT seq FROM sqlite_sequence WHERE name = '{image}'), 0))
        ) + row_number() OVER (ORDER BY id) AS new_id
        FROM {image} WHERE dataset_id = %(source)s"""


def _copy_statements() -> list[str]:
    image, label = Image._meta.db_table, Label._meta.db_table
    image_label, box = ImageLabel._meta.db_table, BoundingBox._meta.db_table
    provenance = "origin, origin_id, created_by_id, created_at"
    twin_label = f"""JOIN {label} old_label ON old_label.id = {{alias}}.label_id
            JOIN {label} new_label ON new_label.dataset_id = %(target)s AND new_label.name = old_label.name"""
    return [
        f"""INSERT INTO {label} (dataset_id, name, entry_count, bounding_box_count, created_at)
            SELECT %(target)s, name, entry_count, bounding_box_count, created_at
            FROM {label} WHERE dataset_id = %(source)s ORDER BY id""",
        # A storage connection belongs to its project: a copy into another project cannot read through it.
        f"""INSERT INTO {image} (id, dataset_id, source_ref, storage_name, width, height, format, byte_size,
                orientation, thumbnail_name, errors, has_errors, is_labeled, updated_at, connection_id, {provenance})
            SELECT map.new_id, %(target)s, source_ref, storage_name, width, height, format, byte_size,
                orientation, thumbnail_name, errors, has_errors, is_labeled, %(now)s,
                CASE WHEN %(same_project)s THEN connection_id END,
                %(origin)s, %(origin_id)s, %(user_id)s, %(now)s
            FROM {MAP} map JOIN {image} old ON old.id = map.old_id ORDER BY map.new_id""",
        # Labels and boxes keep their own provenance: a copy does not make them anybody else's work.
        f"""INSERT INTO {image_label} (image_id, label_id, confidence, {provenance})
            SELECT map.new_id, new_label.id, link.confidence,
                link.origin, link.origin_id, link.created_by_id, link.created_at
            FROM {image_label} link JOIN {MAP} map ON map.old_id = link.image_id
            {twin_label.format(alias="link")}
            ORDER BY link.id""",
        f"""INSERT INTO {box} (image_id, label_id, "left", top, width, height, confidence, {provenance})
            SELECT map.new_id, new_label.id, box."left", box.top, box.width, box.height, box.confidence,
                box.origin, box.origin_id, box.created_by_id, box.created_at
            FROM {box} box JOIN {MAP} map ON map.old_id = box.image_id
            {twin_label.format(alias="box")}
            ORDER BY box.id""",
    ]


def _sync_sqlite_sequence(cursor: object) -> None:
    # Explicit ids bypass AUTOINCREMENT's bookkeeping: record the highest one so it is never handed out again.
    image = Image._meta.db_table
    cursor.execute(f"UPDATE sqlite_sequence SET seq = (SELECT max(id) FROM {image}) WHERE name = '{image}'")


@transaction.atomic
def dataset_copy_entries(
    *, source_id: int, target_id: int, origin_id: int | None, user: AbstractBaseUser | None
) -> int:
    """Copy every entry of dataset `source_id` into the empty dataset `target_id`; returns the entry count.

    One transaction: a failure leaves the target empty, so a redelivered task can simply run again.
    Raises Conflict `dataset_not_empty`, `dataset_quota_exceeded`.
    """
    target = dataset_lock(dataset_id=target_id)
    if Image.objects.filter(dataset_id=target_id).exists() or Label.objects.filter(dataset_id=target_id).exists():
        raise Conflict(
            f"Dataset {target.name!r} is not empty; a copy goes into an empty dataset.", code="dataset_not_empty"
        )
    source_entries = Image.objects.filter(dataset_id=source_id).count()
    has_boxes = BoundingBox.objects.filter(label__dataset_id=source_id).exists()
    ensure_quota(dataset=target, new_entries=source_entries, adding_boxes=has_boxes)
    params = {
        "source": source_id,
        "target": target_id,
        "now": timezone.now(),
        "origin": Origin.COPY.value,
        "origin_id": origin_id,
        "user_id": getattr(user, "pk", None),
        "same_project": Dataset.objects.filter(pk=source_id, project_id=target.project_id).exists(),
    }
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {MAP}")
        cursor.execute(_map_statement(connection.vendor), params)
        for statement in _copy_statements():
            cursor.execute(statement, params)
        if connection.vendor == "sqlite":
            _sync_sqlite_sequence(cursor)
        # On failure the rollback takes the temporary table with it (its creation is transactional).
        cursor.execute(f"DROP TABLE {MAP}")
    fault_point("copy.before_commit")
    return dataset_refresh_stats(dataset_id=target_id)["total_entries"]
